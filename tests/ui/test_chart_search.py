"""The chart's symbol search, offscreen with real widgets and a real Core: unified names in the picker, a completer
over the exchange's whole catalog, a symbol picked from it added and charted at run time, an unknown name refused
with its close matches; and the same against the Bybit simulator, whose instrument list arrives after start."""
import contextlib
import time

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from test_chart_panel import close_terminal, open_terminal
from waiting import wait_for

from twinstar_gui.config import settings_from_dict
from twinstar_gui.core.instrument import Catalog, Instrument
from twinstar_gui.data.catalogs import write_cache
from twinstar_gui.net.backoff import ReconnectPolicy
from twinstar_gui.presenters.chart import ChartPresenter
from twinstar_gui.presenters.health import HealthPresenter
from twinstar_gui.presenters.log import LogPresenter
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer
from twinstar_gui.ui.main_window import MainWindow
from twinstar_gui.wiring import build_core

NAMED = ["BTC", "ETH", "SOL", "SOLV", "XRP", "1000PEPE"]


def swap(base: str) -> Instrument:
    return Instrument("bybit", f"{base}/USDT:USDT", f"{base}USDT", base, "USDT", "USDT", "swap", tick_size=0.01,
                      lot_size=0.001, min_qty=0.001, min_notional=5.0)


def bybit_catalog(extra: int = 2000) -> Catalog:
    """A listed catalog of `extra` synthetic instruments (AAAA, AAAB, ...) and the well-known ones."""
    names = [f"Z{chr(65 + i // 676 % 26)}{chr(65 + i // 26 % 26)}{chr(65 + i % 26)}" for i in range(extra)]
    return Catalog("bybit", [swap(b) for b in NAMED + names], fetched_ms=int(time.time() * 1000))


def offered(search) -> list[str]:
    model = search.completer.completionModel()
    return [model.index(i, 0).data() for i in range(search.completer.completionCount())]


def items(panel) -> list[tuple[str, str]]:
    box = panel.symbol_box
    return [(box.itemText(i), box.itemData(i)) for i in range(box.count())]


def type_in(search, text: str) -> None:
    search.edit.setFocus()
    search.edit.clear()
    QTest.keyClicks(search.edit, text)  # real key events: the line edit drives its completer


def pick(search, symbol: str) -> None:
    """Down the popup to `symbol` and Enter, as a user does."""
    popup = search.completer.popup()
    assert popup.isVisible(), "the completion list is not shown"
    row = offered(search).index(symbol)
    popup.setCurrentIndex(search.completer.completionModel().index(row, 0))
    QTest.keyClick(popup, Qt.Key_Return)


async def test_type_sol_pick_it_and_the_series_is_added_and_charted(tmp_path, qapp):
    write_cache(tmp_path / "data", bybit_catalog())  # the cached list the app starts from
    t = await open_terminal(tmp_path, symbols=("BTCUSDT", "ETHUSDT"), stored=("BTCUSDT", "ETHUSDT", "SOLUSDT"),
                            n=800, window=500)
    try:
        panel, feed, window = t.panel, t.core.feeds["bybit"], t.window
        await wait_for(lambda: panel.candle_count() == 500 and panel.symbol == "BTCUSDT", what="history")
        # the picker and the title name series as people do; the native id is only the item's data
        assert items(panel) == [("BTC/USDT:USDT", "BTCUSDT"), ("ETH/USDT:USDT", "ETHUSDT")]
        assert "bybit BTC/USDT:USDT" in window.windowTitle() and "bybit BTC/USDT:USDT" in panel.readout.text()
        assert len(panel.search.symbols()) == len(NAMED) + 2000  # the whole catalog, not only what streams

        type_in(panel.search, "sol")
        assert offered(panel.search) == ["SOL/USDT:USDT", "SOLV/USDT:USDT"]
        pick(panel.search, "SOL/USDT:USDT")
        await wait_for(lambda: panel.symbol == "SOLUSDT" and panel.candle_count() == 500, what="SOL on the chart")
        stored = t.core.store.load("bybit", "SOLUSDT")
        np.testing.assert_allclose(panel.candles.column(4), stored["close"].to_numpy()[-500:])
        assert "SOLUSDT" in feed.series  # streamed from now on, as a bot's symbol is
        assert ("SOL/USDT:USDT", "SOLUSDT") in items(panel) and panel.symbol_box.currentText() == "SOL/USDT:USDT"
        assert "bybit SOL/USDT:USDT" in window.windowTitle() and "bybit SOL/USDT:USDT" in panel.readout.text()
        assert panel.search.edit.text() == "" and panel.search.error() == ""

        # a streamed one by any of its names: selected, nothing added
        series_before = dict(feed.series)
        type_in(panel.search, "ethusdt")
        QTest.keyClick(panel.search.edit, Qt.Key_Return)
        await wait_for(lambda: panel.symbol == "ETHUSDT" and panel.candle_count() == 500, what="ETH on the chart")
        assert feed.series == series_before and panel.symbol_box.currentText() == "ETH/USDT:USDT"

        # a name the catalog does not know: the reason and the close matches next to the field; the chart stays
        type_in(panel.search, "ETHH")
        QTest.keyClick(panel.search.edit, Qt.Key_Return)
        await wait_for(lambda: panel.search.error(), what="the error")
        error = panel.search.error()
        assert "bybit" in error and "'ETHH'" in error and "ETH/USDT:USDT" in error, error
        assert panel.search.status.isVisible() and panel.search.status.toolTip() == error
        await wait_for(lambda: "'ETHH'" in window.log_panel.visible_text(), what="the error in the log panel")
        assert panel.symbol == "ETHUSDT" and feed.series == series_before
        QTest.keyClicks(panel.search.edit, "x")  # typing again clears it
        assert panel.search.error() == "" and not panel.search.status.isVisible()
    finally:
        await close_terminal(t)


@contextlib.asynccontextmanager
async def simulated_terminal(tmp_path):
    server = SimServer(Market(SimClock(speed=3600.0), seed=5, history_days=3), push_interval=0.05)
    await server.start()
    settings = settings_from_dict({"data_dir": str(tmp_path / "data"), "window_15m": 200, "exchanges": {"bybit": {
        "rest_url": server.rest_url("bybit"), "ws_url": server.ws_url("bybit"), "symbols": ["BTCUSDT"]}}})
    core = build_core(settings, feed_options={"policy": ReconnectPolicy(base=0.1, jitter=0.0)})
    logs = LogPresenter()
    chart = ChartPresenter(core.feeds, catalogs=core.catalogs, engine=core.engine)
    window = MainWindow(chart, HealthPresenter(core.feeds, writer=core.writer, engine=core.engine), logs, mode="TEST",
                        data_dir=str(tmp_path), persist_layout=False)
    window.show()
    try:
        yield window, core
    finally:
        chart.close()
        await core.shutdown(budget=2.0)
        window.allow_close()
        window.close()
        logs.close()
        await server.stop()


async def test_the_simulators_instrument_list_arrives_after_start_and_a_picked_symbol_streams(tmp_path, qapp):
    async with simulated_terminal(tmp_path) as (window, core):
        panel, book = window.chart_panel, core.catalogs["bybit"]
        assert not book.verified and panel.search.symbols() == ["BTC/USDT:USDT"]  # no list yet: what streams
        await core.start(first=("bybit", "BTCUSDT"))  # refreshes the catalog in the background
        await wait_for(lambda: "SOL/USDT:USDT" in panel.search.symbols(), what="the catalog in the search")
        assert set(panel.search.symbols()) == set(book.catalog.symbols()) | {"BTC/USDT:USDT"}
        await wait_for(lambda: panel.symbol == "BTCUSDT" and panel.candle_count() >= 200, what="BTC history")

        type_in(panel.search, "sol")
        assert "SOL/USDT:USDT" in offered(panel.search)
        pick(panel.search, "SOL/USDT:USDT")
        await wait_for(lambda: panel.symbol == "SOLUSDT" and panel.candle_count() >= 200, timeout=20,
                       what="SOL's history from the simulator")
        assert 10 < panel.candles.column(4)[-1] < 1000  # the simulator's SOL, not BTC's prices
        last = panel.x_last()
        await wait_for(lambda: panel.x_last() > last, timeout=20, what="a live SOL candle")
        assert "bybit SOL/USDT:USDT" in window.windowTitle()
