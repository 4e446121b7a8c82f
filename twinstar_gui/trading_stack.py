"""The trading stack of one exchange: journal, executor (paper by default) behind risk limits, market access
for bots, and the bots with their threads. No Qt: the bot command runs it headless, the window in QThreads."""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Protocol

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the paper account is not guarded there
    fcntl = None  # type: ignore[assignment]

from .bots.base import Bot, BotThread
from .bots.market import LiveMarket
from .exchanges.registry import VENUES
from .execution.base import InstrumentRules
from .execution.instruments import InstrumentBook
from .execution.paper import PaperExecutor
from .execution.risk import RiskGuard
from .execution.trade_journal import Journal
from .wiring import Core, trading_dir

if TYPE_CHECKING:
    from .config import Settings
    from .execution.live import LiveExecutor

log = logging.getLogger(__name__)


class BotRunner(Protocol):
    """A bot's thread: `BotThread` headless, a QThread worker in the window (presenters.trading.BotWorker)."""

    bot: Bot

    def start(self) -> None: ...
    def stop(self, timeout: float = ...) -> None: ...


def _running(thread: BotRunner) -> bool:
    """A QThread says so by isRunning(), a plain thread by is_alive()."""
    t: Any = thread
    return bool(t.isRunning() if hasattr(t, "isRunning") else t.is_alive())


@dataclass
class Trading:
    """Journal, executor (paper by default) behind risk limits, market access for bots, and the bots."""

    journal: Journal
    executor: RiskGuard
    market: LiveMarket
    bots: list[Bot] = field(default_factory=list)
    threads: list[BotRunner] = field(default_factory=list)
    lock: IO[str] | None = None  # the paper account's claim (see claim_paper_account), given up at stop()

    def __post_init__(self) -> None:
        self.executor.on_kill.append(self._stop_bots)  # the kill switch stops every bot of this exchange

    def _stop_bots(self, reason: str) -> None:
        for b in self.bots:
            b.request_stop(f"kill switch: {reason}")

    def start_bot(self, bot: Bot, runner: Callable[[Bot], BotRunner] | None = None) -> None:
        """Run a bot in its own thread: `runner(bot)` makes it (a QThread in the GUI), default a plain thread."""
        self.bots.append(bot)
        thread = (runner or BotThread)(bot)
        self.threads.append(thread)
        thread.start()

    def bot(self, name: str) -> Bot | None:
        return next((b for b in self.bots if b.name == name), None)

    async def stop_bot(self, name: str) -> None:
        for t in [t for t in self.threads if t.bot.name == name]:
            await asyncio.to_thread(t.stop, 5.0)
            self.threads.remove(t)

    async def stop(self) -> None:
        for t in self.threads:
            t.bot.request_stop("stopped")
        # in parallel, long enough for a REST call in flight to time out (10 s); closing the feeds' REST
        # clients first (Core.interrupt) cuts those calls short, so bots stop within a tick
        await asyncio.gather(*(asyncio.to_thread(t.stop, 12.0) for t in self.threads))
        for t in self.threads:
            if _running(t):
                log.warning("%s: still running after 12 s; it places no order from here on", t.bot.name)
        if not await asyncio.to_thread(self.executor.wait_flattened, 30.0):  # the kill switch's closes, if under way
            log.error("the kill switch's closes are still under way after 30 s; check the exchange's positions")
        await self.market.close()
        inner = self.executor.inner
        if hasattr(inner, "stop"):  # a live executor's account sync
            inner.stop()
        if self.lock is not None:
            self.lock.close()
            self.lock = None


def build_trading(core: Core, exchange: str, *, executor: LiveExecutor | None = None,
                  clock: Callable[[], int] | None = None) -> Trading:
    """Call on the running loop, or on any thread when the core has an engine (its feeds' loop is the engine's).
    Paper trading unless a (live) executor is given. `clock`: the market's time in
    UTC ms, when it is not the wall clock's (an accelerated simulator)."""
    clock = clock if clock is not None else core.clock
    timing: dict[str, Any] = {"clock": clock} if clock is not None else {}
    t = core.settings.trading
    feed = core.feeds[exchange]
    currency = VENUES[exchange].quote  # balances, order sizes, PnL and limits: USDT, or KRW on the KRW venues
    journal = open_journal(core.settings)
    lock: IO[str] | None = None
    inner: PaperExecutor | LiveExecutor
    if executor is None:
        inner = paper_executor(core.settings, exchange, journal, InstrumentBook(core.catalogs[exchange]), clock)
        try:
            lock = claim_paper_account(core.settings, exchange)
        except PaperAccountBusy as exc:  # another window or bot on this data dir: said, trading goes on
            log.warning("%s", exc)
    else:  # live: its journal, then its background account sync
        inner = executor
        executor.attach_journal(journal)
        executor.start()
    guard = RiskGuard(inner, journal, t.risk, currency=currency)
    # the market hooks the feed's series where they live: the engine's loop (or this one, without an engine)
    loop = core.engine.loop if core.engine is not None else asyncio.get_running_loop()
    market = LiveMarket(feed, loop, guard, catalog=core.catalogs[exchange], **timing)
    if core.engine is not None:
        core.engine.post(market.start)
    else:
        market.start()
    return Trading(journal, guard, market, lock=lock)


def open_journal(settings: Settings) -> Journal:
    """The trading journal of this data dir (every exchange's paper and live accounts, the GUI's and the CLI's)."""
    return Journal(trading_dir(settings) / "journal.sqlite3")


class PaperAccountBusy(OSError):
    """Another process trades this paper account (its state lives in that process's memory)."""


def claim_paper_account(settings: Settings, exchange: str) -> IO[str] | None:
    """Become the one process trading `exchange`'s paper account of this data dir: an advisory lock the OS drops
    when the process ends. The paper executor keeps its balance, positions and orders in memory and writes them
    to the shared journal, so a second one (the window and `twinstar order --paper` at once) would each miss the
    other's orders and overwrite the other's balance. PaperAccountBusy naming the holder; None without fcntl."""
    if fcntl is None:
        return None
    path = trading_dir(settings) / f"paper-{exchange}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip()[:120] or "another process"
        fh.close()
        raise PaperAccountBusy(f"{exchange}: the paper account of {settings.data_dir} is traded by {holder}") \
            from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()} on {socket.gethostname()}")
    fh.flush()
    return fh


def paper_executor(settings: Settings, exchange: str, journal: Journal, rules: Callable[[str], InstrumentRules],
                   clock: Callable[[], int] | None = None) -> PaperExecutor:
    """The paper account of one exchange, as the window, the bots and `twinstar order --paper` all see it."""
    t, currency = settings.trading, VENUES[exchange].quote
    timing: dict[str, Any] = {"clock": clock} if clock is not None else {}
    return PaperExecutor(journal, name=f"paper-{exchange}", balance=t.paper_start_balance(currency),
                         fee_rate=t.fee_rate, slippage_bps=t.slippage_bps, rules=rules, currency=currency, **timing)


async def rebuild_trading(core: Core, exchange: str, live: bool) -> Trading:
    """A fresh trading stack for one exchange (call on the running loop): paper, or live with the keyring's
    keys through ccxt, reconciled with the exchange before it is returned. Raises with a message for the
    user (missing keys, keyring failure, the exchange refusing the key)."""
    executor = None
    if live:
        from .execution.live import LiveExecutor
        from .secrets import require_keys

        keys = await asyncio.to_thread(require_keys, exchange)  # KeyStoreError says what is wrong
        executor = await asyncio.to_thread(LiveExecutor.connect, exchange, keys,
                                           rest_url=core.settings.rest_url(exchange))
    trading = build_trading(core, exchange, executor=executor)
    if executor is not None:  # live
        await asyncio.to_thread(executor.reconcile)  # the exchange's view before any bot trades
    return trading


def make_bot(kind: str, trading: Trading, settings: Settings, symbols: list[str] | None, name: str = "") -> Bot:
    from .bots.factory import make_bot as make

    return make(kind, trading, settings.trading, symbols, name, presets=settings.data_dir)
