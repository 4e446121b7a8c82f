"""Bybit v5 REST over real loopback HTTP: kline semantics, errors, tickers, time, instruments, faults."""
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import requests
from sim_helpers import START_MS

from twinstar_gui.sim import bybit
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import DAY_MS, Market
from twinstar_gui.sim.server import SimThread

Q = 900_000
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bybit"


@pytest.fixture(scope="module")
def sim():
    s = SimThread(Market(SimClock(speed=1.0, start_ms=START_MS), seed=4, history_days=12)).start()
    yield s
    s.stop()


def get(sim, path, **params):
    return requests.get(f"{sim.rest_url('bybit')}{path}", params=params, timeout=5)


def kline(sim, **params):
    query = {"category": "linear", "symbol": "BTCUSDT", "interval": "15", **params}
    body = get(sim, "/v5/market/kline", **query).json()
    assert body["retCode"] == 0, body
    return body, [int(r[0]) for r in body["result"]["list"]]


def test_kline_envelope_rows_and_forming_first(sim):
    r = get(sim, "/v5/market/kline", category="linear", symbol="BTCUSDT", interval="15", limit=5)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.headers["Connection"].lower() == "close"
    body = r.json()
    assert list(body) == ["retCode", "retMsg", "result", "retExtInfo", "time"]
    assert body["retMsg"] == "OK" and body["retExtInfo"] == {} and isinstance(body["time"], int)
    assert body["result"]["category"] == "linear" and body["result"]["symbol"] == "BTCUSDT"
    rows = body["result"]["list"]
    sample = json.loads((FIXTURES / "rest_klines.json").read_text())["result"]["list"][0]
    assert len(rows) == 5 and all(len(row) == len(sample) and all(isinstance(x, str) for x in row) for row in rows)
    starts = [int(row[0]) for row in rows]
    assert starts == [starts[0] - k * Q for k in range(5)]  # newest first, contiguous
    assert starts[0] <= body["time"] < starts[0] + Q  # the first row is the forming candle
    assert all(len(row[k].split(".")[1]) == 1 for row in rows for k in (1, 2, 3, 4))  # BTC tick 0.1
    assert all(len(row[5].split(".")[1]) == 3 for row in rows)  # lot 0.001


def test_kline_closed_rows_equal_ground_truth(sim):
    body, starts = kline(sim, limit=300)
    m = sim.market
    truth = {c.open_time: bybit.kline_row(m, "BTCUSDT", c)
             for c in m.closed_candles("BTCUSDT", Q, starts[-1], starts[1])}
    assert [truth[s] for s in starts[1:]] == body["result"]["list"][1:]


def test_kline_limit_start_end(sim):
    _, default = kline(sim)
    assert len(default) == 200
    _, one = kline(sim, limit=1)
    assert one == default[:1]
    cur = default[0]
    _, ranged = kline(sim, start=cur - 20 * Q, end=cur - 17 * Q)
    assert ranged == [cur - 17 * Q, cur - 18 * Q, cur - 19 * Q, cur - 20 * Q]
    _, unaligned = kline(sim, start=cur - 20 * Q + 1, end=cur - 17 * Q + 5)
    assert unaligned == [cur - 17 * Q, cur - 18 * Q, cur - 19 * Q]  # open times within [start, end]
    _, newest = kline(sim, start=cur - 300 * Q, limit=50)
    assert newest == [cur - k * Q for k in range(50)]  # the NEWEST `limit` rows of the range
    _, since = kline(sim, start=cur - 300 * Q, limit=1000)
    assert len(since) == 301 and since[-1] == cur - 300 * Q
    _, ancient = kline(sim, start=0, end=cur - 11 * DAY_MS)
    assert ancient and ancient[-1] == sim.market.genesis  # nothing before the simulated listing
    _, future = kline(sim, start=cur + Q)
    assert future == []
    body, days = kline(sim, interval="D")
    assert len(days) == 13 and all(d % DAY_MS == 0 for d in days)


@pytest.mark.parametrize("params, text", [
    ({"symbol": "NOPEUSDT"}, "params error: symbol invalid"),
    ({"symbol": "btcusdt"}, "symbol invalid"),
    ({"symbol": ""}, "symbol"),
    ({"interval": "7"}, "interval"),
    ({"interval": "W"}, "interval"),
    ({"limit": 1001}, "limit"),
    ({"limit": 0}, "limit"),
    ({"start": "yesterday"}, "start"),
    ({"category": "spot"}, "category"),
])
def test_kline_parameter_errors(sim, params, text):
    r = get(sim, "/v5/market/kline", **{"category": "linear", "symbol": "BTCUSDT", "interval": "15", **params})
    body = r.json()
    assert r.status_code == 200 and body["retCode"] == 10001 and text in body["retMsg"], body
    assert isinstance(body["time"], int) and body["result"] == {}


def test_tickers(sim):
    sample = json.loads((FIXTURES / "ws_ticker.json").read_text())["data"]
    every = get(sim, "/v5/market/tickers", category="linear").json()["result"]
    assert every["category"] == "linear" and [t["symbol"] for t in every["list"]] == sim.market.symbols
    for t in every["list"]:
        assert set(sample) <= set(t) and all(isinstance(v, str) for v in t.values())
        assert float(t["bid1Price"]) < float(t["ask1Price"]) and float(t["turnover24h"]) > 0
        assert float(t["lowPrice24h"]) <= float(t["lastPrice"]) <= float(t["highPrice24h"])
    one = get(sim, "/v5/market/tickers", category="linear", symbol="ETHUSDT").json()["result"]["list"]
    assert len(one) == 1 and one[0]["symbol"] == "ETHUSDT" and len(one[0]["lastPrice"].split(".")[1]) == 2
    assert get(sim, "/v5/market/tickers", symbol="NOPEUSDT").json()["retCode"] == 10001


def test_time_and_instruments(sim):
    body = get(sim, "/v5/market/time").json()
    assert body["retCode"] == 0 and body["retMsg"] == "OK" and body["retExtInfo"] == {}
    assert int(body["result"]["timeSecond"]) == int(body["result"]["timeNano"]) // 10 ** 9
    assert abs(int(body["result"]["timeSecond"]) * 1000 - body["time"]) < 1000
    items = get(sim, "/v5/market/instruments-info", category="linear").json()["result"]["list"]
    # linear lists Trading symbols by default: the delisted MATIC is not there, RNDR is listed as RENDER
    listed = [s.replace("RNDR", "RENDER") for s in sim.market.symbols if s != "MATICUSDT"]
    assert [i["symbol"] for i in items] == listed and all(i["status"] == "Trading" for i in items)
    (closed,) = get(sim, "/v5/market/instruments-info", category="linear", status="Closed").json()["result"]["list"]
    assert (closed["symbol"], closed["status"], closed["baseCoin"]) == ("MATICUSDT", "Closed", "MATIC")
    render = get(sim, "/v5/market/instruments-info", symbol="RENDERUSDT").json()["result"]["list"][0]
    assert render["baseCoin"] == "RENDER" and render["priceFilter"]["tickSize"] == "0.001"
    assert get(sim, "/v5/market/instruments-info", symbol="RNDRUSDT").json()["result"]["list"] == []
    doge = get(sim, "/v5/market/instruments-info", category="linear", symbol="DOGEUSDT").json()["result"]["list"][0]
    assert doge["contractType"] == "LinearPerpetual" and doge["status"] == "Trading"
    assert (doge["baseCoin"], doge["quoteCoin"], doge["priceScale"]) == ("DOGE", "USDT", "5")
    assert doge["priceFilter"]["tickSize"] == "0.00001" and doge["lotSizeFilter"]["qtyStep"] == "1"
    assert float(doge["priceFilter"]["minPrice"]) < float(doge["priceFilter"]["maxPrice"])
    pepe = get(sim, "/v5/market/instruments-info", symbol="1000PEPEUSDT").json()["result"]["list"][0]
    assert pepe["baseCoin"] == "1000PEPE" and pepe["priceFilter"]["tickSize"] == "0.0000001"
    assert get(sim, "/v5/market/instruments-info", symbol="NOPEUSDT").json()["result"]["list"] == []
    spot = get(sim, "/v5/market/instruments-info", category="spot").json()  # multi-category loaders keep working
    assert spot["retCode"] == 0 and spot["result"] == {"category": "spot", "list": [], "nextPageCursor": ""}
    assert get(sim, "/v5/market/instruments-info", category="futures").json()["retCode"] == 10001


def test_unknown_paths_are_json_404(sim):
    r = get(sim, "/v5/market/nothing")
    assert r.status_code == 404 and r.headers["Content-Type"] == "application/json" and "nothing" in r.json()["retMsg"]
    r = requests.get(sim.rest_url("bybit").replace("/bybit", "/mtgox") + "/v5/market/time", timeout=5)
    assert r.status_code == 404 and "error" in r.json()
    with pytest.raises(ValueError, match="mtgox"):
        sim.rest_url("mtgox")


def test_fault_injection_status_retry_after_and_counter(sim):
    before = sim.server.rest_requests
    sim.fail_rest(429, times=2, retry_after=0.5)
    sim.fail_rest(503, times=1)
    for _ in range(2):
        r = get(sim, "/v5/market/time")
        assert r.status_code == 429 and r.headers["Retry-After"] == "0.5"
        assert r.json()["retCode"] == 10006 and "X-Bapi-Limit-Status" in r.headers
    r = get(sim, "/v5/market/time")
    assert r.status_code == 503 and "Retry-After" not in r.headers and r.json()["retCode"] != 0
    assert get(sim, "/v5/market/time").status_code == 200
    assert sim.server.rest_requests == before + 4


def test_clients_with_and_without_connection_reuse(sim):
    with requests.Session() as s:  # a pooled session must not trip over sockets the server closes
        for _ in range(15):
            assert s.get(f"{sim.rest_url()}/v5/market/time", timeout=5).json()["retCode"] == 0
    url = f"{sim.rest_url()}/v5/market/kline?category=linear&symbol=SOLUSDT&interval=60&limit=3"
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.status == 200 and len(json.load(resp)["result"]["list"]) == 3
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{sim.rest_url()}/nope", timeout=5)
    assert err.value.code == 404


def test_handler_without_sockets_never_raises_on_odd_queries():
    m = Market(SimClock(start_ms=START_MS), history_days=1)
    for query in ({}, {"symbol": "BTCUSDT"}, {"symbol": "BTCUSDT", "interval": "15", "end": "-5"},
                  {"symbol": "BTCUSDT", "interval": "15", "start": "99999999999999", "end": "1"},
                  {"symbol": "BTCUSDT", "interval": "1", "limit": "1000", "start": "0"}):
        status, body = bybit.handle_rest(m, "/v5/market/kline", query)
        assert status == 200 and body["retCode"] in (0, 10001)
    status, body = bybit.handle_rest(m, "/v5/market/kline", {"symbol": "BTCUSDT", "interval": "1", "limit": "1000"})
    assert len(body["result"]["list"]) == 1000
