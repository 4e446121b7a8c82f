"""The terminal's window: builds the presenters and the main window on the headless core (wiring) and a paper
trading stack per exchange (trading), then runs the qasync loop until the window closes or a stop signal."""
from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .config import Settings
from .exchanges.registry import VENUES

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

GIL_SWITCH_S = 0.0005  # see run_gui
FIRST_PAINT_WATCH_S = 120.0  # how long the "first candles on screen" mark is looked for
DEMO_SYMBOLS = {name: v.default_symbols for name, v in VENUES.items()}  # unified; every venue's defaults


def freeze_startup_objects() -> None:
    """Once the window is up: the objects made so far (modules, classes, Qt wrappers, the window) live until
    exit, so take them out of the garbage collector's scans. A full collection walked them all each time
    and froze the GUI for up to 160 ms while candles streamed. No collection first: it would walk them all once
    more, on the GUI thread, while the engine starts (the little garbage frozen with them is a few KB)."""
    import gc

    gc.freeze()


EARLY_PAINT_WAIT_S = 0.5  # the longest the start waits for the last session's chart to paint


def _qt_app():
    """The QApplication (made once), named, with its icon and the dark theme."""
    from PySide6.QtWidgets import QApplication

    from .ui.theme import apply_dark_theme

    app = QApplication.instance()
    if app is not None and app.property("twinstar_ready"):
        return app
    app = cast(QApplication, app or QApplication(sys.argv[:1]))
    app.setApplicationName("TwinStar")
    icon = resource_path("twinstar.svg")
    if icon.exists():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    apply_dark_theme(app)
    app.setProperty("twinstar_ready", True)
    return app


def early_window(settings: Settings, exchanges: list[str] | None = None):
    """`twinstar` (not the demo): the window on screen before the market data and trading back end is imported,
    its chart painting the series the user watched last (ui/last_view.py), as it was when the window closed. The
    rest is imported and built after, and attached to this window (run_gui(window=...)). Only Qt, pyqtgraph,
    numpy and the widgets are imported here."""
    os.environ.setdefault("QT_API", "pyside6")
    from PySide6.QtCore import QEventLoop

    from .ui.last_view import load_last_view
    from .ui.main_window import MainWindow

    app = _qt_app()
    view = load_last_view(settings.data_dir)
    names = exchanges or settings.enabled_exchanges()
    window = MainWindow(mode="LIVE market data", data_dir=str(settings.data_dir), timeframes=settings.timeframes,
                        early=view, trading_exchanges=names)
    window.show()
    # before the qasync loop exists (nothing is nested in a coroutine): let the window come up and paint
    deadline = time.monotonic() + (EARLY_PAINT_WAIT_S if view is not None else 0.0)
    app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
    while view is not None and not window.chart_panel.candles.last_painted and time.monotonic() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
    return window


def keep_last_view(window, chart, data_dir) -> None:
    """At shutdown: the series on the chart, for the next start's first look (early_window)."""
    from .ui.last_view import LastView, save_last_view

    rows = window.chart_panel.shown_rows()
    if chart.exchange and chart.symbol and len(rows):
        save_last_view(data_dir, LastView(chart.exchange, chart.symbol, chart.unified(chart.exchange, chart.symbol),
                                          chart.tf.label, rows))


def run_gui(settings: Settings, *, demo: bool = False, speed: float = 300.0, seed: int = 7,
            quit_after: float | None = None, symbols: dict[str, list[str]] | None = None,
            exchanges: list[str] | None = None, on_ready: Callable[[object, object], None] | None = None,
            window=None) -> int:
    """The terminal. `on_ready(window, trading_presenter)` is called once the streams and the paper trading
    stacks are up (scripts use it, e.g. to start bots for a screenshot). `window`: one early_window() showed
    already (the presenters are attached to it)."""
    import asyncio  # here, not at the top: early_window paints before asyncio (and ssl with it) is imported

    os.environ.setdefault("QT_API", "pyside6")
    # The GUI thread shares the GIL with the market engine's thread: each call into Qt releases it, and getting it
    # back waits for the engine to drop it, up to one switch interval (5 ms by default): a paint making a hundred
    # Qt calls waited half a second while the engine was busy. A short interval bounds those waits.
    sys.setswitchinterval(float(os.environ.get("TWINSTAR_GIL_SWITCH_S", GIL_SWITCH_S)))
    import qasync
    from PySide6.QtCore import QTimer

    from .presenters.chart import ChartPresenter
    from .presenters.health import HealthPresenter
    from .presenters.log import LogPresenter
    from .trading_stack import rebuild_trading
    from .ui.main_window import MainWindow
    from .wiring import build_core, check_data_dir

    t_start = time.monotonic()
    app = _qt_app()
    logs = LogPresenter()
    sim = tmp_dir = None
    cleanup: list[str] = []  # temporary dirs of the demo
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
    chart = ChartPresenter(core.feeds, catalogs=core.catalogs, engine=core.engine)
    health = HealthPresenter(core.feeds, writer=core.writer, catalogs=core.catalogs, engine=core.engine)
    mode = "DEMO (local simulator)" if demo else "LIVE market data"
    from .presenters.trading import TradingPresenter

    trading = TradingPresenter(core.settings, rebuild=lambda ex, live: rebuild_trading(core, ex, live))
    if window is None:
        window = MainWindow(chart, health, logs, mode=mode, data_dir=str(settings.data_dir), trading=trading,
                            timeframes=settings.timeframes)
    else:
        window.attach(chart, health, logs, trading)
    # -- settings dialog (File > Settings…): symbol lists and key tests run in worker threads
    from .config import default_config_path
    from .live_settings import apply_settings
    from .presenters.settings import ConnectionTester, SettingsPresenter, SymbolCatalog
    from .secrets import load_keys

    settings_path = settings.source_path or default_config_path()
    if demo:  # the demo's settings (simulated exchanges, its data dir) in a file of its own, never the user's
        from .config import save_settings

        demo_dir = tmp_dir or tempfile.mkdtemp(prefix="twinstar-demo-settings-")
        cleanup.append(demo_dir)
        settings_path = save_settings(settings, Path(demo_dir) / "demo-settings.json")
    symbol_catalog = SymbolCatalog(parent=window)
    live_apply = lambda s: apply_settings(core, s)  # saved settings apply to the running core at OK
    settings_presenter = SettingsPresenter(settings_path, symbol_catalog, apply=live_apply, parent=window)
    window.enable_settings(settings_path, symbol_catalog, ConnectionTester(load_keys, parent=window),
                           settings_presenter)
    # exchanges added or removed at run time: their trading stacks follow (one rebuilt for new URLs is both)
    settings_presenter.applied.connect(trading.follow_change)
    settings_presenter.saved.connect(trading.use_settings)
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
        freeze_startup_objects()  # modules, Qt wrappers, the window: out of the scans before the engine allocates
        await core.start(first=(chart.exchange, chart.symbol))
        # paper trading per exchange, built off the GUI thread (journals open, catalogs read); nothing of Qt in it
        tradings = await asyncio.to_thread(_build_tradings, core)
        trading.attach(tradings)
        freeze_startup_objects()
        if on_ready is not None:
            on_ready(window, trading)
        await done.wait()
        core.interrupt()  # REST in flight ends now: the bots' scans and the history fetches stop at once
        tradings = trading.tradings  # the user may have switched an exchange to live (or back) meanwhile
        trading.close()  # no more polls of journals about to close
        for extra in (window.manual, window.backtest):  # trading by hand; a backtest running is cancelled
            if extra is not None:
                extra.close()
        if not demo:  # the demo's data dir is a temporary one
            keep_last_view(window, chart, settings.data_dir)
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
        for path in dict.fromkeys([*cleanup, *([tmp_dir] if tmp_dir else [])]):
            shutil.rmtree(path, ignore_errors=True)
    return rc


def _build_tradings(core) -> dict:
    """Paper trading for every exchange streamed now (on a worker thread): one a settings change removes meanwhile
    is left out."""
    from .trading_stack import build_trading

    out = {}
    for name in list(core.feeds):
        try:
            out[name] = build_trading(core, name)
        except KeyError:
            log.info("%s: left the settings while trading was being set up; no trading stack", name)
    return out


def _on_signal(sig: int, done: asyncio.Event, signalled: asyncio.Event) -> None:
    if not signalled.is_set():
        log.warning("%s received: shutting down", signal.Signals(sig).name)
    signalled.set()
    done.set()


async def _ask_unsaved(window, pending: int, error: str, signalled: asyncio.Event | None = None) -> bool:
    """The user's answer (True: quit and give them up); a signal meanwhile answers True."""
    import asyncio

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
