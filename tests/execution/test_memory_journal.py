"""MemoryJournal (a backtest's account) against the SQLite Journal on a real file: the same calls, the same answers,
step by step; a failed transaction is undone in both; and a paper account with its risk guard trades the same on
either."""
import contextlib
import random

import pytest

from twinstar_gui.core.risk_limits import RiskLimits
from twinstar_gui.execution.base import (
    CANCELLED,
    FILLED,
    NEW,
    REJECTED,
    Fill,
    Order,
    OrderRefused,
    OrderRequest,
    Position,
)
from twinstar_gui.execution.paper import PaperExecutor
from twinstar_gui.execution.risk import RiskGuard
from twinstar_gui.execution.trade_journal import Journal, MemoryJournal


@pytest.fixture
def both(tmp_path):
    file_journal = Journal(tmp_path / "journal.sqlite3")
    yield file_journal, MemoryJournal()
    file_journal.close()


class Sum(float):
    """A realized sum: equal to another within 1e-12."""

    def __eq__(self, other):
        return abs(self - other) <= 1e-12 * max(1.0, abs(self))

    __hash__ = float.__hash__


def answers(j):
    """Everything a journal can be asked, for two executors (sums to 1e-12: SQLite 3.43+ compensates its SUM)."""
    out = []
    for ex in ("paper", "other"):
        out += [j.orders(ex), j.orders(ex, open_only=True), j.orders(ex, limit=2), j.fills(ex), j.fills(ex, 150, 2),
                j.positions(ex)]
        out += [Sum(j.realized_since(ex, t)) for t in (0, 150, 159)]
    out += [j.get_state(k, "absent") for k in ("balance", "kill", "nested", "nothing")]
    out += [j.order_by_client_id("paper", c) for c in ("c1", "c2", "c3", "nope")]
    return out


def order(cid, created, status=NEW, **kw):
    return Order(f"id-{cid}-{created}", cid, kw.pop("symbol", "BTCUSDT"), "buy", 0.5, "market", None, status,
                 created_ms=created, updated_ms=created, **kw)


def test_the_same_calls_give_the_same_answers(both):
    a, b = both
    steps = [
        lambda j: j.save_order("paper", order("c1", 100)),
        lambda j: j.save_order("paper", order("c2", 100, symbol="ETHUSDT")),  # the same time: the later row first
        lambda j: j.save_order("paper", order("c3", 90, reason="x")),
        lambda j: j.save_order("other", order("c1", 120)),
        lambda j: j.save_order("paper", order("c1", 100, FILLED, avg_price=3.0)),  # an update keeps its row
        lambda j: j.add_fill("paper", Fill("id-c1", "c1", "BTCUSDT", "buy", 0.5, 3.0, 0.01, 100, 0.0, "b")),
        lambda j: j.realized_since("paper", 150),  # asked before the next fills: kept up to date after them
        lambda j: j.add_fill("paper", Fill("id-c2", "c2", "ETHUSDT", "sell", 0.5, 4.0, 0.02, 160, 1.25, "b")),
        lambda j: j.add_fill("paper", Fill("id-c2", "c2", "ETHUSDT", "sell", 0.5, 4.0, 0.02, 200, -0.5, "b")),
        lambda j: j.add_fill("other", Fill("id-c9", "c9", "ETHUSDT", "sell", 0.5, 4.0, 0.03, 170, 2.0, "b")),
        lambda j: j.realized_since("paper", 155),
        lambda j: j.add_fill("paper", Fill("id-c3", "c3", "BTCUSDT", "sell", 0.5, 4.0, 0.01, 158, 0.75, "b")),  # late
        lambda j: j.add_fill("paper", Fill("id-c3", "c3", "BTCUSDT", "sell", 0.5, 4.0, 0.01, 90, 0.5, "b")),
        lambda j: j.realized_since("paper", 95),
        lambda j: j.save_position("paper", Position("BTCUSDT", 0.5, 3.0, 100, "b", 4.0, 2.0, 3.3, 0.1)),
        lambda j: j.save_position("paper", Position("ETHUSDT", -1.0, 4.0, 50, "b")),
        lambda j: j.save_position("paper", Position("BTCUSDT", 0.0, 3.0, 100, "b")),  # closed: gone
        lambda j: j.set_state("balance", 9_999.5),
        lambda j: j.set_state("kill", None),
        lambda j: j.set_state("nested", {"day_ms": 1, "pnl": [1, 2]}),
        lambda j: j.save_order("paper", order("c2", 100, CANCELLED, symbol="ETHUSDT")),
    ]
    for step in steps:
        step(a)
        step(b)
        assert answers(a) == answers(b)
    got = b.get_state("nested")
    got["pnl"].append(3)  # a caller changing what it got changes nothing kept
    assert b.get_state("nested") == {"day_ms": 1, "pnl": [1, 2]}
    kept = b.order_by_client_id("paper", "c1")
    kept.status = CANCELLED
    assert b.order_by_client_id("paper", "c1").status == FILLED


def test_a_refused_order_is_refused_again_by_both(both):
    for j in both:
        j.save_order("paper", order("r1", 10, REJECTED, reason="too small"))
        with pytest.raises(OrderRefused, match="too small"):
            j.known_order("paper", OrderRequest("BTCUSDT", "buy", 1.0, "r1"))
        assert j.known_order("paper", OrderRequest("BTCUSDT", "buy", 1.0, "r2")) is None


def test_a_failed_transaction_is_undone_in_both(both):
    for j in both:
        j.save_order("paper", order("t1", 10))
        j.add_fill("paper", Fill("id", "t0", "BTCUSDT", "buy", 1.0, 1.0, 0.1, 10, 0.0, ""))
        j.set_state("balance", 100.0)
        assert j.realized_since("paper", 0) == pytest.approx(-0.1)
    before = [answers(j) for j in both]
    for j in both:
        with pytest.raises(RuntimeError), j.transaction():
            j.save_order("paper", order("t1", 10, FILLED))
            j.save_order("paper", order("t2", 11))
            with j.transaction():  # nested: one with the outer
                j.add_fill("paper", Fill("id", "t1", "BTCUSDT", "sell", 1.0, 2.0, 0.1, 20, 1.0, ""))
            j.save_position("paper", Position("BTCUSDT", 1.0, 1.0, 10))
            j.set_state("balance", 200.0)
            j.set_state("new key", 1)
            raise RuntimeError("disk full")
    assert [answers(j) for j in both] == before
    assert [j.get_state("new key") for j in both] == [None, None]


def test_a_paper_account_trades_the_same_on_either_journal(tmp_path):
    """Random prices, entries with TP / SL and closes through the risk guard: the same fills, balance and kill
    switch on the file and in memory."""
    outcomes = []
    for journal in (Journal(tmp_path / "j.sqlite3"), MemoryJournal()):
        now = [1_735_689_600_000]

        def clock(now=now):
            return now[0]

        ex = PaperExecutor(journal, clock=clock, fee_rate=0.001, slippage_bps=5)
        guard = RiskGuard(ex, journal, RiskLimits(max_open_positions=2, daily_loss_limit_usdt=40.0), clock=clock)
        rng = random.Random(7)
        prices = {"BTCUSDT": 100.0, "ETHUSDT": 50.0, "SOLUSDT": 20.0}
        for i in range(3_000):
            now[0] += 60_000
            sym = rng.choice(list(prices))
            prices[sym] *= 1 + rng.gauss(0, 0.004)
            guard.on_price(sym, prices[sym], now[0])
            if rng.random() < 0.05 and guard.kill_switch is None:
                side, p = rng.choice(("buy", "sell")), prices[sym]
                tp, sl = (p * 1.02, p * 0.99) if side == "buy" else (p * 0.98, p * 1.01)
                with contextlib.suppress(OrderRefused):  # the limits say no: as they would live
                    guard.place(OrderRequest(sym, side, 100 / p, f"e{i}", price=p, take_profit=tp, stop_loss=sl))
        fills = [(f.client_id, f.side, f.qty, f.price, f.fee, f.time_ms, f.realized_pnl)
                 for f in journal.fills(ex.name, limit=100_000)]
        outcomes.append((fills, ex.balance(), guard.kill_switch, guard.daily_pnl(),
                         [(p.symbol, p.qty, p.entry_price) for p in ex.positions()]))
        assert ex.unrealized_total() == pytest.approx(ex.unrealized_total(exact=True), abs=1e-9)
    assert outcomes[0][0] and outcomes[0] == outcomes[1]
