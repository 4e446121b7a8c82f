"""Settings applied at OK, offscreen with real widgets: the dialog edits, the settings presenter checks, writes the
file and applies it to a running Core against the simulator; the window says what changed and its chart follows.
A refused field blocks the save: nothing is written, nothing applied."""
import asyncio
import contextlib

from shiboken6 import isValid
from waiting import wait_for

from twinstar_gui.config import load_settings, save_settings, settings_from_dict
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.live_settings import apply_settings
from twinstar_gui.net.backoff import ReconnectPolicy
from twinstar_gui.presenters.chart import ChartPresenter
from twinstar_gui.presenters.health import HealthPresenter
from twinstar_gui.presenters.log import LogPresenter
from twinstar_gui.presenters.settings import SettingsPresenter, SymbolCatalog
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer
from twinstar_gui.ui.main_window import MainWindow
from twinstar_gui.wiring import build_core


@contextlib.asynccontextmanager
async def terminal(tmp_path):
    """The window on a Core streaming bybit BTC and ETH from the simulator, with live settings as gui.py wires them."""
    market = Market(SimClock(speed=3600.0), seed=5, history_days=3)
    server = SimServer(market, push_interval=0.05)
    await server.start()
    path = tmp_path / "config" / "settings.json"
    save_settings(settings_from_dict({"data_dir": str(tmp_path / "data"), "window_15m": 150, "exchanges": {"bybit": {
        "rest_url": server.rest_url("bybit"), "ws_url": server.ws_url("bybit"),
        "symbols": ["BTC/USDT:USDT", "ETH/USDT:USDT"]}}}), path)
    settings = load_settings(path)
    core = build_core(settings, feed_options={"policy": ReconnectPolicy(base=0.1, jitter=0.0),
                                              "now_ms": market.now_ms})
    logs = LogPresenter()
    chart = ChartPresenter(core.feeds, catalogs=core.catalogs, engine=core.engine)
    window = MainWindow(chart, HealthPresenter(core.feeds, writer=core.writer, catalogs=core.catalogs,
                                                    engine=core.engine), logs,
                        mode="TEST", data_dir=str(tmp_path), persist_layout=False, timeframes=settings.timeframes)
    symbols = SymbolCatalog(parent=window)
    presenter = SettingsPresenter(path, symbols, apply=lambda s: apply_settings(core, s), parent=window)
    window.enable_settings(path, symbols, presenter=presenter)
    window.show()
    await core.start()
    try:
        yield window, core, presenter, path
    finally:
        chart.close()
        await core.shutdown(budget=2.0)
        window.allow_close()
        window.close()
        logs.close()
        await server.stop()


def picker_items(window):
    box = window.chart_panel.picker.symbol_box
    return [box.itemData(i) for i in range(box.count())]


def timeframes(window):
    box = window.chart_panel.picker.tf_box
    return [box.itemText(i) for i in range(box.count())]


def type_into(edit, text):
    edit.setText(text)
    edit.editingFinished.emit()


async def test_ok_saves_and_applies_and_a_refused_field_blocks_both(tmp_path, qapp):
    async with terminal(tmp_path) as (window, core, presenter, path):
        feed = core.feeds["bybit"]
        changes, refusals = [], []
        presenter.applied.connect(changes.append)
        presenter.apply_failed.connect(refusals.append)
        await wait_for(lambda: picker_items(window) == ["BTCUSDT", "ETHUSDT"], what="the picker")
        window.chart_panel.show_series("bybit", "ETHUSDT")  # ETH on screen: it is about to be removed
        await wait_for(lambda: window.chart_panel.symbol == "ETHUSDT", what="ETH on the chart")

        dialog = window.open_settings()
        assert "apply at OK" in " ".join(w.text() for w in dialog.findChildren(type(dialog.busy_label)))
        symbols = dialog.fields[("exchanges", "bybit", "symbols")]
        await wait_for(lambda: presenter.symbol_lists("bybit") is not None, what="bybit's symbol list")
        before = path.read_text()

        type_into(symbols.edit, "BTCUSDT, NOPEUSDT")  # refused at its field, with the exchange's word for it
        assert "not on bybit: 'NOPEUSDT' is not listed" in symbols.error.text() and symbols.refused
        assert not dialog.save()
        await asyncio.sleep(0.3)
        assert dialog.isVisible() and path.read_text() == before and not changes and not refusals
        assert set(feed.series) == {"BTCUSDT", "ETHUSDT"} and core.settings.symbols("bybit") == (
            "BTC/USDT:USDT", "ETH/USDT:USDT")

        type_into(symbols.edit, "btcusdt sol")  # ETH out, SOL in; the 1d timeframe off
        assert not symbols.refused
        dialog.timeframe_boxes["1d"].setChecked(False)
        assert dialog.save()
        assert not isValid(dialog) or not dialog.isVisible()
        saved = load_settings(path)
        assert saved.symbols("bybit") == ("BTC/USDT:USDT", "SOL/USDT:USDT") and "1d" not in saved.timeframes
        await wait_for(lambda: changes, timeout=20, what="the change applied")
        change = changes[0]
        assert change.symbols_added == (("bybit", "SOLUSDT"),) and change.symbols_removed == (("bybit", "ETHUSDT"),)
        assert change.timeframes == ("15m", "1h", "4h") and not change.failures and not refusals
        assert core.settings.symbols("bybit") == ("BTC/USDT:USDT", "SOL/USDT:USDT")
        assert set(feed.series) == {"BTCUSDT", "SOLUSDT"}
        assert not set(feed.topics_for("ETHUSDT")) & set(feed.hub.refs)
        assert set(feed.topics_for("SOLUSDT")) <= set(feed.hub.refs)
        message = window.statusBar().currentMessage()
        assert message.startswith("Settings applied:") and "bybit SOL/USDT:USDT" in message, message
        assert "restart" not in message
        assert timeframes(window) == ["15m", "1h", "4h"]

        # the chart follows: SOL in the picker, ETH gone and no longer on screen; SOL charts with its history
        await wait_for(lambda: picker_items(window) == ["BTCUSDT", "SOLUSDT"], what="the picker to follow")
        await wait_for(lambda: window.chart_panel.symbol == "BTCUSDT", what="the chart off the removed series")
        window.chart_panel.show_series("bybit", "SOLUSDT")
        await wait_for(lambda: window.chart_panel.symbol == "SOLUSDT" and window.chart_panel.candle_count() >= 150,
                       timeout=20, what="SOL's history on the chart")
        sol = feed.series["SOLUSDT"]
        last = sol.last_closed
        await wait_for(lambda: sol.last_closed > last, timeout=20, what="a live SOL candle")
        assert window.chart_panel.candle_count() >= 150
        assert len(sol.candles[Timeframe.M15]) == 150


async def test_a_failure_to_apply_is_told_and_the_file_stays_written(tmp_path, qapp):
    async with terminal(tmp_path) as (window, core, presenter, path):
        async def broken(_settings):
            raise RuntimeError("the engine is gone")
        presenter.apply = broken
        told = []
        presenter.apply_failed.connect(told.append)
        dialog = window.open_settings()
        type_into(dialog.fields[("window_1h",)].edit, "400")
        assert dialog.save()
        await wait_for(lambda: told, what="the failure")
        assert "not applied" in told[0] and "the engine is gone" in told[0]
        assert load_settings(path).window_1h == 400
        assert "not applied" in window.statusBar().currentMessage()
