"""One series in memory: history window, REST backfill, live closes from the stream, derived timeframes."""
from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import RestClosed, TwinStarError, is_transient, short_reason
from ..core.instrument import SeriesKey
from ..core.models import Candle, KlineEvent
from ..core.resample import GroupResampler, complete_groups
from ..core.timeframe import BASE_TIMEFRAME, DERIVED_TIMEFRAMES, Timeframe
from ..core.window import CandleWindow
from ..exchanges.base import KlineRows
from ..net.backoff import ReconnectPolicy
from ..net.rest import RestClient
from ..net.threads import in_daemon_thread
from .close import CloseDetector, Forming, StreamClosed, Verdict
from .store import CandleStore
from .writer import CandleWriter, WriteJob

if TYPE_CHECKING:  # frames are for the chart and the bots: the engine itself works on candles and arrays
    import pandas as pd

log = logging.getLogger(__name__)

REST_CONCURRENCY = 3  # REST fetches in flight per exchange: more only fight the GUI thread for the GIL
SLICE = 100  # candles handled per turn of the event loop when a long run arrives at once (~3 ms)
DEFAULT_WINDOWS = {Timeframe.M15: 1000, Timeframe.H1: 300, Timeframe.H4: 300, Timeframe.D1: 300}


@dataclass(frozen=True, slots=True)
class ClosedCandle:
    """A candle that is final, with where it came from (ws / rest / backfill)."""

    exchange: str
    symbol: str
    timeframe: Timeframe
    candle: Candle
    source: str


@dataclass
class SyncStatus:
    """Where a series is in catching up with the exchange, for progress bars and status lines.
    `done`/`total` count 15m candle slots of the current stage's REST fetches."""

    stage: str = "loading"  # loading -> repairing (holes on disk) -> backfilling -> ready; failed; or retrying
    done: int = 0
    total: int = 0
    problem: str = ""  # while retrying: why the last REST fetch failed

    @property
    def busy(self) -> bool:
        return self.stage in ("loading", "repairing", "backfilling", "retrying")


@dataclass
class SeriesListeners:
    history: list[Callable[[SeriesManager], None]] = field(default_factory=list)
    closed: list[Callable[[ClosedCandle], None]] = field(default_factory=list)
    forming: list[Callable[[SeriesKey, Candle], None]] = field(default_factory=list)  # (its key, candle)
    error: list[Callable[[str], None]] = field(default_factory=list)


def frame_of(candles: Sequence[Candle]) -> pd.DataFrame:
    """Candles -> frame with timestamp (datetime64[ms, UTC]) + OHLCV."""
    arr = np.array([(c.open_time, c.open, c.high, c.low, c.close, c.volume) for c in candles],
                   dtype=np.float64).reshape(-1, 6)
    return _frame_of_array(arr)


def _frame_of_array(arr: np.ndarray) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({
        "timestamp": pd.to_datetime(arr[:, 0].astype(np.int64), unit="ms", utc=True).astype("datetime64[ms, UTC]"),
        "open": arr[:, 1], "high": arr[:, 2], "low": arr[:, 3], "close": arr[:, 4], "volume": arr[:, 5],
    })


def shown_symbol(rest: RestClient, native: str) -> str:
    """A native id as people read it: the unified symbol by the exchange's naming rule (the native id when it
    does not follow the rule)."""
    try:
        return rest.adapter.unified(native)
    except (ValueError, AttributeError):  # AttributeError: a client with no adapter (tests' stand-ins)
        return native


class SeriesManager:
    """Lives on the asyncio loop; disk and REST work go to threads. Emits each closed candle once, in order."""

    def __init__(self, exchange: str, symbol: str, *, rest: RestClient, store: CandleStore,
                 writer: CandleWriter, windows: dict[Timeframe, int] | None = None,
                 now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
                 rest_slots: asyncio.Semaphore | None = None, retry_policy: ReconnectPolicy | None = None) -> None:
        """`rest_slots`: shared by the series of one exchange (its feed passes one), bounds REST in flight.
        `retry_policy`: the delays between REST retries while the exchange cannot be reached (a copy is used)."""
        self.exchange = exchange
        self.symbol = symbol
        self.key = SeriesKey(exchange, symbol, BASE_TIMEFRAME.label)  # what its listeners are told (with the exchange)
        self.label = f"{exchange} {shown_symbol(rest, symbol)}"  # how logs and status lines name it
        self.rest = rest
        self.store = store
        self.writer = writer
        self.windows = {**DEFAULT_WINDOWS, **(windows or {})}
        self.now_ms = now_ms
        self.rest_slots = rest_slots or asyncio.Semaphore(REST_CONCURRENCY)
        self.listeners = SeriesListeners()
        self.candles: dict[Timeframe, CandleWindow] = {
            tf: CandleWindow(self.windows[tf]) for tf in (BASE_TIMEFRAME, *DERIVED_TIMEFRAMES)}
        self._resamplers = {tf: GroupResampler(tf) for tf in DERIVED_TIMEFRAMES}
        self.close = CloseDetector(self.label, now_ms)  # when a candle is final: the one close detector
        self.failed = ""  # set when the exchange rejects the symbol
        self.closed_emitted = 0
        self._pending: dict[int, Candle] = {}
        self._disk_gaps: list[tuple[int, int]] = []
        self._backfill: asyncio.Task[None] | None = None
        self._fetching = False  # a REST fetch is under way: stream closes wait for it (see _on_stream_close)
        self._retry_wake = asyncio.Event()
        self.rest_problem = ""  # why REST fails right now (retried with backoff until it answers)
        self._short_problem = ""  # the same in a few words, for status lines
        self._retry_policy = retry_policy or ReconnectPolicy()
        self.sync = SyncStatus()

    def __repr__(self) -> str:
        return f"SeriesManager({self.exchange}:{self.symbol}, last_closed={self.last_closed})"

    @property
    def forming(self) -> Candle | None:
        """The candle still forming (from the stream), None between a close and the next push."""
        return self.close.forming

    @property
    def last_closed(self) -> int | None:
        """Open time of the newest closed 15m candle held (emitted or loaded)."""
        return self.close.last_closed

    @property
    def clock_offset_ms(self) -> int:
        """The exchange's clock minus ours, as its REST answers and forming candles told."""
        return self.close.clock_offset_ms

    def forming_in(self, tf: Timeframe, candle: Candle) -> Candle:
        """The forming candle of `tf` given the base timeframe's forming `candle`: the closed members of its
        group so far merged with it (display only)."""
        if tf is BASE_TIMEFRAME:
            return candle
        partial = self._resamplers[tf].forming
        group = tf.bucket_start(candle.open_time)
        if partial is None or partial.open_time != group:
            return Candle(group, candle.open, candle.high, candle.low, candle.close, candle.volume)
        return partial.merged_with(candle)

    # -- history ----------------------------------------------------------------------------------
    async def load_history(self) -> None:
        """Load the newest window of 15m candles from disk (in a thread)."""
        n = self.windows[BASE_TIMEFRAME]
        try:
            rows = await asyncio.to_thread(self.store.load_last_rows, self.exchange, self.symbol, n)
        except OSError as exc:  # the disk refuses (permissions, a file in the folder's place): REST brings it all
            log.error("%s: cannot read the stored history (%s); fetching it by REST", self.label,
                      exc)
            self._emit(self.listeners.error, f"{self.exchange} {self.symbol}: stored history unreadable: {exc}")
            rows = np.empty((0, 6), np.float64)
        self._add_loaded(rows)
        opens = rows[:, 0].astype(np.int64)
        if len(rows):
            log.info("%s: loaded %d candles from disk (last %s)", self.label, len(rows), _fmt(int(opens[-1])))
        holes = np.flatnonzero(np.diff(opens) > BASE_TIMEFRAME.ms)
        self._disk_gaps = [(int(opens[i]) + BASE_TIMEFRAME.ms, int(opens[i + 1]) - BASE_TIMEFRAME.ms) for i in holes]
        # The window wants the last n candles; a stored history that starts later (a month quarantined or
        # deleted, an earlier run that fetched less) is fetched again from the window's start.
        want_from = BASE_TIMEFRAME.bucket_start(self.now_ms()) - n * BASE_TIMEFRAME.ms
        if len(rows) and len(rows) < n and opens[0] > want_from:
            self._disk_gaps.insert(0, (want_from, int(opens[0]) - BASE_TIMEFRAME.ms))
        if self._disk_gaps:
            log.warning("%s: %d gap(s) in the stored history; repairing by REST", self.label,
                        len(self._disk_gaps))
        self._emit(self.listeners.history, self)

    async def _repair_disk_gaps(self) -> None:
        """Fetch the holes found in the stored window and store them. A gap leaves the list only once fetched; a
        REST failure propagates (the caller retries) with what was found so far kept."""
        sizes = [(end - start) // BASE_TIMEFRAME.ms + 1 for start, end in self._disk_gaps]
        self._stage("repairing", sum(sizes))
        log.info("%s: repairing %d gap(s), %d candles, by REST", self.label, len(sizes), sum(sizes))
        found: list[Candle] = []
        try:
            base = 0
            while self._disk_gaps:
                start, end = self._disk_gaps[0]
                async with self.rest_slots:
                    _, got = await in_daemon_thread(self._fetch_candles, start, end,
                                                    now_ms=self.close.exchange_now(),
                                                    on_page=lambda done, _total, b=base: self._progress(b + done))
                self._disk_gaps.pop(0)
                base += (end - start) // BASE_TIMEFRAME.ms + 1
                if got:
                    self._persist(got, "backfill")
                    found += got
        finally:
            if found:
                self._merge_into_window(found)

    def _add_loaded(self, rows: np.ndarray) -> None:
        """Stored candles into the windows in one go, as `_add_closed` one by one (nothing emitted) would leave
        them: 15m as they are, the derived timeframes from complete groups, each resampler holding the group in
        progress. 350 series x 1000 candles one by one held the engine's thread (and the GIL) for seconds.
        Rows not on the 15m grid (never written by us) take the one-by-one path."""
        if not len(rows):
            return
        if self.last_closed is not None or (rows[:, 0].astype(np.int64) % BASE_TIMEFRAME.ms).any():
            for r in rows.tolist():
                self._add_closed(Candle(int(r[0]), r[1], r[2], r[3], r[4], r[5]), notify=False)
            return
        self.candles[BASE_TIMEFRAME].extend(rows)
        for tf, rs in self._resamplers.items():
            groups, tail = complete_groups(rows, tf)
            self.candles[tf].extend(groups)
            if tail:
                rs.resume_after(int(rows[tail - 1, 0]))
            for r in rows[tail:].tolist():  # the group in progress: fewer candles than it needs
                rs.add(Candle(int(r[0]), r[1], r[2], r[3], r[4], r[5]))
        self.close.closed_through(int(rows[-1, 0]))

    def _merge_into_window(self, found: list[Candle]) -> None:
        """Older candles (repaired holes) into the window: rebuilt with the derived groups the holes had spoiled."""
        window = sorted({c.open_time: c for c in [*self.candles[BASE_TIMEFRAME], *found]}.values(),
                        key=lambda c: c.open_time)[-self.windows[BASE_TIMEFRAME]:]
        for tf in self.candles:
            self.candles[tf].clear()
        self._resamplers = {tf: GroupResampler(tf) for tf in DERIVED_TIMEFRAMES}
        last = self.last_closed
        for c in window:  # in one go, nothing interleaves (rare path)
            self._add_closed(c, notify=False)
        self.close.last_closed = last  # older candles filled in: the newest closed is what it was
        log.info("%s: repaired %d stored candles", self.label, len(found))
        self._emit(self.listeners.history, self)

    async def resize_windows(self, windows: dict[Timeframe, int]) -> None:
        """New memory windows (the settings changed): kept candles are cut to a smaller window; a grown 15m
        window is filled from disk (in a thread), then every window is rebuilt and `history` listeners told."""
        wanted = {**self.windows, **windows}
        if wanted == self.windows:
            return
        grown = wanted[BASE_TIMEFRAME] > self.windows[BASE_TIMEFRAME]
        self.windows = wanted
        stored: list[Candle] = []
        if grown:
            n = wanted[BASE_TIMEFRAME]
            try:
                stored = await asyncio.to_thread(
                    lambda: _candles_of(self.store.load_last(self.exchange, self.symbol, n)))
            except OSError as exc:
                log.error("%s: cannot read the stored history to grow the window (%s)", self.label, exc)
        # read after the await: closes that came meanwhile are in the window already
        held = {c.open_time: c for c in [*stored, *self.candles[BASE_TIMEFRAME]]}
        window = [held[t] for t in sorted(held)][-wanted[BASE_TIMEFRAME]:]
        self.candles = {tf: CandleWindow(wanted[tf]) for tf in self.candles}
        self._resamplers = {tf: GroupResampler(tf) for tf in DERIVED_TIMEFRAMES}
        for c in window:  # older than the newest closed: the close detector's mark stays where it is
            self._add_closed(c, notify=False)
        log.info("%s: windows now %s (%d candles of 15m in memory)", self.label,
                 ", ".join(f"{tf.label}={n}" for tf, n in wanted.items()), len(window))
        self._emit(self.listeners.history, self)

    def frame(self, tf: Timeframe = BASE_TIMEFRAME) -> pd.DataFrame:
        return _frame_of_array(self.candles[tf].array())

    # -- REST backfill ----------------------------------------------------------------------------
    def backfill(self) -> asyncio.Task[None]:
        """Fetch every closed candle between the last one we have and now; one run at a time. A run waiting to
        retry after a REST failure retries now (a reconnect or a new bucket says the exchange may be back)."""
        if self._backfill is None or self._backfill.done():
            self._fetching = True  # from now: a close arriving before the task runs waits for its fetch too
            self._backfill = asyncio.get_running_loop().create_task(self._run_backfill(),
                                                                    name=f"backfill-{self.symbol}")
        else:
            self._retry_wake.set()
        return self._backfill

    @property
    def backfill_task(self) -> asyncio.Task[None] | None:
        return self._backfill

    def _stage(self, stage: str, total: int = 0) -> None:
        """A new stage; while REST keeps failing the status stays "retrying" with the reason, until it answers."""
        retrying = stage in ("repairing", "backfilling") and self.rest_problem
        self.sync = SyncStatus("retrying" if retrying else stage, 0, total, self._short_problem if retrying else "")

    def _progress(self, done: int, total: int | None = None) -> None:
        """From the REST worker thread: plain attribute writes, read by pollers."""
        sync = self.sync
        sync.done = done
        if total is not None:
            sync.total = total

    async def _run_backfill(self) -> None:
        """Catch up by REST. A failure other than the exchange's own "no such symbol" never ends the series:
        it is retried with the reconnect backoff (sooner when the stream reconnects or a bucket ends). Live
        closes after a hole wait meanwhile and follow the fetched candles in order; the forming candle moves."""
        policy = copy.copy(self._retry_policy)
        try:
            await self._catch_up(policy)
        finally:
            self._fetching = False
        self._stage("failed" if self.failed else "ready")

    async def _catch_up(self, policy: ReconnectPolicy) -> None:
        while not self.failed:
            self._retry_wake.clear()
            try:
                await self._backfill_rounds()
            except asyncio.CancelledError:
                raise
            except RestClosed:
                return  # the feed is stopping
            except Exception as exc:  # noqa: BLE001 - sorted below by type and the exchange's code
                if self.rest.adapter.is_unknown_symbol(exc):
                    self._reject(exc)
                    break
                delay = policy.next_delay()
                self._rest_trouble(exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._retry_wake.wait(), delay)
                continue
            if self.rest_problem:
                log.warning("%s: REST answers again; history caught up", self.label)
                self.rest_problem = ""
            break

    def _rest_trouble(self, exc: Exception, delay: float) -> None:
        """A failed REST round: say why (health, log); the caller waits for a retry."""
        first = not self.rest_problem
        self.rest_problem = f"{type(exc).__name__}: {exc}"
        self._short_problem = short_reason(exc)
        self.sync = SyncStatus("retrying", 0, 0, self._short_problem)
        # said once per outage (the status line and health lines show it meanwhile); each retry at debug level
        if isinstance(exc, TwinStarError) and is_transient(exc):
            level = logging.WARNING if first else logging.DEBUG
            log.log(level, "%s: REST unavailable (%s); retry in %.0fs", self.label, exc, delay)
        else:
            log.log(logging.ERROR if first else logging.DEBUG, "%s: REST fetch failed (%s); retry in %.0fs",
                    self.label, exc, delay, exc_info=first and not isinstance(exc, TwinStarError))
        if first:
            self._emit(self.listeners.error, f"{self.exchange} {self.symbol}: history fetch failing, retrying: {exc}")

    async def _backfill_rounds(self, rounds: int = 3) -> None:
        self._fetching = True
        try:
            if self._disk_gaps:
                await self._repair_disk_gaps()
            self._stage("backfilling")
            for _ in range(rounds):
                await self._fetch_missing()
                # live closes that arrived while we were fetching, in order, as long as they join up
                for open_time in sorted(self._pending):
                    c = self._pending[open_time]
                    if self.last_closed is not None and open_time > self.last_closed + BASE_TIMEFRAME.ms:
                        break  # still a hole before this one: fetch again
                    del self._pending[open_time]
                    self._accept_closed(c, "ws")
                if not self._pending:
                    return
            if self._pending:  # REST could not close the hole: keep live data flowing, say so
                log.warning("%s: gap before %s could not be backfilled", self.label,
                            _fmt(min(self._pending)))
                for _, c in sorted(self._pending.items()):
                    self._accept_closed(c, "ws")
                self._pending.clear()
        finally:
            self._fetching = False

    async def _fetch_missing(self) -> None:
        tf = BASE_TIMEFRAME
        if self.last_closed is not None:
            start, source = self.last_closed + tf.ms, "backfill"
        else:
            start, source = tf.bucket_start(self.now_ms()) - self.windows[tf] * tf.ms, "rest"
        # Exchanges that don't say what time it is (Binance, BingX, Upbit): the stream's forming candle does.
        wall = self.now_ms()
        hint = max(wall, self.forming.open_time) if self.forming is not None else wall
        async with self.rest_slots:
            server_time, candles = await in_daemon_thread(self._fetch_candles, start, now_ms=hint,
                                                          on_page=self._progress)
        if server_time:
            self.close.server_clock(int(server_time))
        accepted = await self._in_slices(candles, lambda c: self._accept_closed(c, source, persist=False))
        if accepted:
            self._persist(accepted, source)
            log.info("%s: %s %d candles up to %s", self.label,
                     "backfilled" if source == "backfill" else "fetched", len(accepted),
                     _fmt(accepted[-1].open_time))

    def _fetch_candles(self, start: int, end: int | None = None, **kwargs: Any) -> tuple[int | None, list[Candle]]:
        """In a worker thread: one REST fetch, parsed down to candles there (not on the loop)."""
        rows = self.rest.fetch_kline_rows(self.symbol, BASE_TIMEFRAME, start, end, **kwargs)
        return rows.server_time, rows.candles()

    @staticmethod
    async def _in_slices(candles: list[Candle], fn: Callable[[Candle], object]) -> list[Candle]:
        """Feed a long run of candles (a backfill, a loaded window) to `fn` in slices, letting the loop breathe
        between them: 200 series x 1000 candles in one go froze the window for seconds. Returns the candles
        `fn` answered truthy for."""
        taken: list[Candle] = []
        for i in range(0, len(candles), SLICE):
            if i:
                await asyncio.sleep(0)
            taken += [c for c in candles[i:i + SLICE] if fn(c)]
        return taken

    def _reject(self, exc: Exception) -> None:
        """The exchange said, by its own error code, that it has no such symbol: the series stops here."""
        self.failed = f"{self.exchange} {self.symbol}: {exc}"
        self._pending.clear()
        msg = f"{self.label} ({self.symbol}): rejected by the exchange ({exc}); skipped"
        log.error(msg)
        self._emit(self.listeners.error, msg)

    # -- live stream ------------------------------------------------------------------------------
    def on_kline(self, ev: KlineEvent) -> None:
        if ev.timeframe != BASE_TIMEFRAME.label or self.failed:
            return
        self._act(self.close.kline(ev.candle(), ev.closed))

    def on_price(self, price: float, time_ms: int) -> None:
        """A last price (ticker): moves the forming candle's close/high/low."""
        self._act(self.close.price(price, time_ms))

    def on_trade(self, price: float, size: float, time_ms: int) -> None:
        """Where the exchange streams no candles (Bithumb), trades build the forming one."""
        self._act(self.close.trade(price, size, time_ms))

    def check_deadline(self, grace_ms: int) -> bool:
        """The close detector's deadline (a silent stream): True when it asked REST to confirm a candle."""
        if self.failed:
            return False
        verdicts = self.close.deadline(grace_ms)
        self._act(verdicts)
        return bool(verdicts)

    def _act(self, verdicts: list[Verdict]) -> None:
        """What the close detector concluded, in its order: chart updates, stream closes, REST confirmations."""
        for v in verdicts:
            if isinstance(v, Forming):
                self._emit(self.listeners.forming, self.key, v.candle)
            elif isinstance(v, StreamClosed):
                self._on_stream_close(v.candle)
            else:  # ConfirmByRest: the final values come from REST, never a guess from the last push
                self.backfill()

    def _on_stream_close(self, candle: Candle) -> None:
        expected = None if self.last_closed is None else self.last_closed + BASE_TIMEFRAME.ms
        busy = self._fetching
        # With no history yet (REST has not answered), a live close is never the first candle: the window
        # before it would be lost. It waits, like one after a hole, for the fetch that comes first.
        if busy or expected is None or candle.open_time > expected:
            if self.last_closed is None or candle.open_time > self.last_closed:
                self._pending[candle.open_time] = candle
            if not busy:
                if expected is not None:
                    log.warning("%s: gap before %s; backfilling", self.label,
                                _fmt(candle.open_time))
                self.backfill()
            return
        self._accept_closed(candle, "ws")

    # -- the one place a candle becomes closed ----------------------------------------------------
    def _accept_closed(self, candle: Candle, source: str, persist: bool = True) -> bool:
        if self.last_closed is not None and candle.open_time <= self.last_closed:
            return False  # already emitted: never twice
        self._add_closed(candle, notify=True, source=source)
        if persist:
            self._persist([candle], source)
        return True

    def _add_closed(self, candle: Candle, notify: bool, source: str = "") -> None:
        self.close.closed_through(candle.open_time)
        self.candles[BASE_TIMEFRAME].append(candle)
        if notify:
            self.closed_emitted += 1
            self._emit(self.listeners.closed, ClosedCandle(self.exchange, self.symbol, BASE_TIMEFRAME, candle, source))
        for tf, rs in self._resamplers.items():
            higher = rs.add(candle)
            if higher is not None:
                self.candles[tf].append(higher)
                if notify:
                    self._emit(self.listeners.closed, ClosedCandle(self.exchange, self.symbol, tf, higher, source))

    def _persist(self, candles: list[Candle], source: str) -> None:
        # plain candles: the writer thread builds the frame (a DataFrame per close here cost ~8 ms of GUI loop)
        self.writer.submit(WriteJob(self.exchange, self.symbol, candles=tuple(candles), source=source))

    def _emit(self, listeners: Sequence[Callable[..., None]], *args: Any) -> None:
        for fn in listeners:
            try:
                fn(*args)
            except Exception:
                log.exception("%s: listener %r failed", self.label, fn)


def _candles_of(rows: np.ndarray | KlineRows | pd.DataFrame | None) -> list[Candle]:
    """Candles of (n, 6) rows [open time ms, o, h, l, c, v] (the store's, or REST's KlineRows), or of a frame."""
    if rows is None:
        return []
    if isinstance(rows, KlineRows):
        return rows.candles()
    if isinstance(rows, np.ndarray):
        return [Candle(int(t), o, h, l, c, v) for t, o, h, l, c, v in rows.tolist()]
    if rows.empty:
        return []
    ts = rows["timestamp"].astype("datetime64[ms, UTC]").astype("int64").to_numpy()
    cols = [rows[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume")]
    return [Candle(int(t), float(o), float(h), float(l), float(c), float(v)) for t, o, h, l, c, v in zip(ts, *cols)]


def _fmt(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
