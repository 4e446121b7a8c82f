"""Headless wiring: settings -> candle store, durable writer, instrument catalogs and one market feed per
exchange, run by the market data engine's thread (the `Core`). No Qt: the collector and the bot command run on
it as the window does."""
from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .config import Settings
from .core.instrument import SymbolError
from .core.timeframe import Timeframe
from .data.catalogs import CatalogBook
from .data.engine import MarketEngine
from .data.feed import MarketFeed
from .data.store import CandleStore
from .data.writer import CandleWriter
from .exchanges.registry import get_exchange
from .net.rest import RestClient

log = logging.getLogger(__name__)
T = TypeVar("T")

SHUTDOWN_BUDGET_S = 3.0
HEAD_START_S = 2.0  # longest the other feeds wait for the charted series' history at start


@dataclass
class Core:
    """Everything long-lived below the presenters; usable without Qt.

    The feeds live on `engine`'s thread and loop (None: on the loop that calls `start`, for tests of the parts);
    `on_engine` runs a coroutine there from any loop."""

    settings: Settings
    store: CandleStore
    writer: CandleWriter
    feeds: dict[str, MarketFeed] = field(default_factory=dict)
    catalogs: dict[str, CatalogBook] = field(default_factory=dict)
    clock: Callable[[], int] | None = None  # the market's time in UTC ms when not the wall clock's (the demo's)
    engine: MarketEngine | None = None
    feed_options: dict = field(default_factory=dict)  # build_core's, for feeds built later (live settings)
    _changing: asyncio.Lock | None = field(default=None, repr=False)

    def changing(self) -> asyncio.Lock:
        """Held while the feeds are started or a settings change is applied (on the engine's loop): one at a time,
        so two changes never both add (or remove) the same exchange, and none runs into a start half done."""
        if self._changing is None:
            self._changing = asyncio.Lock()
        return self._changing

    async def on_engine(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` where the feeds live (the engine's loop), from the caller's loop."""
        if self.engine is None:
            return await coro
        return await self.engine.run(coro)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` run where the feeds live (the engine's thread), awaited from the caller's loop: for readers of
        the feeds' state (health lines, sync progress) outside the engine."""
        if self.engine is None or self.engine.in_engine():
            return fn(*args)
        return await asyncio.wrap_future(self.engine.call(fn, *args))

    async def start(self, first: tuple[str, str] | None = None, head_start: float = HEAD_START_S) -> None:
        """Start the engine's thread (if any) and every feed on it; see `_start`."""
        if self.engine is not None:
            self.engine.start()
        await self.on_engine(self._start(first, head_start))

    async def _start(self, first: tuple[str, str] | None, head_start: float) -> None:
        """Start every feed. The series on screen (`first` = exchange, symbol) gets a head start: its feed
        starts first and the others wait until its history is in (at most `head_start` s), so the chart
        fills before a dozen other REST fetches compete with it. Each exchange's instrument list is refreshed
        in the background meanwhile (the cached one is in use until then)."""
        async with self.changing():
            await self._start_feeds(first, head_start)

    async def _start_feeds(self, first: tuple[str, str] | None, head_start: float) -> None:
        for book in list(self.catalogs.values()):
            book.refresh_in_background(keep_fresh=True)
        lead = self.feeds.get(first[0]) if first else None
        if lead is not None and first is not None:
            await lead.start(first=first[1])
            series = lead.series.get(first[1])
            end = time.monotonic() + head_start
            while series is not None and series.sync.busy and time.monotonic() < end:
                await asyncio.sleep(0.02)
        await asyncio.gather(*(f.start() for f in self.feeds.values() if f is not lead))

    def interrupt(self) -> None:
        """Stopping: every REST call of the feeds (history, bots' scans) ends now, in flight or waiting."""
        for feed in list(self.feeds.values()):  # a copy: a settings change may be adding one on the engine's thread
            feed.rest.close()

    async def shutdown(self, budget: float = SHUTDOWN_BUDGET_S,
                       confirm_loss: Callable[[int, str], Awaitable[bool]] | None = None) -> bool:
        """Close sockets, then flush every queued candle to disk; True when nothing was lost.
        If writes are still queued at the end of the budget, `confirm_loss(pending, error)` decides:
        False = keep trying (the disk may be fixed meanwhile), True = give up on them."""
        t0 = time.monotonic()
        try:
            if self.engine is not None and not self.engine.running:  # never started (or stopped): nothing streams
                await self._stop_feeds()
            else:
                await asyncio.wait_for(self.on_engine(self._stop_feeds()), budget / 2)
        except TimeoutError:
            log.warning("streams did not stop within %.1fs", budget / 2)
        except RuntimeError as exc:  # the engine is not running (stopped already, or never started)
            log.warning("streams: %s", exc)
        left = max(0.5, budget - (time.monotonic() - t0))
        while confirm_loss is not None and not await asyncio.to_thread(self.writer.flush, left):
            if await confirm_loss(self.writer.pending, self.writer.last_error):
                log.error("quitting with %d candle write(s) not on disk (user's choice): %s", self.writer.pending,
                          self.writer.last_error)
                left = 0.5
                break
            left = budget
        ok = await asyncio.to_thread(self.writer.close, left)
        if self.engine is not None:
            await asyncio.to_thread(self.engine.stop, 2.0)
        log.info("shutdown in %.2fs (%s)", time.monotonic() - t0, "all candles flushed" if ok else "WRITES PENDING")
        return ok


    async def _stop_feeds(self) -> None:
        await asyncio.gather(*(f.stop() for f in list(self.feeds.values())), return_exceptions=True)


def build_core(settings: Settings, *, exchanges: list[str] | None = None,
               symbols: dict[str, list[str]] | None = None, feed_options: dict | None = None,
               allow_empty: bool = False, engine: bool = True) -> Core:
    """`engine`: run the feeds on a market engine thread of their own (the app); False: on the loop that starts
    them (tests of the parts)."""
    store = CandleStore(settings.data_dir)
    writer = CandleWriter(store)
    core = Core(settings, store, writer, engine=MarketEngine() if engine else None,
                feed_options=dict(feed_options or {}))
    for name in exchanges or settings.enabled_exchanges():
        built = build_feed(core, name, settings, (symbols or {}).get(name), allow_empty=allow_empty)
        if built is not None:
            core.feeds[name], core.catalogs[name] = built
    return core


def feed_windows(settings: Settings) -> dict[Timeframe, int]:
    """The memory windows the settings ask for, per timeframe."""
    return {Timeframe.M15: settings.window_15m, Timeframe.H1: settings.window_1h}


def build_feed(core: Core, name: str, settings: Settings, symbols: list[str] | None = None, *,
               allow_empty: bool = False) -> tuple[MarketFeed, CatalogBook] | None:
    """One exchange's feed (not started) and instrument catalog, on the core's store and writer; None when it has
    no symbols (unless `allow_empty`). Reads the catalog's disk cache: off the event loop when it runs."""
    adapter = get_exchange(name, rest_url=settings.rest_url(name), ws_url=settings.ws_url(name))
    options = dict(core.feed_options)
    rest = options.pop("rest", None) or RestClient(adapter)  # one client (one request budget) for both
    book = CatalogBook(rest, settings.data_dir)
    syms = resolve_symbols(book, symbols or list(settings.symbols(name)))
    if not syms and not allow_empty:
        log.warning("%s: no symbols configured; skipped", name)
        rest.close()
        return None
    return MarketFeed(adapter, core.store, core.writer, syms, windows=feed_windows(settings), rest=rest,
                      **options), book


def resolve_symbols(book: CatalogBook, names: list[str]) -> list[str]:
    """Names as given (unified, native, a base asset) -> the exchange's native ids, through its catalog (the cached
    one at start; by the naming rule when there is none yet, said once). A name that fits nothing or several is
    left out with a log line naming the exchange and the close matches; the others go on."""
    out = []
    for text in names:
        try:
            out.append(book.resolve(text).native)
        except SymbolError as exc:
            log.error("%s; left out", exc)
    if names and not book.verified:  # the first start: the list is being fetched (the status bar says if it fails)
        log.info("%s: no instrument list cached yet; symbols taken by the exchange's naming rule until it arrives",
                 book.exchange)
    return list(dict.fromkeys(out))


def trading_dir(settings: Settings) -> Path:
    """Journal and other trading state, inside the data dir but out of the Parquet dataset's way."""
    return settings.data_dir / "_trading"


def check_data_dir(path: Path) -> str | None:
    """None if we can write there, else a message saying why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".twinstar-write-test-{os.getpid()}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return f"data directory {path} is not writable: {exc.strerror or exc}"
    return None
