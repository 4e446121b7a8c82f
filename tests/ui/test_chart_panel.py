"""The chart panel offscreen with real widgets: RSI subplot, linked x axes, auto-follow, trade markers from a real
journal, older history loaded from a real Parquet dataset when scrolled to, symbols added at run time."""
import asyncio
import threading
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt
from waiting import wait_for

from twinstar_gui.config import settings_from_dict
from twinstar_gui.core.indicators import rsi_wilder
from twinstar_gui.core.models import KlineEvent
from twinstar_gui.core.resample import resample_complete
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.data.tap import SHOW_BURST
from twinstar_gui.execution.base import Fill
from twinstar_gui.execution.paper import PaperExecutor
from twinstar_gui.execution.risk import RiskGuard
from twinstar_gui.execution.trade_journal import Journal
from twinstar_gui.presenters import chart as chart_presenter
from twinstar_gui.presenters.chart import ChartPresenter, FillMarker
from twinstar_gui.presenters.health import HealthPresenter
from twinstar_gui.presenters.log import LogPresenter
from twinstar_gui.presenters.trading import TradingPresenter
from twinstar_gui.trading_stack import Trading
from twinstar_gui.ui.main_window import MainWindow
from twinstar_gui.ui.panels.chart_panel import ChartPanel
from twinstar_gui.wiring import build_core

W = 900.0  # 15m, seconds
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def candles(n: int, start_ms: int = T0, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(rng.normal(0, 0.004, n).cumsum())
    open_ = np.r_[close[0], close[:-1]]
    spread = close * rng.uniform(0.0005, 0.003, n)
    return pd.DataFrame({
        "timestamp": pd.to_datetime(start_ms + np.arange(n, dtype=np.int64) * 900_000, unit="ms", utc=True)
        .astype("datetime64[ms, UTC]"),
        "open": open_, "high": np.maximum(open_, close) + spread, "low": np.minimum(open_, close) - spread,
        "close": close, "volume": rng.uniform(1, 50, n)})


def panel_with(qtbot, frame: pd.DataFrame, tf: str = "15m") -> ChartPanel:
    panel = ChartPanel({"bybit": ["BTCUSDT"]})
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    qtbot.waitExposed(panel)
    panel.show_history(frame, "BTCUSDT", tf)
    return panel


def row(frame: pd.DataFrame, i: int) -> tuple:
    r = frame.iloc[i]
    return (int(r["timestamp"].value // 1_000_000), r["open"], r["high"], r["low"], r["close"], r["volume"])


# -- the panel alone --------------------------------------------------------------------------------------
def test_rsi_subplot_matches_core_rsi_follows_the_live_candle_and_shares_the_x_axis(qtbot):
    frame = candles(400)
    panel = panel_with(qtbot, frame)
    closes = frame["close"].to_numpy()
    np.testing.assert_array_equal(panel.rsi.x_values(), panel._x)
    np.testing.assert_allclose(panel.rsi_values(), rsi_wilder(closes, 14), rtol=1e-12, equal_nan=True)
    assert np.isnan(panel.rsi_values()[:14]).all() and np.isfinite(panel.rsi_values()[14:]).all()

    # the forming candle moves: the last RSI moves with it, in place
    t_last = row(frame, -1)[0]
    panel.apply_candles([(t_last + 900_000, closes[-1], closes[-1] * 1.02, closes[-1], closes[-1] * 1.02, 5.0, False)],
                        "BTCUSDT", "15m")
    live = np.r_[closes, closes[-1] * 1.02]
    assert panel.rsi_values()[-1] == pytest.approx(rsi_wilder(live)[-1], rel=1e-12)
    panel.apply_candles([(t_last + 900_000, closes[-1], closes[-1] * 1.02, closes[-1] * 0.97, closes[-1] * 0.97, 9.0,
                          False)], "BTCUSDT", "15m")
    live[-1] = closes[-1] * 0.97
    assert panel.candle_count() == 401
    np.testing.assert_allclose(panel.rsi_values(), rsi_wilder(live), rtol=1e-12, equal_nan=True)
    assert f"RSI(14) {rsi_wilder(live)[-1]:.1f}" in panel.readout.text()

    # one x axis: panning the price plot moves volume and RSI with it
    a, b = row(frame, 100)[0] / 1000, row(frame, 180)[0] / 1000
    panel.price_plot.setXRange(a, b, padding=0)
    for plot in (panel.volume_plot, panel.rsi_plot):
        assert plot.getViewBox().viewRange()[0] == pytest.approx([a, b])
    panel.rsi_plot.getViewBox().translateBy(x=-10 * W)
    assert panel.price_plot.getViewBox().viewRange()[0] == pytest.approx([a - 10 * W, b - 10 * W])
    assert panel.rsi_plot.getViewBox().viewRange()[1] == pytest.approx([0, 100], abs=3)
    panel.rsi.paint_count = 0
    panel.grab()  # a real paint of all three plots
    assert panel.rsi.paint_count > 0 and panel.rsi.last_painted >= 80


def test_auto_follow_pauses_on_scroll_back_and_resumes_at_the_right_edge_the_button_or_end(qtbot):
    frame = candles(600)
    panel = panel_with(qtbot, frame)
    vb = panel.price_plot.getViewBox()
    last = panel.x_last()
    assert panel.follow and panel.follow_button.isChecked()
    assert vb.viewRange()[0][1] == pytest.approx(last + 3 * W)

    def new_candle(k: int) -> None:
        t = int((last + k * W) * 1000)
        panel.apply_candles([(t, 100.0, 101.0, 99.0, 100.5, 1.0, False)], "BTCUSDT", "15m")

    new_candle(1)  # following: the view moves with the new candle
    assert vb.viewRange()[0][1] == pytest.approx(last + 4 * W)

    vb.translateBy(x=-200 * W)  # the user drags the chart back in time
    assert not panel.follow and not panel.follow_button.isChecked()
    held = vb.viewRange()[0]
    new_candle(2)
    assert vb.viewRange()[0] == pytest.approx(held)  # paused: the view stays where the user looks

    vb.translateBy(x=200 * W)  # back at the right edge: following again
    assert panel.follow and panel.follow_button.isChecked()
    new_candle(3)
    assert vb.viewRange()[0][1] == pytest.approx(last + 6 * W)

    vb.scaleBy(x=0.5, center=(last - 300 * W, 0))  # zoomed in on the past
    assert not panel.follow
    span = np.diff(vb.viewRange()[0])[0]
    qtbot.keyClick(panel.plots, Qt.Key_End)  # End: jump to the newest candle, keep the zoom
    assert panel.follow and vb.viewRange()[0][1] == pytest.approx(last + 6 * W)
    assert np.diff(vb.viewRange()[0])[0] == pytest.approx(span)

    vb.translateBy(x=-100 * W)
    assert not panel.follow
    qtbot.mouseClick(panel.follow_button, Qt.LeftButton)
    assert panel.follow and vb.viewRange()[0][1] == pytest.approx(last + 6 * W)
    new_candle(4)
    assert vb.viewRange()[0][1] == pytest.approx(last + 7 * W)


def test_markers_sit_on_their_bars_and_move_with_the_timeframe(qtbot):
    frame = candles(400)
    panel = panel_with(qtbot, frame)
    t_buy, t_sell = row(frame, 350)[0] + 7 * 60_000, row(frame, 360)[0] + 60_000
    panel.show_markers([FillMarker(t_buy, "buy", 1.0, 1.0), FillMarker(t_sell, "sell", 1.0, 1.0),
                        FillMarker(T0 - 86_400_000, "buy", 1.0, 1.0)], "BTCUSDT", "15m")  # a bar not loaded
    bars = panel.marker_bars()
    assert bars == {"buy": [pytest.approx(row(frame, 350)[0] / 1000)],
                    "sell": [pytest.approx(row(frame, 360)[0] / 1000)]}
    assert panel.buy_markers.getData()[1][0] < frame["low"].iloc[350]
    assert panel.sell_markers.getData()[1][0] > frame["high"].iloc[360]


# -- presenter + window over a real store ---------------------------------------------------------------
async def open_terminal(tmp_path, symbols=("BTCUSDT",), stored=("BTCUSDT",), n=5000, window=500, trading=None):
    settings = settings_from_dict({"data_dir": str(tmp_path / "data"), "window_15m": window, "window_1h": 300,
                                   "exchanges": {"bybit": {"rest_url": "http://127.0.0.1:9",
                                                           "ws_url": "ws://127.0.0.1:9/ws", "symbols": list(symbols)}}})
    core = build_core(settings, engine=False)  # series driven by hand on this loop
    for seed, sym in enumerate(stored):
        core.store.append("bybit", sym, candles(n, seed=seed), source="rest")
    for s in core.feeds["bybit"].series.values():
        await s.load_history()
    presenter = ChartPresenter(core.feeds, catalogs=core.catalogs, engine=core.engine)
    logs = LogPresenter()
    win = MainWindow(presenter, HealthPresenter(core.feeds, writer=core.writer, engine=core.engine), logs, mode="TEST",
                     data_dir=str(tmp_path), persist_layout=False, trading=trading)
    win.show()
    return SimpleNamespace(core=core, presenter=presenter, window=win, panel=win.chart_panel, logs=logs)


async def close_terminal(t) -> None:
    t.presenter.close()
    await t.core.shutdown(budget=2.0)
    t.window.allow_close()
    t.window.close()
    t.logs.close()


async def test_scrolling_to_the_left_edge_loads_older_candles_from_the_parquet_store(tmp_path, qapp, monkeypatch):
    readers = []

    def spy(*args, **kwargs):
        readers.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    real = chart_presenter.read_older
    monkeypatch.setattr(chart_presenter, "read_older", spy)
    t = await open_terminal(tmp_path)
    try:
        panel, stored = t.panel, t.core.store.load("bybit", "BTCUSDT")
        x_all = stored["timestamp"].astype("int64").to_numpy() / 1000.0
        await wait_for(lambda: panel.candle_count() == 500, what="the 500-candle window on the chart")
        np.testing.assert_array_equal(panel._x, x_all[-500:])
        assert readers == []  # nothing read while the newest candles are in view

        x0 = panel._x[0]
        panel.price_plot.setXRange(x0 - 20 * W, x0 + 100 * W, padding=0)  # the user scrolls to the oldest candle
        await wait_for(lambda: panel.candle_count() == 1500, what="1000 older candles")
        assert not panel.follow
        np.testing.assert_array_equal(panel._x, x_all[-1500:])
        np.testing.assert_allclose(panel.candles.column(3)[:1000], stored["low"].to_numpy()[-1500:-500])

        panel.price_plot.setXRange(x_all[0] - 50 * W, x_all[-1], padding=0)  # all the way back: chunk after chunk
        await wait_for(lambda: panel.no_older, timeout=30, what="the start of the stored history")
        assert panel.candle_count() == 5000
        np.testing.assert_array_equal(panel._x, x_all)
        np.testing.assert_allclose(panel.volume.column(1), stored["volume"].to_numpy())
        np.testing.assert_allclose(panel.rsi_values(), rsi_wilder(stored["close"].to_numpy()), rtol=1e-9,
                                   equal_nan=True)
        assert readers and not any(readers)  # every read ran off the GUI thread

        panel.tf_box.setCurrentText("1h")  # a derived timeframe: older 1h candles from complete 15m groups
        # the 1h window (125 candles from the 15m window) fills less than the view: older ones load at once
        await wait_for(lambda: panel.tf.label == "1h" and panel.candle_count() >= len(t.presenter.current_frame()) > 0,
                       what="1h window")
        panel.price_plot.setXRange(x_all[0] - 50 * 3600, x_all[-1], padding=0)
        await wait_for(lambda: panel.no_older, timeout=30, what="all 1h history")
        hourly = resample_complete(stored, Timeframe.H1)
        np.testing.assert_array_equal(panel._x, hourly["timestamp"].astype("int64").to_numpy() / 1000.0)
        np.testing.assert_allclose(panel.candles.column(2), hourly["high"].to_numpy())
    finally:
        await close_terminal(t)


async def test_journal_fills_become_markers_on_their_bars_and_new_fills_appear(tmp_path, qapp):
    journal = Journal(tmp_path / "journal.sqlite3")
    settings = settings_from_dict({"data_dir": str(tmp_path / "data")})
    executor = RiskGuard(PaperExecutor(journal, name="paper-bybit"), journal, settings.trading.risk)
    trading_presenter = TradingPresenter(settings)
    t = await open_terminal(tmp_path, symbols=("BTCUSDT", "ETHUSDT"), stored=("BTCUSDT", "ETHUSDT"), n=600,
                            window=600, trading=trading_presenter)
    trading_presenter.attach({"bybit": Trading(journal, executor, market=None)})
    try:
        panel = t.panel
        await wait_for(lambda: panel.candle_count() == 600, what="history")
        x = panel._x.copy()

        def fill(symbol, side, bar, minute, price=100.0):
            journal.add_fill("paper-bybit", Fill(f"o{bar}{side}", f"c{bar}{side}", symbol, side, 1.0, price, 0.01,
                                                 int(x[bar] * 1000) + minute * 60_000))

        fill("BTCUSDT", "buy", 580, 7)
        fill("BTCUSDT", "sell", 590, 14)
        fill("ETHUSDT", "buy", 585, 1)  # another symbol: not on this chart
        # another executor
        journal.add_fill("paper-other", Fill("o", "c", "BTCUSDT", "buy", 1.0, 1.0, 0.0, int(x[586] * 1000)))
        await wait_for(lambda: panel.marker_bars()["buy"], what="buy marker")
        assert panel.marker_bars() == {"buy": [pytest.approx(x[580])], "sell": [pytest.approx(x[590])]}
        assert panel.buy_markers.getData()[1][0] < panel.candles.column(3)[580]  # below the low
        assert panel.sell_markers.getData()[1][0] > panel.candles.column(2)[590]  # above the high

        fill("BTCUSDT", "sell", 595, 0)  # a new fill while the chart is open
        await wait_for(lambda: len(panel.marker_bars()["sell"]) == 2, what="the new sell marker")
        assert panel.marker_bars()["sell"] == [pytest.approx(x[590]), pytest.approx(x[595])]

        panel.tf_box.setCurrentText("1h")  # the same fills on the hourly bars that contain them
        hour = lambda xs: xs - xs % 3600
        await wait_for(lambda: panel.tf.label == "1h" and panel.marker_bars()["buy"], what="1h markers")
        assert panel.marker_bars() == {"buy": [pytest.approx(hour(x[580]))],
                                       "sell": [pytest.approx(hour(x[590])), pytest.approx(hour(x[595]))]}
    finally:
        await close_terminal(t)
        trading_presenter.close()
        journal.close()


async def test_a_symbol_added_at_run_time_appears_in_the_picker_and_charts_live(tmp_path, qapp):
    t = await open_terminal(tmp_path, symbols=("BTCUSDT",), stored=("BTCUSDT", "SOLUSDT"), n=800, window=500)
    try:
        panel, feed = t.panel, t.core.feeds["bybit"]
        await wait_for(lambda: panel.candle_count() == 500, what="history")
        # the picker names series by their unified symbol; each item's data is the native id it selects
        items = lambda: [panel.symbol_box.itemText(i) for i in range(panel.symbol_box.count())]
        assert items() == ["BTC/USDT:USDT"] and panel.symbol_box.itemData(0) == "BTCUSDT"
        series = await feed.add_symbol("SOLUSDT")  # as a bot does
        await wait_for(lambda: "SOL/USDT:USDT" in items(), what="the new symbol in the picker")
        assert panel.symbol_box.currentText() == "BTC/USDT:USDT" and panel.symbol == "BTCUSDT"  # the view stays
        panel.symbol_box.setCurrentText("SOL/USDT:USDT")
        await wait_for(lambda: panel.symbol == "SOLUSDT" and panel.candle_count() == 500, what="SOLUSDT on the chart")
        last = panel.x_last()
        t_new = int((last + W) * 1000)
        series.on_kline(KlineEvent("bybit", "SOLUSDT", "15m", t_new, 50.0, 51.0, 49.0, 50.5, 3.0, False))
        await wait_for(lambda: panel.x_last() == last + W, what="the added series' live candle")
        assert panel.candles.row(panel.candle_count() - 1)[1:] == (50.0, 51.0, 49.0, 50.5)
    finally:
        await close_terminal(t)


def test_the_timeframe_picker_offers_the_timeframes_enabled_in_the_settings(qtbot):
    panel = ChartPanel({"bybit": ["BTCUSDT"]}, timeframes=("4h", "15m"))  # the settings' order does not matter
    qtbot.addWidget(panel)
    assert [panel.tf_box.itemText(i) for i in range(panel.tf_box.count())] == ["15m", "4h"]
    everything = ChartPanel({"bybit": ["BTCUSDT"]})
    qtbot.addWidget(everything)
    assert [everything.tf_box.itemText(i) for i in range(everything.tf_box.count())] == ["15m", "1h", "4h", "1d"]


async def test_the_chart_shows_only_its_own_exchanges_candles_when_two_stream_the_same_symbol(tmp_path, qapp):
    """bybit and binance both name it BTCUSDT, at different prices: the forming and closed candles of the one
    not on screen must never be drawn into the chart (the presenter once filtered forming candles by symbol)."""
    closed = "http://127.0.0.1:9"
    settings = settings_from_dict({"data_dir": str(tmp_path / "data"), "window_15m": 500, "exchanges": {
        "bybit": {"rest_url": closed, "ws_url": "ws://127.0.0.1:9/ws", "symbols": ["BTCUSDT"]},
        "binance": {"enabled": True, "rest_url": closed, "ws_url": "ws://127.0.0.1:9/ws", "symbols": ["BTCUSDT"]}}})
    core = build_core(settings, engine=False)  # series driven by hand on this loop
    frame = candles(600)
    for name in ("bybit", "binance"):
        core.store.append(name, "BTCUSDT", frame, source="rest")
        await core.feeds[name].series["BTCUSDT"].load_history()
    presenter = ChartPresenter(core.feeds, engine=core.engine)
    shown = []
    presenter.candles.connect(lambda rows, symbol, tf: shown.extend(rows))
    presenter.select("bybit", "BTCUSDT")
    try:
        t_next = int(frame["timestamp"].iloc[-1].value // 1_000_000) + 900_000
        bybit, binance = core.feeds["bybit"].series["BTCUSDT"], core.feeds["binance"].series["BTCUSDT"]
        binance.on_kline(KlineEvent("binance", "BTCUSDT", "15m", t_next, 900.0, 901.0, 899.0, 900.5, 1.0, False))
        bybit.on_kline(KlineEvent("bybit", "BTCUSDT", "15m", t_next, 100.0, 101.0, 99.0, 100.5, 1.0, False))
        binance.on_kline(KlineEvent("binance", "BTCUSDT", "15m", t_next, 900.0, 902.0, 899.0, 901.5, 1.0, False))
        await wait_for(lambda: shown, what="the forming candle on the chart")
        await asyncio.sleep(0.3)  # several flushes: the other exchange's later update must not follow
        assert {r[4] for r in shown} == {100.5}, shown
        binance.on_kline(KlineEvent("binance", "BTCUSDT", "15m", t_next, 900.0, 903.0, 899.0, 902.0, 2.0, True))
        await asyncio.sleep(0.3)
        assert all(r[4] < 200 for r in shown), shown
    finally:
        presenter.close()
        await core.shutdown(budget=2.0)


async def test_the_presenter_shows_a_stream_of_changes_at_most_once_per_display_frame_and_ends_on_the_last(
        tmp_path, qapp):
    """Every push wakes nothing more until the presenter has taken (the tap); the presenter takes on average at most
    once per display frame (a burst of SHOW_BURST), by a timer when woken sooner, so a flood of frames costs the
    GUI thread a bounded number of updates and the chart still ends on the newest price."""
    closed = "http://127.0.0.1:9"
    settings = settings_from_dict({"data_dir": str(tmp_path / "data"), "window_15m": 500, "exchanges": {
        "bybit": {"rest_url": closed, "ws_url": "ws://127.0.0.1:9/ws", "symbols": ["BTCUSDT"]}}})
    core = build_core(settings, engine=False)  # series driven by hand on this loop
    frame = candles(300)
    core.store.append("bybit", "BTCUSDT", frame, source="rest")
    series = core.feeds["bybit"].series["BTCUSDT"]
    await series.load_history()
    presenter = ChartPresenter(core.feeds, engine=core.engine)
    shown: list = []
    presenter.candles.connect(lambda rows, symbol, tf: shown.append(rows[-1][4]))
    presenter.select("bybit", "BTCUSDT")
    try:
        await wait_for(lambda: presenter.flushes >= 1, what="the first look")
        t_next = int(frame["timestamp"].iloc[-1].value // 1_000_000) + 900_000
        flushes, t0 = presenter.flushes, asyncio.get_running_loop().time()
        for k in range(300):  # 300 pushes over ~0.15 s
            series.on_kline(KlineEvent("bybit", "BTCUSDT", "15m", t_next, 100.0, 110.0, 90.0, 100 + k, 1.0, False))
            if k % 20 == 19:
                await asyncio.sleep(0.01)
        await wait_for(lambda: shown and shown[-1] == 399, what="the last price on the chart")
        elapsed = asyncio.get_running_loop().time() - t0
        assert 1 <= presenter.flushes - flushes <= elapsed * 60 + SHOW_BURST
        assert shown == sorted(shown)  # never an older price after a newer one
    finally:
        presenter.close()
        await core.shutdown(budget=2.0)


def _drawn_price_labels(panel: ChartPanel) -> list[str]:
    """The price labels pyqtgraph actually draws (it leaves out every label wider than its axis)."""
    from PySide6.QtGui import QImage, QPainter

    axis = panel.price_plot.getAxis("right")
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [text for _rect, _flags, text in (specs[2] if specs else [])]


def test_krw_prices_of_eight_digits_get_their_labels_and_the_axes_stay_aligned(qtbot):
    """BTC/KRW near 84,945,000: the right axes widen until its labels fit (at 70 px pyqtgraph drew none), all
    three plots alike; a USDT chart shown after it gets the narrow axes back (under Xvfb, the default font, 70 px
    showed no label of BTC/KRW at all; checked by a screenshot)."""
    krw = candles(300)
    for col in ("open", "high", "low", "close"):
        krw[col] = krw[col] * 849_450.0
    panel = panel_with(qtbot, krw)
    qtbot.waitUntil(lambda: bool(_drawn_price_labels(panel)), timeout=3000)
    labels = _drawn_price_labels(panel)
    assert all(len(text.replace(",", "")) >= 8 for text in labels), labels
    # a new high far above: still fits
    t_next = row(krw, -1)[0] + 900_000
    panel.apply_candles([(t_next, 9.0e8, 9.9e8, 9.0e8, 9.5e8, 1.0, False)], "BTCUSDT", "15m")
    panel.price_plot.getViewBox().autoRange()
    qtbot.waitUntil(lambda: any(float(t.replace(",", "")) >= 9e8 for t in _drawn_price_labels(panel)), timeout=3000)
    qtbot.waitUntil(lambda: len(_axis_widths(panel)) == 1 and _axis_widths(panel).pop() > 70, timeout=3000)
    panel.show_history(candles(300), "BTCUSDT", "15m")
    qtbot.waitUntil(lambda: _axis_widths(panel) == {70.0}, timeout=3000)


def _axis_widths(panel: ChartPanel) -> set[float]:
    return {p.getAxis("right").width() for p in (panel.price_plot, panel.volume_plot, panel.rsi_plot)}
