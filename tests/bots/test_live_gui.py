"""Paper -> live from the Bots panel (offscreen): a confirmation first, keys from the keyring, the live
executor reconciles, a UnifiedBot sends signed orders to the simulator's Bybit account, the exchange takes
profit; back to paper. Without keys the switch is refused with a message and nothing changes."""
import pytest
from scripted import trading_env
from waiting import wait_for

from twinstar_gui.execution.live import LiveExecutor
from twinstar_gui.execution.paper import PaperExecutor
from twinstar_gui.presenters.chart import ChartPresenter
from twinstar_gui.presenters.health import HealthPresenter
from twinstar_gui.presenters.log import LogPresenter
from twinstar_gui.presenters.trading import TradingPresenter
from twinstar_gui.secrets import ApiKeys, save_keys
from twinstar_gui.trading_stack import Trading, rebuild_trading
from twinstar_gui.ui.main_window import MainWindow

pytestmark = pytest.mark.e2e
KEY, SECRET = "guiKey1234", "guiSecret5678"


def open_window(core, ctx, tmp_path):
    presenter = TradingPresenter(core.settings, rebuild=lambda ex, live: rebuild_trading(core, ex, live))
    logs = LogPresenter()
    window = MainWindow(ChartPresenter(core.feeds, engine=core.engine),
                        HealthPresenter(core.feeds, engine=core.engine), logs, mode="TEST",
                        data_dir=str(tmp_path), persist_layout=False, trading=presenter)
    presenter.attach({"bybit": Trading(ctx.journal, ctx.executor, ctx.market)})
    window.show()
    return window, presenter, logs


async def close_window(window, presenter, logs):
    tradings = list(presenter.tradings.values())
    presenter.close()
    for t in tradings:
        await t.stop()
    window.allow_close()
    window.close()
    logs.close()


async def confirm_live(panel):
    panel.live_button.click()
    await wait_for(lambda: panel.confirm_box is not None and panel.confirm_box.isVisible(), what="confirmation")
    go = next(b for b in panel.confirm_box.buttons() if b.text().startswith("Trade live"))
    go.click()


async def test_switch_to_live_trades_through_the_signed_api_then_back_to_paper(tmp_path, qapp):
    async with trading_env(tmp_path, [], {"ETHUSDT": {"future": 1.004, "future_groups": 12}}, feed_symbols=["ETHUSDT"],
                           trade_api=True) as (sim, core, ctx):
        account = sim.add_account(KEY, SECRET, balance=5_000.0)
        save_keys(ApiKeys("bybit", KEY, SECRET))
        window, presenter, logs = open_window(core, ctx, tmp_path)
        try:
            panel = window.bots_panel
            assert panel.mode.text() == "PAPER trading"
            panel.live_button.click()  # cancelling the confirmation changes nothing
            await wait_for(lambda: panel.confirm_box is not None and panel.confirm_box.isVisible(), what="question")
            panel.confirm_box.reject()
            assert not panel.is_live("bybit") and isinstance(presenter.tradings["bybit"].executor.inner, PaperExecutor)
            await confirm_live(panel)
            await wait_for(lambda: panel.is_live("bybit"), timeout=20, what="live mode")
            assert "LIVE trading on bybit" in panel.mode.text() and "LIVE ORDERS" in window.mode_label.text()
            assert isinstance(presenter.tradings["bybit"].executor.inner, LiveExecutor)
            assert ("GET", "/v5/position/list") in account.requests  # reconciled before any bot trades
            assert window.positions_panel.live  # closing a live position will ask first
            panel.flow.setCurrentText("UnifiedBot")
            panel.symbols.setText("ETHUSDT")
            panel.start.click()
            await wait_for(lambda: any(o.symbol == "ETHUSDT" and o.side == "Buy" for o in account.orders.values()),
                           timeout=40, what="a signed buy order at the exchange")
            await wait_for(lambda: window.positions_panel.open_table.rowCount() == 1, timeout=10,
                           what="the live position in the panel")
            await wait_for(lambda: any(o.stop_type == "TakeProfit" for o in account.orders.values()), timeout=60,
                           what="the exchange's take profit")
            await wait_for(lambda: window.positions_panel.open_table.rowCount() == 0, timeout=10,
                           what="position gone from the panel")
            panel.live_button.click()  # bots still running: refused, said in the status bar
            await wait_for(lambda: "stop its bots first" in window.statusBar().currentMessage(), what="refusal")
            panel.table.selectRow(0)
            panel.stop.click()
            await wait_for(lambda: panel.table.item(0, 3).text() == "stopped", timeout=15, what="bot stopped")
            panel.live_button.click()  # back to paper: no question asked
            await wait_for(lambda: not panel.is_live("bybit"), timeout=20, what="paper again")
            assert isinstance(presenter.tradings["bybit"].executor.inner, PaperExecutor)
            assert panel.mode.text() == "PAPER trading" and not window.positions_panel.live
        finally:
            await close_window(window, presenter, logs)


async def test_going_live_without_keys_is_refused_with_a_message(tmp_path, qapp):
    async with trading_env(tmp_path, [], {}, feed_symbols=["ETHUSDT"], trade_api=True) as (sim, core, ctx):
        window, presenter, logs = open_window(core, ctx, tmp_path)
        try:
            panel = window.bots_panel
            await confirm_live(panel)
            await wait_for(lambda: "live mode needs API keys for bybit" in window.statusBar().currentMessage(),
                           timeout=10, what="the refusal")
            assert not panel.is_live("bybit") and panel.mode.text() == "PAPER trading"
            assert isinstance(presenter.tradings["bybit"].executor.inner, PaperExecutor)
        finally:
            await close_window(window, presenter, logs)
