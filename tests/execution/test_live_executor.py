"""LiveExecutor end to end through ccxt against the simulator's signed Bybit API on loopback.

Nothing is mocked: ccxt signs real HTTP requests (its own market loading included), the simulator checks
the HMAC, keeps the account and answers with Bybit's formats and error codes.
"""
import logging
import threading
import time

import pytest

pytest.importorskip("ccxt")

from twinstar_gui.execution.base import CANCELLED, FILLED, NEW, REJECTED, OrderRefused, OrderRequest
from twinstar_gui.execution.live import LiveExecutor, LiveExecutorError
from twinstar_gui.execution.trade_journal import Journal
from twinstar_gui.secrets import ApiKeys
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimThread

KEY, SECRET = "simKey7f3a9c21", "simSecret0b8d44e6a1f2c9"
SYM = "BTCUSDT"


@pytest.fixture
def sim():
    thread = SimThread(Market(SimClock(speed=1.0), seed=11), push_interval=0.2).start()
    thread.server.add_account(KEY, SECRET, balance=10_000.0)
    yield thread
    thread.stop()


@pytest.fixture
def account(sim):
    return sim.server.accounts[KEY]


def connect(sim, tmp_path, secret=SECRET, name="journal.sqlite"):
    ex = LiveExecutor.connect("bybit", ApiKeys("bybit", KEY, secret), rest_url=sim.trade_url("bybit"),
                              journal=Journal(tmp_path / name))
    ex.last_price[SYM] = sim.market.last_price(SYM)
    return ex


def creates(account, link_id):
    return [o for o in account.orders.values() if o.link_id == link_id]


def test_ccxt_loads_markets_with_signed_calls_and_rules_come_from_instruments_info(sim, account, tmp_path):
    ex = connect(sim, tmp_path)
    spec = sim.market.spec(SYM)
    rules = ex.rules(SYM)
    assert (rules.tick_size, rules.lot_size, rules.min_qty, rules.min_notional) == (spec.tick, spec.lot, spec.lot, 5)
    # ccxt's market loading with keys asks for coin info and the account type, signed
    assert ("GET", "/v5/asset/coin/query-info") in account.requests
    ex.refresh()
    assert ("GET", "/v5/account/info") in account.requests
    assert ex.balance() == pytest.approx(10_000.0)
    assert KEY not in repr(ex) and SECRET not in repr(ex)


def test_market_order_opens_a_position_with_tp_sl_and_is_journaled(sim, account, tmp_path):
    ex = connect(sim, tmp_path)
    price = ex.last_price[SYM]
    order = ex.place(OrderRequest(SYM, "buy", 0.0123, "t-mkt-1", take_profit=price * 1.05, stop_loss=price * 0.95,
                                  bot="test"))
    assert order.status == FILLED and order.filled_qty == pytest.approx(0.012)  # down to the 0.001 lot
    assert order.avg_price == pytest.approx(sim.market.last_price(SYM), rel=0.01)
    [pos] = ex.positions()
    assert pos.symbol == SYM and pos.qty == pytest.approx(0.012)
    assert pos.take_profit == pytest.approx(price * 1.05, abs=0.1)
    assert pos.stop_loss == pytest.approx(price * 0.95, abs=0.1)
    sim_pos = account.positions[SYM]
    assert sim_pos.qty == pytest.approx(0.012) and sim_pos.take_profit == pytest.approx(price * 1.05, abs=0.1)
    assert ex.balance() < 10_000.0  # the taker fee was charged
    journaled = ex.journal.order_by_client_id(ex.name, "t-mkt-1")
    assert journaled.status == FILLED and journaled.id == order.id


def test_limit_order_rests_then_cancels(sim, account, tmp_path):
    ex = connect(sim, tmp_path)
    price = ex.last_price[SYM]
    order = ex.place(OrderRequest(SYM, "buy", 0.01, "t-lim-1", type="limit", price=price * 0.8))
    assert order.status == NEW
    assert [o.client_id for o in ex.open_orders()] == ["t-lim-1"]
    assert order.price == pytest.approx(round(price * 0.8, 1))  # on the 0.1 tick
    cancelled = ex.cancel(order.id)
    assert cancelled.status == CANCELLED
    assert ex.open_orders() == []
    assert creates(account, "t-lim-1")[0].status == "Cancelled"
    with pytest.raises(OrderRefused, match="no open order"):
        ex.cancel(order.id)


def test_the_same_client_id_is_never_sent_twice(sim, account, tmp_path):
    ex = connect(sim, tmp_path)
    req = OrderRequest(SYM, "buy", 0.01, "t-dup-1")
    first = ex.place(req)
    again = ex.place(req)  # a retry (or a restarted bot) with the same id: answered from the journal
    assert again.id == first.id
    assert len(creates(account, "t-dup-1")) == 1
    # an app with a lost journal sends it: the exchange refuses the duplicate and we show its words
    other = connect(sim, tmp_path, name="other.sqlite")
    with pytest.raises(OrderRefused, match="OrderLinkedID is duplicate") as err:
        other.place(req)
    assert err.value.code == "InvalidOrder"
    assert len(creates(account, "t-dup-1")) == 1


def test_a_lost_answer_is_looked_up_by_client_id_never_resent(sim, account, tmp_path):
    ex = connect(sim, tmp_path)
    sim.server.lose_answers(1)  # the exchange takes the order, the connection drops before the answer
    order = ex.place(OrderRequest(SYM, "sell", 0.02, "t-lost-1"))
    assert order.status == FILLED and not order.id.startswith("pending-")
    assert len(creates(account, "t-lost-1")) == 1
    assert account.positions[SYM].qty == pytest.approx(-0.02)


def test_insufficient_balance_is_refused_with_the_exchanges_text(sim, account, tmp_path):
    ex = connect(sim, tmp_path)
    with pytest.raises(OrderRefused, match="ab not enough for new order") as err:
        ex.place(OrderRequest(SYM, "buy", 15.0, "t-big-1"))  # ~ 900k USDT notional on 10k at 10x
    assert err.value.code == "InsufficientFunds"
    assert ex.journal.order_by_client_id(ex.name, "t-big-1").status == REJECTED
    assert SYM not in account.positions or account.positions[SYM].qty == 0
    sent = len(account.requests)
    with pytest.raises(OrderRefused, match="refused before, not retried: .*ab not enough for new order"):
        ex.place(OrderRequest(SYM, "buy", 15.0, "t-big-1"))  # the same intent again: not sent, still refused
    assert ("POST", "/v5/order/create") not in account.requests[sent:]


def test_orders_below_the_minimum_never_leave_the_app(sim, account, tmp_path):
    ex = connect(sim, tmp_path)
    sent = len(account.requests)
    with pytest.raises(OrderRefused, match="below the minimum"):
        ex.place(OrderRequest(SYM, "buy", 0.0004, "t-tiny-1"))
    assert ("POST", "/v5/order/create") not in account.requests[sent:]


def test_a_wrong_secret_is_an_authentication_error_without_secrets_in_it(sim, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(LiveExecutorError, match="refused the API key") as err:
        connect(sim, tmp_path, secret="not-the-secret-123")
    text = str(err.value)
    assert "error sign" in text  # Bybit's words (retCode 10004)
    assert KEY not in text and "not-the-secret-123" not in text and SECRET not in text
    assert KEY not in caplog.text and "not-the-secret-123" not in caplog.text


def test_an_unknown_key_is_refused(sim, tmp_path):
    with pytest.raises(LiveExecutorError, match="API key is invalid"):
        LiveExecutor.connect("bybit", ApiKeys("bybit", "someone-else", SECRET), rest_url=sim.trade_url("bybit"))


def test_take_profit_closes_at_the_exchange_and_restart_reconciles(sim, account, tmp_path):
    market = sim.market
    now, p0 = market.now_ms(), market.last_price(SYM)
    market.script(SYM, [market.genesis, now + 3_600_000], [p0, p0])  # flat while we connect and enter
    ex = connect(sim, tmp_path)
    ex.last_price[SYM] = p0
    ex.place(OrderRequest(SYM, "buy", 0.01, "t-tp-1", take_profit=p0 * 1.02, stop_loss=p0 * 0.9))
    assert ex.positions()
    limit = ex.place(OrderRequest(SYM, "sell", 0.01, "t-rest-1", type="limit", price=p0 * 1.5))
    t = market.now_ms()  # then up 5 %, however long connecting took on a busy machine
    market.script(SYM, [market.genesis, t + 500, t + 2000, t + 600_000], [p0, p0, p0 * 1.05, p0 * 1.05])
    deadline = time.monotonic() + 30  # a busy CI machine: ccxt refreshes get slow; it ends as soon as closed
    while time.monotonic() < deadline and ex.positions():
        time.sleep(0.25)
        ex.refresh()
    assert ex.positions() == []  # the exchange closed it at the take profit
    closes = [o for o in account.orders.values() if o.stop_type == "TakeProfit"]
    assert len(closes) == 1 and closes[0].avg_price == pytest.approx(p0 * 1.02, abs=0.1)
    assert ex.balance() > 10_000.0
    # restart: a new executor on the same journal takes the exchange's view before trading
    ex.cancel(limit.id)
    stale = ex.journal.order_by_client_id(ex.name, "t-tp-1")
    stale.status = NEW
    ex.journal.save_order(ex.name, stale)
    again = LiveExecutor.connect("bybit", ApiKeys("bybit", KEY, SECRET), rest_url=sim.trade_url("bybit"),
                                 journal=ex.journal)
    again.reconcile()
    assert ex.journal.orders(again.name, open_only=True) == []
    assert all(p.qty == 0 for p in ex.journal.positions(again.name))


def test_orders_and_positions_keep_their_bot_and_a_closed_loss_counts_toward_the_daily_limit(sim, account,
                                                                                             tmp_path):
    from twinstar_gui.core.risk_limits import RiskLimits
    from twinstar_gui.execution.base import symbols_in_play
    from twinstar_gui.execution.risk import RiskGuard

    market = sim.market
    now, p0 = market.now_ms(), market.last_price(SYM)
    market.script(SYM, [market.genesis, now + 3_600_000], [p0, p0])  # flat while we connect and enter
    ex = connect(sim, tmp_path)
    ex.last_price[SYM] = p0
    risk = RiskGuard(ex, ex.journal, RiskLimits(max_position_usdt=5_000, daily_loss_limit_usdt=3.0))
    ex.refresh()
    assert risk.daily_pnl() == pytest.approx(0.0, abs=1e-6)  # the day's first reading: the baseline
    risk.place(OrderRequest(SYM, "buy", 0.01, "t-loss-1", stop_loss=p0 * 0.99, bot="multi"))
    rest = risk.place(OrderRequest(SYM, "buy", 0.001, "t-rest-2", type="limit", price=p0 * 0.5, bot="unified"))
    # the exchange knows nothing of our bots: they come back by client id (orders) and entry (positions)
    assert [p.bot for p in ex.positions()] == ["multi"]
    assert {(o.client_id, o.bot) for o in ex.open_orders()} == {("t-rest-2", "unified")}
    assert symbols_in_play(ex, bot="multi") == {SYM} and symbols_in_play(ex, bot="unified") == {SYM}
    again = LiveExecutor.connect("bybit", ApiKeys("bybit", KEY, SECRET), rest_url=sim.trade_url("bybit"),
                                 journal=ex.journal)
    again.refresh()  # after a restart, from the journal
    assert [p.bot for p in again.positions()] == ["multi"] and [o.bot for o in again.open_orders()] == ["unified"]
    risk.cancel(rest.id)
    t = market.now_ms()  # then down 3 %: the stop loss closes it at the exchange, about 0.01 x 1 % of p0 lost
    market.script(SYM, [market.genesis, t + 500, t + 2000, t + 600_000], [p0, p0, p0 * 0.97, p0 * 0.97])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and ex.positions():
        time.sleep(0.25)
        ex.refresh()
    assert ex.positions() == [] and risk.kill_switch is None
    assert risk.daily_pnl() == pytest.approx(ex.balance() - 10_000.0, abs=1e-6) and ex.balance() < 10_000 - 3.0
    risk.on_price(SYM, p0 * 0.97, market.now_ms())  # the guard's check on the next price
    assert risk.kill_switch is not None and "daily loss" in risk.kill_switch["reason"]


def test_the_kill_switch_closes_live_positions_off_the_callers_thread(sim, account, tmp_path):
    """The kill switch is pressed on the GUI's thread (or tripped there by a price): live closes are HTTP round
    trips, so they are sent from a thread of their own and the caller returns at once."""
    from twinstar_gui.core.risk_limits import RiskLimits
    from twinstar_gui.execution.risk import RiskGuard

    ex = connect(sim, tmp_path)
    risk = RiskGuard(ex, ex.journal, RiskLimits(max_position_usdt=5_000))
    risk.place(OrderRequest(SYM, "buy", 0.01, "t-kill-1", bot="unified"))
    assert [p.symbol for p in ex.positions()] == [SYM]
    senders = []
    create = ex.client.create_order

    def spy(*args, **kw):  # the real call, with the name of the thread that makes it
        senders.append(threading.current_thread().name)
        return create(*args, **kw)

    ex.client.create_order = spy
    risk.trip("kill switch pressed by the user")
    assert risk.kill_switch is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (ex.positions() or not senders):
        time.sleep(0.1)
        ex.refresh()
    assert ex.positions() == [] and account.positions[SYM].qty == 0
    assert senders == [f"kill-{ex.name}"]


# -- manual trading: stops, amend, cancel-all, a position's TP/SL (issue 18) --------------------------------------
def test_a_resting_limit_is_amended_in_place_at_the_exchange(sim, account, tmp_path):
    ex = connect(sim, tmp_path)
    price = ex.last_price[SYM]
    order = ex.place(OrderRequest(SYM, "buy", 0.01, "t-am-1", type="limit", price=price * 0.8, post_only=True))
    assert creates(account, "t-am-1")[0].time_in_force == "PostOnly"
    sent = len(account.requests)
    amended = ex.amend(order.id, price=price * 0.85, qty=0.02)
    assert (amended.id, amended.client_id) == (order.id, "t-am-1")
    assert ("POST", "/v5/order/amend") in account.requests[sent:]
    assert ("POST", "/v5/order/create") not in account.requests[sent:]  # amended, not replaced
    at_exchange = creates(account, "t-am-1")[0]
    assert (at_exchange.order_id, at_exchange.qty) == (order.id, 0.02)
    assert at_exchange.price == pytest.approx(round(price * 0.85, 1))
    [seen] = ex.open_orders()
    assert (seen.id, seen.qty, seen.price, seen.post_only) == (order.id, 0.02, at_exchange.price, True)
    assert ex.journal.order_by_client_id(ex.name, "t-am-1").price == at_exchange.price
    with pytest.raises(OrderRefused, match="would take liquidity"):  # checked here, never sent
        ex.amend(order.id, price=price * 1.1)
    assert creates(account, "t-am-1")[0].price == at_exchange.price


def test_the_exchanges_refusal_of_an_amend_is_shown_and_the_order_stays(sim, account, tmp_path):
    ex = connect(sim, tmp_path)
    price = ex.last_price[SYM]
    order = ex.place(OrderRequest(SYM, "buy", 0.01, "t-am-2", type="limit", price=price * 0.8))
    with pytest.raises(OrderRefused, match="ab not enough for new order") as err:
        ex.amend(order.id, qty=12.0)  # ~ 500k USDT on 10k at 10x
    assert err.value.code == "InsufficientFunds"
    [seen] = ex.open_orders()
    assert seen.qty == 0.01 and creates(account, "t-am-2")[0].qty == 0.01


def test_a_stop_order_waits_untriggered_is_moved_and_cancel_all_takes_every_kind(sim, account, tmp_path):
    ex = connect(sim, tmp_path)
    price = ex.last_price[SYM]
    stop = ex.place(OrderRequest(SYM, "buy", 0.01, "t-stop-1", type="stop", price=price * 1.2))
    limit = ex.place(OrderRequest(SYM, "sell", 0.01, "t-lim-2", type="limit", price=price * 1.3))
    held = creates(account, "t-stop-1")[0]
    assert (held.status, held.trigger_direction) == ("Untriggered", 1)
    assert held.trigger == pytest.approx(price * 1.2, abs=0.1)
    kinds = {o.client_id: (o.type, o.price) for o in ex.open_orders()}
    assert kinds["t-stop-1"] == ("stop", held.trigger) and kinds["t-lim-2"][0] == "limit"
    moved = ex.amend(stop.id, price=price * 1.25)
    assert creates(account, "t-stop-1")[0].trigger == pytest.approx(price * 1.25, abs=0.1) and moved.type == "stop"
    with pytest.raises(OrderRefused, match="stop must be above the last price"):
        ex.place(OrderRequest(SYM, "buy", 0.01, "t-stop-2", type="stop", price=price * 0.9))
    assert not creates(account, "t-stop-2")
    done = ex.cancel_all(SYM)
    assert sorted(o.client_id for o in done) == ["t-lim-2", "t-stop-1"]
    assert ("POST", "/v5/order/cancel-all") in account.requests
    assert {o.status for o in account.orders.values()} == {"Cancelled", "Deactivated"}
    assert ex.open_orders() == [] and limit.id in {o.id for o in done}


def test_a_positions_take_profit_and_stop_loss_are_set_at_the_exchange(sim, account, tmp_path):
    ex = connect(sim, tmp_path)
    price = ex.last_price[SYM]
    ex.place(OrderRequest(SYM, "buy", 0.01, "t-pos-1", bot="manual"))
    pos = ex.set_tpsl(SYM, price * 1.1, price * 0.9)
    sim_pos = account.positions[SYM]
    assert sim_pos.take_profit == pytest.approx(price * 1.1, abs=0.1) == pos.take_profit
    assert sim_pos.stop_loss == pytest.approx(price * 0.9, abs=0.1) == pos.stop_loss
    ex.set_tpsl(SYM, None, price * 0.95)  # take profit removed, stop moved up
    assert (account.positions[SYM].take_profit, account.positions[SYM].stop_loss) == (
        0.0, pytest.approx(price * 0.95, abs=0.1))
    [seen] = ex.positions()
    assert seen.take_profit is None and seen.stop_loss == pytest.approx(price * 0.95, abs=0.1)
    with pytest.raises(OrderRefused, match="stop loss .* must be below"):
        ex.set_tpsl(SYM, None, price * 1.05)


def test_a_stale_timestamp_is_the_exchanges_refusal_not_a_resend(sim, account, tmp_path):
    ex = connect(sim, tmp_path)
    ex.client.options["timeDifference"] = 120_000  # ccxt signs with a clock two minutes behind
    with pytest.raises(OrderRefused, match="timestamp") as err:
        ex.place(OrderRequest(SYM, "buy", 0.01, "t-late-1"))
    assert err.value.exchange == "bybit"
    assert not creates(account, "t-late-1")
    assert ex.journal.order_by_client_id(ex.name, "t-late-1").status == "rejected"
