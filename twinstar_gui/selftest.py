"""`twinstar --self-test`: window offscreen + one render, Parquet round trip, simulator + one WS round trip."""
from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path


def run_self_test(timeout: float = 20.0, config: str | None = None) -> int:
    """`config`: a settings file to check too (default: the user's, when there is one)."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # the packaged app runs this on machines with no screen
    os.environ.setdefault("QT_API", "pyside6")
    checks: list[tuple[str, bool, str]] = [("settings file", *_settings_file(config))]
    t0 = time.monotonic()
    try:
        scratch = tempfile.TemporaryDirectory(prefix="twinstar-selftest-")
    except OSError as exc:  # no writable temp dir: say so, don't trace back
        print(f"twinstar: self-test needs a writable temporary directory (TMPDIR): {exc}", file=sys.stderr)
        return 2
    with scratch as tmp:
        checks.append(("parquet round trip", *_parquet_round_trip(Path(tmp) / "rt")))
        checks.extend(_lazy_imports())
        try:
            checks.extend(_gui_and_stream(Path(tmp) / "data", timeout))
        except Exception as exc:  # noqa: BLE001 - report, don't trace back
            checks.append(("gui + simulator", False, f"{type(exc).__name__}: {exc}"))
    for name, ok, detail in checks:
        print(f"[{'ok' if ok else 'FAIL'}] {name}: {detail}")
    ok = all(c[1] for c in checks)
    print(f"self-test {'passed' if ok else 'FAILED'} in {time.monotonic() - t0:.2f}s")
    return 0 if ok else 1


def _settings_file(path: str | None) -> tuple[bool, str]:
    from .config import SettingsError, default_config_path, load_settings

    p = Path(path) if path is not None else default_config_path()
    if path is None and not p.exists():
        return True, f"{p}: none yet (defaults)"
    if not p.exists():
        return False, f"{p}: no such file"
    try:
        settings = load_settings(p)
    except SettingsError as exc:
        return False, str(exc)
    enabled = settings.enabled_exchanges()
    return True, f"{p}: valid ({', '.join(enabled) or 'no exchange'} enabled)"


def _lazy_imports() -> list[tuple[str, bool, str]]:
    """Modules the app imports only on demand (Settings > API keys, live trading): a packaged build that left
    them out would fail there, not at start."""
    out: list[tuple[str, bool, str]] = []
    try:
        import keyring

        backend = keyring.get_keyring()  # resolves the backend only; reads and writes nothing
        name = f"{type(backend).__module__}.{type(backend).__name__}"
        out.append(("keyring", True, "no OS keyring on this machine (keyring.backends.fail)"
                    if name.startswith("keyring.backends.fail") else name))
    except Exception as exc:  # noqa: BLE001 - report, don't trace back
        out.append(("keyring", False, f"{type(exc).__name__}: {exc}"))
    import importlib.util

    if importlib.util.find_spec("ccxt") is None:
        out.append(("live trading", True, "ccxt not installed: paper trading only"))
        return out
    try:
        import ccxt

        out.append(("live trading", True, f"ccxt {ccxt.__version__}"))
    except Exception as exc:  # noqa: BLE001 - report, don't trace back
        out.append(("live trading", False, f"ccxt is installed but does not import: {type(exc).__name__}: {exc}"))
    return out


def _parquet_round_trip(root: Path) -> tuple[bool, str]:
    import numpy as np
    import pandas as pd

    from .data.store import CandleStore

    n = 3000
    ts = 1_735_689_600_000 + np.arange(n, dtype=np.int64) * 900_000
    rng = np.random.default_rng(1)
    close = 100 + rng.normal(0, 1, n).cumsum()
    rows = pd.DataFrame({"timestamp": ts, "open": close, "high": close + 1, "low": close - 1, "close": close,
                         "volume": rng.random(n)})
    store = CandleStore(root)
    store.append("selftest", "TESTUSDT", rows, source="rest")
    back = store.load("selftest", "TESTUSDT")
    same = len(back) == n and np.array_equal(back["close"].to_numpy(), close) and \
        np.array_equal(back["timestamp"].astype("int64").to_numpy(), ts)
    return same, f"{n} candles in {len(store.months('selftest', 'TESTUSDT'))} month files"


def _gui_and_stream(data_dir: Path, timeout: float) -> list[tuple[str, bool, str]]:
    import qasync
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication

    from .config import settings_from_dict
    from .presenters.chart import ChartPresenter
    from .presenters.health import HealthPresenter
    from .presenters.log import LogPresenter
    from .sim.demo import start_demo_simulator
    from .ui.main_window import MainWindow
    from .wiring import build_core

    out: list[tuple[str, bool, str]] = []
    sim = start_demo_simulator(speed=600.0, seed=3)
    try:
        out.append(("simulator", True, f"listening on {sim.rest_url('bybit')}"))
        settings = settings_from_dict({"data_dir": str(data_dir), "exchanges": {"bybit": {
            "rest_url": sim.rest_url("bybit"), "ws_url": sim.ws_url("bybit"), "symbols": ["BTCUSDT"]}}})
        app = QApplication.instance() or QApplication(sys.argv[:1])
        logs = LogPresenter()
        core = build_core(settings)
        chart = ChartPresenter(core.feeds, catalogs=core.catalogs, engine=core.engine)
        health = HealthPresenter(core.feeds, engine=core.engine)
        window = MainWindow(chart, health, logs, mode="SELF-TEST", data_dir=str(data_dir), persist_layout=False)
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        feed = core.feeds["bybit"]
        series = feed.series["BTCUSDT"]

        async def main() -> None:
            window.show()
            await core.start()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and (series.closed_emitted < 2 or feed.ws.connects < 1
                                                   or window.chart_panel.candle_count() == 0):
                await asyncio.sleep(0.05)
            out.append(("ws round trip", feed.ws.connects >= 1 and series.closed_emitted >= 2,
                        f"{feed.ws.connects} connection(s), {series.closed_emitted} closed candles"))
            img = QImage(window.size(), QImage.Format.Format_ARGB32)
            window.render(img)
            colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
            out.append(("render", window.chart_panel.candle_count() > 0 and len(colours) > 10,
                        f"{img.width()}x{img.height()}, {window.chart_panel.candle_count()} candles drawn"))
            flushed = await core.shutdown()
            out.append(("clean shutdown", flushed, "writer flushed"))
            window.allow_close()
            window.close()

        with loop:
            loop.run_until_complete(main())
        logs.close()
    finally:
        sim.stop()
    return out
