"""Closing a position by hand from the Positions panel's presenter: the order goes from a worker thread (a
live one is an HTTP round trip), a refusal is said, and the next click is a new attempt (a refused client id
is never sent again, so reusing it would leave the position impossible to close from the app)."""
import threading

from waiting import wait_for

from twinstar_gui.config import settings_from_dict
from twinstar_gui.core.risk_limits import RiskLimits
from twinstar_gui.execution.base import OrderRefused, OrderRequest
from twinstar_gui.execution.paper import PaperExecutor
from twinstar_gui.execution.risk import RiskGuard
from twinstar_gui.execution.trade_journal import Journal
from twinstar_gui.presenters.trading import TradingPresenter
from twinstar_gui.trading_stack import Trading


class RefusesTheFirstClose(PaperExecutor):
    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.tried: list[tuple[str, str]] = []  # (client id, thread) of each manual close

    def place(self, req):
        if req.bot == "manual":
            self.tried.append((req.client_id, threading.current_thread().name))
            if len(self.tried) == 1:
                raise OrderRefused(req.symbol, "too many requests, try again")
        return super().place(req)


async def test_a_refused_manual_close_is_said_and_the_next_click_tries_again(tmp_path, qapp):
    journal = Journal(tmp_path / "journal.sqlite3")
    paper = RefusesTheFirstClose(journal, name="paper-bybit")
    paper.on_price("BTCUSDT", 100.0, 1)
    paper.place(OrderRequest("BTCUSDT", "buy", 1.0, "entry", bot="unified"))
    paper.on_price("BTCUSDT", 100.0, 2)
    presenter = TradingPresenter(settings_from_dict({"data_dir": str(tmp_path / "data")}))
    presenter.attach({"bybit": Trading(journal, RiskGuard(paper, journal, RiskLimits()), market=None)})
    said = []
    presenter.message.connect(said.append)
    try:
        presenter.close_position("bybit", "BTCUSDT")
        await wait_for(lambda: said, what="the refusal in the status bar")
        assert "too many requests" in said[0]
        presenter.close_position("bybit", "BTCUSDT")
        await wait_for(lambda: len(paper.tried) == 2, what="the second attempt")
        (first, first_thread), (second, second_thread) = paper.tried
        assert first != second and first.isalnum() and len(first) <= 32  # a new id for the new attempt (OKX's rule)
        assert threading.current_thread().name not in (first_thread, second_thread)  # off the GUI thread
        paper.on_price("BTCUSDT", 101.0, 3)
        assert paper.positions() == []
    finally:
        presenter.close()
        journal.close()
