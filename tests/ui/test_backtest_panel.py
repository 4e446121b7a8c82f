"""The Backtest panel offscreen with real widgets: a backtest run from it on a real Parquet dataset (the simulator's
history downloaded into it) in a worker with progress, its metrics, equity curve and trades shown, a trade picked
showing its symbol's trades on the chart, Cancel, a refused parameter, and the Presets tab."""
import time

import numpy as np
import pytest
from PySide6.QtCore import QDate
from waiting import wait_for

from twinstar_gui.bots.optimize import Preset, write_preset
from twinstar_gui.config import Settings
from twinstar_gui.data.download import Downloader
from twinstar_gui.data.store import CandleStore
from twinstar_gui.exchanges.registry import get_exchange
from twinstar_gui.net.rest import RestClient
from twinstar_gui.presenters.backtest import BacktestPresenter
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import DAY_MS, Market
from twinstar_gui.sim.server import SimThread
from twinstar_gui.ui.panels.backtest_panel import BacktestPanel
from twinstar_gui.ui.panels.chart_panel import ChartPanel


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bt-gui")
    sim = SimThread(Market(SimClock(speed=1.0), seed=8, history_days=25)).start()
    now = int(time.time() * 1000)
    try:
        for exchange, symbols in (("okx", ("BTC-USDT-SWAP", "ETH-USDT-SWAP")), ("upbit", ("KRW-BTC",))):
            rest = RestClient(get_exchange(exchange, rest_url=sim.rest_url(exchange)))
            d = Downloader(exchange, rest, CandleStore(root))
            for s in symbols:
                assert d.symbol(s, now - now % DAY_MS - 20 * DAY_MS, now - now % DAY_MS - 1).complete
            d.store.close()
            rest.close()
    finally:
        sim.stop()
    return root


def panel_and_presenter(qtbot, data_dir):
    panel = BacktestPanel()
    qtbot.addWidget(panel)
    panel.set_exchanges(["okx", "upbit"])
    bt = BacktestPresenter(lambda: Settings(data_dir))
    panel.run_requested.connect(lambda *a: bt.run(*a) and panel.started())
    panel.cancel_requested.connect(bt.cancel)
    bt.progress.connect(panel.show_progress)
    bt.finished.connect(panel.show_outcome)
    bt.failed.connect(panel.show_failure)
    panel.presets_wanted.connect(lambda ex: panel.show_presets(*bt.presets(ex)))
    panel.resize(1200, 700)
    panel.show()
    return panel, bt


def set_range(panel, days_back_from, days_back_to):
    today = QDate.currentDate()
    panel.start.setDate(today.addDays(-days_back_from))
    panel.end.setDate(today.addDays(-days_back_to))


async def test_a_backtest_from_the_panel_shows_its_result_and_its_trades_on_the_chart(qtbot, data_dir):
    panel, bt = panel_and_presenter(qtbot, data_dir)
    seen = []
    bt.progress.connect(seen.append)
    panel.flow.setCurrentText("scanner")
    panel.exchange.setCurrentText("okx")
    panel.symbols.setText("BTC, ETH")
    set_range(panel, 15, 2)
    panel.params.setText("strategy.take_profit_pct=2.5")
    panel.run_button.click()
    assert not panel.run_button.isEnabled() and panel.cancel_button.isEnabled()
    await wait_for(lambda: bt.outcome is not None, timeout=120, what="the backtest's result")
    assert panel.run_button.isEnabled() and seen[-1] == 1.0 and panel.bar.value() == 1000
    metrics = {panel.metrics.item(r, 0).text(): panel.metrics.item(r, 1).text()
               for r in range(panel.metrics.rowCount())}
    assert {"net PnL", "max drawdown", "win rate", "Sharpe (daily)"} <= metrics.keys()
    assert panel.trades.rowCount() == bt.outcome.metrics.trades > 0
    xs, ys = panel.equity_line.getData()
    assert len(xs) == len(bt.outcome.result.equity) and np.isclose(ys[-1], bt.outcome.metrics.end_equity)
    # a trade picked: its symbol's trades as markers on the chart, at their prices
    picked = []
    panel.symbol_picked.connect(lambda ex, sym: picked.append((ex, sym)))
    panel.trades.selectRow(0)
    assert len(picked) == 1 and picked[0][0] == "okx"
    symbol = picked[0][1]
    assert symbol in {t.symbol for t in bt.outcome.trades}  # the native id, not the text shown
    chart = ChartPanel({"okx": ["BTC-USDT-SWAP", "ETH-USDT-SWAP"]})
    qtbot.addWidget(chart)
    bt.markers.connect(chart.show_backtest)
    chart.exchange_box.setCurrentText("okx")
    chart.show_history(CandleStore(data_dir).load_last_rows("okx", symbol, 2000), symbol, "15m")
    bt.show_symbol(symbol)
    fills = [f for f in bt.outcome.result.fills if f.symbol == symbol]
    points = chart.backtest_points()
    assert len(points) == len(fills) > 0
    assert sorted(round(p, 6) for _, p in points) == sorted(round(f.price, 6) for f in fills)
    chart.show_history(CandleStore(data_dir).load_last_rows("okx", "BTC-USDT-SWAP" if symbol != "BTC-USDT-SWAP"
                                                            else "ETH-USDT-SWAP", 2000), "other", "15m")
    assert chart.backtest_points() == []  # another series on screen: none of these


async def test_cancel_a_refused_parameter_and_a_range_without_data(qtbot, data_dir):
    panel, bt = panel_and_presenter(qtbot, data_dir)
    panel.flow.setCurrentText("unified")
    panel.exchange.setCurrentText("okx")
    panel.symbols.setText("BTC")
    set_range(panel, 18, 1)
    panel.params.setText("strategy.rsi_lo=20")
    panel.run_button.click()
    assert "rsi_lo" in panel.status.text() and panel.run_button.isEnabled()
    panel.params.setText("")
    panel.run_button.click()
    panel.cancel_button.click()
    await wait_for(lambda: panel.run_button.isEnabled(), timeout=60, what="the run to end")
    assert panel.status.text() == "cancelled" and bt.outcome is None
    set_range(panel, 400, 300)
    panel.run_button.click()
    await wait_for(lambda: panel.run_button.isEnabled(), timeout=60, what="the refusal")
    assert "twinstar download --exchange okx" in panel.status.text()


async def test_the_presets_tab_lists_the_files_with_their_scores(qtbot, data_dir):
    write_preset(data_dir, Preset("upbit", "KRW-BTC", {"rsi_low": 25.0}, True, "out-of-sample return +0.4 %",
                                  "2026-01-01", "2026-02-01"))
    panel, bt = panel_and_presenter(qtbot, data_dir)
    panel.exchange.setCurrentText("upbit")
    panel.tabs.setCurrentIndex(1)
    assert panel.presets_table.rowCount() == 1
    assert panel.presets_table.item(0, 0).text() == "KRW-BTC" and panel.presets_table.item(0, 1).text() == "yes"
    assert "rsi_low=25" in panel.presets_table.item(0, 2).text() and "1 of 1" in panel.presets_note.text()
