"""The simulator's signed Binance USD-M and OKX APIs by hand: each signature check and error answer, and that
nothing a client sends (bad JSON, huge numbers, missing parameters) gets a 500 or a traceback."""
import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest

from twinstar_gui.sim.binance_private import BinanceAccount
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.demo import add_accounts
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.okx_private import OkxAccount
from twinstar_gui.sim.server import SimServer

KEY, SECRET, PHRASE = "k3yAbc123", "s3cretXyz789", "phr4se"


@pytest.fixture
def market():
    return Market(SimClock(speed=1.0), seed=3)


# -- Binance --------------------------------------------------------------------------------------------------------
def binance(acct, method, path, params=None, *, secret=SECRET, key=KEY, ts=None, in_body=None, window=None):
    fields = {**(params or {}), "timestamp": ts if ts is not None else int(time.time() * 1000)}
    if window is not None:
        fields["recvWindow"] = window
    text = urlencode(fields)
    sig = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    signed = f"{text}&signature={sig}"
    body = in_body if in_body is not None else (method in ("POST", "PUT"))
    return acct.handle(method, path, "" if body else signed, signed.encode() if body else b"",
                       {"X-MBX-APIKEY": key} if key else {})


@pytest.fixture
def bn(market):
    return BinanceAccount(market, KEY, SECRET)


def test_binance_signature_is_checked_over_query_and_body(bn):
    status, answer = binance(bn, "GET", "/fapi/v3/account")
    assert status == 200 and answer["assets"][0]["asset"] == "USDT"
    assert binance(bn, "GET", "/fapi/v3/account", secret="other") == (
        400, {"code": -1022, "msg": "Signature for this request is not valid."})
    # query + body together: half of the parameters in each
    fields = urlencode({"symbol": "BTCUSDT", "timestamp": int(time.time() * 1000)})
    form = urlencode({"side": "BUY", "type": "MARKET", "quantity": "0.01"})
    sig = hmac.new(SECRET.encode(), (fields + form).encode(), hashlib.sha256).hexdigest()
    status, answer = bn.handle("POST", "/fapi/v1/order", fields, f"{form}&signature={sig}".encode(),
                               {"X-MBX-APIKEY": KEY})
    assert status == 200 and answer["status"] == "FILLED"


@pytest.mark.parametrize(("kwargs", "code", "status"), [
    ({"key": ""}, -2014, 401), ({"key": "someone"}, -2015, 401),
    ({"ts": 1}, -1021, 400), ({"ts": int(time.time() * 1000) + 60_000}, -1021, 400),
    ({"window": 70_000}, -1131, 400), ({"ts": "soon"}, -1102, 400)])
def test_binance_auth_errors(bn, kwargs, code, status):
    got, answer = binance(bn, "GET", "/fapi/v3/account", **kwargs)
    assert (got, answer["code"]) == (status, code)
    assert SECRET not in json.dumps(answer)


@pytest.mark.parametrize(("params", "code"), [
    ({"side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "60000.05", "timeInForce": "GTC"}, -1111),
    ({"side": "BUY", "type": "MARKET", "quantity": "0.0015"}, -1111),
    ({"side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "1000.0", "timeInForce": "GTC"}, -4164),
    ({"side": "BUY", "type": "MARKET", "quantity": "100"}, -2019),
    ({"side": "SELL", "type": "MARKET", "quantity": "0.01", "reduceOnly": "true"}, -2022),
    ({"side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "999999.9", "timeInForce": "GTX"}, -5022),
    ({"side": "BUY", "type": "STOP_MARKET", "quantity": "0.01", "stopPrice": "99999.9"}, -4120),
    ({"side": "BUY", "type": "MARKET"}, -1102),
    ({"side": "UP", "type": "MARKET", "quantity": "0.01"}, -1117),
    ({"side": "BUY", "type": "WHATEVER", "quantity": "0.01"}, -1116),
    ({"side": "BUY", "type": "MARKET", "quantity": "9" * 400}, -4005),
    ({"side": "BUY", "type": "MARKET", "quantity": "nan"}, -4003),
    ({"side": "BUY", "type": "MARKET", "quantity": "0.01", "newClientOrderId": "a b"}, -1100),
])
def test_binance_order_errors(bn, params, code):
    status, answer = binance(bn, "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", **params})
    assert (status, answer["code"]) == (400, code), answer


def test_binance_tick_duplicates_and_unknown_orders(bn):
    status, answer = binance(bn, "POST", "/fapi/v1/order", {"symbol": "BCHUSDT", "side": "BUY", "type": "LIMIT",
                                                             "quantity": "0.1", "price": "100.02",
                                                             "timeInForce": "GTC"})
    assert answer == {"code": -4014, "msg": "Price not increased by tick size."}
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "1000.0",
             "timeInForce": "GTC", "newClientOrderId": "dup1"}
    assert binance(bn, "POST", "/fapi/v1/order", order)[0] == 200
    assert binance(bn, "POST", "/fapi/v1/order", order)[1]["code"] == -4116
    assert binance(bn, "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": "42"})[1]["code"] == -2011
    assert binance(bn, "GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": "42"})[1]["code"] == -2013
    assert binance(bn, "GET", "/fapi/v1/nothing")[0] == 404


def test_binance_close_position_orders_are_the_positions_tpsl(bn, market):
    last = market.last_price("BTCUSDT")
    algo = {"algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
            "triggerPrice": f"{last * 0.9:.1f}", "closePosition": "true"}
    assert binance(bn, "POST", "/fapi/v1/algoOrder", algo)[1]["code"] == -4509  # no position, no open order
    assert binance(bn, "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                   "quantity": "0.02"})[0] == 200
    assert binance(bn, "POST", "/fapi/v1/algoOrder", {**algo, "quantity": "0.02"})[1]["code"] == -4137
    assert binance(bn, "POST", "/fapi/v1/algoOrder", {**algo, "reduceOnly": "true"})[1]["code"] == -1106
    assert binance(bn, "POST", "/fapi/v1/algoOrder", {**algo, "triggerPrice": f"{last * 1.1:.1f}"})[1]["code"] == -2021
    status, placed = binance(bn, "POST", "/fapi/v1/algoOrder", algo)
    assert status == 200 and placed["closePosition"] is True and placed["timeInForce"] == "GTE_GTC"
    assert placed["reduceOnly"] is True and placed["algoStatus"] == "NEW"
    assert binance(bn, "POST", "/fapi/v1/algoOrder", algo)[1]["code"] == -4130  # one per direction
    tp = {**algo, "type": "TAKE_PROFIT_MARKET", "triggerPrice": f"{last * 1.1:.1f}"}
    assert binance(bn, "POST", "/fapi/v1/algoOrder", tp)[0] == 200
    # the position closed by hand: its close-position orders expire
    assert binance(bn, "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET",
                                                   "quantity": "0.02", "reduceOnly": "true"})[0] == 200
    assert binance(bn, "GET", "/fapi/v1/openAlgoOrders")[1] == []
    rows = binance(bn, "GET", "/fapi/v1/allAlgoOrders", {"symbol": "BTCUSDT"})[1]
    assert [r["algoStatus"] for r in rows] == ["EXPIRED", "EXPIRED"]


# -- OKX -------------------------------------------------------------------------------------------------------------
def okx(acct, method, path, params=None, *, secret=SECRET, key=KEY, phrase=PHRASE, when=None, raw=None):
    stamp = (when or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    query = urlencode(params) if method == "GET" and params else ""
    body = raw if raw is not None else (json.dumps(params) if method == "POST" and params is not None else "")
    target = path + (f"?{query}" if query else "")
    sign = base64.b64encode(hmac.new(secret.encode(), f"{stamp}{method}{target}{body}".encode(),
                                     hashlib.sha256).digest()).decode()
    headers = {"OK-ACCESS-KEY": key, "OK-ACCESS-PASSPHRASE": phrase, "OK-ACCESS-TIMESTAMP": stamp,
               "OK-ACCESS-SIGN": sign}
    return acct.handle(method, path, query, body.encode(), headers)


@pytest.fixture
def ok(market):
    return OkxAccount(market, KEY, SECRET, passphrase=PHRASE)


def test_okx_signature_passphrase_and_timestamp(ok):
    status, answer = okx(ok, "GET", "/api/v5/account/balance")
    assert status == 200 and answer["code"] == "0" and answer["data"][0]["details"][0]["ccy"] == "USDT"
    assert okx(ok, "GET", "/api/v5/account/balance", secret="x")[1]["code"] == "50113"
    assert okx(ok, "GET", "/api/v5/account/balance", phrase="x")[1]["code"] == "50105"
    assert okx(ok, "GET", "/api/v5/account/balance", key="x")[1]["code"] == "50111"
    assert okx(ok, "GET", "/api/v5/account/balance", phrase="")[1]["code"] == "50104"
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=31)
    status, answer = okx(ok, "GET", "/api/v5/account/balance", when=old)
    assert (status, answer["code"], answer["msg"]) == (401, "50102", "Timestamp request expired.")
    assert okx(ok, "GET", "/api/v5/account/config")[1]["data"][0]["posMode"] == "net_mode"


def order(**over):
    return {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "market", "sz": "1", **over}


@pytest.mark.parametrize(("params", "code"), [
    (order(sz="0.15"), "51121"), (order(sz="100000"), "51008"), (order(ordType="limit", px="1000.05"), "51000"),
    (order(clOrdId="has-hyphen"), "51000"), (order(clOrdId="a" * 33), "51000"), (order(sz="1e999"), "51000"),
    (order(side="up"), "51000"), (order(instId="NOPE-USDT-SWAP"), "51001"), (order(sz=None), "51000"),
    (order(reduceOnly=True, side="sell"), "51205")])
def test_okx_order_errors_are_per_order(ok, params, code):
    status, answer = okx(ok, "POST", "/api/v5/trade/order", {k: v for k, v in params.items() if v is not None})
    assert status == 200 and answer["code"] == "1"
    assert answer["data"][0]["sCode"] == code, answer


def test_okx_duplicate_cancel_amend_and_bad_bodies(ok):
    limit = order(ordType="limit", px="1000.0", clOrdId="abc1")
    assert okx(ok, "POST", "/api/v5/trade/order", limit)[1]["code"] == "0"
    assert okx(ok, "POST", "/api/v5/trade/order", limit)[1]["data"][0]["sCode"] == "51016"
    cancel = {"instId": "BTC-USDT-SWAP", "clOrdId": "abc1"}
    amend = {**cancel, "newPx": "1100.0"}
    assert okx(ok, "POST", "/api/v5/trade/amend-order", amend)[1]["code"] == "0"
    assert okx(ok, "POST", "/api/v5/trade/cancel-order", cancel)[1]["code"] == "0"
    assert okx(ok, "POST", "/api/v5/trade/cancel-order", cancel)[1]["data"][0]["sCode"] == "51400"
    assert okx(ok, "POST", "/api/v5/trade/amend-order", amend)[1]["data"][0]["sCode"] == "51503"
    for raw in ("{not json", "[1, 2", json.dumps({"sz": 1e308}), "9" * 5000):
        status, answer = okx(ok, "POST", "/api/v5/trade/order", raw=raw)
        assert status == 200 and answer["code"] in ("1", "50002", "51000"), answer


def test_okx_sizes_are_contracts(ok):
    assert okx(ok, "POST", "/api/v5/trade/order", order(sz="2"))[1]["code"] == "0"
    assert ok.positions["BTCUSDT"].qty == pytest.approx(0.02)
    [pos] = okx(ok, "GET", "/api/v5/account/positions", {"instType": "SWAP"})[1]["data"]
    assert pos["pos"] == "2" and pos["instId"] == "BTC-USDT-SWAP"


def test_okx_the_positions_tpsl_is_one_close_algo(ok, market):
    last = market.last_price("BTCUSDT")
    algo = {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "sell", "ordType": "oco", "closeFraction": "1",
            "reduceOnly": True, "tpTriggerPx": f"{last * 1.1:.1f}", "tpOrdPx": "-1",
            "slTriggerPx": f"{last * 0.9:.1f}", "slOrdPx": "-1"}
    place = (lambda p: okx(ok, "POST", "/api/v5/trade/order-algo", p)[1]["data"][0]["sCode"])
    assert place(algo) == "51169"  # nothing held
    assert okx(ok, "POST", "/api/v5/trade/order", order(sz="2"))[1]["code"] == "0"
    assert place({**algo, "reduceOnly": False}) == "51328"
    assert place({**algo, "slTriggerPx": f"{last * 1.05:.1f}"}) == "51280"
    assert place({**algo, "tpTriggerPx": f"{last * 0.95:.1f}"}) == "51279"
    assert place({**algo, "slTriggerPx": None, "slOrdPx": None}) == "51000"  # oco needs both
    assert place(algo) == "0"
    assert place(algo) == "51088"  # one per position
    [row] = okx(ok, "GET", "/api/v5/trade/orders-algo-pending", {"ordType": "conditional,oco"})[1]["data"]
    assert (row["ordType"], row["side"], row["closeFraction"]) == ("oco", "sell", "1")
    [pos] = okx(ok, "GET", "/api/v5/account/positions", {"instType": "SWAP"})[1]["data"]
    assert pos["closeOrderAlgo"][0]["algoId"] == row["algoId"]
    cancel = [{"instId": "BTC-USDT-SWAP", "algoId": row["algoId"]}]
    assert okx(ok, "POST", "/api/v5/trade/cancel-algos", cancel)[1]["code"] == "0"
    assert (ok.positions["BTCUSDT"].take_profit, ok.positions["BTCUSDT"].stop_loss) == (0.0, 0.0)
    assert okx(ok, "GET", "/api/v5/trade/orders-algo-pending", {"ordType": "conditional,oco"})[1]["data"] == []
    assert okx(ok, "POST", "/api/v5/trade/cancel-algos", cancel)[1]["data"][0]["sCode"] == "51400"


# -- the server ------------------------------------------------------------------------------------------------------
def test_one_simulator_holds_an_account_per_venue(market):
    server = SimServer(market)
    assert add_accounts(server, KEY, SECRET, PHRASE) == ["bybit", "binance", "okx"]
    assert {v: list(a) for v, a in server.venue_accounts.items()} == {"bybit": [KEY], "binance": [KEY], "okx": [KEY]}
    assert server.accounts[KEY] is server.venue_accounts["bybit"][KEY]  # the old attribute still works
    assert add_accounts(SimServer(market), KEY, SECRET) == ["bybit", "binance"]
    with pytest.raises(ValueError, match="passphrase"):
        server.add_account(KEY, SECRET, exchange="okx")
    with pytest.raises(ValueError, match="no trading API"):
        server.add_account(KEY, SECRET, exchange="upbit")


@pytest.mark.parametrize("path", ["/api/v5/trade/amend-order", "/api/v5/trade/order-algo",
                                  "/api/v5/trade/amend-algos"])
@pytest.mark.parametrize("raw", ["[]", "null", "1", '"x"'])
def test_okx_bodies_that_are_not_objects_get_its_parameter_error(market, path, raw):
    status, answer = okx(OkxAccount(market, KEY, SECRET, passphrase=PHRASE), "POST", path, raw=raw)
    assert status == 200 and answer["code"] != "0" and "Traceback" not in json.dumps(answer)


def test_client_ids_with_a_trailing_newline_are_refused(market, bn):
    acct = OkxAccount(market, KEY, SECRET, passphrase=PHRASE)
    order = {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "market", "sz": "1",
             "clOrdId": "abc\n"}
    status, answer = okx(acct, "POST", "/api/v5/trade/order", order)
    assert answer["code"] != "0" and not acct.orders
    status, answer = binance(bn, "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                            "quantity": "0.01", "newClientOrderId": "abc\n"})
    assert status == 400 and not bn.orders
