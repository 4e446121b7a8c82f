"""What a bot (in its own thread) may ask of the market, bridged to the asyncio loop that owns the streams.

REST calls run in the calling bot thread (the RestClient's token bucket keeps them within the exchange's
budget, so a 50-symbol scan needs no sleeps); stream changes and reads of live series are handed to the
loop. Prices reach the executor here too: every live price of every streamed symbol goes to
`executor.on_price` (fills, marks, TP/SL), and symbols with open positions or orders are kept streamed.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..core.instrument import SPOT, Instrument, SeriesKey, SymbolError
from ..core.models import Candle
from ..core.timeframe import BASE_TIMEFRAME, Timeframe
from ..data.catalogs import CatalogBook
from ..data.feed import MarketFeed
from ..data.manager import ClosedCandle
from ..execution.base import Executor, symbols_in_play

log = logging.getLogger(__name__)

CLOSE_WAIT_S = 5.0  # longest close() waits for the market's loop to drop the executor
ERROR_REPEAT_S = 60.0  # the same error message is reported at most once a minute
MAX_KEPT_ERRORS = 200  # distinct messages remembered for that


class RepeatLimiter:
    """Lets the same key (an error message) through at most once per `every` s and counts the repeats held
    back meanwhile; remembers at most `keep` keys, forgetting the least recently reported first. Not
    thread-safe: callers hold their own lock or stay on one thread."""

    def __init__(self, every: float = ERROR_REPEAT_S, keep: int = MAX_KEPT_ERRORS) -> None:
        self.every, self.keep = every, keep
        self._seen: dict[object, tuple[float, int]] = {}  # key -> (when last let through, repeats held back)

    def __len__(self) -> int:
        return len(self._seen)

    def allow(self, key: object) -> int | None:
        """None: held back. Else the key may be reported now; the value is how many repeats were held back."""
        now = time.monotonic()
        last, hidden = self._seen.get(key, (now - self.every, 0))
        if now - last < self.every:
            self._seen[key] = (last, hidden + 1)
            return None
        self._seen[key] = (now, 0)
        if len(self._seen) > self.keep:  # a long run must not grow without bound
            for old in sorted(self._seen, key=lambda k: self._seen[k][0])[:len(self._seen) - self.keep // 2]:
                del self._seen[old]
        return hidden


class LiveMarket:
    def __init__(self, feed: MarketFeed, loop: asyncio.AbstractEventLoop, executor: Executor | None = None, *,
                 rest_workers: int = 16, clock: Callable[[], int] = lambda: int(time.time() * 1000),
                 catalog: CatalogBook | None = None) -> None:
        self.feed = feed
        self._catalog = catalog  # made on first use when not given (the feed's REST client, no disk cache)
        self.exchange = feed.adapter.name
        # the KRW venues trade spot: bots do not go short there
        self.long_only = getattr(feed.adapter, "market_kind", None) == SPOT
        self.loop = loop
        self.executor = executor
        self.clock = clock
        self._inboxes: dict[str, set[queue.Queue]] = {}  # symbol -> bot inboxes that watch it
        self._hooked: set[str] = set()
        self.rest_workers = rest_workers
        self._pool = ThreadPoolExecutor(max_workers=rest_workers, thread_name_prefix=f"rest-{self.exchange}")
        self._tracker: asyncio.Task | None = None
        self._tracked: set[str] = set()
        self.closed = False
        self._price_errors = RepeatLimiter()  # keyed by (symbol, error); only the loop thread uses it
        self._failing: dict[str, str] = {}  # symbol -> the executor's error on its last price, while it fails

    # -- asyncio side -----------------------------------------------------------------------------------
    def start(self) -> None:
        """Call on the market's loop: hook the feed's series and keep position symbols streamed."""
        if self.closed:
            return
        for sym in list(self.feed.series):
            self._hook(sym)
        if self.executor is not None:
            self._tracker = self.loop.create_task(self._track_positions(), name=f"positions-{self.exchange}")

    async def close(self) -> None:
        """From any loop: the executor, the hooks and the position tracker are dropped on the market's own loop
        (where prices reach the executor), and this returns once they are: the journal may close next."""
        self.closed = True  # a bot thread still winding down must not wait on a loop that may stop next
        self._pool.shutdown(wait=False, cancel_futures=True)
        if asyncio.get_running_loop() is self.loop:
            self._drop()
            return
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def drop() -> None:
            try:
                self._drop()
            finally:
                done.set_result(None)
        try:
            self.loop.call_soon_threadsafe(drop)
            await asyncio.wait_for(asyncio.wrap_future(done), CLOSE_WAIT_S)
        except (RuntimeError, TimeoutError):  # its loop is closed, or stuck: nothing more reaches the executor
            self._drop()

    def _drop(self) -> None:
        self.executor = None  # no more prices to it (its journal may close next)
        self._inboxes.clear()
        if self._tracker is not None:
            self._tracker.cancel()

    def _hook(self, symbol: str) -> None:
        if symbol in self._hooked:
            return
        self._hooked.add(symbol)
        series = self.feed.series[symbol]
        series.listeners.closed.append(self._on_closed)
        series.listeners.forming.append(self._on_forming)

    def _on_closed(self, cc: ClosedCandle) -> None:
        if cc.timeframe != BASE_TIMEFRAME:
            return
        boxes = self._inboxes.get(cc.symbol, ())
        if not boxes:
            return
        # One read-only copy of the series' window rides along: bots need no resident copy of their own.
        window = self.feed.series[cc.symbol].candles[BASE_TIMEFRAME].array()
        window.flags.writeable = False
        for inbox in boxes:
            inbox.put(("closed", cc.symbol, cc.candle, window))

    def _on_forming(self, key: SeriesKey, candle: Candle) -> None:
        symbol = key.symbol  # one of this feed's series: its exchange is ours
        now = self.clock()
        executor = self.executor
        if executor is not None:
            try:
                executor.on_price(symbol, candle.close, now)
            except Exception as exc:  # noqa: BLE001 - e.g. the journal's disk is full: retried on the next price
                self._price_error(symbol, exc)
            else:
                self._failing.pop(symbol, None)
        for inbox in self._inboxes.get(symbol, ()):
            inbox.put(("price", symbol, candle.close, now))

    def _price_error(self, symbol: str, exc: Exception) -> None:
        """Prices come many times a second: the same error for a symbol is logged once a minute, with how
        many repeats were not."""
        message = f"{type(exc).__name__}: {exc}"
        self._failing[symbol] = message
        hidden = self._price_errors.allow((symbol, message))
        if hidden is None:
            return
        again = f" ({hidden} more time(s) in the last minute)" if hidden else ""
        log.error("%s %s: executor failed on a price (tried again on every price)%s: %s", self.exchange, symbol,
                  again, message, exc_info=exc)

    def executor_problems(self) -> dict[str, str]:
        """Symbols whose last price the executor failed on (fills and TP/SL wait), with the error: shown
        beside the account until a price goes through again."""
        return dict(self._failing)

    async def _track_positions(self) -> None:
        """Symbols with positions or open orders stay streamed, so paper fills and TP/SL see prices."""
        while (executor := self.executor) is not None:  # None: closed (close() cancels this task too)
            try:
                want = symbols_in_play(executor, entries_only=False)
                for sym in set(self._failing) - want:  # nothing of it left to fill or protect
                    del self._failing[sym]
                for sym in want - self._tracked:
                    await self.feed.add_symbol(sym)
                    self._hook(sym)
                    self._tracked.add(sym)
                for sym in self._tracked - want:
                    self._tracked.discard(sym)
                    await self.feed.remove_symbol(sym)
                    if sym not in self.feed.series:
                        self._hooked.discard(sym)
            except Exception:
                log.exception("%s: position tracking failed", self.exchange)
            await asyncio.sleep(0.5)

    async def _watch(self, symbol: str, inbox: queue.Queue) -> np.ndarray:
        await self.feed.add_symbol(symbol)
        self._hook(symbol)
        self._inboxes.setdefault(symbol, set()).add(inbox)
        return self.feed.series[symbol].candles[BASE_TIMEFRAME].array()

    async def _unwatch(self, symbol: str, inbox: queue.Queue) -> None:
        boxes = self._inboxes.get(symbol)
        if boxes is None or inbox not in boxes:
            return
        boxes.discard(inbox)
        if not boxes:
            del self._inboxes[symbol]
        await self.feed.remove_symbol(symbol)
        if symbol not in self.feed.series:
            self._hooked.discard(symbol)

    # -- bot-thread side --------------------------------------------------------------------------------
    def _call(self, coro, timeout: float = 30.0):
        if self.closed:
            coro.close()
            raise RuntimeError(f"{self.exchange}: the market is closed (the app is stopping)")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def watch(self, symbol: str, inbox: queue.Queue) -> np.ndarray:
        """Stream a symbol into `inbox` ("closed", sym, Candle) / ("price", sym, price, ms); returns its
        closed 15m candles in memory so far (history from disk; REST backfill follows as closes)."""
        return self._call(self._watch(symbol, inbox))

    def unwatch(self, symbol: str, inbox: queue.Queue) -> None:
        if not self.closed:  # closed: every inbox is already dropped
            self._call(self._unwatch(symbol, inbox))

    def history(self, symbol: str) -> np.ndarray:
        async def read() -> np.ndarray:
            s = self.feed.series.get(symbol)
            return s.candles[BASE_TIMEFRAME].array() if s is not None else np.empty((0, 6))
        return self._call(read())

    def stream_healthy(self, symbol: str) -> bool:
        conn = self.feed.hub.connection_of(self.feed.adapter.kline_topic(symbol, BASE_TIMEFRAME))
        return conn is not None and conn.is_healthy(conn.max_silence)

    def poll_rest(self, symbol: str) -> None:
        """Catch up a symbol's closed candles by REST now (when its stream is not healthy)."""
        def go() -> None:
            s = self.feed.series.get(symbol)
            if s is not None:
                s.backfill()
        self.loop.call_soon_threadsafe(go)

    def fetch_klines(self, symbols: list[str], count: int, tf: Timeframe = BASE_TIMEFRAME
                     ) -> dict[str, np.ndarray | Exception]:
        """The last `count` closed candles of each symbol by REST, several requests in flight, each
        waiting for the exchange's token bucket (no fixed sleeps)."""
        now = self.clock()
        start = tf.bucket_start(now) - count * tf.ms

        def one(sym: str) -> np.ndarray:
            frame = self.feed.rest.fetch_klines(sym, tf, start, now_ms=now)
            ts = frame["timestamp"].astype("datetime64[ms, UTC]").astype("int64").to_numpy()
            return np.column_stack([ts.astype(np.float64)] + [frame[c].to_numpy(np.float64) for c in
                                                              ("open", "high", "low", "close", "volume")])

        futures = {sym: self._pool.submit(one, sym) for sym in symbols}
        out: dict[str, np.ndarray | Exception] = {}
        for sym, fut in futures.items():
            try:
                out[sym] = fut.result()
            except Exception as exc:  # noqa: BLE001 - one bad symbol must not sink the scan
                out[sym] = exc
        return out

    # -- instruments (bot threads) -------------------------------------------------------------------
    @property
    def catalog(self) -> CatalogBook:
        if self._catalog is None:
            self._catalog = CatalogBook(self.feed.rest, None)
        return self._catalog

    def resolve(self, names: list[str]) -> tuple[list[str], dict[str, str]]:
        """Names as given (unified symbols, native ids, base assets) -> (native ids of the instruments that trade
        here, in order; {name: why it was left out} for the rest: not listed, not trading, ambiguous). Uses the
        exchange's catalog, waiting for it once if none is cached; with no list at all, names are kept by the
        exchange's naming rule (unverified)."""
        self.catalog.ensure()
        out, missing = [], {}
        for name in names:
            try:
                out.append(self.catalog.resolve(name).native)
            except SymbolError as exc:
                missing[name] = str(exc)
        return list(dict.fromkeys(out)), missing

    def unified(self, native: str) -> str:
        """What to show for a native id: its unified symbol (the catalog's, else by the naming rule)."""
        try:
            return self.catalog.instrument(native).symbol
        except SymbolError:
            return native

    def listed(self, native: str) -> Instrument | None:
        """The exchange's own record of a native id (tick, lot, unified symbol); None when its list is not
        loaded or does not have it (a provisional name has no tick to trust)."""
        catalog = self.catalog.catalog
        return catalog.by_native(native) if catalog.verified else None

    def top_symbols(self, n: int) -> list[str]:
        """The `n` native ids with the largest 24 h quote volume, among those the catalog lists as trading (when
        there is a catalog: a ticker may outlive its instrument)."""
        tickers = self.feed.rest.fetch_tickers()
        names = list(dict.fromkeys(tickers["symbol"].tolist()))
        catalog = self.catalog.catalog
        if catalog.verified:
            names = [s for s in names if (i := catalog.by_native(s)) is not None and i.trading]
        return names[:n]

    def last_prices(self) -> dict[str, float]:
        tickers = self.feed.rest.fetch_tickers()
        return dict(zip(tickers["symbol"].tolist(), tickers["last_price"].astype(float).tolist()))
