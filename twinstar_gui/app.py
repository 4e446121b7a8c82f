"""Composition root: builds settings, store, writer, feeds, presenters and the window; runs the qasync loop."""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .config import Settings
from .core.instrument import SymbolError
from .core.timeframe import Timeframe
from .data.catalogs import CatalogBook
from .data.feed import MarketFeed
from .data.store import CandleStore
from .data.writer import CandleWriter
from .exchanges.registry import VENUES, get_exchange
from .net.rest import RestClient

if TYPE_CHECKING:
    from .bots.market import LiveMarket
    from .execution.journal import Journal
    from .execution.risk import RiskGuard

log = logging.getLogger(__name__)

SHUTDOWN_BUDGET_S = 3.0
FIRST_PAINT_WATCH_S = 120.0  # how long the "first candles on screen" mark is looked for
HEAD_START_S = 2.0  # longest the other feeds wait for the charted series' history at start
DEMO_SYMBOLS = {name: v.default_symbols for name, v in VENUES.items()}  # unified; every venue's defaults


@dataclass
class Core:
    """Everything long-lived below the presenters; usable without Qt."""

    settings: Settings
    store: CandleStore
    writer: CandleWriter
    feeds: dict[str, MarketFeed] = field(default_factory=dict)
    catalogs: dict[str, CatalogBook] = field(default_factory=dict)
    clock: Callable[[], int] | None = None  # the market's time in UTC ms when not the wall clock's (the demo's)

    async def start(self, first: tuple[str, str] | None = None, head_start: float = HEAD_START_S) -> None:
        """Start every feed. The series on screen (`first` = exchange, symbol) gets a head start: its feed
        starts first and the others wait until its history is in (at most `head_start` s), so the chart
        fills before a dozen other REST fetches compete with it. Each exchange's instrument list is refreshed
        in the background meanwhile (the cached one is in use until then)."""
        for book in self.catalogs.values():
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
        for feed in self.feeds.values():
            feed.rest.close()

    async def shutdown(self, budget: float = SHUTDOWN_BUDGET_S,
                       confirm_loss: Callable[[int, str], Awaitable[bool]] | None = None) -> bool:
        """Close sockets, then flush every queued candle to disk; True when nothing was lost.
        If writes are still queued at the end of the budget, `confirm_loss(pending, error)` decides:
        False = keep trying (the disk may be fixed meanwhile), True = give up on them."""
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.gather(*(f.stop() for f in self.feeds.values()),
                                                  return_exceptions=True), budget / 2)
        except TimeoutError:
            log.warning("streams did not stop within %.1fs", budget / 2)
        left = max(0.5, budget - (time.monotonic() - t0))
        while confirm_loss is not None and not await asyncio.to_thread(self.writer.flush, left):
            if await confirm_loss(self.writer.pending, self.writer.last_error):
                log.error("quitting with %d candle write(s) not on disk (user's choice): %s", self.writer.pending,
                          self.writer.last_error)
                left = 0.5
                break
            left = budget
        ok = await asyncio.to_thread(self.writer.close, left)
        log.info("shutdown in %.2fs (%s)", time.monotonic() - t0, "all candles flushed" if ok else "WRITES PENDING")
        return ok


def build_core(settings: Settings, *, exchanges: list[str] | None = None,
               symbols: dict[str, list[str]] | None = None, feed_options: dict | None = None,
               allow_empty: bool = False) -> Core:
    store = CandleStore(settings.data_dir)
    writer = CandleWriter(store)
    core = Core(settings, store, writer)
    windows = {Timeframe.M15: settings.window_15m, Timeframe.H1: settings.window_1h}
    for name in exchanges or [n for n, e in settings.exchanges.items() if e.enabled]:
        adapter = get_exchange(name, rest_url=settings.rest_url(name), ws_url=settings.ws_url(name))
        options = dict(feed_options or {})
        rest = options.pop("rest", None) or RestClient(adapter)  # one client (one request budget) for both
        book = CatalogBook(rest, settings.data_dir)
        syms = resolve_symbols(book, (symbols or {}).get(name) or list(settings.symbols(name)))
        if not syms and not allow_empty:
            log.warning("%s: no symbols configured; skipped", name)
            rest.close()
            continue
        core.feeds[name] = MarketFeed(adapter, store, writer, syms, windows=windows, rest=rest, **options)
        core.catalogs[name] = book
    return core


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


@dataclass
class Trading:
    """Journal, executor (paper by default) behind risk limits, market access for bots, and the bots."""

    journal: Journal
    executor: RiskGuard
    market: LiveMarket
    bots: list = field(default_factory=list)
    threads: list = field(default_factory=list)

    def __post_init__(self) -> None:
        on_kill = getattr(self.executor, "on_kill", None)
        if on_kill is not None:  # the kill switch stops every bot of this exchange
            on_kill.append(lambda reason: [b.request_stop(f"kill switch: {reason}") for b in self.bots])

    def start_bot(self, bot, runner=None) -> None:
        """Run a bot in its own thread: `runner(bot)` makes it (a QThread in the GUI), default a plain thread."""
        from .bots.base import BotThread

        self.bots.append(bot)
        thread = (runner or BotThread)(bot)
        self.threads.append(thread)
        thread.start()

    def bot(self, name: str):
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
            if t.isRunning() if hasattr(t, "isRunning") else t.is_alive():
                log.warning("%s: still running after 12 s; it places no order from here on", t.bot.name)
        wait = getattr(self.executor, "wait_flattened", None)
        if wait is not None and not await asyncio.to_thread(wait, 30.0):  # the kill switch's closes, if under way
            log.error("the kill switch's closes are still under way after 30 s; check the exchange's positions")
        await self.market.close()
        inner = getattr(self.executor, "inner", self.executor)
        if hasattr(inner, "stop"):
            inner.stop()


def trading_dir(settings: Settings) -> Path:
    """Journal and other trading state, inside the data dir but out of the Parquet dataset's way."""
    return settings.data_dir / "_trading"


def build_trading(core: Core, exchange: str, *, executor=None, clock: Callable[[], int] | None = None) -> Trading:
    """Call on the running loop. Paper trading unless a (live) executor is given. `clock`: the market's time in
    UTC ms, when it is not the wall clock's (an accelerated simulator)."""
    clock = clock if clock is not None else core.clock
    timing: dict[str, Any] = {"clock": clock} if clock is not None else {}
    from .bots.market import LiveMarket
    from .execution.instruments import InstrumentBook
    from .execution.journal import Journal
    from .execution.paper import PaperExecutor
    from .execution.risk import RiskGuard

    t = core.settings.trading
    feed = core.feeds[exchange]
    currency = VENUES[exchange].quote  # balances, order sizes, PnL and limits: USDT, or KRW on the KRW venues
    journal = Journal(trading_dir(core.settings) / "journal.sqlite3")
    if executor is None:
        executor = PaperExecutor(journal, name=f"paper-{exchange}", balance=t.paper_start_balance(currency),
                                 fee_rate=t.fee_rate, slippage_bps=t.slippage_bps,
                                 rules=InstrumentBook(core.catalogs[exchange]), currency=currency, **timing)
    else:  # live: its journal, then its background account sync
        executor.attach_journal(journal)
        executor.start()
    guard = RiskGuard(executor, journal, t.risk, currency=currency)
    market = LiveMarket(feed, asyncio.get_running_loop(), guard, catalog=core.catalogs[exchange], **timing)
    market.start()
    return Trading(journal, guard, market)


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


def make_bot(kind: str, trading: Trading, settings: Settings, symbols: list[str] | None, name: str = ""):
    from .bots.factory import make_bot as make

    return make(kind, trading, settings.trading, symbols, name)


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


# -- GUI ------------------------------------------------------------------------------------------------
def freeze_startup_objects() -> None:
    """Once the window is up: the objects made so far (modules, classes, Qt wrappers, the window) live until
    exit, so take them out of the garbage collector's scans. A full collection walked them all each time
    and froze the GUI for up to 160 ms while candles streamed."""
    import gc

    gc.collect()
    gc.freeze()


def run_gui(settings: Settings, *, demo: bool = False, speed: float = 300.0, seed: int = 7,
            quit_after: float | None = None, symbols: dict[str, list[str]] | None = None,
            exchanges: list[str] | None = None, on_ready: Callable[[object, object], None] | None = None) -> int:
    """The terminal. `on_ready(window, trading_presenter)` is called once the streams and the paper trading
    stacks are up (scripts use it, e.g. to start bots for a screenshot)."""
    os.environ.setdefault("QT_API", "pyside6")
    import qasync
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .presenters.chart import ChartPresenter
    from .presenters.health import HealthPresenter
    from .presenters.log import LogPresenter
    from .ui.main_window import MainWindow
    from .ui.theme import apply_dark_theme

    t_start = time.monotonic()
    app = cast(QApplication, QApplication.instance() or QApplication(sys.argv[:1]))
    app.setApplicationName("TwinStar")
    icon = resource_path("twinstar.svg")
    if icon.exists():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    apply_dark_theme(app)
    logs = LogPresenter()
    sim = tmp_dir = None
    if demo:
        from .sim.demo import start_demo_simulator
        from .sim.server import EXCHANGES as SIMULATED

        sim = start_demo_simulator(speed=speed, seed=seed)
        chosen = exchanges or [n for n in SIMULATED if n in DEMO_SYMBOLS]
        unknown = [n for n in chosen if n not in SIMULATED]
        if unknown:
            sim.stop()
            print(f"twinstar: the simulator does not serve {', '.join(unknown)}; it serves {', '.join(SIMULATED)}",
                  file=sys.stderr)
            return 2
        overrides = {n: {"enabled": True, "rest_url": sim.rest_url(n), "ws_url": sim.ws_url(n),
                         "symbols": DEMO_SYMBOLS.get(n, settings.symbols(n))} for n in chosen}
        if not os.environ.get("TWINSTAR_DATA_DIR"):
            tmp_dir = tempfile.mkdtemp(prefix="twinstar-demo-")  # demo candles never mix with real ones
        settings = _with_overrides(settings, overrides, tmp_dir)
        exchanges = chosen
        log.info("demo: simulator on 127.0.0.1:%d (x%g time) serving %s; data in %s", sim.server.port, speed,
                 ", ".join(chosen), settings.data_dir)
    problem = check_data_dir(settings.data_dir)
    if problem:
        print(f"twinstar: {problem}", file=sys.stderr)
        return 2
    # the demo's market runs `speed` times faster than the wall clock: streams, backfills and bots read its time
    market_time = {"now_ms": sim.market.now_ms} if sim is not None else None
    core = build_core(settings, exchanges=exchanges, symbols=symbols, feed_options=market_time)
    if sim is not None:
        core.clock = sim.market.now_ms
    chart = ChartPresenter(core.feeds, catalogs=core.catalogs)
    health = HealthPresenter(core.feeds, writer=core.writer, catalogs=core.catalogs)
    mode = "DEMO (local simulator)" if demo else "LIVE market data"
    from .presenters.trading import TradingPresenter

    trading = TradingPresenter(core.settings, rebuild=lambda ex, live: rebuild_trading(core, ex, live))
    window = MainWindow(chart, health, logs, mode=mode, data_dir=str(settings.data_dir), trading=trading,
                        timeframes=settings.timeframes)
    # -- settings dialog (File > Settings…): symbol lists and key tests run in worker threads
    from .config import default_config_path
    from .presenters.settings import ConnectionTester, SymbolCatalog
    from .secrets import load_keys

    window.enable_settings(settings.source_path or default_config_path(), SymbolCatalog(parent=window),
                           ConnectionTester(load_keys, parent=window))
    # -- end settings dialog
    first_paint: list[float] = []

    def _first_candles(*_: object) -> None:
        """The chart is first 'there' when the series on screen has its whole history and the panel shows
        all of it (not the first slice of a backfill)."""
        if first_paint:
            return
        feed = core.feeds.get(chart.exchange)
        series = feed.series.get(chart.symbol) if feed is not None else None
        if time.monotonic() - t_start > FIRST_PAINT_WATCH_S:
            first_timer.stop()  # the charted symbol failed or never came: stop looking
            return
        if series is None or series.sync.busy:
            return
        shown = window.chart_panel.candle_count()
        if shown and shown >= len(series.candles[chart.tf]):
            first_paint.append(time.monotonic() - t_start)
            first_timer.stop()
            log.info("first candles on screen %.2fs after start", first_paint[0])

    first_timer = QTimer(window)
    first_timer.setInterval(20)
    first_timer.timeout.connect(_first_candles)
    first_timer.start()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    from .ui.crash import ExceptionReporter

    crashes = ExceptionReporter(window).install(loop)  # logged + shown, never a silent exit
    done = asyncio.Event()
    window.close_requested.connect(done.set)
    app.aboutToQuit.connect(done.set)
    signalled = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or a kill: the same clean shutdown as closing the window
        loop.add_signal_handler(sig, _on_signal, sig, done, signalled)
    from .stopsignal import early_signal

    early = early_signal()
    if early is not None:  # it came while the window was being built
        _on_signal(early, done, signalled)
    if quit_after:
        QTimer.singleShot(int(quit_after * 1000), done.set)

    async def main() -> int:
        window.show()
        await core.start(first=(chart.exchange, chart.symbol))
        tradings = {name: build_trading(core, name) for name in core.feeds}  # paper trading per exchange
        trading.attach(tradings)
        freeze_startup_objects()
        if on_ready is not None:
            on_ready(window, trading)
        await done.wait()
        core.interrupt()  # REST in flight ends now: the bots' scans and the history fetches stop at once
        tradings = trading.tradings  # the user may have switched an exchange to live (or back) meanwhile
        trading.close()  # no more polls of journals about to close
        chart.close()
        await asyncio.gather(*(t.stop() for t in tradings.values()), return_exceptions=True)
        # closing the window asks before candles a failing disk still holds are given up; a signal decided
        # already (nobody may be at the screen to answer), also one that comes while the question is open
        ask = None if signalled.is_set() else (lambda n, err: _ask_unsaved(window, n, err, signalled))
        ok = await core.shutdown(confirm_loss=ask)
        for t in tradings.values():
            t.journal.close()
        window.allow_close()
        window.close()
        return 0 if ok else 1

    try:
        with loop:
            rc = loop.run_until_complete(main())
    finally:
        crashes.uninstall()
        logs.close()
        if sim is not None:
            sim.stop()
        if tmp_dir:
            shutil.rmtree(tmp_dir, ignore_errors=True)
    return rc


def _on_signal(sig: int, done: asyncio.Event, signalled: asyncio.Event) -> None:
    if not signalled.is_set():
        log.warning("%s received: shutting down", signal.Signals(sig).name)
    signalled.set()
    done.set()


async def _ask_unsaved(window, pending: int, error: str, signalled: asyncio.Event | None = None) -> bool:
    """The user's answer (True: quit and give them up); a signal meanwhile answers True."""
    answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def on_answer(quit_anyway: bool) -> None:
        if not answer.done():
            answer.set_result(quit_anyway)

    box = window.ask_unsaved_candles(pending, error, on_answer)
    halt = asyncio.ensure_future((signalled or asyncio.Event()).wait())
    either: set[asyncio.Future[Any]] = {answer, halt}
    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    halt.cancel()
    if not answer.done():
        box.reject()  # hidden (a message box without an Escape button ignores close())
        return True
    return answer.result()


def resource_path(name: str) -> Path:
    """A file from resources/ (next to the package in a checkout, or bundled by PyInstaller)."""
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[1]))
    return base / "resources" / name


def _with_overrides(settings: Settings, overrides: dict[str, dict], data_dir: str | None) -> Settings:
    from dataclasses import replace
    from types import MappingProxyType

    exchanges = dict(settings.exchanges)
    for name, fields in overrides.items():
        fields = {**fields, "symbols": tuple(fields["symbols"])} if "symbols" in fields else fields
        exchanges[name] = replace(exchanges[name], **fields)
    return replace(settings, exchanges=MappingProxyType(exchanges),
                   data_dir=Path(data_dir) if data_dir else settings.data_dir)
