"""Backtest: the very bot classes (UnifiedBot, AutoScanner, MultiTrader) and the PaperExecutor behind the risk guard,
replayed over stored 15m candles on a simulated clock: no sockets, no threads, no sleeps.

Each 15m step, for every symbol with a candle at that time:
1. prices inside the candle reach the executor (fills, TP/SL, marks) and the bots that watch the symbol, along
   a stated, conservative path: open, then the extreme AGAINST the position held once the open is replayed (an
   entry sent at the last close fills at the open; a long: the low first; a short: the high first; flat: the
   low first on a rising candle, the high first on a falling one), then the other extreme, then the close.
   Between two points the price passes every level on the way (a TP, an SL, a resting order, a watched trigger)
   at that level, so a candle that touches both the TP and the
   SL of a position it opens with counts the SL. A candle that opens beyond a level fills at the open (a gap).
2. the candle closes: the bots that stream the symbol get it (the window up to it), at the close's time;
3. the bots' timers run once (their cadence is at most one step: a MultiTrader's 30 s scan happens each 15m).
   Timers also run at each point of step 1; a bot's timer runs only once it is due (Bot.timer_due).

What is not replayed, because nothing could act on it (`exact_path=True` replays it all; a test holds both equal),
when every bot reads only the prices of the symbols it is sent (UnifiedBot):
- a candle of a symbol with no position, no open order and no watched trigger goes straight to its close (the
  executor's last price is its close, as after the path). Its prices inside the candle would reach only the
  executor, with nothing there to fill or mark.
- in a calm step, a held symbol whose take profit and stop loss lie outside the candle's range, with no open order,
  gets only its close, as a mark of its position. Calm: the most the step's candles could take off the day's PnL
  (every exposure moved to its worst price, gaps, fees and slippage) is less than half of what is left to the daily
  loss limit, so no price could trip the kill switch (the risk guard's check is not asked); a TP or SL outside the
  range cannot be touched; and the bot's price handler only writes its status. The equity curve is taken at the
  closes, as always.
The closed candle itself always reaches the bots.

The market a bot sees (ReplayMarket) answers from the candles up to the simulated now; its clock is the
simulation's. Gaps in the data are reported and not traded across: a position open when a hole starts is
closed at the last price before it (said in the result), and no bot sees a window that spans a hole as one. A
symbol whose stored candles end before the range does is closed at its last close in the same way (not held on to a
price that no longer moves).
"""
from __future__ import annotations

import logging
import math
import queue
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from ..core.instrument import Instrument
from ..core.models import Candle
from ..core.risk_limits import RiskLimits
from ..core.timeframe import BASE_TIMEFRAME, Timeframe
from ..execution.base import BUY, MARKET, SELL, InstrumentRules, OrderRequest
from ..execution.paper import PaperExecutor, default_rules
from ..execution.risk import RiskGuard
from ..execution.trade_journal import MemoryJournal
from .base import Bot

log = logging.getLogger(__name__)
STEP = BASE_TIMEFRAME.ms
DAY = 86_400_000


@dataclass
class Series:
    """One symbol's stored candles: an (n, 6) array [open time, O, H, L, C, V], ascending, unique."""

    symbol: str
    rows: np.ndarray

    def __post_init__(self) -> None:
        self.times = self.rows[:, 0].astype(np.int64)
        self.time_list: list[int] = self.times.tolist()  # Python ints: the replay compares one per step


@dataclass(frozen=True)
class Gap:
    symbol: str
    first_ms: int  # first missing open time
    last_ms: int  # last missing open time

    @property
    def slots(self) -> int:
        return (self.last_ms - self.first_ms) // STEP + 1


def gaps_of(series: Series, start: int, end: int) -> list[Gap]:
    """Holes inside [first stored candle, min(end, last stored)] of the range."""
    t = series.times[(series.times >= start) & (series.times <= end)]
    if len(t) < 2:
        return []
    jumps = np.nonzero(np.diff(t) > STEP)[0]
    return [Gap(series.symbol, int(t[i] + STEP), int(t[i + 1] - STEP)) for i in jumps]


class ReplayMarket:
    """What a bot may ask of the market (bots/market.LiveMarket's interface), answered from stored candles up to
    the simulated now."""

    streams = False  # no stream whose health a bot could check: the candles are stored

    def __init__(self, exchange: str, series: dict[str, Series], *, long_only: bool = False,
                 instruments: dict[str, Instrument] | None = None) -> None:
        self.exchange = exchange
        self.series = series
        self.long_only = long_only
        self.instruments = instruments or {}
        self.now_ms = 0  # the simulated clock: the close time of the last step replayed
        self.pos: dict[str, int] = dict.fromkeys(series, 0)  # rows of each symbol closed by now
        self.watchers: dict[str, set[int]] = {}  # symbol -> ids of the inboxes watching it (a bot's inbox)
        self.segment_start: dict[str, int] = dict.fromkeys(series, 0)  # first row after the last hole seen
        self.executor: RiskGuard | None = None
        self.watch_changes = 0  # counts watch / unwatch calls (the replay's cache of who watches what)

    def clock(self) -> int:
        return self.now_ms

    # -- streams -------------------------------------------------------------------------------------------
    def watch(self, symbol: str, inbox: queue.Queue) -> np.ndarray:
        self.watchers.setdefault(symbol, set()).add(id(inbox))
        self.watch_changes += 1
        return self.history(symbol)

    def unwatch(self, symbol: str, inbox: queue.Queue) -> None:
        self.watchers.get(symbol, set()).discard(id(inbox))
        self.watch_changes += 1

    def watched(self, symbol: str) -> bool:
        return bool(self.watchers.get(symbol))

    def history(self, symbol: str) -> np.ndarray:
        s = self.series.get(symbol)
        if s is None:
            return np.empty((0, 6))
        return s.rows[self.segment_start[symbol]:self.pos[symbol]]

    def stream_healthy(self, symbol: str) -> bool:
        return True

    def poll_rest(self, symbol: str) -> None:
        return None

    # -- REST ------------------------------------------------------------------------------------------------
    def fetch_klines(self, symbols: list[str], count: int, tf: Timeframe = BASE_TIMEFRAME
                     ) -> dict[str, np.ndarray | Exception]:
        if tf != BASE_TIMEFRAME:
            raise ValueError("a backtest replays 15m candles only")
        out: dict[str, np.ndarray | Exception] = {}
        for sym in symbols:
            if sym not in self.series:
                out[sym] = KeyError(f"{self.exchange} {sym}: no stored candles")
            else:
                out[sym] = self.history(sym)[-count:]
        return out

    def resolve(self, names: list[str]) -> tuple[list[str], dict[str, str]]:
        """Names as a trader gives them (native, unified, a base asset) -> the stored symbols they name."""
        found, unknown = resolve_names(names, self.exchange, list(self.series), self.instruments)
        return found, {n: f"{n}: no stored candles on {self.exchange}" for n in unknown}

    def unified(self, native: str) -> str:
        inst = self.instruments.get(native)
        return inst.symbol if inst is not None else native

    def listed(self, native: str) -> Instrument | None:
        return self.instruments.get(native)

    def top_symbols(self, n: int) -> list[str]:
        """By quote volume over the last day replayed (close x volume of the last 96 candles)."""
        def volume(sym: str) -> float:
            h = self.history(sym)[-96:]
            return float((h[:, 4] * h[:, 5]).sum()) if len(h) else 0.0
        return sorted((s for s in self.series if self.pos[s]), key=lambda s: (-volume(s), s))[:n]

    def last_prices(self) -> dict[str, float]:
        """The prices now: inside the candle being replayed (the executor's last), else the last close."""
        out = {s: float(self.series[s].rows[self.pos[s] - 1, 4]) for s in self.series if self.pos[s]}
        if self.executor is not None:
            out.update(self.executor.last_price)
        return out


@dataclass
class BacktestResult:
    exchange: str
    flow: str
    start_ms: int
    end_ms: int
    currency: str
    balance_start: float
    fills: list = field(default_factory=list)
    orders: list = field(default_factory=list)
    equity: list[tuple[int, float]] = field(default_factory=list)  # (time, equity) at each step's close
    exposure_steps: int = 0
    steps: int = 0
    candles: int = 0
    prices: int = 0  # prices the executor was sent (the candles' paths; fewer where nothing could act on them)
    gaps: list[Gap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kill_switch: dict | None = None
    cancelled: bool = False


def intra_path(o: float, h: float, low: float, c: float, held: float) -> tuple[float, float, float, float]:
    """The four prices a candle is replayed through (see the module's rule). `held`: the signed position at the
    open (> 0 long, < 0 short, 0 flat)."""
    if held > 0 or (held == 0 and c >= o):
        return o, low, h, c
    return o, h, low, c


class Backtest:
    """One run: `bot_factory(trading) -> [Bot]` makes the bots under test (trading: .market, .executor, .journal);
    they share the account, as bots of one exchange do live."""

    def __init__(self, exchange: str, series: dict[str, Series], start_ms: int, end_ms: int, *,
                 flow: str, bot_factory: Callable[[SimpleNamespace], list[Bot]], balance: float, fee_rate: float,
                 slippage_bps: float, risk: RiskLimits, currency: str = "USDT", long_only: bool = False,
                 rules: Callable[[str], InstrumentRules] = default_rules,
                 instruments: dict[str, Instrument] | None = None,
                 progress: Callable[[float], None] | None = None, cancelled: Callable[[], bool] | None = None,
                 exact_path: bool = False) -> None:
        self.exchange, self.flow, self.start_ms, self.end_ms = exchange, flow, start_ms, end_ms
        self.series = series
        self.market = ReplayMarket(exchange, series, long_only=long_only, instruments=instruments)
        self.journal = MemoryJournal()  # nothing of a backtest outlives it: no SQL per order, fill and price
        self.paper = PaperExecutor(self.journal, name=f"backtest-{exchange}", balance=balance, fee_rate=fee_rate,
                                   slippage_bps=slippage_bps, rules=rules, clock=self.market.clock,
                                   currency=currency)
        self.executor = RiskGuard(self.paper, self.journal, risk, clock=self.market.clock, currency=currency)
        self.market.executor = self.executor
        self.trading = SimpleNamespace(market=self.market, executor=self.executor, journal=self.journal)
        self.bots = bot_factory(self.trading)
        for bot in self.bots:
            bot.ctx.clock = lambda: self.market.now_ms / 1000.0
        self._watching_now: dict[str, list[Bot]] = {}  # symbol -> the bots watching it, while watch_changes holds
        self._watching_at = -1
        self._with_setups = [b for b in self.bots if hasattr(b, "setups")]  # bots with watched triggers
        # every bot reads only the prices of the symbols it is sent: a quiet symbol's candle can go to its close
        self._own_prices_only = not exact_path and all(not b.reads_other_prices for b in self.bots)
        self._cost_rate = 2 * fee_rate + slippage_bps / 10_000  # an exit's and an entry's fees, and the slippage
        self._loss_limit = risk.daily_loss_limit(currency)
        self._timers_due = 0.0  # the earliest time a bot's timer has work (Bot.timer_due)
        self.progress = progress
        self.cancelled = cancelled or (lambda: False)
        self.result = BacktestResult(exchange, flow, start_ms, end_ms, currency, balance)

    # -- the run -----------------------------------------------------------------------------------------
    def run(self) -> BacktestResult:
        res, market = self.result, self.market
        for s in self.series.values():
            res.gaps += gaps_of(s, self.start_ms, self.end_ms)
        times = np.unique(np.concatenate([s.times[(s.times >= self.start_ms) & (s.times <= self.end_ms)]
                                          for s in self.series.values()] or [np.empty(0, np.int64)]))
        if not len(times):
            return res
        for sym, s in self.series.items():  # the warm-up: every candle before the range is history already
            market.pos[sym] = int(np.searchsorted(s.times, times[0]))
            market.segment_start[sym] = _segment_start(s.times, market.pos[sym])
        market.now_ms = int(times[0])
        for bot in self.bots:
            self._guarded(bot, bot.start)
        self._timers_due = min((b.timer_due() for b in self.bots), default=math.inf)
        index = {sym: market.pos[sym] for sym in self.series}
        report_every = max(1, len(times) // 200)
        items = [(sym, s, s.time_list) for sym, s in self.series.items()]
        last_step = int(times[-1])
        phases = (STEP // 3, 2 * STEP // 3)
        for k, t in enumerate(times.tolist()):
            if k % report_every == 0:
                if self.cancelled():
                    res.cancelled = True
                    break
                if self.progress is not None:
                    self.progress(k / len(times))
            todo = []
            for sym, s, stamps in items:
                i = index[sym]
                if i >= len(stamps) or stamps[i] != t:
                    continue
                if i and t - stamps[i - 1] > STEP:
                    self._hole(sym, s, i)
                todo.append((sym, s.rows[i].tolist()))
                index[sym] = i + 1
            quiet: list[tuple[str, list]] = []
            if self._own_prices_only:
                busy = self._busy_symbols()
                moving = [(sym, row) for sym, row in todo if sym in busy or self.paper.holds(sym)]
                if moving:
                    moving, quiet = self._split(moving, busy)
            else:
                moving = todo
            # the candles' prices, phase by phase across symbols (open, first extreme, second, close): the bots'
            # timers see every symbol at the same moment, as live. The order of the extremes is decided once the
            # open is replayed: a market entry sent at the last close fills at the open, and the position it opens
            # must see the extreme against it first (a candle touching its TP and its SL counts the SL)
            paths: dict[str, tuple[float, float, float, float]] = {}
            for sym, row in moving:
                self._price(sym, row[1], t)  # a gap from the last close fills at the open
            self._timers(t)
            for phase, when in enumerate((t + phases[0], t + phases[1], t + STEP - 1), start=1):
                for sym, row in moving:
                    if sym not in paths:
                        held = self.paper.peek(sym)
                        paths[sym] = intra_path(row[1], row[2], row[3], row[4], 0.0 if held is None else held.qty)
                    path = paths[sym]
                    self._walk(sym, path[phase - 1], path[phase], when)
                if phase < 3:
                    self._timers(when)
            for sym, row in quiet:  # calm: the risk guard's check cannot trip; only the mark moves (see above)
                self.paper.on_price(sym, row[4], t + STEP - 1)
                res.prices += 1
                paths[sym] = (row[1], row[4], row[4], row[4])
            last_price, pos = self.paper.last_price, market.pos
            for sym, row in todo:
                if sym not in paths:  # a candle nothing could act on: its close is the last price
                    last_price[sym] = row[4]
                pos[sym] = index[sym]
            market.now_ms = t + STEP
            res.candles += len(todo)
            for sym, row in todo:
                watching = self._watching(sym)
                if watching:
                    candle = Candle(t, row[1], row[2], row[3], row[4], row[5])
                    window = market.history(sym)
                    for bot in watching:
                        try:
                            bot.on_closed(sym, candle, window)
                        except (KeyError, ValueError) as exc:  # as _guarded: said, and the replay goes on
                            self._note(bot, exc)
            self._timers(market.now_ms)
            for sym, _ in todo:  # a symbol whose data ends before the range does: not held at a stale price
                s = self.series[sym]
                if index[sym] == len(s.time_list) and t < last_step:
                    self._stop_trading(sym, s, index[sym] - 1, "its stored candles end here")
            res.steps += 1
            if self.paper.position_count():
                res.exposure_steps += 1
            res.equity.append((market.now_ms, self._equity()))
        self._close_all("end of the backtest")
        res.equity.append((market.now_ms, self._equity()))
        res.fills = self.journal.fills(self.paper.name, limit=10_000_000)[::-1]  # oldest first
        res.orders = self.journal.orders(self.paper.name, limit=10_000_000)[::-1]
        res.kill_switch = self.executor.kill_switch
        if self.progress is not None and not res.cancelled:
            self.progress(1.0)
        return res

    def _guarded(self, bot: Bot, fn: Callable, *args) -> None:
        """A bot step; a failure is noted and the replay goes on (as run_bot does live for the exchange's)."""
        try:
            fn(*args)
        except (KeyError, ValueError) as exc:
            self._note(bot, exc)

    def _note(self, bot: Bot, exc: Exception) -> None:
        note = f"{bot.name}: {type(exc).__name__}: {exc}"
        if note not in self.result.notes:
            self.result.notes.append(note)

    def _watching(self, sym: str) -> list[Bot]:
        """The bots that stream `sym` (as live: a bot gets the closes and prices of the symbols it watches)."""
        if self._watching_at != self.market.watch_changes:
            self._watching_now.clear()
            self._watching_at = self.market.watch_changes
        bots = self._watching_now.get(sym)
        if bots is None:
            ids = self.market.watchers.get(sym) or set()
            bots = self._watching_now[sym] = [b for b in self.bots if id(b.inbox) in ids]
        return bots

    def _timers(self, when: int) -> None:
        """The bots' timers at `when` (ms), each only once it is due."""
        now = when / 1000.0
        if now < self._timers_due:
            return
        self.market.now_ms = when
        for bot in self.bots:
            if now >= bot.timer_due():
                self._guarded(bot, bot.on_timer, now)
        self._timers_due = min((b.timer_due() for b in self.bots), default=math.inf)

    def _busy_symbols(self) -> set[str]:
        """The symbols with an open order or a watched trigger."""
        busy = {o.symbol for o in self.paper.open_orders()}
        for bot in self._with_setups:
            busy.update(bot.setups)
        return busy

    def _split(self, moving: list[tuple[str, list]], busy: set[str]) -> tuple[list, list]:
        """(the candles replayed price by price, the quiet ones that go to their close): quiet only in a calm step,
        where nothing in this step's candles could trip the daily loss limit (see the module's rule)."""
        at_risk = 0.0
        quiet: list[tuple[str, list]] = []
        rest: list[tuple[str, list]] = []
        pending: dict[str, float] = {}  # the open orders' quantities by symbol
        for o in self.paper.open_orders():
            pending[o.symbol] = pending.get(o.symbol, 0.0) + o.qty
        for sym, row in moving:
            held = self.paper.peek(sym)
            qty = (abs(held.qty) if held is not None else 0.0) + pending.get(sym, 0.0)
            mark = held.mark_price if held is not None and held.mark_price else row[1]
            lo, hi = min(row[1], row[2], row[3], row[4]), max(row[1], row[2], row[3], row[4])
            top, bottom = max(hi, mark), min(lo, mark)
            at_risk += qty * ((top - bottom) + top * self._cost_rate)
            (quiet if held is not None and sym not in busy and _inside(held, lo, hi) else rest).append((sym, row))
        if not quiet:
            return moving, []
        guard = self.executor
        calm = guard.kill_switch is not None or 2 * at_risk < self._loss_limit + guard.daily_pnl()
        return (rest, quiet) if calm else (moving, [])

    def _walk(self, sym: str, here: float, target: float, when: int) -> None:
        """From `here` to `target`, passing every level on the way at that level (the levels are read again after
        each price: a fill or an exit changes them)."""
        while True:
            level = self._next_level(sym, here, target)
            if level is None:
                break
            self._price(sym, level, when)
            here = level
        if target != here:
            self._price(sym, target, when)

    def _next_level(self, sym: str, here: float, target: float) -> float | None:
        """The first level strictly between `here` and `target` on the way (TP, SL, resting orders, watched
        triggers), or None."""
        levels = []
        p = self.paper.peek(sym)
        if p is not None:
            levels += [v for v in (p.take_profit, p.stop_loss) if v is not None]
        levels += [o.price for o in self.paper.open_orders() if o.symbol == sym and o.price is not None]
        for bot in self._with_setups:
            setup = bot.setups.get(sym)
            if setup is not None:
                tick = self.paper.rules(sym).tick_size
                levels.append(setup.trigger + tick if setup.side == "long" else setup.trigger - tick)  # just past
        up = target > here
        ahead = [v for v in levels if (here < v < target if up else target < v < here)]
        if not ahead:
            return None
        return min(ahead) if up else max(ahead)

    def _price(self, sym: str, price: float, when: int) -> None:
        now = self.market.now_ms
        self.market.now_ms = when
        self.result.prices += 1
        try:
            self.executor.on_price(sym, price, when)
            for bot in self._watching(sym):
                self._guarded(bot, bot.on_price, sym, price, when)
            # an order sent at market on this price (a TP / SL reached, a trigger crossed) fills at it, as an order
            # sent the moment the price is there does
            orders = self.paper.open_orders()
            if orders and any(o.symbol == sym and o.type == MARKET for o in orders):
                self.executor.on_price(sym, price, when)
        finally:
            self.market.now_ms = now

    def _hole(self, sym: str, s: Series, i: int) -> None:
        """A hole in the stored candles before row i: no trade across it. A position still open is closed at the
        last price before the hole; the bot's window starts again after it."""
        self._stop_trading(sym, s, i - 1, "a hole in the data follows")
        self.market.segment_start[sym] = i

    def _stop_trading(self, sym: str, s: Series, last: int, why: str) -> None:
        """No price of `sym` after row `last`: its position is closed at that row's close, its orders cancelled
        (an order sent before does not fill after)."""
        price, when = float(s.rows[last, 4]), int(s.times[last]) + STEP - 1
        held = self.paper.position(sym)
        if held is not None:
            self._close(held, price, when, why)
        for o in self.paper.open_orders():
            if o.symbol == sym:
                self.paper.cancel(o.id)
                self.result.notes.append(f"{sym}: order {o.client_id} cancelled ({why})")

    def _close_all(self, why: str) -> None:
        for p in self.paper.positions():
            s = self.series[p.symbol]
            i = max(0, self.market.pos[p.symbol] - 1)
            self._close(p, float(s.rows[i, 4]), self.market.now_ms, why)

    def _close(self, p, price: float, when: int, why: str) -> None:
        req = OrderRequest(p.symbol, SELL if p.qty > 0 else BUY, abs(p.qty), f"bt-close-{p.symbol}-{when}",
                           reduce_only=True, bot=p.bot, price=price)
        for o in self.paper.open_orders():  # its resting orders (entries, stops) go with it
            if o.symbol == p.symbol:
                self.paper.cancel(o.id)
        self.paper.place(req)
        self.paper.on_price(p.symbol, price, when)  # a market order fills at the next price: this one
        self.result.notes.append(f"{p.symbol}: position closed at {price:.12g} ({why})")
        now = self.market.now_ms
        self.market.now_ms = when
        try:  # its loss counts now, as a fill through the risk guard would (not at some later price)
            self.executor.check_daily_loss()
        finally:
            self.market.now_ms = now

    def _equity(self) -> float:
        return self.paper.balance() + self.paper.unrealized_total(exact=True)


def _inside(held, lo: float, hi: float) -> bool:
    """Whether a candle from `lo` to `hi` lies strictly between the position's stop loss and take profit (a level at
    the range's edge is touched; a candle wholly beyond a level, a gap, crosses it at the open)."""
    below, above = (held.stop_loss, held.take_profit) if held.qty > 0 else (held.take_profit, held.stop_loss)
    return (below is None or below < lo) and (above is None or above > hi)


def resolve_names(names: Iterable[str], exchange: str, stored: list[str], instruments: dict[str, Instrument]
                  ) -> tuple[list[str], list[str]]:
    """Names as typed (native, unified, a base asset like btc) -> stored native ids; and the names that match
    nothing stored."""
    from ..exchanges.registry import get_exchange

    adapter = get_exchange(exchange)
    by_unified = {inst.symbol.upper(): n for n, inst in instruments.items()}
    by_base: dict[str, str] = {}
    for stored_id in stored:
        try:
            by_base.setdefault(adapter.split_symbol(stored_id)[0].upper(), stored_id)
        except ValueError:
            continue
    found: list[str] = []
    unknown: list[str] = []
    for name in names:
        key = name.strip().upper()
        native: str | None = key if key in stored else by_unified.get(key) or by_base.get(key.split("/")[0])
        if native is None:
            unknown.append(name)
        elif native not in found:
            found.append(native)
    return found, unknown


def _segment_start(times: np.ndarray, upto: int) -> int:
    """The first row of the last unbroken run of candles before row `upto`."""
    if upto <= 1:
        return 0
    jumps = np.nonzero(np.diff(times[:upto]) > STEP)[0]
    return int(jumps[-1] + 1) if len(jumps) else 0


def load_series(store, exchange: str, symbols: Sequence[str], start_ms: int, end_ms: int, warmup: int
                ) -> dict[str, Series]:
    """The stored candles of each symbol from `warmup` candles before `start_ms` to `end_ms` (symbols with none
    in the range are left out)."""
    out = {}
    for sym in symbols:
        rows = store.load_range_rows(exchange, sym, start_ms - warmup * STEP, end_ms) \
            if hasattr(store, "load_range_rows") else _rows_of(store.load(exchange, sym, start_ms=start_ms
                                                                          - warmup * STEP, end_ms=end_ms))
        if len(rows) and ((rows[:, 0] >= start_ms).any()):
            out[sym] = Series(sym, rows)
    return out


def _rows_of(frame) -> np.ndarray:
    if not len(frame):
        return np.empty((0, 6))
    ts = frame["timestamp"].astype("int64").to_numpy().astype(np.float64)
    return np.column_stack([ts] + [frame[c].to_numpy(np.float64) for c in ("open", "high", "low", "close",
                                                                           "volume")])


def months_missing(store, exchange: str, symbols: Iterable[str], start_ms: int, end_ms: int) -> dict[str, list[str]]:
    """Per symbol, the months of the range with no stored candle at all (what to download)."""
    wanted = months_of(start_ms, end_ms)
    out = {}
    for sym in symbols:
        have = set(store.months(exchange, sym))
        miss = [m for m in wanted if m not in have]
        if miss:
            out[sym] = miss
    return out


def months_of(start_ms: int, end_ms: int) -> list[str]:
    """The months (YYYY-MM) the range touches, by month arithmetic: a range of centuries stays cheap, and the
    month after December 9999 is never computed."""
    import time

    first, last = time.gmtime(start_ms / 1000), time.gmtime(end_ms / 1000)
    return [f"{m // 12:04d}-{m % 12 + 1:02d}"
            for m in range(first.tm_year * 12 + first.tm_mon - 1, last.tm_year * 12 + last.tm_mon)]


def finite(x: float) -> float:
    return x if math.isfinite(x) else 0.0
