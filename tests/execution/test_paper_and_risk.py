"""Paper executor, journal and risk limits on a real SQLite file in a temp dir."""
import threading
import time

import pytest

from twinstar_gui.core.risk_limits import RiskLimits
from twinstar_gui.execution.base import FILLED, REJECTED, InstrumentRules, OrderRefused, OrderRequest, symbols_in_play
from twinstar_gui.execution.paper import PaperExecutor
from twinstar_gui.execution.risk import RiskGuard
from twinstar_gui.execution.trade_journal import Journal

RULES = {"BTCUSDT": InstrumentRules("BTCUSDT", 0.1, 0.001, 0.001, 5.0),
         "ETHUSDT": InstrumentRules("ETHUSDT", 0.01, 0.01, 0.01, 5.0)}
NOW = [1_735_689_600_000]


def clock():
    return NOW[0]


def paper(path, **kw):
    return PaperExecutor(Journal(path / "journal.sqlite3"), rules=RULES.__getitem__, clock=clock,
                         slippage_bps=10, fee_rate=0.001, **kw)


def test_market_order_fills_on_the_next_price_with_slippage_and_fee(tmp_path):
    ex = paper(tmp_path)
    ex.on_price("BTCUSDT", 50_000.0, 1)
    order = ex.place(OrderRequest("BTCUSDT", "buy", 0.0105, "c1", bot="t"))
    assert order.status == "new" and order.qty == 0.01  # rounded down to the lot, never up
    assert ex.positions() == []  # nothing fills until the market shows a new price
    (fill,) = ex.on_price("BTCUSDT", 50_100.0, 2)
    assert fill.price == 50_150.1  # 10 bps worse, on the 0.1 tick
    assert fill.fee == pytest.approx(0.01 * 50_150.1 * 0.001)
    (pos,) = ex.positions()
    assert pos.qty == 0.01 and pos.entry_price == 50_150.1
    ex.on_price("BTCUSDT", 51_000.0, 3)
    assert ex.positions()[0].unrealized_pnl == pytest.approx((51_000 - 50_150.1) * 0.01)
    ex.place(OrderRequest("BTCUSDT", "sell", 0.01, "c2", reduce_only=True))
    (close,) = ex.on_price("BTCUSDT", 51_000.0, 4)
    assert close.realized_pnl == pytest.approx((50_949.0 - 50_150.1) * 0.01)
    assert ex.positions() == [] and ex.balance() == pytest.approx(10_000 + close.realized_pnl - fill.fee - close.fee)


class FillsBetweenReads(PaperExecutor):
    """A price lands just after each read of the executor's state, as it can from the market's thread."""

    def _then_price(self, result):
        self.on_price("BTCUSDT", 50_100.0, 2)
        return result

    def positions(self):
        return self._then_price(super().positions())

    def open_orders(self):
        return self._then_price(super().open_orders())

    # the guard's generic reads (a live executor's): a paper account also answers at once, under its lock
    symbols_in_play = None  # type: ignore[assignment]


def test_an_entry_being_filled_is_seen_in_play_whenever_the_fill_lands(tmp_path):
    ex = FillsBetweenReads(Journal(tmp_path / "journal.sqlite3"), rules=RULES.__getitem__, clock=clock)
    PaperExecutor.on_price(ex, "BTCUSDT", 50_000.0, 1)
    ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "c1", bot="multi"))
    # the fill lands between the two reads: the order has left the open orders, the position has appeared
    assert symbols_in_play(ex, bot="multi") == {"BTCUSDT"}
    assert symbols_in_play(ex, bot="other") == set()
    ex.place(OrderRequest("BTCUSDT", "sell", 0.01, "c2", bot="multi", reduce_only=True))
    assert symbols_in_play(ex, bot="multi", entries_only=False) == {"BTCUSDT"}  # the close, read before it filled
    assert ex.positions() == [] and symbols_in_play(ex, bot="multi", entries_only=False) == set()


def test_the_position_limit_counts_an_entry_filling_during_the_check(tmp_path):
    ex = FillsBetweenReads(Journal(tmp_path / "journal.sqlite3"), rules=RULES.__getitem__, clock=clock)
    risk = RiskGuard(ex, ex.journal, RiskLimits(max_position_usdt=5_000, max_open_positions=1))
    PaperExecutor.on_price(ex, "BTCUSDT", 50_000.0, 1)
    PaperExecutor.on_price(ex, "ETHUSDT", 2_000.0, 1)
    ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "first"))  # pending; it fills while the guard looks
    with pytest.raises(OrderRefused, match="max open positions reached"):
        risk.place(OrderRequest("ETHUSDT", "buy", 0.1, "second"))
    assert [p.symbol for p in ex.positions()] == ["BTCUSDT"] and ex.open_orders() == []


def test_a_paper_account_answers_the_position_limit_at_once(tmp_path):
    """The guard asks a paper account for its symbols in play in one read under its lock (no fill can land between
    two reads), and counts a pending entry as a position."""
    ex = PaperExecutor(Journal(tmp_path / "journal.sqlite3"), rules=RULES.__getitem__, clock=clock)
    risk = RiskGuard(ex, ex.journal, RiskLimits(max_position_usdt=5_000, max_open_positions=1))
    PaperExecutor.on_price(ex, "BTCUSDT", 50_000.0, 1)
    PaperExecutor.on_price(ex, "ETHUSDT", 2_000.0, 1)
    ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "first"))  # pending
    assert ex.symbols_in_play() == {"BTCUSDT"} and ex.in_play("BTCUSDT") and not ex.in_play("ETHUSDT")
    with pytest.raises(OrderRefused, match="max open positions reached"):
        risk.place(OrderRequest("ETHUSDT", "buy", 0.1, "second"))
    ex.on_price("BTCUSDT", 50_100.0, 2)  # filled: still one symbol in play, now a position
    assert ex.symbols_in_play() == {"BTCUSDT"} and ex.holds("BTCUSDT") and ex.position_count() == 1
    with pytest.raises(OrderRefused, match="max open positions reached"):
        risk.place(OrderRequest("ETHUSDT", "buy", 0.1, "third"))
    ex.place(OrderRequest("BTCUSDT", "sell", 0.01, "close", reduce_only=True))  # a close is not an entry in play
    assert ex.symbols_in_play() == {"BTCUSDT"}
    ex.on_price("BTCUSDT", 50_200.0, 3)
    assert ex.symbols_in_play() == set() and not ex.in_play("BTCUSDT") and ex.position_count() == 0
    risk.place(OrderRequest("ETHUSDT", "buy", 0.1, "fourth"))  # room again


def test_orders_off_the_grid_or_too_small_are_refused_with_the_reason(tmp_path):
    ex = paper(tmp_path)
    ex.on_price("BTCUSDT", 50_000.0, 1)
    with pytest.raises(OrderRefused, match="BTCUSDT: quantity 0.0004 is below the minimum 0.001"):
        ex.place(OrderRequest("BTCUSDT", "buy", 0.0004, "small"))
    assert ex.journal.order_by_client_id("paper", "small").status == REJECTED  # visible in the history
    limit = ex.place(OrderRequest("BTCUSDT", "buy", 0.002, "lim", type="limit", price=49_000.0437))
    assert limit.price == 49_000.0  # to the tick
    with pytest.raises(OrderRefused, match="insufficient balance"):
        ex.place(OrderRequest("BTCUSDT", "buy", 1.0, "big"))
    with pytest.raises(OrderRefused, match="no price known yet"):
        ex.place(OrderRequest("ETHUSDT", "buy", 1.0, "eth"))
    with pytest.raises(OrderRefused, match="reduce-only"):
        ex.place(OrderRequest("BTCUSDT", "sell", 0.001, "ro", reduce_only=True))


def test_a_retried_order_is_never_placed_twice(tmp_path):
    ex = paper(tmp_path)
    ex.on_price("BTCUSDT", 50_000.0, 1)
    first = ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "same-id"))
    again = ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "same-id"))  # e.g. the bot retried after a timeout
    assert again.id == first.id
    ex.on_price("BTCUSDT", 50_000.0, 2)
    assert ex.positions()[0].qty == 0.01
    restarted = paper(tmp_path)
    assert restarted.place(OrderRequest("BTCUSDT", "buy", 0.01, "same-id")).status == FILLED  # known after restart


def test_positions_and_balance_survive_a_restart_and_tpsl_closes(tmp_path):
    ex = paper(tmp_path)
    ex.on_price("ETHUSDT", 2_000.0, 1)
    ex.place(OrderRequest("ETHUSDT", "sell", 0.5, "short", take_profit=1_960.0, stop_loss=2_020.0, bot="multi"))
    ex.on_price("ETHUSDT", 2_000.0, 2)
    balance = ex.balance()
    ex.journal.close()
    back = paper(tmp_path)  # a new process
    (pos,) = back.positions()
    assert pos.qty == -0.5 and pos.take_profit == 1_960.0 and pos.bot == "multi"
    assert back.balance() == balance
    back.on_price("ETHUSDT", 1_959.0, 3)  # take profit touched: closed at market on the next price
    back.on_price("ETHUSDT", 1_959.0, 4)
    assert back.positions() == []
    assert back.balance() > balance


def test_risk_limits_and_the_kill_switch(tmp_path):
    ex = paper(tmp_path, balance=100_000)
    risk = RiskGuard(ex, ex.journal,
                     RiskLimits(max_position_usdt=1_500, max_open_positions=1, daily_loss_limit_usdt=50))
    killed = []
    risk.on_kill.append(killed.append)
    risk.on_price("BTCUSDT", 50_000.0, 1)
    risk.on_price("ETHUSDT", 2_000.0, 1)
    with pytest.raises(OrderRefused, match="over the limit of 1,500 USDT"):
        risk.place(OrderRequest("BTCUSDT", "buy", 0.05, "too-big", price=50_000.0))
    risk.place(OrderRequest("BTCUSDT", "buy", 0.02, "ok", price=50_000.0))
    with pytest.raises(OrderRefused, match="max open positions reached"):
        risk.place(OrderRequest("ETHUSDT", "buy", 0.1, "second", price=2_000.0))
    risk.on_price("BTCUSDT", 50_000.0, 2)
    assert len(risk.positions()) == 1
    risk.on_price("BTCUSDT", 47_000.0, 3)  # -60 unrealized: over the 50 daily limit
    assert killed and "daily loss" in killed[0] and risk.kill_switch is not None
    risk.on_price("BTCUSDT", 47_000.0, 4)
    assert risk.positions() == []  # flattened
    with pytest.raises(OrderRefused, match="kill switch is on"):
        risk.place(OrderRequest("ETHUSDT", "buy", 0.1, "after", price=2_000.0))
    again = RiskGuard(paper(tmp_path), ex.journal, RiskLimits())  # after a restart: still on
    assert again.kill_switch is not None
    again.reset()
    assert again.kill_switch is None


def test_a_fill_is_journaled_all_or_nothing(tmp_path):
    """The fill, its order, the position and the balance commit as one transaction: a failure half-way
    (here: writing the position) leaves the journal as it was (seen from another connection) and the
    executor's memory too; the next price fills the order once the journal can take it."""
    ex = paper(tmp_path)
    ex.on_price("BTCUSDT", 50_000.0, 1)
    ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "c1", bot="t"))
    journal = ex.journal

    def broken(*_args):
        raise OSError("disk gone while writing the position")

    journal.save_position = broken
    with pytest.raises(OSError):
        ex.on_price("BTCUSDT", 50_100.0, 2)
    other = Journal(tmp_path / "journal.sqlite3")
    assert other.fills("paper") == []
    assert [o.status for o in other.orders("paper")] == ["new"]
    assert other.positions("paper") == [] and other.get_state("paper.balance") is None
    # memory agrees with the journal: the order is still open, no position, the balance untouched
    assert [o.status for o in ex.open_orders()] == ["new"] and ex.positions() == [] and ex.balance() == 10_000
    del journal.save_position  # the disk is back: the next price fills the order
    (fill,) = ex.on_price("BTCUSDT", 50_200.0, 3)
    assert [f.price for f in other.fills("paper")] == [fill.price] and other.positions("paper")[0].qty == 0.01
    assert other.get_state("paper.balance") == pytest.approx(10_000 - fill.fee)
    other.close()


def test_journal_transactions_nest_and_commit_once(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    with journal.transaction():
        journal.set_state("a", 1)
        with journal.transaction():
            journal.set_state("b", 2)
        reader = Journal(tmp_path / "j.sqlite3")
        assert reader.get_state("a") is None  # not visible before the outer commit
    assert (reader.get_state("a"), reader.get_state("b")) == (1, 2)
    with pytest.raises(RuntimeError), journal.transaction():
        journal.set_state("a", 3)
        raise RuntimeError("bot crashed")
    assert reader.get_state("a") == 1
    reader.close()
    journal.close()


def test_an_error_after_the_fill_is_committed_never_fills_twice(tmp_path, monkeypatch):
    """Once the journal has the fill, memory keeps it even if something after the commit raises (here the
    log line): the order is not reopened and filled again on the next price."""
    import twinstar_gui.execution.paper as paper_module

    ex = paper(tmp_path)
    ex.on_price("BTCUSDT", 50_000.0, 1)
    ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "c1", bot="t"))

    class LoudLog:
        def info(self, msg, *args):
            if "filled" in msg:
                raise KeyboardInterrupt  # e.g. Ctrl+C landing just after the commit

    monkeypatch.setattr(paper_module, "log", LoudLog())
    with pytest.raises(KeyboardInterrupt):
        ex.on_price("BTCUSDT", 50_100.0, 2)
    monkeypatch.undo()
    assert ex.on_price("BTCUSDT", 50_200.0, 3) == []
    assert len(ex.journal.fills("paper")) == 1 and ex.open_orders() == []
    assert ex.positions()[0].qty == 0.01 and ex.journal.positions("paper")[0].qty == 0.01


def test_a_fill_the_journal_refuses_does_not_stop_the_stop_loss(tmp_path):
    """An order that cannot be journaled waits, but the symbol's position is still marked and its stop loss
    still closes it; the error is raised after that."""
    ex = paper(tmp_path)
    ex.on_price("BTCUSDT", 50_000.0, 1)
    ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "entry", bot="t", take_profit=51_000.0, stop_loss=49_000.0))
    ex.on_price("BTCUSDT", 50_000.0, 2)
    ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "more", bot="t"))

    def disk_full(*_args):
        raise OSError(28, "No space left on device")

    ex.journal.add_fill = disk_full
    with pytest.raises(OSError):
        ex.on_price("BTCUSDT", 48_000.0, 3)
    assert ex.positions()[0].mark_price == 48_000.0
    assert any(o.client_id.startswith("tpsl-BTCUSDT") and o.reduce_only for o in ex.open_orders())


def test_the_real_error_surfaces_when_sqlite_rolled_back_by_itself(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    with pytest.raises(RuntimeError, match="disk full"), journal.transaction():
        journal.set_state("a", 1)
        journal._db.execute("ROLLBACK")  # what SQLite does on its own after a full disk or an I/O error
        raise RuntimeError("disk full")
    journal.set_state("b", 2)  # the connection is usable, not stuck in a transaction
    assert journal.get_state("a") is None and journal.get_state("b") == 2
    journal.close()


class WatchedLock:
    """A lock that says when a thread had to wait for it."""

    def __init__(self, lock) -> None:
        self.lock, self.contended = lock, threading.Event()

    def acquire(self, blocking=True, timeout=-1):
        if self.lock.acquire(False):
            return True
        self.contended.set()
        return self.lock.acquire(blocking, timeout)

    def release(self):
        self.lock.release()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


class HeldInPlace(PaperExecutor):
    """`place` of the client id in `hold` waits until released: a bot thread preempted there, or a live
    executor's HTTP round trip."""

    def __init__(self, *args, hold: str, **kw) -> None:
        super().__init__(*args, **kw)
        self.hold, self.inside, self.release = hold, threading.Event(), threading.Event()

    def place(self, req):
        if req.client_id == self.hold:
            self.inside.set()
            assert self.release.wait(10)
        return super().place(req)


def test_two_entries_at_once_do_not_both_pass_the_position_limit(tmp_path):
    ex = HeldInPlace(Journal(tmp_path / "journal.sqlite3"), rules=RULES.__getitem__, clock=clock, hold="bot-a")
    risk = RiskGuard(ex, ex.journal, RiskLimits(max_position_usdt=5_000, max_open_positions=1))
    risk.on_price("BTCUSDT", 50_000.0, 1)
    risk.on_price("ETHUSDT", 2_000.0, 1)
    outcome = {}

    def enter(key, req):
        try:
            outcome[key] = risk.place(req)
        except OrderRefused as exc:
            outcome[key] = exc

    watched = risk._lock = WatchedLock(risk._lock)
    a = threading.Thread(target=enter, args=("a", OrderRequest("BTCUSDT", "buy", 0.01, "bot-a", bot="a")))
    a.start()
    assert ex.inside.wait(10)  # bot A has passed the limit check; its order is not in the executor yet
    b = threading.Thread(target=enter, args=("b", OrderRequest("ETHUSDT", "buy", 0.1, "bot-b", bot="b")))
    b.start()
    # bot B waits for A's placement instead of checking against a stale picture: it blocks on the guard's lock
    # (without the lock it would finish instead, and never contend)
    deadline = time.monotonic() + 10
    while not watched.contended.is_set() and b.is_alive() and time.monotonic() < deadline:
        watched.contended.wait(0.01)
    assert watched.contended.is_set() and b.is_alive() and "b" not in outcome
    ex.release.set()
    a.join(10)
    b.join(10)
    assert outcome["a"].symbol == "BTCUSDT" and isinstance(outcome["b"], OrderRefused)
    assert "max open positions reached" in str(outcome["b"])


def test_the_kill_switch_cancels_entries_not_filled_yet(tmp_path):
    ex = paper(tmp_path)
    risk = RiskGuard(ex, ex.journal, RiskLimits(max_position_usdt=5_000))
    risk.on_price("BTCUSDT", 50_000.0, 1)
    risk.on_price("ETHUSDT", 2_000.0, 1)
    risk.place(OrderRequest("ETHUSDT", "buy", 0.1, "held", bot="a"))
    risk.on_price("ETHUSDT", 2_000.0, 2)  # filled: a position
    risk.place(OrderRequest("BTCUSDT", "buy", 0.01, "pending", bot="b"))  # waits for BTC's next price
    risk.trip("kill switch pressed by the user")
    assert ex.journal.order_by_client_id("paper", "pending").status == "cancelled"
    risk.on_price("BTCUSDT", 50_000.0, 3)
    risk.on_price("ETHUSDT", 2_000.0, 3)
    assert ex.positions() == [] and ex.open_orders() == []  # nothing opened after the trip, the rest closed


def test_closes_that_meet_on_one_price_never_open_the_other_side(tmp_path):
    """A stop loss gapped through and the daily loss limit crossed on the same price: the TP/SL close and the
    kill switch's close are both placed; the first to fill closes the position, the second is cancelled."""
    ex = paper(tmp_path)
    risk = RiskGuard(ex, ex.journal, RiskLimits(max_position_usdt=5_000, daily_loss_limit_usdt=20))
    risk.on_price("BTCUSDT", 50_000.0, 1)
    risk.place(OrderRequest("BTCUSDT", "buy", 0.05, "e1", bot="unified", take_profit=52_000, stop_loss=49_700))
    risk.on_price("BTCUSDT", 50_000.0, 2)
    risk.on_price("BTCUSDT", 49_550.0, 3)  # through the stop; about -27 USDT, over the 20 limit
    closes = [o for o in ex.open_orders() if o.reduce_only]
    assert risk.kill_switch is not None and len(closes) == 2
    risk.on_price("BTCUSDT", 49_540.0, 4)
    assert ex.positions() == [] and ex.open_orders() == []
    ended = sorted((ex.journal.order_by_client_id("paper", o.client_id) for o in closes), key=lambda o: o.status)
    assert [(o.status, o.reason) for o in ended] == [("cancelled", "nothing left to reduce"), ("filled", "")]


def test_a_refused_order_retried_is_refused_again_not_returned(tmp_path):
    ex = paper(tmp_path, balance=50.0)
    ex.on_price("BTCUSDT", 50_000.0, 1)
    with pytest.raises(OrderRefused, match="insufficient balance"):
        ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "same-intent"))
    with pytest.raises(OrderRefused, match="refused before, not retried: insufficient balance"):
        ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "same-intent"))


def test_a_slow_first_rules_lookup_does_not_hold_up_prices(tmp_path):
    """A symbol's first order asks the exchange for its tick and lot (REST, seconds on a bad day); prices of
    other symbols are handled on the GUI's thread meanwhile and must not wait for it."""
    asked, answer = threading.Event(), threading.Event()

    def slow_rules(symbol):
        if symbol == "ETHUSDT":
            asked.set()
            assert answer.wait(10)
        return RULES[symbol]

    ex = PaperExecutor(Journal(tmp_path / "journal.sqlite3"), rules=slow_rules, clock=clock)
    ex.on_price("BTCUSDT", 50_000.0, 1)
    placing = threading.Thread(target=ex.place, args=(OrderRequest("ETHUSDT", "buy", 0.1, "eth", price=2_000.0),))
    placing.start()
    assert asked.wait(10)
    price = threading.Thread(target=ex.on_price, args=("BTCUSDT", 50_010.0, 2))
    price.start()
    price.join(5)
    still_waiting = price.is_alive()
    answer.set()
    placing.join(10)
    price.join(10)
    assert not still_waiting and ex.last_price["BTCUSDT"] == 50_010.0
    assert [o.client_id for o in ex.open_orders()] == ["eth"]


class CancelFails(PaperExecutor):
    def cancel(self, order_id):
        raise RuntimeError("the journal's disk went away")


def test_a_cancel_that_fails_does_not_stop_the_kill_switch_closing_and_stopping_the_bots(tmp_path):
    ex = CancelFails(Journal(tmp_path / "journal.sqlite3"), rules=RULES.__getitem__, clock=clock)
    risk = RiskGuard(ex, ex.journal, RiskLimits(max_position_usdt=5_000))
    stopped = []
    risk.on_kill.append(stopped.append)
    risk.on_price("BTCUSDT", 50_000.0, 1)
    risk.on_price("ETHUSDT", 2_000.0, 1)
    risk.place(OrderRequest("ETHUSDT", "buy", 0.1, "held", bot="a"))
    risk.on_price("ETHUSDT", 2_000.0, 2)
    risk.place(OrderRequest("BTCUSDT", "buy", 0.01, "pending", bot="b"))
    risk.trip("kill switch pressed by the user")
    assert stopped == ["kill switch pressed by the user"]
    assert [(o.symbol, o.reduce_only) for o in ex.open_orders() if o.reduce_only] == [("ETHUSDT", True)]
    risk.on_price("ETHUSDT", 2_000.0, 3)
    assert ex.positions() == []  # closed although the cancel before it failed


def test_a_reset_accepts_the_days_loss_so_far_and_the_limit_counts_from_there(tmp_path):
    ex = paper(tmp_path)
    risk = RiskGuard(ex, ex.journal, RiskLimits(max_position_usdt=5_000, daily_loss_limit_usdt=50))
    t = NOW[0] + 3_600_000  # an hour into the UTC day
    risk.on_price("BTCUSDT", 50_000.0, t)
    risk.place(OrderRequest("BTCUSDT", "buy", 0.02, "first", price=50_000.0))
    risk.on_price("BTCUSDT", 50_000.0, t + 1)
    risk.on_price("BTCUSDT", 47_000.0, t + 2)  # -60: tripped, closed on the next price
    risk.on_price("BTCUSDT", 47_000.0, t + 3)
    assert risk.kill_switch is not None and ex.positions() == []
    lost = risk.daily_pnl()
    assert lost < -50
    risk.reset()
    assert risk.kill_switch is None and risk.daily_pnl() == pytest.approx(0.0)
    risk.on_price("BTCUSDT", 47_000.0, t + 4)  # the same day's old loss does not trip it again
    assert risk.kill_switch is None
    risk.place(OrderRequest("BTCUSDT", "buy", 0.02, "after-reset", price=47_000.0))
    risk.on_price("BTCUSDT", 47_000.0, t + 5)
    risk.on_price("BTCUSDT", 44_000.0, t + 6)  # about -60 since the reset: tripped again
    assert risk.kill_switch is not None and "daily loss -6" in risk.kill_switch["reason"]


def test_prices_that_cannot_move_the_days_result_do_not_read_the_journal_each_time(tmp_path):
    """Every streamed series sends its prices through the risk guard: a symbol with no position and no fill
    cannot move the day's result, so the journal is read for it at most every IDLE_CHECK_S (it was read 2-3
    times per price, a quarter of the GUI thread with 350 series); a held symbol is checked on every price."""

    class Counting(Journal):
        reads = 0

        def get_state(self, key, *args):
            Counting.reads += 1
            return super().get_state(key, *args)

    journal = Counting(tmp_path / "j.sqlite3")
    ex = PaperExecutor(journal, rules=RULES.__getitem__, clock=clock, slippage_bps=10, fee_rate=0.001)
    risk = RiskGuard(ex, journal, RiskLimits(max_position_usdt=5_000, daily_loss_limit_usdt=50))
    t = NOW[0] + 3_600_000
    for i in range(1000):
        risk.on_price("ETHUSDT", 3_000.0 + i % 7, t + i)
    assert Counting.reads <= 3, Counting.reads  # once, maybe twice if the run crossed IDLE_CHECK_S
    risk.on_price("BTCUSDT", 50_000.0, t)
    risk.place(OrderRequest("BTCUSDT", "buy", 0.02, "held", price=50_000.0))
    risk.on_price("BTCUSDT", 50_000.0, t + 1)  # filled: a position to watch
    risk.on_price("BTCUSDT", 47_000.0, t + 2)  # -60 on the held symbol: tripped at once, no waiting
    assert risk.kill_switch is not None and "daily loss" in risk.kill_switch["reason"]
    journal.close()


def test_a_position_reduced_or_turned_over_stays_on_the_lot_grid_and_its_stop_can_close_it(tmp_path):
    """0.009 bought, 0.008 sold: 0.001 held, not 0.0009999999999999992 (a float sum), which the stop's closing order
    rounded down to nothing: the stop loss could not close it (refused on every price). Turned over: the same."""
    ex = paper(tmp_path)
    ex.on_price("BTCUSDT", 50_000.0, 1)
    ex.place(OrderRequest("BTCUSDT", "buy", 0.009, "b1", take_profit=60_000.0, stop_loss=45_000.0))
    ex.on_price("BTCUSDT", 50_000.0, 2)
    ex.place(OrderRequest("BTCUSDT", "sell", 0.008, "s1"))
    ex.on_price("BTCUSDT", 50_000.0, 3)
    assert ex.position("BTCUSDT").qty == 0.001  # exactly one lot
    ex.on_price("BTCUSDT", 44_000.0, 4)  # the stop: its close is placed ...
    ex.on_price("BTCUSDT", 44_000.0, 5)  # ... and fills
    assert ex.positions() == [] and ex.open_orders() == []
    ex.place(OrderRequest("BTCUSDT", "buy", 0.017, "b2"))
    ex.on_price("BTCUSDT", 50_000.0, 6)
    ex.place(OrderRequest("BTCUSDT", "sell", 0.018, "s2", take_profit=40_000.0, stop_loss=55_000.0))
    ex.on_price("BTCUSDT", 50_000.0, 7)
    assert ex.position("BTCUSDT").qty == -0.001  # turned over: a short of exactly one lot
    ex.on_price("BTCUSDT", 56_000.0, 8)
    ex.on_price("BTCUSDT", 56_000.0, 9)
    assert ex.positions() == [] and ex.open_orders() == []


def test_a_position_off_the_lot_grid_is_not_rounded_into_another_size(tmp_path):
    """A position restored from a journal written under other rules (a finer lot) is off this grid: a fill adds to it
    exactly (only a float residue is put back on the grid, never a real difference)."""
    from twinstar_gui.execution.base import InstrumentRules, Position

    journal = Journal(tmp_path / "journal.sqlite3")
    journal.save_position("paper", Position("BTCUSDT", 0.0155, 100.0, 1, "b"))
    ex = PaperExecutor(journal, rules=lambda s: InstrumentRules(s, 0.01, 0.01, 0.01), clock=clock, slippage_bps=0)
    ex.on_price("BTCUSDT", 100.0, 2)
    ex.place(OrderRequest("BTCUSDT", "buy", 0.01, "add"))
    ex.on_price("BTCUSDT", 100.0, 3)
    assert ex.position("BTCUSDT").qty == pytest.approx(0.0255, abs=1e-12)
    ex.place(OrderRequest("BTCUSDT", "sell", 0.03, "flip"))
    ex.on_price("BTCUSDT", 100.0, 4)
    assert ex.position("BTCUSDT").qty == pytest.approx(-0.0045, abs=1e-12)


def test_order_and_position_copies_carry_every_field():
    """Their copy() lists the fields by hand (a generic copy cost a backtest several times more): a field added
    later must be copied too."""
    import dataclasses

    from twinstar_gui.execution.base import Order, Position

    for cls in (Order, Position):
        values = {}
        for i, f in enumerate(dataclasses.fields(cls)):  # a distinct, non-default value per field
            values[f.name] = {"str": f"v{i}", "float": 1.5 + i, "int": 100 + i, "bool": True}.get(
                str(f.type).split(" | ")[0], 7.25 + i)
        obj = cls(**values)
        assert dataclasses.asdict(obj.copy()) == dataclasses.asdict(obj) and obj.copy() is not obj
