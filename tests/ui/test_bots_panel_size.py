"""The Bots panel's account line (one entry per exchange) wraps: it must never set the window's minimum
width past a laptop screen (it once made the demo window 3127 px wide, pushing the price axis off-screen)."""
from twinstar_gui.presenters.trading import AccountView
from twinstar_gui.ui.panels.trading_panels import BotsPanel


def test_seven_accounts_do_not_widen_the_panel(qtbot):
    exchanges = ["bybit", "binance", "okx", "bitget", "bingx", "upbit", "bithumb"]
    panel = BotsPanel(["UnifiedBot", "AutoScanner", "MultiTrader"], exchanges)
    qtbot.addWidget(panel)
    panel.show_accounts([AccountView(e, f"paper-{e}", 10_000.0, 10_012.5, 12.5, "") for e in exchanges])
    assert "paper-bithumb: balance 10,000.00 USDT" in panel.account.text()
    assert panel.minimumSizeHint().width() <= 1000


def test_an_executor_problem_is_shown_beside_its_account_in_red(qtbot):
    panel = BotsPanel(["UnifiedBot"], ["bybit", "okx"])
    qtbot.addWidget(panel)
    panel.show_accounts([AccountView("bybit", "paper-bybit", 10_000.0, 10_000.0, 0.0, ""),
                         AccountView("okx", "paper-okx", 10_000.0, 10_000.0, 0.0, "", "fills and TP/SL held back")])
    assert "paper-okx: balance 10,000.00 USDT, equity 10,000.00, today +0.00 — fills and TP/SL held back" in (
        panel.account.text())
    assert "color" in panel.account.styleSheet()
    panel.show_accounts([AccountView("okx", "paper-okx", 10_000.0, 10_000.0, 0.0, "")])  # the disk is back
    assert "held back" not in panel.account.text() and panel.account.styleSheet() == ""
