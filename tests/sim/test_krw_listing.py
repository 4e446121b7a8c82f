"""The simulated KRW venues list what trades (sim/listing.py): GET /v1/market/all in Upbit's and Bithumb's shape, the
renamed base under its new name with the old symbol's prices, the delisted one gone; prices on the KRW price-unit
table the adapters use."""
import json
import math

import numpy as np
import pytest

from twinstar_gui.core.instrument import Instrument
from twinstar_gui.exchanges.upbit import KRW_TICKS
from twinstar_gui.sim import bithumb, upbit
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.krw import OTHER_MARKETS, KrwBook, krw_tick
from twinstar_gui.sim.market import Market

START_MS = 1_786_310_818_440
Q = 15 * 60_000


@pytest.fixture(scope="module")
def market():
    """A stopped clock: answers and the ground truth they are compared with see the same instant."""
    return Market(SimClock(start_ms=START_MS, monotonic=lambda: 0.0), seed=5, history_days=2)


def rest(module, sim_market, path, **query):
    return module.handle_rest(sim_market, path, {k: str(v) for k, v in query.items()})


def krw_markets(items):
    return [i["market"] for i in items if i["market"].startswith("KRW-")]


@pytest.mark.parametrize("module", [upbit, bithumb])
def test_market_list_has_the_listed_krw_markets_and_other_quotes(module, market):
    status, items = rest(module, market, "/v1/market/all")
    assert status == 200
    usdt_bases = [s[:-4] for s in market.symbols if s.endswith("USDT")]
    expected = [f"KRW-{'RENDER' if b == 'RNDR' else b}" for b in usdt_bases if b != "MATIC"]
    assert krw_markets(items) == expected and len(expected) == len(usdt_bases) - 1
    assert [i["market"] for i in items if not i["market"].startswith("KRW-")] == list(OTHER_MARKETS)
    assert all(set(i) == {"market", "korean_name", "english_name"} for i in items)  # isDetails defaults to false


def test_upbit_details_are_market_events(market):
    _, items = rest(upbit, market, "/v1/market/all", isDetails="true")
    event = items[0]["market_event"]
    assert event["warning"] is False and set(event["caution"]) == {
        "PRICE_FLUCTUATIONS", "TRADING_VOLUME_SOARING", "DEPOSIT_AMOUNT_SOARING", "GLOBAL_PRICE_DIFFERENCES",
        "CONCENTRATION_OF_SMALL_ACCOUNTS"}


def test_bithumb_details_are_market_warnings(market):
    _, items = rest(bithumb, market, "/v1/market/all", isDetails="true")
    assert {i["market_warning"] for i in items} == {"NONE"}


def test_tickers_show_what_is_listed(market):
    _, upbit_tickers = rest(upbit, market, "/v1/ticker/all", quote_currencies="KRW")
    codes = [t["market"] for t in upbit_tickers]
    assert "KRW-RENDER" in codes and "KRW-RNDR" not in codes and "KRW-MATIC" not in codes
    _, answer = rest(bithumb, market, "/public/ticker/ALL_KRW")
    assert "RENDER" in answer["data"] and "RNDR" not in answer["data"] and "MATIC" not in answer["data"]


@pytest.mark.parametrize("module", [upbit, bithumb])
def test_the_renamed_market_has_the_old_symbols_candles_and_the_delisted_none(module, market):
    page = {}
    for code in ("KRW-RENDER", "KRW-RNDR"):  # the old name still answers, as during a migration
        status, rows = rest(module, market, "/v1/candles/minutes/15", market=code, count=50)
        assert status == 200 and len(rows) == 50 and {r["market"] for r in rows} == {code}
        page[code] = [(r["candle_date_time_utc"], r["trade_price"]) for r in rows]
    assert page["KRW-RENDER"] == page["KRW-RNDR"]
    now = market.now_ms()
    truth = KrwBook(market).candles("RNDRUSDT", Q, now - now % Q - 49 * Q, now, now)
    assert [r[1] for r in reversed(page["KRW-RENDER"])] == [c.close for c in truth]
    status, answer = rest(module, market, "/v1/candles/minutes/15", market="KRW-MATIC", count=5)
    assert status == 404 and answer["error"]["message"] == "Code not found"


def test_websocket_sessions_answer_for_the_renamed_market(market):
    session = upbit.UpbitSession(market)
    assert session.on_message(json.dumps([{"ticket": "t"}, {"type": "candle.15m", "codes": ["KRW-RENDER"]}])) == []
    frames = [json.loads(f) for f in session.push()]
    assert frames and {f["code"] for f in frames} == {"KRW-RENDER"}
    assert frames[-1]["trade_price"] == KrwBook(market).candles("RNDRUSDT", Q, frames[-1]["timestamp"],
                                                               frames[-1]["timestamp"])[-1].close
    (refused,) = session.on_message(json.dumps([{"ticket": "t"}, {"type": "ticker", "codes": ["KRW-MATIC"]}]))
    assert json.loads(refused)["error"]["name"] == "INVALID_CODE"
    pub = bithumb.BithumbPubSession(market)
    (ack,) = pub.on_message(json.dumps({"type": "transaction", "symbols": ["RENDER_KRW"]}))
    assert json.loads(ack)["status"] == "0000"
    (nack,) = pub.on_message(json.dumps({"type": "transaction", "symbols": ["MATIC_KRW"]}))
    assert json.loads(nack)["status"] == "5100"


PRICES = sorted({0.0, 0.000001, *np.logspace(-6, 9, 400).tolist(),
                 *(floor * f for floor, _ in KRW_TICKS for f in (1.0, 0.999999, 1.000001))})


def test_the_simulators_table_is_the_adapters():
    """Written twice on purpose (the simulator is a second reading of the exchange): the two must agree."""
    inst = Instrument("upbit", "BTC/KRW", "KRW-BTC", "BTC", "KRW", "", "spot", 0.0, 1e-8, 1e-8, 5000.0,
                      tick_table=KRW_TICKS)
    assert [krw_tick(p) for p in PRICES] == [inst.tick_at(p) for p in PRICES]


def test_krw_prices_are_on_their_bands_step_and_keep_their_order(market):
    book = KrwBook(market)
    usdt = np.logspace(-8, 6, 3000)
    krw = [book.price(v) for v in usdt]
    assert krw == sorted(krw)  # a higher price never gets a lower KRW price: highs stay highs
    for price in krw:
        if price > 0:
            steps = price / krw_tick(price)
            assert math.isclose(steps, round(steps), rel_tol=0, abs_tol=1e-6), price
