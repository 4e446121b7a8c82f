"""Trading presenter: bots (each in a QThread worker), positions, scanner candidates, kill switch.

Polls the executors and bots a few times a second (positions' PnL at <= 10 Hz) and turns user intents
(start/stop a bot, close a position, kill switch) into calls on the domain. The GUI never waits on a bot.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from ..bots.base import Candidate, client_id, run_bot
from ..core.instrument import Instrument, SymbolError
from ..core.prices import instrument_price_text, size_text
from ..execution.base import BUY, SELL, Fill, OrderRefused, OrderRequest, Position
from .flows import FLOWS

log = logging.getLogger(__name__)
POLL_MS = 250


class BotWorker(QThread):
    """A bot's thread in the GUI: the same loop as headless (`run_bot`), in a QThread."""

    def __init__(self, bot) -> None:
        super().__init__()
        self.bot = bot
        self.setObjectName(f"bot-{bot.name}")

    def run(self) -> None:
        run_bot(self.bot)

    def stop(self, timeout: float = 5.0) -> None:
        self.bot.request_stop()
        self.wait(int(timeout * 1000))


@dataclass(frozen=True)
class AccountView:
    exchange: str
    executor: str
    balance: float
    equity: float
    daily_pnl: float
    kill_switch: str  # "" when off
    problem: str = ""  # the executor failing on prices (e.g. its journal's disk is full); "" when none
    currency: str = "USDT"  # what its balance, equity and PnL are counted in (KRW on the KRW venues)


@dataclass(frozen=True)
class Listing:
    """How one instrument reads in the tables: its unified symbol, prices at its tick, sizes at its lot. The
    native id stays with it for what the user asks of the row (close, open the chart)."""

    exchange: str
    symbol: str  # native id
    unified: str
    instrument: Instrument | None = None  # None when the exchange's list does not have it (yet)

    def price(self, value: float | None) -> str:
        return "-" if value is None else instrument_price_text(self.instrument, value)

    def size(self, value: float) -> str:
        return size_text(value, self.instrument.lot_size if self.instrument is not None else 0.0)


@dataclass(frozen=True)
class PositionView:
    listing: Listing
    position: Position
    currency: str  # what its PnL is counted in


@dataclass(frozen=True)
class FillView:
    listing: Listing
    fill: Fill
    currency: str


def problem_text(failing: dict[str, str]) -> str:
    if not failing:
        return ""
    symbol, error = next(iter(sorted(failing.items())))
    more = f" (and {len(failing) - 1} more symbol(s))" if len(failing) > 1 else ""
    return f"fills and TP/SL held back, retried on every price: {symbol}: {error}{more}"


class TradingPresenter(QObject):
    bots = Signal(object)  # list[BotStatus]
    positions = Signal(object)  # list[PositionView]
    accounts = Signal(object)  # list[AccountView]
    candidates = Signal(object)  # list[(Candidate, Listing)]
    message = Signal(str)  # something the user must read (refusals, errors)
    mode_changed = Signal(str, bool)  # exchange, live
    exchanges_changed = Signal(object)  # list[str]: the exchanges with a trading stack, after a settings change

    def __init__(self, settings, parent: QObject | None = None, *, rebuild=None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.tradings: dict = {}
        self.live: dict[str, bool] = {}
        # rebuild(exchange, live) -> awaitable Trading: a paper or a live (keys, ccxt, reconciled) trading
        # stack for one exchange; raises with a message for the user when it cannot
        self.rebuild = rebuild
        self.switching: set[str] = set()
        self._tasks: set[asyncio.Future] = set()  # closes by hand still running (held: the loop keeps weak refs)
        self._close_attempts: dict[tuple, int] = {}  # (exchange, symbol, opened) -> attempts refused so far
        self._listings: dict[tuple[str, str], Listing] = {}  # (exchange, native) -> how it reads
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()

    def attach(self, tradings: dict) -> None:
        """The stacks built at start; one a settings change built meanwhile (follow) is kept, not replaced."""
        self.tradings = {**tradings, **self.tradings}
        self._timer.start()
        self.poll()

    def close(self) -> None:
        """Stop polling and let go of the trading stacks (call before their journals are closed)."""
        self._timer.stop()
        for task in list(self._tasks):  # closes by hand still waiting for the exchange: not answered to anyone now
            task.cancel()
        self.tradings = {}

    def exchanges(self) -> list[str]:
        return list(self.tradings)

    def use_settings(self, settings) -> None:
        """Settings saved at run time: the risk limits apply to every exchange's orders from now on; bots started
        from now on take their trading parameters from them (running bots keep theirs)."""
        self.settings = settings
        for t in list(self.tradings.values()):
            if t.executor.limits != settings.trading.risk:
                t.executor.limits = settings.trading.risk  # one frozen value: read whole by each order's check
                log.info("%s: risk limits now %s", t.executor.name, settings.trading.risk)

    def follow_change(self, change) -> None:
        """A live_settings.SettingsChange applied: exchanges added, removed or rebuilt (new URLs: both) take their
        trading stacks along (a task on the running loop)."""
        task = asyncio.ensure_future(self.follow(added=change.exchanges_added + change.exchanges_rebuilt,
                                                 removed=change.exchanges_removed + change.exchanges_rebuilt))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def follow(self, added: tuple[str, ...] | list[str], removed: tuple[str, ...] | list[str]) -> None:
        """Exchanges a settings change added or removed (one rebuilt is both): each removed one's bots and stack
        stop (its journal stays on disk), each added one gets a paper trading stack. One that cannot be built is
        said, the others go on."""
        for exchange in removed:
            old = self.tradings.pop(exchange, None)
            self.live.pop(exchange, None)
            if old is None:
                continue
            running = [b.name for b in old.bots if b.snapshot().state in ("starting", "running")]
            if running:
                self.message.emit(f"{exchange}: left the settings; its bots stop ({', '.join(running)})")
            await old.stop()
            old.journal.close()
        for exchange in added:
            if exchange in self.tradings or self.rebuild is None:
                continue
            try:
                self.tradings[exchange] = await self.rebuild(exchange, False)
            except Exception as exc:
                log.exception("%s: paper trading not started", exchange)
                self.message.emit(f"{exchange}: paper trading not started: {exc}")
                continue
            self.live[exchange] = False
            self.mode_changed.emit(exchange, False)
        self.exchanges_changed.emit(self.exchanges())
        self.poll()

    # -- intents ------------------------------------------------------------------------------------------
    def start_bot(self, flow: str, exchange: str, symbols: list[str] | None) -> str | None:
        """Start one of the flows ("UnifiedBot", "AutoScanner", "MultiTrader"); None + a message if refused."""
        from ..bots.factory import make_bot

        trading = self.tradings.get(exchange)
        if trading is None:
            self.message.emit(f"{exchange}: not connected; enable it in the settings")
            return None
        kind = FLOWS.get(flow, flow)
        if kind == "unified" and symbols:  # what the user typed ("btc", "BTC/USDT:USDT") -> the exchange's id
            try:
                symbols = [trading.market.catalog.resolve(name).native for name in symbols]
            except SymbolError as exc:
                self.message.emit(f"{flow}: {exc}")
                return None
        taken = {b.name for t in self.tradings.values() for b in t.bots
                 if b.snapshot().state in ("starting", "running")}
        try:
            bot = make_bot(kind, trading, self.settings.trading, symbols or None, presets=self.settings.data_dir)
        except ValueError as exc:
            self.message.emit(f"{flow}: {exc}")
            return None
        if bot.name in taken:
            self.message.emit(f"{bot.name} is already running")
            return None
        if exchange in self.switching:
            self.message.emit(f"{exchange}: switching between paper and live; try again in a moment")
            return None
        trading.start_bot(bot, runner=BotWorker)
        log.info("started %s on %s (%s)", bot.name, exchange, "LIVE" if self.live.get(exchange) else "paper")
        return bot.name

    def set_live(self, exchange: str, live: bool) -> None:
        """Switch one exchange between paper trading and live orders (the user confirmed it in the panel)."""
        asyncio.ensure_future(self.switch_mode(exchange, live))

    async def switch_mode(self, exchange: str, live: bool) -> bool:
        old = self.tradings.get(exchange)
        current = self.live.get(exchange, False)
        if old is None or self.rebuild is None or exchange in self.switching:
            self.message.emit(f"{exchange}: cannot switch trading mode now")
            self.mode_changed.emit(exchange, current)
            return False
        running = [b.name for b in old.bots if b.snapshot().state in ("starting", "running")]
        if running:
            self.message.emit(f"{exchange}: stop its bots first ({', '.join(running)})")
            self.mode_changed.emit(exchange, current)
            return False
        self.switching.add(exchange)
        try:
            new = await self.rebuild(exchange, live)
        except Exception as exc:  # noqa: BLE001 - keys missing, keyring, exchange refused: tell the user
            self.message.emit(f"{exchange}: {'live trading not started' if live else 'paper trading not restored'}: "
                              f"{exc}")
            self.mode_changed.emit(exchange, current)
            return False
        finally:
            self.switching.discard(exchange)
        self.tradings[exchange] = new
        self.live[exchange] = live
        await old.stop()
        old.journal.close()
        if live:
            log.warning("%s: LIVE trading on: bots send real orders", exchange)
        else:
            log.info("%s: back to paper trading", exchange)
        self.mode_changed.emit(exchange, live)
        self.poll()
        return True

    def stop_bot(self, name: str) -> None:
        for trading in self.tradings.values():
            if trading.bot(name) is not None:
                asyncio.ensure_future(trading.stop_bot(name))

    def close_position(self, exchange: str, symbol: str) -> None:
        trading = self.tradings.get(exchange)
        pos = next((p for p in trading.executor.positions() if p.symbol == symbol), None) if trading else None
        if trading is None or pos is None:
            self.message.emit(f"{exchange} {symbol}: no open position")
            return
        # One id per attempt: a second click while the first is under way is the same order (sent once); after
        # a refusal the next click is a new attempt (a refused id is never sent again).
        attempt_key = (exchange, symbol, pos.opened_ms)
        attempt = self._close_attempts.get(attempt_key, 0)
        req = OrderRequest(symbol, SELL if pos.qty > 0 else BUY, abs(pos.qty),
                           client_id("manual-close", symbol, pos.opened_ms, attempt), reduce_only=True, bot="manual",
                           price=pos.mark_price or pos.entry_price)

        async def close() -> None:
            try:  # off the GUI thread: a live order is an HTTP round trip
                await asyncio.to_thread(trading.executor.place, req)
                return
            except OrderRefused as exc:
                self.message.emit(str(exc))
            except Exception as exc:  # e.g. the journal's disk: said, not swallowed
                log.exception("%s %s: closing the position failed", exchange, symbol)
                self.message.emit(f"{exchange} {symbol}: closing the position failed: {exc}")
            self._close_attempts[attempt_key] = max(self._close_attempts.get(attempt_key, 0), attempt + 1)

        task = asyncio.ensure_future(close())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def kill_switch(self) -> None:
        for trading in self.tradings.values():
            trading.executor.trip("kill switch pressed by the user")

    def reset_kill_switch(self) -> None:
        for trading in self.tradings.values():
            trading.executor.reset()

    # -- polling ------------------------------------------------------------------------------------------
    def listing(self, exchange: str, native: str) -> Listing:
        """The unified symbol and the instrument of (exchange, native id), from the exchange's catalog; kept once
        the catalog had it (names and ticks do not change under a running app; a missing one is asked again)."""
        key = (exchange, native)
        found = self._listings.get(key)
        if found is not None:
            return found
        trading = self.tradings.get(exchange)
        market = trading.market if trading is not None else None
        inst = market.listed(native) if market is not None else None
        unified = inst.symbol if inst is not None else (market.unified(native) if market is not None else native)
        found = Listing(exchange, native, unified, inst)
        if inst is not None:
            self._listings[key] = found
        return found

    def poll(self) -> None:
        bots, positions, accounts, candidates = [], [], [], []
        for name, t in self.tradings.items():
            ex = t.executor
            for bot in t.bots:
                snap = bot.snapshot()
                bots.append(snap)
                candidates += [(c, self._candidate_listing(c)) for c in snap.candidates]
            currency = getattr(ex, "currency", "USDT")
            held = ex.positions()
            for p in held:
                positions.append(PositionView(self.listing(name, p.symbol), p, currency))
            ks = ex.kill_switch
            accounts.append(AccountView(name, ex.name, ex.balance(), ex.balance() + sum(
                p.unrealized_pnl for p in held), ex.daily_pnl(), ks["reason"] if ks else "",
                problem_text(t.market.executor_problems() if t.market is not None else {}), currency))
        self.bots.emit(bots)
        self.positions.emit(positions)
        self.accounts.emit(accounts)
        self.candidates.emit(candidates)

    def _candidate_listing(self, c: Candidate) -> Listing:
        if not c.listed:  # a preset this exchange does not list: its name as given, nothing to open
            return Listing(c.exchange, "", c.unified or c.symbol)
        return self.listing(c.exchange, c.symbol)

    def fills(self, limit: int = 200) -> list[FillView]:
        """The newest `limit` fills over every exchange, newest first."""
        out = []
        for name, t in self.tradings.items():
            currency = getattr(t.executor, "currency", "USDT")
            out += [FillView(self.listing(name, f.symbol), f, currency)
                    for f in t.journal.fills(t.executor.name, limit=limit)]
        return sorted(out, key=lambda v: -v.fill.time_ms)[:limit]
