"""Chart presenter: one series' history/closes/forming updates at <= 60 Hz, older history from disk on demand,
trade markers from the journal, the list of series (which grows when bots add symbols at run time), and the
symbol search: unified names, each exchange's catalog, a series added by name at run time."""
from __future__ import annotations

import asyncio
import logging
import queue
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from ..core.instrument import SymbolError
from ..core.resample import resample_complete
from ..core.timeframe import BASE_TIMEFRAME, Timeframe
from ..data.catalogs import CatalogBook
from ..data.engine import MarketEngine
from ..data.feed import MarketFeed
from ..data.manager import SeriesManager, frame_of
from ..data.store import CandleStore
from ..data.tap import SHOW_BURST, SHOW_EVERY_S, SeriesTap, SeriesUpdate

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

FLUSH_MS = 50  # polls (series list, catalogs, markers); candles come when the engine's tap wakes us (<= 60 Hz)
OLDER_CHUNK = 1000  # candles per lazy load of older history
SERIES_EVERY = 10  # flushes between looks for series added at run time (0.5 s)
MARKERS_EVERY = 20  # flushes between journal reads for trade markers (1 s)
COLUMNS = ["timestamp", "open", "high", "low", "close", "volume"]


@dataclass(frozen=True, slots=True)
class FillMarker:
    """One journal fill of the shown symbol, for an entry/exit marker."""

    time_ms: int
    side: str  # "buy" | "sell"
    price: float
    qty: float


def read_older(store: CandleStore, exchange: str, symbol: str, tf: Timeframe, before_ms: int,
               n: int = OLDER_CHUNK) -> pd.DataFrame:
    """Up to `n` candles of `tf` that open before `before_ms`, from disk (15m rows, derived from complete groups).

    Reads only the months of the requested span; jumps over a gap wider than the span. Empty = nothing older.
    Blocking: call it off the GUI thread."""
    start = before_ms - n * tf.ms
    base = store.load(exchange, symbol, BASE_TIMEFRAME.label, start_ms=start, end_ms=before_ms - 1)
    if base.empty:
        months = store.months(exchange, symbol, BASE_TIMEFRAME.label)
        if not months or months[0] > datetime.fromtimestamp(start / 1000, UTC).strftime("%Y-%m"):
            return frame_of([])
        base = store.load(exchange, symbol, BASE_TIMEFRAME.label, end_ms=start - 1)  # behind a wide gap
        if base.empty:
            return frame_of([])
        last = int(base["timestamp"].iloc[-1].value // 1_000_000)
        keep = base["timestamp"].astype("datetime64[ms, UTC]").astype("int64").to_numpy()  # ms
        base = base[keep >= tf.bucket_start(last) - (n - 1) * tf.ms]
    frame = base[COLUMNS] if tf is BASE_TIMEFRAME else resample_complete(base[COLUMNS], tf)
    return frame.iloc[-n:].reset_index(drop=True)


def read_fills(trading, symbol: str) -> list[FillMarker]:
    """The journal's fills of `symbol` for one exchange's trading (oldest first). Blocking (SQLite)."""
    fills = trading.journal.fills(trading.executor.name)
    return sorted((FillMarker(f.time_ms, f.side, f.price, f.qty) for f in fills if f.symbol == symbol),
                  key=lambda m: m.time_ms)


class ChartPresenter(QObject):
    """`history(array, symbol, tf)` resets the chart ((n, 6) open time ms + OHLCV, read-only);
    `candles(list[tuple], symbol, tf)` updates it in place.

    Each tuple is (open_time_ms, open, high, low, close, volume, closed). `older(frame, symbol, tf)` answers
    `load_older` (an empty frame: nothing older on disk); `markers(list[FillMarker], symbol, tf)` follows the
    journal; `choices_changed(dict)` fires when a series is added (bots, the search) or fails. Disk and journal
    reads run on a worker thread; their results come back through a queue drained by the flush timer.

    The series live on the market engine's thread (`engine`; None: on this thread's loop, as in unit tests): the
    shown one is watched through a `SeriesTap` that batches its changes there and wakes this object, which only
    forwards them to the view.

    Symbol search (`catalogs`: {exchange: CatalogBook}, optional): `unified(exchange, native)` names a series on
    screen, `catalog_symbols(exchange)` is what the search offers and `catalog_changed(exchange)` says a refresh
    of that list arrived; `open_symbol(exchange, text)` answers with `opened(exchange, native)` once the series
    exists (added at run time if need be) or with `problem(exchange, message)`.
    """

    history = Signal(object, str, str)
    candles = Signal(object, str, str)
    older = Signal(object, str, str)
    markers = Signal(object, str, str)
    choices_changed = Signal(object)
    catalog_changed = Signal(str)
    opened = Signal(str, str)
    problem = Signal(str, str)
    _wake = Signal()  # emitted by the tap on the engine's thread: queued to this object's thread

    def __init__(self, feeds: dict[str, MarketFeed], parent: QObject | None = None, *,
                 catalogs: dict[str, CatalogBook] | None = None, engine: MarketEngine | None = None) -> None:
        super().__init__(parent)
        self.feeds = feeds
        self.engine = engine
        self._tap: SeriesTap | None = None
        self._wake.connect(self._take)
        self._tokens, self._tokens_at = float(SHOW_BURST), 0.0  # takes allowed now (a bucket refilled at 60 Hz)
        self._take_timer = QTimer(self)  # the next take, when woken with no take left in the bucket
        self._take_timer.setSingleShot(True)
        self._take_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._take_timer.timeout.connect(self._take)
        self.catalogs = catalogs if catalogs is not None else {}  # the core's: exchanges added at run time show up
        self._catalog_seen = {name: book.catalog for name, book in self.catalogs.items()}
        self._adding: set[tuple[str, str]] = set()  # (exchange, native) being added for the search
        self._tasks: set[asyncio.Task] = set()
        self._closed = False
        self.exchange = ""
        self.symbol = ""
        self.tf = BASE_TIMEFRAME
        self._series: SeriesManager | None = None
        self.flushes = 0
        self.older_loads = 0
        self._results: queue.SimpleQueue = queue.SimpleQueue()  # (kind, key, Future) from the worker
        self._pool: ThreadPoolExecutor | None = None
        self._older_busy: tuple | None = None
        self._older_next: tuple | None = None  # asked while a read was running
        self._older_done: set[tuple] = set()  # (exchange, symbol, tf) with nothing older on disk
        self._trading = None  # a TradingPresenter-like object with `.tradings: {exchange: Trading}`
        self._markers_busy = False
        self._markers_sent: tuple | None = None
        self._ticks = 0
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self._flush)
        self._timer.start()
        self._known = self.choices()

    def choices(self) -> dict[str, list[str]]:
        # a copy of each feed's series at once (the engine's thread adds and drops them)
        feeds = list(self.feeds.items())
        return {name: [s for s, m in list(feed.series.items()) if not m.failed] for name, feed in feeds}

    def select(self, exchange: str, symbol: str, tf: Timeframe | str = BASE_TIMEFRAME) -> None:
        feed = self.feeds.get(exchange)
        series = feed.series.get(symbol) if feed is not None else None  # one look: the engine may drop it
        if series is None:
            raise ValueError(f"no series {exchange}:{symbol}; have {self.choices()}")
        self.exchange, self.symbol, self.tf = exchange, symbol, Timeframe.parse(tf)
        self._series = series
        self._watch(SeriesTap(self._series, self.tf, self._wake.emit))
        self._markers_sent = None
        self._ticks = MARKERS_EVERY - 1  # markers with the first flush, not a second later

    # -- names and the symbol search ------------------------------------------------------------------------
    def unified(self, exchange: str, native: str) -> str:
        """The unified symbol of a series (`SOL/USDT:USDT` for bybit's `SOLUSDT`): from the exchange's catalog,
        else by its naming rule; the native id when neither knows it."""
        book = self.catalogs.get(exchange)
        feed = self.feeds.get(exchange)
        try:
            if book is not None:
                return book.instrument(native).symbol
            if feed is not None:
                return feed.adapter.unified(native)
        except ValueError:  # SymbolError too: a name outside the exchange's rule keeps its native id
            pass
        return native

    def catalog_symbols(self, exchange: str) -> list[str]:
        """Every trading instrument of the exchange's catalog plus the series streamed (unified, sorted)."""
        book = self.catalogs.get(exchange)
        listed = book.catalog.symbols() if book is not None else []
        return sorted(set(listed).union(self.unified(exchange, n) for n in self.choices().get(exchange, [])))

    def open_symbol(self, exchange: str, text: str) -> None:
        """What the user typed or picked -> that series on the chart. A streamed series is `opened` at once;
        another name is resolved through the exchange's catalog and its series added at run time (a task on the
        asyncio loop, which is the GUI thread's), then `opened`; a name that resolves to nothing is a `problem`."""
        text = (text or "").strip()
        feed = self.feeds.get(exchange)
        if feed is None:
            self._problem(exchange, f"{exchange or '(no exchange)'} is not streamed for the chart")
            return
        if not text:
            return
        for native in self.choices().get(exchange, []):
            if text in (native, self.unified(exchange, native)):
                self.opened.emit(exchange, native)
                return
        book = self.catalogs.get(exchange)
        if book is None:
            self._problem(exchange, f"{exchange}: {text!r} is not streamed and there is no instrument list to "
                                    f"look it up in")
            return
        try:
            inst = book.resolve(text)
        except SymbolError as exc:
            self._problem(exchange, str(exc))
            return
        series = feed.series.get(inst.native)
        if series is not None:
            if series.failed:
                self._problem(exchange, f"{inst}: refused by the exchange ({series.failed})")
            else:
                self.opened.emit(exchange, inst.native)
            return
        if (exchange, inst.native) in self._adding:
            return  # asked twice while it loads: one add, one `opened`
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._problem(exchange, f"{inst}: cannot be added now (the event loop is not running)")
            return
        self._adding.add((exchange, inst.native))
        task = loop.create_task(self._add(feed, inst.native, str(inst)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _add(self, feed: MarketFeed, native: str, name: str) -> None:
        exchange = feed.adapter.name
        try:
            series = await (self.engine.run(feed.add_symbol(native)) if self.engine else feed.add_symbol(native))
        except Exception as exc:  # a symbol that cannot be added must not take the chart down
            log.exception("chart: adding %s failed", name)
            if not self._closed:
                self._problem(exchange, f"{name}: could not be added ({type(exc).__name__}: {str(exc)[:120]})")
            return
        finally:
            self._adding.discard((exchange, native))
        if self._closed:
            return
        log.info("chart: %s added for the chart", name)
        self._known = self.choices()
        self.choices_changed.emit(self._known)  # the picker lists it before it is selected
        if series.failed:
            self._problem(exchange, f"{name}: refused by the exchange ({series.failed})")
        else:
            self.opened.emit(exchange, native)

    def _problem(self, exchange: str, message: str) -> None:
        log.warning("chart: %s", message)
        self.problem.emit(exchange, message)

    def _poll_catalogs(self) -> None:
        for name, book in list(self.catalogs.items()):
            catalog = book.catalog  # replaced as a whole by a refresh (in its own thread)
            if self._catalog_seen.get(name) is not catalog:
                self._catalog_seen[name] = catalog
                self.catalog_changed.emit(name)

    def current_frame(self) -> pd.DataFrame:
        """The shown series' window as a frame (read on the engine's thread; for scripts and tests)."""
        series, tf = self._series, self.tf
        if series is None:
            return frame_of([])
        if self.engine is None or not self.engine.running:  # nothing changes the series meanwhile
            return series.frame(tf)
        return self.engine.call(series.frame, tf).result(10.0)

    def key(self) -> tuple[str, str, str]:
        return self.exchange, self.symbol, self.tf.label

    # -- older history (lazy, from disk) ------------------------------------------------------------
    def load_older(self, before_ms: int) -> None:
        """Ask for the OLDER_CHUNK candles before `before_ms` of the shown series; answered by `older`."""
        key = self.key()
        if self._series is None:
            return
        if key in self._older_done:
            self.older.emit(frame_of([]), self.symbol, self.tf.label)
            return
        if self._older_busy is not None:  # one read at a time; the latest ask runs next
            self._older_next = (*key, int(before_ms))
            return
        self._older_busy = (*key, int(before_ms))
        self.older_loads += 1
        self._submit("older", self._older_busy, read_older, self._series.store, self.exchange, self.symbol,
                     self.tf, int(before_ms))

    # -- trade markers --------------------------------------------------------------------------------
    def attach_trading(self, trading) -> None:
        """Markers come from `trading.tradings[exchange]` (journal + executor), read once a second."""
        self._trading = trading
        self._markers_sent = None

    def _poll_markers(self) -> None:
        tradings = getattr(self._trading, "tradings", None) or {}
        t = tradings.get(self.exchange)
        if t is None or self._markers_busy or self._series is None:
            return
        self._markers_busy = True
        self._submit("markers", self.key(), read_fills, t, self.symbol)

    # -- worker thread --------------------------------------------------------------------------------
    def _submit(self, kind: str, key: tuple, fn, *args) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chart-reader")
        future = self._pool.submit(fn, *args)
        future.add_done_callback(lambda f: self._results.put((kind, key, f)))  # runs on the worker: queue only

    def _drain(self) -> None:
        while True:
            try:
                kind, key, future = self._results.get_nowait()
            except queue.Empty:
                return
            self._on_result(kind, key, future)

    def _on_result(self, kind: str, key: tuple, future: Future) -> None:
        if kind == "older":
            self._older_busy = None
            waiting, self._older_next = self._older_next, None
            if waiting is not None and waiting[:3] == self.key() != key[:3]:  # same series: this answers it
                self.load_older(waiting[3])
        else:
            self._markers_busy = False
        try:
            result = future.result()
        except Exception:  # a damaged file or a closed journal must not stop the chart
            log.exception("chart: reading %s for %s failed", kind, key)
            return
        if key[:3] != self.key():
            return  # the user switched series meanwhile
        if kind == "older":
            if result.empty:
                self._older_done.add(self.key())
            self.older.emit(result, self.symbol, self.tf.label)
        else:
            sent = tuple(result)
            if sent != self._markers_sent:
                self._markers_sent = sent
                self.markers.emit(list(result), self.symbol, self.tf.label)

    def close(self) -> None:
        self._closed = True
        self._timer.stop()
        self._take_timer.stop()
        self._watch(None)
        for task in list(self._tasks):
            task.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the shown series, through its tap on the engine's thread ------------------------------------
    def _watch(self, tap: SeriesTap | None) -> None:
        """Stop watching the series shown so far and start watching `tap`'s (attach/detach run where the series
        lives: the engine's thread, or here without an engine)."""
        old, self._tap = self._tap, tap
        for fn in ([old.detach] if old is not None else []) + ([tap.attach] if tap is not None else []):
            if self.engine is None:
                fn()
            else:
                self.engine.post(fn)

    def _take(self) -> None:
        """The tap woke us: show what waits there. On average at most once per display frame, with a burst of
        SHOW_BURST (an exchange's kline and ticker frames arrive together: the second is not held a whole frame);
        woken with no take left, a timer takes when the next one is due (the tap does not wake us again before
        we take)."""
        if self._closed:
            return
        now = time.monotonic()
        self._tokens = min(float(SHOW_BURST), self._tokens + (now - self._tokens_at) / SHOW_EVERY_S)
        self._tokens_at = now
        if self._tokens < 1.0:
            if not self._take_timer.isActive():
                self._take_timer.start(max(1, round((1.0 - self._tokens) * SHOW_EVERY_S * 1000)))
            return
        self._tokens -= 1.0
        tap = self._tap
        update = tap.take() if tap is not None else None
        if update is None or self._closed:
            return
        self._show(update)

    def _show(self, update: SeriesUpdate) -> None:
        key = update.key
        if (key.exchange, key.symbol, key.timeframe) != self.key():
            return  # a batch of the series shown before
        self.flushes += 1
        if update.history is not None:
            self.history.emit(update.history, self.symbol, self.tf.label)
        if update.rows:
            self.candles.emit(list(update.rows), self.symbol, self.tf.label)

    def _flush(self) -> None:
        self._ticks += 1
        self._drain()
        if self._ticks % SERIES_EVERY == 0:
            choices = self.choices()
            if choices != self._known:
                self._known = choices
                self.choices_changed.emit(choices)
            self._poll_catalogs()
        if self._series is None:
            return
        if self._trading is not None and self._ticks % MARKERS_EVERY == 0:
            self._poll_markers()
