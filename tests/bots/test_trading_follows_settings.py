"""Trading stacks follow a settings change at run time: an exchange added gets paper trading and shows in the Bots
panel; one removed stops its bots and leaves the panel (simulator on loopback, real window offscreen)."""
from dataclasses import replace

import pytest
from test_live_settings import running_core, with_exchange
from waiting import wait_for

from twinstar_gui.core.risk_limits import RiskLimits
from twinstar_gui.live_settings import apply_settings
from twinstar_gui.presenters.chart import ChartPresenter
from twinstar_gui.presenters.health import HealthPresenter
from twinstar_gui.presenters.log import LogPresenter
from twinstar_gui.presenters.trading import TradingPresenter
from twinstar_gui.trading_stack import build_trading, rebuild_trading
from twinstar_gui.ui.main_window import MainWindow

pytestmark = pytest.mark.e2e


async def test_an_added_exchange_gets_paper_trading_and_a_removed_one_stops_its_bots(tmp_path, qapp):
    async with running_core(tmp_path) as (core, settings, _market):
        presenter = TradingPresenter(core.settings, rebuild=lambda ex, live: rebuild_trading(core, ex, live))
        logs = LogPresenter()
        window = MainWindow(ChartPresenter(core.feeds, catalogs=core.catalogs, engine=core.engine),
                            HealthPresenter(core.feeds, engine=core.engine), logs, mode="TEST",
                            data_dir=str(tmp_path), persist_layout=False, trading=presenter)
        presenter.attach({"bybit": build_trading(core, "bybit")})
        window.show()
        panel = window.bots_panel
        try:
            items = lambda: [panel.exchange.itemText(i) for i in range(panel.exchange.count())]
            assert items() == ["bybit"]
            panel.flow.setCurrentText("UnifiedBot")
            panel.symbols.setText("nosuchcoin")  # refused before any bot starts, with the exchange named
            panel.start.click()
            await wait_for(lambda: "bybit" in window.statusBar().currentMessage(), what="the refusal")
            assert "NOSUCHCOIN" in window.statusBar().currentMessage().upper() and panel.bot_names() == []
            panel.symbols.setText("btc")  # resolved through the catalog
            panel.start.click()
            await wait_for(lambda: panel.bot_names() == ["unified-BTCUSDT"], what="the bybit bot")
            bot = presenter.tradings["bybit"].bots[0]

            added = with_exchange(settings, "okx", enabled=True)
            change = await apply_settings(core, added)
            assert change.exchanges_added == ("okx",)
            presenter.follow_change(change)
            await wait_for(lambda: items() == ["bybit", "okx"], what="okx in the Bots panel")
            okx = presenter.tradings["okx"]
            assert okx.executor.name == "paper-okx" and okx.market.feed is core.feeds["okx"]
            assert bot.snapshot().state in ("starting", "running")  # bybit's bot goes on

            # risk limits saved at run time apply to the stacks already built
            tighter = replace(added, trading=replace(added.trading, risk=RiskLimits(max_open_positions=1)))
            presenter.use_settings(tighter)
            assert all(t.executor.limits.max_open_positions == 1 for t in presenter.tradings.values())

            removed = with_exchange(added, "bybit", enabled=False)
            change = await apply_settings(core, removed)
            assert change.exchanges_removed == ("bybit",)
            presenter.follow_change(change)
            await wait_for(lambda: items() == ["okx"], timeout=20, what="bybit out of the Bots panel")
            assert "bybit" not in presenter.tradings
            assert bot.snapshot().state not in ("starting", "running")
            assert "its bots stop" in window.statusBar().currentMessage()
        finally:
            tradings = presenter.tradings
            presenter.close()
            for t in tradings.values():
                await t.stop()
                t.journal.close()
            window.allow_close()
            window.close()
            logs.close()
