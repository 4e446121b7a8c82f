"""The main window offscreen with presenters fed by the simulator over loopback."""
import asyncio
import contextlib
import logging

import pandas as pd
from support.proxy import FlakyProxy
from waiting import wait_for

from twinstar_gui.config import settings_from_dict
from twinstar_gui.data.candle_wal import RECORD_SIZE
from twinstar_gui.data.store import CandleStore
from twinstar_gui.net.backoff import ReconnectPolicy
from twinstar_gui.presenters.chart import ChartPresenter
from twinstar_gui.presenters.health import HealthPresenter
from twinstar_gui.presenters.log import LogPresenter
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer
from twinstar_gui.ui.main_window import MainWindow
from twinstar_gui.wiring import build_core


# Not a fixture: pytest-qt processes Qt events between test phases, which would run the qasync loop's socket
# callbacks outside the loop; everything that owns sockets lives inside the test body.
@contextlib.asynccontextmanager
async def running(tmp_path):
    server = SimServer(Market(SimClock(speed=3600.0), seed=5, history_days=3), push_interval=0.05)
    await server.start()
    settings = settings_from_dict({"data_dir": str(tmp_path / "data"), "window_15m": 200, "exchanges": {"bybit": {
        "rest_url": server.rest_url("bybit"), "ws_url": server.ws_url("bybit"), "symbols": ["BTCUSDT", "ETHUSDT"]}}})
    core = build_core(settings, feed_options={"policy": ReconnectPolicy(base=0.1, jitter=0.0)})
    logs = LogPresenter()
    window = MainWindow(ChartPresenter(core.feeds, engine=core.engine),
                        HealthPresenter(core.feeds, writer=core.writer, engine=core.engine), logs, mode="TEST",
                        data_dir=str(tmp_path), persist_layout=False)
    window.show()
    await core.start()
    yield window, core, server
    await core.shutdown()
    window.allow_close()
    window.close()
    logs.close()
    await server.stop()


async def test_window_shows_live_candles_health_and_log(tmp_path, qapp):
    async with running(tmp_path) as (window, core, server):
        await _exercise_window(window, core, server)


async def _exercise_window(window, core, server):
    panel = window.chart_panel
    await wait_for(lambda: panel.candle_count() >= 200, what="history on the chart")
    first_last = panel._x[-1]
    await wait_for(lambda: panel._x[-1] > first_last, what="a new live candle")
    assert panel.symbol == "BTCUSDT"
    assert "O " in panel.readout.text() and "bybit BTC/USDT:USDT" in panel.readout.text()  # the name people use
    assert "bybit BTC/USDT:USDT" in window.windowTitle()
    await wait_for(lambda: window.health_panel.table.rowCount() == 1 and window.health_panel.state_of(0) == "live",
                   what="health row live")
    assert window.conn_label.text() == "Connections: 1/1 live"
    logging.getLogger("twinstar.test").warning("visible in the log panel")
    await wait_for(lambda: "visible in the log panel" in window.log_panel.visible_text(), what="log line")
    window.log_panel.level.setCurrentText("Error")
    assert "visible in the log panel" not in window.log_panel.visible_text()

    # switching symbol and timeframe reloads the chart from that series
    panel.symbol_box.setCurrentText("ETH/USDT:USDT")  # the picker shows unified names (native id = item data)
    await wait_for(lambda: panel.symbol == "ETHUSDT", what="symbol switch")
    panel.tf_box.setCurrentText("1h")
    await wait_for(lambda: panel.tf.label == "1h" and panel.candle_count() > 0, what="1h view")
    assert (panel._x % 3600 == 0).all()

    # after the server drops us the panel shows the reconnect, then live again
    await server.drop_connections()
    await wait_for(lambda: window.health_panel.text(0, "Reconnects") == "1", timeout=10, what="reconnect count")
    await wait_for(lambda: window.health_panel.state_of(0) == "live", what="live again")
    assert "connection lost" in window.health_panel.text(0, "Last error")


async def test_closing_the_window_asks_for_a_clean_shutdown(tmp_path, qapp):
    async with running(tmp_path) as (window, core, server):
        asked = []
        window.close_requested.connect(lambda: asked.append(True))
        window.close()
        assert asked == [True] and window.isVisible()  # the app decides, after flushing


async def test_a_failing_disk_is_shown_and_closing_asks_before_losing_candles(tmp_path, qapp):
    import pandas as pd
    from PySide6.QtWidgets import QMessageBox

    from twinstar_gui.data.writer import WriteJob
    from twinstar_gui.gui import _ask_unsaved

    async with running(tmp_path) as (window, core, server):
        await wait_for(lambda: window.chart_panel.candle_count() >= 200, what="history on the chart")
        assert window.storage_label.isHidden()
        # A real I/O error: a plain file sits where the series' directory must go (no root needed, no mock).
        blocker = tmp_path / "data" / "exchange=bybit" / "symbol=XRPUSDT"
        blocker.write_text("not a directory")
        core.writer.retry_delay = 0.05
        core.writer.submit(WriteJob("bybit", "XRPUSDT", pd.DataFrame({
            "timestamp": [1_735_689_600_000], "open": [0.5], "high": [0.6], "low": [0.4], "close": [0.55],
            "volume": [10.0], "source": ["ws"]})))
        await wait_for(lambda: window.storage_label.isVisible(), what="storage problem in the status bar")
        assert "queued" in window.storage_label.text() and "XRPUSDT" in window.storage_label.text()
        shutdown = asyncio.ensure_future(core.shutdown(budget=1.0,
                                                       confirm_loss=lambda n, e: _ask_unsaved(window, n, e)))
        await wait_for(lambda: getattr(window, "unsaved_box", None) is not None and window.unsaved_box.isVisible(),
                       what="the unsaved-candles question")
        assert "not on disk yet" in window.unsaved_box.text() and "XRPUSDT" in window.unsaved_box.text()
        blocker.unlink()  # the user frees the path, then chooses Retry
        window.unsaved_box.button(QMessageBox.Retry).click()
        assert await asyncio.wait_for(shutdown, 20) is True  # nothing lost
        assert len(core.store.load("bybit", "XRPUSDT")) == 1


async def test_a_signal_answers_the_unsaved_candles_question_open_on_screen(tmp_path, qapp):
    """Closing the window asked whether to give up candles a failing disk holds; a SIGTERM then must not wait for
    a click that may never come: it answers "give them up" and the shutdown ends within its budget."""
    from twinstar_gui.data.writer import WriteJob
    from twinstar_gui.gui import _ask_unsaved

    async with running(tmp_path) as (window, core, server):
        await wait_for(lambda: window.chart_panel.candle_count() >= 200, what="history on the chart")
        (tmp_path / "data" / "exchange=bybit" / "symbol=XRPUSDT").write_text("not a directory")
        core.writer.retry_delay = 0.05
        core.writer.submit(WriteJob("bybit", "XRPUSDT", pd.DataFrame({
            "timestamp": [1_735_689_600_000], "open": [0.5], "high": [0.6], "low": [0.4], "close": [0.55],
            "volume": [10.0], "source": ["ws"]})))
        signalled = asyncio.Event()
        shutdown = asyncio.ensure_future(core.shutdown(budget=1.0, confirm_loss=lambda n, e: _ask_unsaved(
            window, n, e, signalled)))
        await wait_for(lambda: getattr(window, "unsaved_box", None) is not None and window.unsaved_box.isVisible(),
                       what="the unsaved-candles question")
        signalled.set()  # what the app's SIGTERM handler does
        assert await asyncio.wait_for(shutdown, 20) is False  # given up, said so
        from shiboken6 import isValid

        assert not isValid(window.unsaved_box) or not window.unsaved_box.isVisible()  # the question went away


async def test_status_bar_says_when_the_exchange_is_unreachable_and_when_a_journal_was_damaged(tmp_path, qapp):
    """What a user sees: history waiting for an exchange that refuses connections (not "rejected", not "up to
    date"), then caught up once it answers; and a damaged journal found at start, with what was lost."""
    server = SimServer(Market(SimClock(speed=3600.0), seed=5, history_days=3), push_interval=0.05)
    await server.start()
    now = server.market.now_ms()
    store = CandleStore(tmp_path / "data")  # a crashed run's journal of four recent closes, one record corrupt
    for i in range(4):
        store.append("okx", "BTC-USDT-SWAP", pd.DataFrame({"timestamp": [now - now % 900_000 - (30 - i) * 900_000],
                                                            "open": [1.0], "high": [2.0], "low": [0.5], "close": [1.5],
                                                            "volume": [3.0], "source": ["ws"]}))
    store.close()
    journal = tmp_path / "data/exchange=okx/symbol=BTC-USDT-SWAP/tf=15m/.journal.wal"
    raw = bytearray(journal.read_bytes())
    raw[RECORD_SIZE + 9] ^= 0x55
    journal.write_bytes(bytes(raw))
    proxy = FlakyProxy(server.port)  # refusing
    via = lambda url: url.replace(f":{server.port}/", f":{proxy.port}/")
    settings = settings_from_dict({"data_dir": str(tmp_path / "data"), "window_15m": 200, "exchanges": {
        "bybit": {"enabled": False}, "okx": {"enabled": True, "rest_url": via(server.rest_url("okx")),
                                           "ws_url": via(server.ws_url("okx")), "symbols": ["BTC-USDT-SWAP"]}}})
    core = build_core(settings, feed_options={"policy": ReconnectPolicy(base=0.2, cap=0.5, jitter=0.0,
                                                                          max_tries=1000)})
    logs = LogPresenter()
    window = MainWindow(ChartPresenter(core.feeds, engine=core.engine),
                        HealthPresenter(core.feeds, writer=core.writer, engine=core.engine,
                                        catalogs=core.catalogs), logs,
                        mode="TEST", data_dir=str(tmp_path), persist_layout=False)
    window.show()
    try:
        await core.start()
        outage = "waiting for the exchange (okx BTC-USDT-SWAP: cannot connect)"
        await wait_for(lambda: outage in window.sync_label.text(), what="the outage in the status bar")
        # no instrument list and no cache: the symbols are kept as typed, and the user is told
        await wait_for(lambda: window.catalog_label.isVisible(), what="the instrument list's absence")
        assert "okx: no instrument list yet (cannot connect); symbols are unverified" in window.catalog_label.toolTip()
        assert window.sync_bar.isVisible()
        storage = window.storage_label.text()
        assert "Storage: 1 damaged file(s) in _quarantine/" in storage and "up to 1 record(s) lost" in storage
        proxy.forward()
        await wait_for(lambda: window.sync_label.text() == "" and window.chart_panel.candle_count() >= 200,
                       timeout=30, what="caught up once the exchange answers")
        await wait_for(lambda: not window.catalog_label.isVisible(), timeout=30, what="the instrument list, retried")
        assert core.catalogs["okx"].catalog.get("BTC/USDT:USDT").native == "BTC-USDT-SWAP"
    finally:
        await core.shutdown()
        window.allow_close()
        window.close()
        logs.close()
        proxy.close()
        await server.stop()
