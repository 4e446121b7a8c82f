"""What the three bots share: context, status snapshot, entries with idempotent client ids, the thread loop.

A bot is plain Python driven by events from one inbox (closed candles, prices) and a timer; it runs in
its own thread (a `threading.Thread` headless, a QThread in the GUI, both through `run_bot`), never on
the GUI/asyncio thread. It talks to the market through `LiveMarket` and trades through an Executor.
"""
from __future__ import annotations

import hashlib
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.errors import BadMessage, ExchangeError, RestClosed, TransportError, short_reason
from ..core.prices import instrument_price_text
from ..core.strategy import LONG, SHORT, Setup, Signal, StrategyConfig
from ..execution.base import (
    BUY,
    CANCELLED,
    REJECTED,
    SELL,
    Executor,
    Order,
    OrderRefused,
    OrderRequest,
    symbols_in_play,
)
from ..execution.trade_journal import Journal
from .market import LiveMarket, RepeatLimiter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A row of the scanner table."""

    symbol: str
    exchange: str
    rsi: float
    side: str
    trigger: float
    last_price: float
    distance_pct: float  # to the trigger, % of price (<= 0: triggered)
    status: str  # "stage 1", "watching", "entered", ...
    bot: str = ""  # which bot found it (a scanner and a multi trader may both list a symbol)
    rsi_timeframe: str = ""  # the candles its RSI is on ("4h"; the multi trader's default is 15m)
    unified: str = ""  # what the trader reads: the unified symbol (or the preset as given when it is not listed)

    @property
    def listed(self) -> bool:
        """False for a preset this exchange does not list (its row carries only its name and why: no RSI)."""
        return not math.isnan(self.rsi)


@dataclass
class BotStatus:
    name: str
    kind: str
    exchange: str
    state: str = "stopped"  # starting / running / stopped / failed
    detail: str = ""
    candidates: list[Candidate] = field(default_factory=list)
    last_signal: str = ""
    entries: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class BotContext:
    market: LiveMarket
    executor: Executor
    journal: Journal
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    order_notional: float = 100.0  # per entry, in the venue's quote currency (USDT, KRW)
    clock: Callable[[], float] = time.monotonic
    long_only: bool = False  # a spot market (the KRW venues): one cannot sell what one does not hold
    # verified per-symbol presets (native id -> its strategy), from `twinstar optimize`; None: no presets. With
    # presets, the scanner and the multi trader trade only those symbols, each with its own parameters.
    presets: dict[str, StrategyConfig] | None = None


def client_id(*parts: object) -> str:
    """A deterministic order id for one intent: a retry (or a restart that replays the same candle)
    produces the same id, and the executor refuses to place it twice. 32 letters and digits: OKX takes at most
    32 alphanumerics, Bybit and Binance 36."""
    return "TS" + hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:30]


class Bot:
    kind = "bot"
    # whether the bot may read prices of symbols it is not sent (a scanner's scan reads every last price); False:
    # only the prices and closes of the symbols it watches reach it (a backtest then skips the others' quiet candles)
    reads_other_prices = True

    def __init__(self, name: str, ctx: BotContext) -> None:
        self.name = name
        self.ctx = ctx
        self.inbox: queue.Queue = queue.Queue()
        self.status = BotStatus(name, self.kind, ctx.market.exchange)
        self._lock = threading.Lock()
        self._errors_seen = RepeatLimiter()  # messages recently reported (see _error), under self._lock
        self._stop = threading.Event()
        self._detail_later: Callable[[], str] | None = None  # the detail, written when read (see _set_detail_later)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"

    def strategy_of(self, symbol: str) -> StrategyConfig:
        """The symbol's verified preset, else the bot's strategy."""
        presets = self.ctx.presets
        return presets.get(symbol, self.ctx.strategy) if presets else self.ctx.strategy

    def history_needed(self) -> int:
        """Candles the longest of the bot's strategies needs."""
        return max([self.ctx.strategy.history_needed] + [s.history_needed for s in (self.ctx.presets or {}).values()])

    def shown(self, native: str) -> str:
        """A native id as the trader reads it in logs and panels: the unified symbol."""
        return self.ctx.market.unified(native)

    def price_shown(self, native: str, price: float) -> str:
        """A price of `native` at its instrument's tick (as the exchange writes it)."""
        return instrument_price_text(self.ctx.market.listed(native), price)

    # -- lifecycle (bot thread) -----------------------------------------------------------------------
    def start(self) -> None: ...
    def on_closed(self, symbol: str, candle, window=None) -> None:
        """A closed 15m candle; `window` = the stream's closed 15m candles up to it (read-only), if known."""
    def on_price(self, symbol: str, price: float, time_ms: int) -> None: ...
    def on_timer(self, now: float) -> None: ...
    def shutdown(self) -> None: ...

    def timer_due(self) -> float:
        """The clock time (ctx.clock) before which on_timer has nothing to do; 0.0: every tick. Only start and
        on_timer may move it. A backtest calls on_timer only once it is due (its timers run many times per candle)."""
        return 0.0

    def request_stop(self, reason: str = "") -> None:
        """From any thread: the loop ends after the event in hand."""
        if reason:
            self._set(detail=reason)
        self._stop.set()
        self.inbox.put(None)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- status (read by presenters from other threads) -------------------------------------------------
    def snapshot(self) -> BotStatus:
        with self._lock:
            s = self.status
            if self._detail_later is not None:
                s.detail, self._detail_later = self._detail_later(), None
            return BotStatus(s.name, s.kind, s.exchange, s.state, s.detail, list(s.candidates), s.last_signal,
                             s.entries, list(s.errors[-20:]))

    def _set(self, **fields) -> None:
        with self._lock:
            if "detail" in fields:
                self._detail_later = None
            for k, v in fields.items():
                setattr(self.status, k, v)

    def _set_detail_later(self, make: Callable[[], str]) -> None:
        """The status detail, written only when someone reads it: a price tick may set it many times between two
        reads of the panel (formatting it on each cost a backtest a sixth of its time). `make` must only format
        values it holds."""
        with self._lock:
            self._detail_later = make

    def _error(self, message: str) -> None:
        """Logged and kept for the panel; the same message again within a minute is not (a refused entry
        re-triggers on every price tick while the limit holds)."""
        with self._lock:
            if self._errors_seen.allow(message) is None:
                return
            self.status.errors.append(message)
            del self.status.errors[:-50]
        log.error("%s: %s", self.name, message)

    # -- trading ------------------------------------------------------------------------------------------
    def enter(self, signal: Signal, intent: object) -> Order | None:
        """One entry at market with TP/SL attached; `intent` makes the client id (same intent = same id)."""
        if self.stopping:  # e.g. Stop pressed during a long scan: no entry after it
            return None
        ex = self.ctx.executor
        side = BUY if signal.side == LONG else SELL
        qty = self.ctx.order_notional / signal.entry
        req = OrderRequest(signal.symbol, side, qty, client_id(self.name, signal.symbol, intent), price=signal.entry,
                           bot=self.name, take_profit=signal.take_profit, stop_loss=signal.stop_loss)
        try:
            order = ex.place(req)
        except OrderRefused as exc:
            self._error(f"entry refused: {exc}")
            return None
        if order.status in (REJECTED, CANCELLED):  # a retry of an entry that ended without a trade
            self._error(f"entry not placed: {self.shown(signal.symbol)} {order.client_id} was {order.status} "
                        f"({order.reason})")
            return None
        with self._lock:
            self.status.entries += 1
            self.status.last_signal = (f"{signal.side} {self.shown(signal.symbol)} @ "
                                       f"{self.price_shown(signal.symbol, signal.entry)}: {signal.reason}")
        log.info("%s: %s", self.name, self.status.last_signal)
        return order

    def busy_with(self, symbol: str) -> bool:
        """In a trade on this symbol, or an entry order of it not filled yet."""
        one = getattr(self.ctx.executor, "in_play", None)
        return one(symbol) if one is not None else symbol in symbols_in_play(self.ctx.executor)

    def position(self, symbol: str):
        one = getattr(self.ctx.executor, "position", None)
        if one is not None:
            return one(symbol)
        return next((p for p in self.ctx.executor.positions() if p.symbol == symbol), None)

    def own_positions(self) -> list:
        return [p for p in self.ctx.executor.positions() if p.bot == self.name]


def _step(bot: Bot, fn: Callable, *args) -> None:
    """One step of a bot. A failure of the exchange or the network (out of reach, a timeout, a 5xx, throttling,
    an error answer, an answer that is no JSON such as a proxy's HTML page) or REST closing at shutdown is told
    and the bot goes on: its next tick or scan tries again. Anything else is a bug and stops the bot (run_bot)."""
    try:
        fn(*args)
    except (TransportError, ExchangeError, BadMessage, RestClosed) as exc:
        if not bot.stopping:
            bot._error(f"{short_reason(exc)} ({exc}); trying again on the next scan")


def run_bot(bot: Bot, tick: float = 1.0) -> None:
    """The bot thread's loop: start, then events from the inbox and a timer tick, until stopped."""
    bot._set(state="starting")
    try:
        _step(bot, bot.start)
        bot._set(state="running")
        next_tick = time.monotonic()
        while not bot.stopping:
            try:
                ev = bot.inbox.get(timeout=max(0.0, next_tick - time.monotonic()))
            except queue.Empty:
                ev = None
            if bot.stopping:
                break
            if ev is not None:
                if ev[0] == "closed":
                    _step(bot, bot.on_closed, *ev[1:])
                elif ev[0] == "price":
                    _step(bot, bot.on_price, ev[1], ev[2], ev[3])
            now = time.monotonic()
            if now >= next_tick:
                _step(bot, bot.on_timer, now)
                next_tick = now + tick
    except Exception as exc:  # a bot bug stops that bot, loudly, not the app
        log.exception("%s failed", bot.name)
        bot._error(f"stopped by an error: {type(exc).__name__}: {exc}")
        bot._set(state="failed")
    finally:
        try:
            bot.shutdown()
        except Exception:
            log.exception("%s: shutdown failed", bot.name)
        if bot.status.state != "failed":
            bot._set(state="stopped")


class BotThread(threading.Thread):
    """Headless runner: one daemon thread per bot."""

    def __init__(self, bot: Bot, tick: float = 1.0) -> None:
        super().__init__(name=f"bot-{bot.name}", daemon=True)
        self.bot, self.tick = bot, tick

    def run(self) -> None:
        run_bot(self.bot, self.tick)

    def stop(self, timeout: float = 5.0) -> None:
        self.bot.request_stop()
        self.join(timeout)


def tradable(setup: Setup | None, ctx: BotContext) -> Setup | None:
    """The setup, unless it is a short on a spot market (no shorting there)."""
    return None if setup is None or (ctx.long_only and setup.side == SHORT) else setup


def setups_ranked(setups: list[Setup]) -> list[Setup]:
    return sorted(setups, key=lambda s: (-s.strength, s.symbol))
