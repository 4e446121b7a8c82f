"""The five perpetual venues' instrument lists, parsed from their documented answers (tests/fixtures/<exchange>/
rest_instruments.json): USDT perpetuals only, with steps, minimums, status and contract size; an odd item is left
out with the rest kept; the exchange's error envelope raises ExchangeError, anything else BadMessage."""
import copy
import json
import logging
from pathlib import Path

import pytest

from twinstar_gui.core.instrument import Catalog, Instrument, UnknownSymbol
from twinstar_gui.exchanges import BadMessage, ExchangeError, get_exchange

FIX = Path(__file__).resolve().parents[1] / "fixtures"
VENUES = ["bybit", "binance", "okx", "bitget", "bingx"]


def perp(exchange, native, base, tick, lot, min_qty, min_notional, status="trading", contract_size=1.0):
    return Instrument(exchange, f"{base}/USDT:USDT", native, base, "USDT", "USDT", "swap", tick, lot, min_qty,
                      min_notional, status, contract_size)


EXPECTED = {
    "bybit": [perp("bybit", "BTCUSDT", "BTC", 0.1, 0.001, 0.001, 5.0)],
    "binance": [perp("binance", "BTCUSDT", "BTC", 0.1, 0.001, 0.001, 100.0),
                perp("binance", "BLZUSDT", "BLZ", 0.0001, 1.0, 1.0, 5.0),
                perp("binance", "SRMUSDT", "SRM", 0.0001, 1.0, 1.0, 5.0, "settling")],
    "okx": [perp("okx", "BTC-USDT-SWAP", "BTC", 0.1, 0.01, 0.01, 0.0, contract_size=0.01),  # sizes in contracts
            perp("okx", "ETH-USDT-SWAP", "ETH", 0.01, 0.01, 0.01, 0.0, contract_size=0.1),
            perp("okx", "LUNA-USDT-SWAP", "LUNA", 0.0001, 1.0, 1.0, 0.0, "suspend", 1.0)],
    "bitget": [perp("bitget", "BTCUSDT", "BTC", 0.1, 0.01, 0.01, 5.0),
               perp("bitget", "BCHUSDT", "BCH", 0.05, 0.01, 0.01, 5.0),  # priceEndStep 5 at 2 places
               perp("bitget", "MATICUSDT", "MATIC", 0.0001, 1.0, 1.0, 5.0, "off")],
    "bingx": [perp("bingx", "BTC-USDT", "BTC", 0.1, 0.0001, 0.0001, 2.0),
              perp("bingx", "1000PEPE-USDT", "1000PEPE", 1e-07, 1.0, 1.0, 2.0),
              perp("bingx", "MATIC-USDT", "MATIC", 0.0001, 1.0, 1.0, 2.0, "offline")],
}
# in each documented list, but not a USDT perpetual: USDC-margined, coin-margined or dated
FILTERED = {"bybit": {"BTCUSDT-27DEC24", "BTCPERP"}, "binance": {"BTCUSDT_250627", "BTCUSDC"},
            "okx": {"BTC-USD-SWAP", "BTC-USDC-SWAP"}, "bitget": {"BTCUSDT250627"}, "bingx": {"BTC-USDC"}}
REQUEST = {"bybit": ("/v5/market/instruments-info", {"category": "linear", "limit": 1000}),
           "binance": ("/fapi/v1/exchangeInfo", {}),
           "okx": ("/api/v5/public/instruments", {"instType": "SWAP"}),
           "bitget": ("/api/v2/mix/market/contracts", {"productType": "USDT-FUTURES"}),
           "bingx": ("/openApi/swap/v2/quote/contracts", {})}
ERROR_ENVELOPE = {"bybit": {"retCode": 10006, "retMsg": "Too many visits!", "result": {}},
                  "binance": {"code": -1003, "msg": "Too many requests."},
                  "okx": {"code": "50011", "msg": "Too Many Requests", "data": []},
                  "bitget": {"code": "40017", "msg": "Parameter verification failed", "requestTime": 1, "data": None},
                  "bingx": {"code": 100410, "msg": "rate limited", "data": {}}}
# where the first listed item keeps its native name, its price step and one required field
NATIVE = {"bybit": ["symbol"], "binance": ["symbol"], "okx": ["instId"], "bitget": ["symbol"], "bingx": ["symbol"]}
TICK = {"bybit": ["priceFilter", "tickSize"], "binance": ["filters", 0, "tickSize"], "okx": ["tickSz"],
        "bitget": ["priceEndStep"], "bingx": ["pricePrecision"]}
LOT = {"bybit": ["lotSizeFilter", "qtyStep"], "binance": ["filters", 1, "stepSize"], "okx": ["lotSz"],
       "bitget": ["sizeMultiplier"]}  # (BingX states decimal places: no step finer than 18 of them can be said)
BASE = {"bybit": ["baseCoin"], "binance": ["baseAsset"], "bitget": ["baseCoin"]}  # (the others read it off the name)
REQUIRED = {"bybit": ["lotSizeFilter", "qtyStep"], "binance": ["baseAsset"], "okx": ["minSz"],
            "bitget": ["sizeMultiplier"], "bingx": ["tradeMinQuantity"]}


def documented(exchange: str):
    return json.loads((FIX / exchange / "rest_instruments.json").read_text())


def items_of(exchange: str, payload):
    if exchange == "bybit":
        return payload["result"]["list"]
    return payload["symbols"] if exchange == "binance" else payload["data"]


@pytest.mark.parametrize("exchange", VENUES)
def test_request_is_the_exchange_own_endpoint(exchange):
    path, params = REQUEST[exchange]
    req = get_exchange(exchange, rest_url="http://127.0.0.1:9/x").instruments_request()
    assert (req.url, dict(req.params), req.endpoint) == (f"http://127.0.0.1:9/x{path}", params, path)


@pytest.mark.parametrize("exchange", VENUES)
def test_documented_list_gives_usdt_perpetuals(exchange):
    adapter = get_exchange(exchange)
    text = (FIX / exchange / "rest_instruments.json").read_text()
    for payload in (json.loads(text), text, text.encode()):
        instruments, cursor = adapter.parse_instruments(payload)
        assert instruments == EXPECTED[exchange] and cursor == ""
    natives = {i.native for i in instruments}
    assert natives.isdisjoint(FILTERED[exchange])
    listed = {str(it.get("symbol", it.get("instId"))) for it in items_of(exchange, json.loads(text))}
    assert FILTERED[exchange] <= listed
    catalog = Catalog(exchange, instruments, fetched_ms=1)
    assert catalog.resolve("btc").native == EXPECTED[exchange][0].native
    for inst in instruments:
        if not inst.trading:
            with pytest.raises(UnknownSymbol, match=f"not trading \\({inst.status}\\)"):
                catalog.resolve(inst.base)


def spoil(item: dict, path: list, value) -> None:
    for key in path[:-1]:
        item = item[key]
    if value is None:
        del item[path[-1]]
    else:
        item[path[-1]] = value


@pytest.mark.parametrize("how", ["missing field", "zero step", "NaN step", "name ../x", "not an object"])
@pytest.mark.parametrize("exchange", VENUES)
def test_an_odd_item_is_left_out_and_the_rest_kept(exchange, how, caplog):
    payload = documented(exchange)
    items = items_of(exchange, payload)
    odd = copy.deepcopy(items[0])  # the first listed USDT perpetual, spoiled, put before the good one
    if how == "missing field":
        spoil(odd, REQUIRED[exchange], None)
    elif how == "zero step":  # BingX has no step, only decimals: an impossible number of them
        spoil(odd, TICK[exchange], "99" if exchange == "bingx" else "0")
    elif how == "NaN step":
        spoil(odd, TICK[exchange], "NaN")
    elif how == "name ../x":
        spoil(odd, NATIVE[exchange], "../x")
    else:
        odd = "BTCUSDT"
    items.insert(0, odd)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="twinstar_gui.exchanges.base"):
        instruments, _ = get_exchange(exchange).parse_instruments(payload)
    assert instruments == EXPECTED[exchange]
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"{exchange}: 1 instrument(s) left out of the catalog, e.g. "), line


# (Bitget's tick is a whole step at 0..18 decimal places: never finer than 1e-18)
@pytest.mark.parametrize("exchange, where",
                         [(e, w) for e in LOT for w in ("tick", "lot") if (e, w) != ("bitget", "tick")])
def test_a_step_finer_than_any_market_is_left_out_and_the_rest_kept(exchange, where, caplog):
    # "1e-320" is a float > 0: it was kept, and every order on that instrument then failed in rounding
    payload = documented(exchange)
    items = items_of(exchange, payload)
    odd = copy.deepcopy(items[0])
    spoil(odd, (TICK if where == "tick" else LOT)[exchange], "1e-320")
    items.insert(0, odd)
    with caplog.at_level(logging.ERROR, logger="twinstar_gui.exchanges.base"):
        instruments, _ = get_exchange(exchange).parse_instruments(payload)
    assert instruments == EXPECTED[exchange]
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"{exchange}: 1 instrument(s) left out of the catalog, e.g. ") and "finer than" in line


@pytest.mark.parametrize("exchange", list(BASE))
def test_an_item_whose_name_is_not_its_base_and_quote_is_left_out(exchange, caplog):
    # BTCUSDT saying its base is ETH was kept as ETH/USDT:USDT traded as BTCUSDT: `eth` resolved to Bitcoin's market
    payload = documented(exchange)
    items = items_of(exchange, payload)
    odd = copy.deepcopy(items[0])
    spoil(odd, BASE[exchange], "ETH")
    items.insert(0, odd)
    with caplog.at_level(logging.ERROR, logger="twinstar_gui.exchanges.base"):
        instruments, _ = get_exchange(exchange).parse_instruments(payload)
    assert instruments == EXPECTED[exchange]
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"{exchange}: 1 instrument(s) left out of the catalog, e.g. {exchange}: instrument BTCUSDT: "
                           f"its name is not base ETH and quote USDT"), line


@pytest.mark.parametrize("exchange, changes", [
    ("bybit", {"symbol": "BTCUSDC", "quoteCoin": "USDC"}),  # settled in USDT, quoted in USDC: which is it?
    ("okx", {"instId": "BTC-USD-SWAP"})])  # a USDT-settled linear swap named as quoted in USD
def test_an_item_quoted_in_another_currency_is_left_out(exchange, changes, caplog):
    # it passed the filter (settled in USDT) and was kept as BTC/USDC:USDC, settled in USDC by its own symbol
    payload = documented(exchange)
    items = items_of(exchange, payload)
    items.insert(0, {**copy.deepcopy(items[0]), **changes})
    with caplog.at_level(logging.ERROR, logger="twinstar_gui.exchanges.base"):
        instruments, _ = get_exchange(exchange).parse_instruments(payload)
    assert instruments == EXPECTED[exchange]
    (line,) = [r.getMessage() for r in caplog.records]
    assert "left out of the catalog" in line and "is not USDT" in line, line


@pytest.mark.parametrize("exchange", VENUES)
def test_the_exchange_error_envelope_is_an_exchange_error(exchange):
    envelope = ERROR_ENVELOPE[exchange]
    with pytest.raises(ExchangeError) as err:
        get_exchange(exchange).parse_instruments(envelope)
    e = err.value
    assert not isinstance(e, BadMessage)
    assert (e.exchange, e.endpoint, str(e.code)) == (exchange, REQUEST[exchange][0],
                                                     str(envelope.get("retCode", envelope.get("code"))))


@pytest.mark.parametrize("garbage", ["<html>502 Bad Gateway</html>", b"\xff\xfe", "[]", [], None, 7, {"hello": "world"},
                                     "items"])
@pytest.mark.parametrize("exchange", VENUES)
def test_an_answer_that_is_no_instrument_list_is_a_bad_message(exchange, garbage):
    if garbage == "items":  # the right envelope around something that is not a list
        garbage = documented(exchange)
        if exchange == "bybit":
            garbage["result"]["list"] = {"BTCUSDT": {}}
        elif exchange == "binance":
            garbage["symbols"] = "BTCUSDT"
        else:
            garbage["data"] = {"symbol": "BTCUSDT"}
    with pytest.raises(BadMessage) as err:
        get_exchange(exchange).parse_instruments(garbage)
    assert str(err.value).startswith(f"{exchange}: ")


def test_a_status_word_is_kept_short_and_lower_case():
    adapter = get_exchange("bitget")
    assert adapter._status("normal", "normal") == "trading"
    assert adapter._status("restrictedAPI", "normal") == "restrictedapi"
    assert adapter._status(None, "normal") == adapter._status("", "normal") == "unknown"
    assert len(adapter._status("X" * 500, "normal")) < 60
    assert adapter._status(1, "1") != "trading"  # a code of another type is not the trading word
