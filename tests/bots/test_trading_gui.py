"""The three flows from the window (offscreen): start a bot in the Bots panel, see its position and its
take-profit exit in the Positions panel, scanner candidates in the Scanner panel, the kill switch."""
import asyncio

import pytest
from scripted import trading_env
from waiting import wait_for

from twinstar_gui.presenters.chart import ChartPresenter
from twinstar_gui.presenters.health import HealthPresenter
from twinstar_gui.presenters.log import LogPresenter
from twinstar_gui.presenters.trading import TradingPresenter
from twinstar_gui.trading_stack import Trading
from twinstar_gui.ui.main_window import MainWindow
from twinstar_gui.ui.panels.table import SORT_ROLE

pytestmark = pytest.mark.e2e


def open_window(core, ctx, tmp_path):
    presenter = TradingPresenter(core.settings)
    logs = LogPresenter()
    window = MainWindow(ChartPresenter(core.feeds, engine=core.engine),
                        HealthPresenter(core.feeds, engine=core.engine), logs, mode="TEST",
                        data_dir=str(tmp_path), persist_layout=False, trading=presenter)
    trading = Trading(ctx.journal, ctx.executor, ctx.market)
    presenter.attach({"bybit": trading})
    window.show()
    return window, presenter, trading, logs


async def close_window(window, trading, logs):
    window.trading.close()
    await trading.stop()
    window.allow_close()
    window.close()
    logs.close()


async def test_unified_bot_from_the_bots_panel_trades_and_the_kill_switch_stops_it(tmp_path, qapp):
    async with trading_env(tmp_path, [], {"ETHUSDT": {}}, feed_symbols=["ETHUSDT"]) as (sim, core, ctx):
        window, presenter, trading, logs = open_window(core, ctx, tmp_path)
        try:
            panel, positions = window.bots_panel, window.positions_panel
            panel.flow.setCurrentText("UnifiedBot")
            panel.symbols.setText("ethusdt")
            panel.start.click()
            await wait_for(lambda: panel.bot_names() == ["unified-ETHUSDT"], what="bot row")
            await wait_for(lambda: positions.open_table.rowCount() == 1, timeout=30, what="the position in the panel")
            assert positions.open_table.item(0, 1).text() == "ETH/USDT:USDT"
            assert positions.open_table.item(0, 2).text() == "long"
            assert positions.open_table.item(0, 7).text() != "-"  # its take profit
            await wait_for(lambda: positions.open_table.rowCount() == 0, timeout=40, what="closed at take profit")
            positions.refresh_history()
            sides = [positions.history_table.item(r, 3).text() for r in range(positions.history_table.rowCount())]
            assert sides.count("buy") >= 1 and sides.count("sell") >= 1
            assert "paper: balance 10,00" in panel.account.text() and "today +" in panel.account.text()  # a winner
            panel.start.click()  # a second one on the same symbol is refused, said in the status bar
            await wait_for(lambda: "already running" in window.statusBar().currentMessage(), what="refusal shown")
            panel.kill.click()
            await wait_for(lambda: "KILL SWITCH ON" in panel.account.text(), what="kill switch shown")
            await wait_for(lambda: panel.table.item(0, 3).text() == "stopped", what="bot stopped by the kill switch")
            panel.flow.setCurrentText("MultiTrader")
            panel.symbols.setText("")
            panel.start.click()
            await wait_for(lambda: "multi" in panel.bot_names(), what="multi row")
            await wait_for(lambda: trading.bot("multi").snapshot().errors or trading.bot("multi").snapshot().state
                           != "starting", timeout=20, what="multi trying")
        finally:
            await close_window(window, trading, logs)


async def test_scanner_candidates_in_the_panel_and_a_manual_close(tmp_path, qapp):
    trends = {"SOLUSDT": {"future": 1.002}, "LINKUSDT": {"up": 1.004, "down": 0.998, "future": 1.002}}
    async with trading_env(tmp_path, [], trends, feed_symbols=["SOLUSDT"]) as (sim, core, ctx):
        window, presenter, trading, logs = open_window(core, ctx, tmp_path)
        try:
            panel = window.bots_panel
            panel.flow.setCurrentText("AutoScanner")
            panel.symbols.setText("SOLUSDT, LINKUSDT, BTCUSDT, ETHUSDT, XRPUSDT")
            panel.start.click()
            scanner = window.scanner_panel
            await wait_for(lambda: scanner.table.rowCount() == 2, timeout=30, what="two candidates")
            assert sorted(scanner.table.item(r, 0).text() for r in range(2)) == ["LINK/USDT:USDT", "SOL/USDT:USDT"]
            scanner.filter.setText("sol")
            assert scanner.table.rowCount() == 1
            scanner.filter.setText("")
            opened = []
            scanner.open_chart.connect(lambda e, s: opened.append((e, s)))
            row = next(r for r in range(2) if scanner.table.item(r, 0).text() == "SOL/USDT:USDT")
            scanner.table.cellDoubleClicked.emit(row, 0)
            assert opened == [("bybit", "SOLUSDT")] and window.chart_panel.symbol_box.currentText() == "SOL/USDT:USDT"
            positions = window.positions_panel
            await wait_for(lambda: positions.open_table.rowCount() >= 1, timeout=30, what="an entry")
            positions.open_table.selectRow(0)
            symbol = positions.open_table.item(0, 1).text()  # unified; the row keeps the native id to act on
            native = positions.open_table.item(0, 1).data(SORT_ROLE)
            assert "/" in symbol and native == f"{symbol.split('/')[0]}USDT"
            positions.close_button.click()
            await wait_for(lambda: symbol not in [positions.open_table.item(r, 1).text()
                                                  for r in range(positions.open_table.rowCount())],
                           timeout=20, what="closed by hand")
            fills = [f for f in ctx.journal.fills("paper") if f.symbol == native]
            assert any(f.bot == "manual" and f.side == "sell" for f in fills)
        finally:
            await close_window(window, trading, logs)
        await asyncio.sleep(0)
