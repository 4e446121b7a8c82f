"""A trader's own orders: the field-by-field check (execution/manual.py), and the paper executor's resting orders
(limit, stop), amend, cancel-all and position TP/SL on a scripted price path, through the risk guard."""
import math

import pytest

from twinstar_gui.core.risk_limits import RiskLimits
from twinstar_gui.execution.base import CANCELLED, FILLED, NEW, InstrumentRules, OrderRefused, OrderRequest
from twinstar_gui.execution.manual import FieldError, ManualOrder, manual_client_id, prepare
from twinstar_gui.execution.paper import PaperExecutor
from twinstar_gui.execution.risk import RiskGuard
from twinstar_gui.execution.trade_journal import Journal

BTC = InstrumentRules("BTCUSDT", tick_size=0.1, lot_size=0.001, min_qty=0.001, min_notional=5.0)
# Upbit's price-dependent tick: 1,000 KRW from 1,000,000 up, 1 below
KRW = InstrumentRules("KRW-BTC", tick_size=1.0, lot_size=1e-8, min_qty=1e-8, min_notional=5000.0,
                      tick_table=((1_000_000.0, 1000.0), (0.0, 1.0)), currency="KRW")


def refused_at(field, order, rules=BTC, last=50_000.0, position=0.0, **kw):
    with pytest.raises(FieldError) as info:
        prepare(order, rules, last, position, **kw)
    assert info.value.field == field, str(info.value)
    return str(info.value)


# -- the ticket's and the CLI's checks ---------------------------------------------------------------------
def test_a_valid_limit_order_is_put_on_the_lot_and_priced():
    ready = prepare(ManualOrder("BTCUSDT", "buy", "limit", notional=1000.0, price=49_000.0, take_profit=52_000.0,
                                stop_loss=48_000.0), BTC, 50_000.0, fee_rate=0.00055)
    req = ready.request
    assert (req.qty, req.price, req.type, req.bot) == (0.02, 49_000.0, "limit", "manual")  # 1000/49000 down to lot
    assert (req.take_profit, req.stop_loss) == (52_000.0, 48_000.0)
    assert ready.notional == pytest.approx(980.0) and ready.fee == pytest.approx(980.0 * 0.00055)
    assert len(req.client_id) == 32 and req.client_id.isalnum() and req.client_id != manual_client_id()


def test_each_bad_field_is_refused_with_its_name_and_reason():
    assert "below the minimum 0.001" in refused_at("qty", ManualOrder("BTCUSDT", "buy", qty=0.0004))
    assert "4 USDT buys 0, below the minimum size 0.001 (about 50 USDT)" in refused_at(
        "notional", ManualOrder("BTCUSDT", "buy", notional=4.0))
    assert "order value 20.00 USDT is below the minimum 25" in refused_at(
        "qty", ManualOrder("BTCUSDT", "buy", qty=0.001), InstrumentRules("BTCUSDT", 0.1, 0.001, 0.001, 25.0),
        last=20_000.0)
    text = refused_at("price", ManualOrder("BTCUSDT", "buy", "limit", qty=0.01, price=49_000.05))
    assert "off the tick grid (tick 0.1): 49000 or 49000.1" in text
    assert "would take liquidity" in refused_at(
        "post_only", ManualOrder("BTCUSDT", "buy", "limit", qty=0.01, price=50_100.0, post_only=True))
    assert "must be above the last price" in refused_at(
        "price", ManualOrder("BTCUSDT", "buy", "stop", qty=0.01, price=49_000.0))
    assert "larger than the position 0.01" in refused_at(
        "reduce_only", ManualOrder("BTCUSDT", "sell", qty=0.02, reduce_only=True), position=0.01)
    assert "needs a long position" in refused_at("reduce_only", ManualOrder("BTCUSDT", "sell", qty=0.01,
                                                                            reduce_only=True))
    assert "must be above 50000" in refused_at("take_profit", ManualOrder("BTCUSDT", "buy", qty=0.01,
                                                                          take_profit=49_000.0))
    assert "must be above 50000" in refused_at("stop_loss", ManualOrder("BTCUSDT", "sell", qty=0.01,
                                                                        stop_loss=49_000.0))
    assert "either in base units or in the quote" in refused_at("qty", ManualOrder("BTCUSDT", "buy"))
    assert "takes no price" in refused_at("price", ManualOrder("BTCUSDT", "buy", qty=0.01, price=50_000.0))
    assert "post-only applies to limit" in refused_at(
        "post_only", ManualOrder("BTCUSDT", "buy", "stop", qty=0.01, price=51_000.0, post_only=True))
    assert "no price known" in refused_at("price", ManualOrder("BTCUSDT", "buy", qty=0.01), last=None)


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, 0.0, 1e300])
def test_numbers_that_are_no_size_or_price_are_refused_not_crashed_on(value):
    refused_at("qty", ManualOrder("BTCUSDT", "buy", qty=value))
    refused_at("price", ManualOrder("BTCUSDT", "buy", "limit", qty=0.01, price=value))
    refused_at("take_profit", ManualOrder("BTCUSDT", "buy", qty=0.01, take_profit=value))


def test_krw_prices_follow_the_price_dependent_tick_and_spot_sells_only_what_is_held():
    order = ManualOrder("KRW-BTC", "buy", "limit", notional=100_000.0, price=84_945_500.0)
    assert "tick 1000): 84,945,000 or 84,946,000" in refused_at("price", order, KRW, 85_000_000.0)
    ready = prepare(ManualOrder("KRW-BTC", "buy", "limit", notional=100_000.0, price=84_945_000.0), KRW,
                    85_000_000.0)
    assert ready.request.qty == pytest.approx(0.00117723) and ready.currency == "KRW"
    sell = ManualOrder("KRW-BTC", "sell", qty=0.002)
    assert "sells only what is held: 0.001 held" in refused_at("qty", sell, KRW, 85_000_000.0, 0.001, spot=True)
    assert prepare(sell, KRW, 85_000_000.0, 0.002, spot=True).request.qty == 0.002


# -- the paper executor: resting orders on a price path ---------------------------------------------------
@pytest.fixture
def paper(tmp_path):
    journal = Journal(tmp_path / "j.sqlite3")
    ex = PaperExecutor(journal, balance=10_000.0, fee_rate=0.001, slippage_bps=10.0, rules=lambda s: BTC,
                       clock=lambda: 1_000)
    ex.on_price("BTCUSDT", 50_000.0, 1)
    yield ex
    journal.close()


def walk(ex, *prices):
    fills = []
    for i, p in enumerate(prices):
        fills += ex.on_price("BTCUSDT", p, 10 + i)
    return fills


def req(side, qty, type_="market", price=None, **kw):
    return OrderRequest("BTCUSDT", side, qty, manual_client_id(), type_, price, bot="manual", **kw)


def test_limit_and_stop_orders_fill_only_when_the_price_crosses_them(paper):
    buy_limit = paper.place(req("buy", 0.01, "limit", 49_500.0))
    buy_stop = paper.place(req("buy", 0.01, "stop", 50_500.0))
    assert walk(paper, 49_800.0, 50_400.0) == []  # neither reached
    fills = walk(paper, 49_500.0)  # the limit: at its price, no slippage
    assert [(f.order_id, f.price) for f in fills] == [(buy_limit.id, 49_500.0)]
    fills = walk(paper, 50_600.0)  # the stop: reached, taken at the price worse by 10 bps
    assert [(f.order_id, f.price) for f in fills] == [(buy_stop.id, 50_650.6)]
    sell_stop = paper.place(req("sell", 0.02, "stop", 49_000.0, reduce_only=True))
    assert walk(paper, 49_100.0) == []
    (fill,) = walk(paper, 48_900.0)
    assert fill.order_id == sell_stop.id and fill.price == pytest.approx(48_851.1)
    assert paper.positions() == [] and paper.open_orders() == []
    with pytest.raises(OrderRefused, match="stop must be below the last price"):
        paper.place(req("sell", 0.01, "stop", 49_000.0))
    with pytest.raises(OrderRefused, match="would take liquidity"):
        paper.place(req("sell", 0.01, "limit", 48_000.0, post_only=True))


def test_amend_moves_a_resting_order_and_a_refused_amend_leaves_it_as_it_was(paper, tmp_path):
    order = paper.place(req("buy", 0.01, "limit", 49_000.0, post_only=True))
    amended = paper.amend(order.id, price=49_200.04, qty=0.0155)
    assert (amended.id, amended.client_id, amended.price, amended.qty) == (order.id, order.client_id, 49_200.0,
                                                                             0.015)
    with pytest.raises(OrderRefused, match="would take liquidity"):
        paper.amend(order.id, price=50_100.0)
    with pytest.raises(OrderRefused, match="below the minimum"):
        paper.amend(order.id, qty=0.0001)
    with pytest.raises(OrderRefused, match="insufficient balance"):
        paper.amend(order.id, qty=500.0)
    (now,) = paper.open_orders()
    assert (now.price, now.qty) == (49_200.0, 0.015)
    again = PaperExecutor(paper.journal, rules=lambda s: BTC)  # a restart: the journal has the amended order
    (kept,) = again.open_orders()
    assert (kept.id, kept.price, kept.qty, kept.post_only) == (order.id, 49_200.0, 0.015, True)
    (fill,) = walk(paper, 49_150.0)  # the market went through it: filled there, not worse than the limit
    assert (fill.price, fill.qty) == (49_150.0, 0.015)
    with pytest.raises(OrderRefused, match="no open order"):
        paper.amend(order.id, price=49_000.0)


def test_cancel_all_cancels_one_symbols_orders_or_everyones(paper):
    a = paper.place(req("buy", 0.01, "limit", 49_000.0))
    b = paper.place(req("sell", 0.01, "limit", 51_000.0))
    other = paper.place(OrderRequest("ETHUSDT", "buy", 0.1, manual_client_id(), "limit", 2_000.0))
    done = paper.cancel_all("BTCUSDT")
    assert sorted(o.id for o in done) == sorted([a.id, b.id]) and {o.status for o in done} == {CANCELLED}
    assert [o.id for o in paper.open_orders()] == [other.id]
    assert [o.id for o in paper.cancel_all()] == [other.id] and paper.open_orders() == []
    assert {o.status for o in paper.journal.orders(paper.name)} == {CANCELLED}


def test_a_positions_stop_loss_moved_by_hand_closes_it_there(paper):
    paper.place(req("buy", 0.02))
    walk(paper, 50_000.0)
    with pytest.raises(OrderRefused, match="stop loss 50100 must be below"):
        paper.set_tpsl("BTCUSDT", None, 50_100.0)
    pos = paper.set_tpsl("BTCUSDT", 52_000.0, 49_000.05)
    assert (pos.take_profit, pos.stop_loss) == (52_000.0, 49_000.1)  # on the tick grid
    pos = paper.set_tpsl("BTCUSDT", None, 49_500.0)  # dragged up; take profit removed
    assert (pos.take_profit, pos.stop_loss) == (None, 49_500.0)
    walk(paper, 51_000.0, 52_100.0)  # no take profit any more
    assert paper.positions()[0].qty == 0.02
    walk(paper, 49_400.0)  # the stop loss: closed at market (next price)
    walk(paper, 49_400.0)
    assert paper.positions() == []
    closes = [o for o in paper.journal.orders(paper.name) if o.reduce_only]
    assert len(closes) == 1 and closes[0].status == FILLED
    with pytest.raises(OrderRefused, match="no open position"):
        paper.set_tpsl("BTCUSDT", 60_000.0, None)


def test_the_risk_guard_checks_an_entry_that_grows_and_not_a_sell_that_reduces(paper):
    guard = RiskGuard(paper, paper.journal, RiskLimits(max_position_usdt=1_000.0))
    guard.place(req("buy", 0.015))
    walk(paper, 50_000.0)
    # selling against the long reduces it: not an entry that grows past the limit
    sell = guard.place(req("sell", 0.015, "limit", 50_500.0))
    assert sell.status == NEW
    entry = guard.place(req("buy", 0.004, "limit", 49_000.0))
    with pytest.raises(OrderRefused, match="over the limit of 1,000"):
        guard.amend(entry.id, qty=0.01)
    assert guard.amend(entry.id, price=49_100.0).price == 49_100.0


def test_an_amend_that_raises_the_orders_value_is_checked_against_the_size_limit(paper):
    guard = RiskGuard(paper, paper.journal, RiskLimits(max_position_usdt=1_000.0))
    entry = guard.place(req("buy", 0.018, "limit", 49_000.0))  # 882 USDT
    with pytest.raises(OrderRefused, match="over the limit of 1,000"):
        guard.amend(entry.id, price=56_000.0)  # the same size, dearer: 1,008 USDT
    assert guard.amend(entry.id, price=48_000.0).price == 48_000.0  # cheaper: fine


def test_a_position_turned_over_keeps_none_of_the_old_sides_levels(paper):
    paper.place(OrderRequest("BTCUSDT", "buy", 0.02, manual_client_id(), take_profit=52_000.0, stop_loss=49_000.0))
    walk(paper, 50_000.0)
    paper.place(req("sell", 0.04))  # a long of 0.02 becomes a short of 0.02
    walk(paper, 50_000.0)
    (pos,) = paper.positions()
    assert pos.qty == pytest.approx(-0.02) and (pos.take_profit, pos.stop_loss) == (None, None)
    walk(paper, 50_010.0)  # the old long's levels would have closed it at once
    assert paper.positions()[0].qty == pytest.approx(-0.02)
    paper.place(OrderRequest("BTCUSDT", "sell", 0.01, manual_client_id(), stop_loss=51_000.0))  # only a stop loss
    walk(paper, 50_000.0)
    assert paper.positions()[0].stop_loss == 51_000.0


@pytest.mark.parametrize("last", [0.0, -5.0, math.nan, 1e-320])
def test_a_last_price_that_is_no_price_counts_as_none(last):
    assert "no price known" in refused_at("price", ManualOrder("BTCUSDT", "buy", notional=100.0), last=last)


@pytest.mark.parametrize("value", [True, "5", None])
def test_sizes_that_are_not_numbers_are_refused_at_the_field(value):
    refused_at("qty", ManualOrder("BTCUSDT", "buy", qty=value))


def test_rules_with_no_usable_step_are_refused_when_made():
    for tick, lot in ((0.0, 0.001), (0.1, 0.0), (1e-320, 0.001), (math.inf, 0.001)):
        with pytest.raises(ValueError, match="tick and lot must be finite"):
            InstrumentRules("X", tick, lot, lot)


def test_a_contract_exchanges_lot_is_counted_in_decimal():
    from twinstar_gui.execution.base import times

    assert times(0.1, 0.1) == 0.01  # 0.1 * 0.1 in binary is 0.010000000000000002
    assert InstrumentRules("X", 0.1, times(0.1, 0.1), 0.01).round_qty(0.03) == 0.03
