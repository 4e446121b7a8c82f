"""LiveExecutor end to end through ccxt against the simulator's signed Binance USD-M and OKX APIs on loopback.

Nothing is mocked: ccxt (binanceusdm, okx) signs real HTTP requests, its own market loading included; the
simulator checks the HMAC (and OKX's passphrase), keeps the account and answers in each venue's format and codes.
Our executor counts BTC; OKX counts contracts of 0.01 BTC.
"""
import logging
import time

import pytest

pytest.importorskip("ccxt")

from twinstar_gui.execution.base import CANCELLED, FILLED, NEW, OrderRefused, OrderRequest
from twinstar_gui.execution.live import LiveExecutor, LiveExecutorError
from twinstar_gui.execution.trade_journal import Journal
from twinstar_gui.secrets import ApiKeys
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimThread

KEY, SECRET, PASSPHRASE = "simKey7f3a9c21", "simSecret0b8d44e6a1f2c9", "simPass9Q"
SYM = "BTCUSDT"  # the simulator's market symbol; the executor speaks each venue's native id
NATIVE = {"binance": "BTCUSDT", "okx": "BTC-USDT-SWAP"}
CREATE = {"binance": ("POST", "/fapi/v1/order"), "okx": ("POST", "/api/v5/trade/batch-orders")}
AMEND = {"binance": ("PUT", "/fapi/v1/order"), "okx": ("POST", "/api/v5/trade/amend-order")}
# what each venue says, by code
BAD_SIGN = {"binance": "-1022", "okx": "50113"}
STALE = {"binance": "-1021", "okx": "50102"}
NO_MARGIN = {"binance": "-2019", "okx": "51008"}
DUPLICATE = {"binance": "-4116", "okx": "51016"}

venues = pytest.mark.parametrize("venue", ["binance", "okx"])


@pytest.fixture
def sim():
    thread = SimThread(Market(SimClock(speed=1.0), seed=11), push_interval=0.2).start()
    for venue in ("binance", "okx"):
        thread.server.add_account(KEY, SECRET, balance=10_000.0, exchange=venue, passphrase=PASSPHRASE)
    yield thread
    thread.stop()


def account(sim, venue):
    return sim.server.venue_accounts[venue][KEY]


def connect(sim, venue, tmp_path, secret=SECRET, passphrase=PASSPHRASE, name="journal.sqlite"):
    ex = LiveExecutor.connect(venue, ApiKeys(venue, KEY, secret, passphrase), rest_url=sim.trade_url(venue),
                              journal=Journal(tmp_path / f"{venue}-{name}"))
    ex.last_price[NATIVE[venue]] = sim.market.last_price(SYM)
    return ex


def creates(acct, link_id):
    return [o for o in acct.orders.values() if o.link_id == link_id]


@venues
def test_markets_load_with_signed_calls_and_rules_are_in_btc(sim, venue, tmp_path):
    ex = connect(sim, venue, tmp_path)
    native = NATIVE[venue]
    spec = sim.market.spec(SYM)
    rules = ex.rules(native)
    assert (rules.tick_size, rules.lot_size, rules.min_qty) == (spec.tick, pytest.approx(spec.lot),
                                                                pytest.approx(spec.lot))
    signed = {"binance": ("GET", "/sapi/v1/capital/config/getall"), "okx": ("GET", "/api/v5/asset/currencies")}
    assert signed[venue] in account(sim, venue).requests  # ccxt's market loading with keys, served signed
    ex.refresh()
    assert ex.balance() == pytest.approx(10_000.0)
    assert KEY not in repr(ex) and SECRET not in repr(ex)


@venues
def test_a_market_order_opens_a_position_counted_in_btc(sim, venue, tmp_path):
    ex = connect(sim, venue, tmp_path)
    native = NATIVE[venue]
    order = ex.place(OrderRequest(native, "buy", 0.01, "tmkt1", bot="test"))
    assert order.status == FILLED and order.filled_qty == pytest.approx(0.01)
    assert order.avg_price == pytest.approx(sim.market.last_price(SYM), rel=0.01)
    [pos] = ex.positions()
    assert pos.symbol == native and pos.qty == pytest.approx(0.01)
    held = creates(account(sim, venue), "tmkt1")[0]
    assert held.qty == pytest.approx(0.01)  # OKX: sent as 1 contract of 0.01 BTC
    assert account(sim, venue).positions[SYM].qty == pytest.approx(0.01)
    assert ex.balance() < 10_000.0  # the taker fee
    ex.place(OrderRequest(native, "sell", 0.01, "tmkt2", reduce_only=True))
    assert ex.positions() == []


def test_okx_is_sent_contracts(sim, tmp_path):
    ex = connect(sim, "okx", tmp_path)
    native = NATIVE["okx"]
    ex.place(OrderRequest(native, "sell", 0.03, "tokx1"))
    [fill] = account(sim, "okx").fills({"instId": "BTC-USDT-SWAP"}, sim.market.now_ms())
    assert fill["fillSz"] == "3" and fill["side"] == "sell"
    [pos] = ex.positions()
    assert pos.qty == pytest.approx(-0.03)


@venues
def test_a_limit_rests_is_amended_in_place_and_cancelled(sim, venue, tmp_path):
    ex = connect(sim, venue, tmp_path)
    native = NATIVE[venue]
    acct = account(sim, venue)
    price = ex.last_price[native]
    order = ex.place(OrderRequest(native, "buy", 0.01, "tlim1", type="limit", price=price * 0.8, post_only=True))
    assert order.status == NEW
    [seen] = ex.open_orders()
    assert (seen.client_id, seen.type, seen.post_only) == ("tlim1", "limit", True)
    sent = len(acct.requests)
    amended = ex.amend(order.id, price=price * 0.85, qty=0.02)
    assert AMEND[venue] in acct.requests[sent:] and CREATE[venue] not in acct.requests[sent:]
    held = creates(acct, "tlim1")[0]
    assert amended.id == order.id == held.order_id
    assert held.qty == pytest.approx(0.02) and held.price == pytest.approx(round(price * 0.85, 1))
    [seen] = ex.open_orders()
    assert seen.qty == pytest.approx(0.02) and seen.price == pytest.approx(held.price)
    assert ex.cancel(order.id).status == CANCELLED
    assert ex.open_orders() == [] and held.status == "Cancelled"


@venues
def test_a_stop_waits_is_listed_as_a_stop_and_cancel_all_takes_every_kind(sim, venue, tmp_path):
    ex = connect(sim, venue, tmp_path)
    native = NATIVE[venue]
    acct = account(sim, venue)
    price = ex.last_price[native]
    ex.place(OrderRequest(native, "buy", 0.01, "tstop1", type="stop", price=price * 1.2))
    ex.place(OrderRequest(native, "sell", 0.01, "tlim2", type="limit", price=price * 1.3))
    held = creates(acct, "tstop1")[0]
    assert held.status == "Untriggered" and held.trigger == pytest.approx(price * 1.2, abs=0.1)
    kinds = {o.client_id: (o.type, o.price) for o in ex.open_orders()}
    assert kinds["tstop1"] == ("stop", pytest.approx(held.trigger)) and kinds["tlim2"][0] == "limit"
    stop = next(o for o in ex.open_orders() if o.type == "stop")
    moved = ex.amend(stop.id, price=price * 1.25)  # Binance: cancelled and placed again (no algo amend there)
    assert moved.type == "stop"
    live_stops = [o for o in acct.orders.values() if o.status == "Untriggered"]
    assert [o.trigger for o in live_stops] == [pytest.approx(price * 1.25, abs=0.1)]
    amended_in_place = venue == "okx"
    assert (live_stops[0].link_id == "tstop1") == amended_in_place
    done = ex.cancel_all(native)
    assert {o.type for o in done} == {"stop", "limit"} and len(done) == 2
    assert {o.status for o in acct.orders.values()} == {"Cancelled", "Deactivated"}
    assert ex.open_orders() == []


@venues
def test_a_wrong_secret_is_refused_with_the_exchanges_code_and_no_secret(sim, venue, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(LiveExecutorError, match="refused the API key") as err:
        connect(sim, venue, tmp_path, secret="not-the-secret-123")
    text = str(err.value)
    assert BAD_SIGN[venue] in text
    assert KEY not in text and "not-the-secret-123" not in text and SECRET not in text
    assert "not-the-secret-123" not in caplog.text


def test_a_wrong_okx_passphrase_is_refused(sim, tmp_path):
    with pytest.raises(LiveExecutorError, match="50105") as err:
        connect(sim, "okx", tmp_path, passphrase="wrongPass1")
    assert "wrongPass1" not in str(err.value) and PASSPHRASE not in str(err.value)


@venues
def test_a_stale_timestamp_is_the_exchanges_refusal_not_a_resend(sim, venue, tmp_path):
    ex = connect(sim, venue, tmp_path)
    native = NATIVE[venue]
    ex.client.options["timeDifference"] = 120_000  # ccxt signs with a clock two minutes behind
    with pytest.raises(OrderRefused, match=STALE[venue]):
        ex.place(OrderRequest(native, "buy", 0.01, "tlate1"))
    assert not creates(account(sim, venue), "tlate1")
    assert ex.journal.order_by_client_id(ex.name, "tlate1").status == "rejected"


@venues
def test_insufficient_margin_shows_the_exchanges_code(sim, venue, tmp_path):
    ex = connect(sim, venue, tmp_path)
    native = NATIVE[venue]
    with pytest.raises(OrderRefused, match=NO_MARGIN[venue]):
        ex.place(OrderRequest(native, "buy", 15.0, "tbig1"))  # ~ 1M USDT on 10k at 10x
    assert not account(sim, venue).positions.get(SYM) or account(sim, venue).positions[SYM].qty == 0


@venues
def test_a_price_off_the_tick_sent_directly_is_refused_by_the_exchange(sim, venue, tmp_path):
    import ccxt

    ex = connect(sim, venue, tmp_path)
    native = NATIVE[venue]
    price = round(ex.last_price[native] * 0.8, 1)
    if venue == "binance":  # BTCUSDT has one decimal (-1111 past it); BCH's tick is 0.05 (-4014)
        raw = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
               "price": f"{price + 0.05:.2f}"}
        with pytest.raises(ccxt.BaseError, match="-1111"):
            ex.client.fapiPrivatePostOrder(raw)
        bch = round(sim.market.last_price("BCHUSDT") * 0.8, 1)
        with pytest.raises(ccxt.BaseError, match="-4014"):
            ex.client.fapiPrivatePostOrder({**raw, "symbol": "BCHUSDT", "quantity": "0.1",
                                            "price": f"{bch + 0.02:.2f}"})
    else:
        raw = {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "limit", "sz": "1",
               "px": f"{price + 0.05:.2f}", "clOrdId": "ttick1"}
        with pytest.raises(ccxt.BaseError, match="51000"):
            ex.client.privatePostTradeOrder(raw)
        with pytest.raises(ccxt.BaseError, match="51121"):
            ex.client.privatePostTradeOrder({**raw, "px": f"{price:.1f}", "sz": "0.15", "clOrdId": "ttick2"})
    assert not account(sim, venue).orders


@venues
def test_a_lost_answer_is_looked_up_by_client_id_never_resent(sim, venue, tmp_path):
    ex = connect(sim, venue, tmp_path)
    native = NATIVE[venue]
    sim.server.lose_answers(1)  # the exchange takes the order, the connection drops before the answer
    order = ex.place(OrderRequest(native, "sell", 0.02, "tlost1"))
    assert order.status == FILLED and not order.id.startswith("pending-")
    assert len(creates(account(sim, venue), "tlost1")) == 1
    assert account(sim, venue).positions[SYM].qty == pytest.approx(-0.02)


@venues
def test_the_same_client_id_twice_is_refused_by_the_exchange(sim, venue, tmp_path):
    ex = connect(sim, venue, tmp_path)
    native = NATIVE[venue]
    req = OrderRequest(native, "buy", 0.01, "tdup1")
    first = ex.place(req)
    assert ex.place(req).id == first.id  # from the journal: not sent again
    other = connect(sim, venue, tmp_path, name="other.sqlite")  # an app with a lost journal sends it
    with pytest.raises(OrderRefused, match=DUPLICATE[venue]):
        other.place(req)
    assert len(creates(account(sim, venue), "tdup1")) == 1


def test_okx_takes_a_take_profit_and_stop_loss_with_the_entry(sim, tmp_path):
    ex = connect(sim, "okx", tmp_path)
    native = NATIVE["okx"]
    price = ex.last_price[native]
    ex.place(OrderRequest(native, "buy", 0.01, "ttp2", take_profit=price * 1.1, stop_loss=price * 0.9))
    pos = account(sim, "okx").positions[SYM]
    assert pos.take_profit == pytest.approx(price * 1.1, abs=0.1) and pos.stop_loss == pytest.approx(price * 0.9,
                                                                                                      abs=0.1)


# -- a position's take profit and stop loss ---------------------------------------------------------------------------
WRONG_SIDE = {"binance": "-2021", "okx": "51280"}  # a long's stop loss above the last price


def live_tpsl(acct, venue):
    """(take profit, stop loss) the exchange holds for the position: Binance's closePosition algo orders, OKX's
    position TP/SL (its conditional / oco algo order)."""
    if venue == "okx":
        pos = acct.positions[SYM]
        return pos.take_profit or None, pos.stop_loss or None
    held = [o for o in acct.orders.values() if o.close_position and o.status == "Untriggered"]
    tp = [o.trigger for o in held if o.stop_type == "TakeProfit"]
    sl = [o.trigger for o in held if o.stop_type == "Stop"]
    assert len(tp) <= 1 and len(sl) <= 1 and len({o.side for o in held}) <= 1
    return (tp or [None])[0], (sl or [None])[0]


@venues
def test_an_entry_with_take_profit_and_stop_loss_shows_them_from_the_exchange(sim, venue, tmp_path):
    ex = connect(sim, venue, tmp_path)
    native, acct = NATIVE[venue], account(sim, venue)
    price = ex.last_price[native]
    order = ex.place(OrderRequest(native, "buy", 0.01, "ttpsl1", bot="test", take_profit=price * 1.1,
                                  stop_loss=price * 0.9))
    assert order.status == FILLED and not order.reason
    tp, sl = live_tpsl(acct, venue)
    assert tp == pytest.approx(price * 1.1, abs=0.1) and sl == pytest.approx(price * 0.9, abs=0.1)
    [pos] = ex.positions()
    assert (pos.take_profit, pos.stop_loss) == (pytest.approx(tp), pytest.approx(sl))
    assert pos.bot == "test"
    assert ex.open_orders() == []  # the TP/SL are the position's, not orders of their own
    if venue == "binance":
        algo = acct.open_algo_orders({}, sim.market.now_ms())
        assert {(a["orderType"], a["closePosition"], a["side"]) for a in algo} == {
            ("TAKE_PROFIT_MARKET", True, "SELL"), ("STOP_MARKET", True, "SELL")}


@venues
def test_set_tpsl_moves_the_stop_removes_the_take_profit_and_the_exchange_follows(sim, venue, tmp_path):
    ex = connect(sim, venue, tmp_path)
    native, acct = NATIVE[venue], account(sim, venue)
    price = ex.last_price[native]
    ex.place(OrderRequest(native, "sell", 0.02, "ttpsl2"))
    pos = ex.set_tpsl(native, price * 0.9, price * 1.1)
    assert (pos.take_profit, pos.stop_loss) == (pytest.approx(price * 0.9, abs=0.1), pytest.approx(price * 1.1,
                                                                                                    abs=0.1))
    assert live_tpsl(acct, venue) == (pytest.approx(price * 0.9, abs=0.1), pytest.approx(price * 1.1, abs=0.1))
    pos = ex.set_tpsl(native, None, price * 1.05)  # dragged: the stop moves down, the take profit goes
    assert pos.take_profit is None and pos.stop_loss == pytest.approx(price * 1.05, abs=0.1)
    if venue == "binance":
        held = [o for o in acct.orders.values() if o.close_position and o.status == "Untriggered"]
        assert [(o.stop_type, o.side, o.trigger) for o in held] == [("Stop", "Buy", pytest.approx(price * 1.05,
                                                                                                   abs=0.1))]
    else:
        assert (acct.positions[SYM].take_profit, acct.positions[SYM].stop_loss) == (
            0.0, pytest.approx(price * 1.05, abs=0.1))
    [seen] = ex.positions()
    assert seen.take_profit is None and seen.stop_loss == pytest.approx(price * 1.05, abs=0.1)
    ex.set_tpsl(native, None, None)
    [seen] = ex.positions()
    assert (seen.take_profit, seen.stop_loss) == (None, None)
    assert not [o for o in acct.orders.values() if o.status == "Untriggered"]
    assert acct.positions[SYM].stop_loss == 0.0


@venues
def test_a_take_profit_or_stop_loss_on_the_wrong_side_is_refused(sim, venue, tmp_path):
    import ccxt

    ex = connect(sim, venue, tmp_path)
    native, acct = NATIVE[venue], account(sim, venue)
    price = ex.last_price[native]
    sent = len(acct.requests)
    with pytest.raises(OrderRefused, match="stop loss .* must be below"):  # our check, before sending
        ex.place(OrderRequest(native, "buy", 0.01, "twrong1", take_profit=price * 1.1, stop_loss=price * 1.05))
    assert CREATE[venue] not in acct.requests[sent:] and ("POST", "/fapi/v1/order") not in acct.requests[sent:]
    ex.place(OrderRequest(native, "buy", 0.01, "twrong2"))
    with pytest.raises(OrderRefused, match="take profit .* must be above"):
        ex.set_tpsl(native, price * 0.9, None)
    market = ex.client.markets_by_id[native][0]["symbol"]
    with pytest.raises(ccxt.BaseError, match=WRONG_SIDE[venue]):  # sent anyway: the exchange's own code
        if venue == "binance":
            ex.client.create_order(market, "market", "sell", None, None,
                                   {"stopLossPrice": round(price * 1.05, 1), "closePosition": True})
        else:
            ex.client.create_order(market, "market", "sell", None, None,
                                   {"stopLossPrice": round(price * 1.05, 1), "closeFraction": "1", "reduceOnly": True})
    assert live_tpsl(acct, venue) == (None, None)


@venues
def test_the_price_reaching_the_stop_loss_closes_the_position_at_the_exchange(sim, venue, tmp_path):
    ex = connect(sim, venue, tmp_path)
    native, acct = NATIVE[venue], account(sim, venue)
    mkt = sim.market
    price = ex.last_price[native]
    ex.place(OrderRequest(native, "buy", 0.01, "tslhit1", take_profit=price * 1.1, stop_loss=price * 0.95))
    [pos] = ex.positions()
    assert pos.stop_loss == pytest.approx(price * 0.95, abs=0.1)
    # then 10 % down at the next price step (one every 10 s of the market's clock)
    now = mkt.now_ms()
    drop = now + 500 + (mkt.step_ms - (now + 500 - mkt.genesis) % mkt.step_ms) % mkt.step_ms
    last = mkt.last_price(SYM)
    mkt.script(SYM, [now, drop - 1, drop, drop + 86_400_000], [last, last, price * 0.9, price * 0.9])
    deadline = time.monotonic() + (drop - now) / 1000 + 10.0
    while ex.positions() and time.monotonic() < deadline:
        time.sleep(0.2)
        ex.refresh()  # each private request lets the exchange settle what the price reached
    assert ex.positions() == []
    assert not acct.positions[SYM].qty
    [close] = [e for e in acct.executions if e.order.side == "Sell"]
    assert close.price <= price * 0.95 + 0.1  # closed at the stop (Binance: at the last price once triggered)
    assert not [o for o in acct.orders.values() if o.status == "Untriggered"]  # the take profit went with it


@venues
def test_cancel_all_leaves_the_positions_take_profit_and_stop_loss(sim, venue, tmp_path):
    ex = connect(sim, venue, tmp_path)
    native, acct = NATIVE[venue], account(sim, venue)
    price = ex.last_price[native]
    ex.place(OrderRequest(native, "buy", 0.02, "tkeep1", take_profit=price * 1.1, stop_loss=price * 0.9))
    ex.place(OrderRequest(native, "sell", 0.01, "tkeep2", type="stop", price=price * 0.8, reduce_only=True))
    ex.place(OrderRequest(native, "sell", 0.01, "tkeep3", type="limit", price=price * 1.2, reduce_only=True))
    assert {o.client_id for o in ex.open_orders()} == {"tkeep2", "tkeep3"}  # the TP/SL are the position's
    done = ex.cancel_all(native)
    assert {o.client_id for o in done} == {"tkeep2", "tkeep3"} and ex.open_orders() == []
    [pos] = ex.positions()
    assert (pos.take_profit, pos.stop_loss) == (pytest.approx(price * 1.1, abs=0.1), pytest.approx(price * 0.9,
                                                                                                    abs=0.1))
    assert live_tpsl(acct, venue) == (pytest.approx(price * 1.1, abs=0.1), pytest.approx(price * 0.9, abs=0.1))
