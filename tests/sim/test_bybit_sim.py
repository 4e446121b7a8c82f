"""The simulator speaks Bybit v5: REST semantics and errors, WS acks/pongs, every close confirmed once."""
import asyncio
import json
from urllib.parse import urlencode

import numpy as np
import pytest
import requests
from websockets.asyncio.client import connect

from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer, SimThread

Q = 900_000


def test_market_is_deterministic_and_consistent():
    clock = SimClock(speed=1.0, start_ms=1_760_000_000_000)
    a = Market(clock, seed=9, history_days=5).candles("BTCUSDT", Q, 0, clock.start_ms - 1, now_ms=clock.start_ms)
    b = Market(clock, seed=9, history_days=5).candles("BTCUSDT", Q, 0, clock.start_ms - 1, now_ms=clock.start_ms)
    c = Market(clock, seed=10, history_days=5).candles("BTCUSDT", Q, 0, clock.start_ms - 1, now_ms=clock.start_ms)
    assert a == b and a != c
    arr = np.array([r[:6] for r in a])
    assert (np.diff(arr[:, 0]) == Q).all() and (arr[:, 0] % Q == 0).all()
    assert (arr[:, 3] <= np.minimum(arr[:, 1], arr[:, 4])).all() and (arr[:, 2] >= np.maximum(arr[:, 1], arr[:, 4])).all()
    assert (arr[:, 5] > 0).all()
    hour = Market(clock, seed=9, history_days=5).candles("BTCUSDT", 3_600_000, 0, clock.start_ms, now_ms=clock.start_ms)
    assert hour[0][2] == max(r[2] for r in a[:4]) and hour[0][5] == pytest.approx(sum(r[5] for r in a[:4]))
    with pytest.raises(KeyError, match="NOPE"):
        Market(clock).last_price("NOPE")


@pytest.fixture(scope="module")
def sim():
    s = SimThread(Market(SimClock(speed=1.0), seed=4, history_days=12)).start()
    yield s
    s.stop()


def get(sim, path, **params):
    return requests.get(f"{sim.rest_url('bybit')}{path}?{urlencode(params)}", timeout=5)


def test_kline_newest_first_limit_start_end(sim):
    body = get(sim, "/v5/market/kline", category="linear", symbol="BTCUSDT", interval="15", limit=5).json()
    assert body["retCode"] == 0 and body["retMsg"] == "OK" and isinstance(body["time"], int)
    rows = body["result"]["list"]
    assert len(rows) == 5 and all(isinstance(x, str) for r in rows for x in r) and len(rows[0]) == 7
    starts = [int(r[0]) for r in rows]
    assert starts == sorted(starts, reverse=True)
    assert starts[0] + Q > body["time"]  # first row = the forming candle
    assert "." in rows[0][1] and len(rows[0][1].split(".")[1]) == 1  # BTC tick 0.1
    start = starts[-1] - 20 * Q
    ranged = get(sim, "/v5/market/kline", symbol="BTCUSDT", interval="15", start=start, end=start + 3 * Q).json()
    assert [int(r[0]) for r in ranged["result"]["list"]] == [start + 3 * Q, start + 2 * Q, start + Q, start]
    assert len(get(sim, "/v5/market/kline", symbol="BTCUSDT", interval="D").json()["result"]["list"]) == 13


@pytest.mark.parametrize("params, text", [
    ({"symbol": "NOPEUSDT", "interval": "15"}, "symbol invalid"),
    ({"symbol": "btcusdt", "interval": "15"}, "symbol invalid"),
    ({"symbol": "BTCUSDT", "interval": "7"}, "interval"),
    ({"symbol": "BTCUSDT", "interval": "15", "limit": 1001}, "limit"),
    ({"symbol": "BTCUSDT", "interval": "15", "category": "option"}, "category"),
    ({"interval": "15"}, "symbol"),
])
def test_kline_parameter_errors(sim, params, text):
    r = get(sim, "/v5/market/kline", **params)
    assert r.status_code == 200 and r.json()["retCode"] == 10001 and text in r.json()["retMsg"]


def test_other_endpoints(sim):
    t = get(sim, "/v5/market/tickers", category="linear", symbol="ETHUSDT").json()["result"]["list"][0]
    assert t["symbol"] == "ETHUSDT" and float(t["lastPrice"]) > 0 and float(t["turnover24h"]) > 0
    assert int(get(sim, "/v5/market/time").json()["result"]["timeSecond"]) > 1_700_000_000
    info = get(sim, "/v5/market/instruments-info", category="linear", symbol="DOGEUSDT").json()["result"]["list"][0]
    assert info["priceFilter"]["tickSize"] == "0.00001" and info["status"] == "Trading"
    assert get(sim, "/v5/market/nothing").status_code == 404
    assert requests.get(sim.rest_url("bybit").replace("/bybit", "/mtgox") + "/x", timeout=5).status_code == 404


async def test_ws_acks_pong_errors_and_every_close_confirmed_once():
    market = Market(SimClock(speed=3600.0), seed=8, history_days=1)
    server = SimServer(market, push_interval=0.05)
    await server.start()
    try:
        async with connect(server.ws_url("bybit")) as ws:
            await ws.send(json.dumps({"req_id": "a", "op": "subscribe", "args": ["kline.15.BTCUSDT", "tickers.BTCUSDT"]}))
            await ws.send(json.dumps({"req_id": "b", "op": "subscribe", "args": ["kline.15.NOPEUSDT"]}))
            await ws.send(json.dumps({"req_id": "p", "op": "ping"}))
            await ws.send("garbage")
            replies, confirmed, forming, tickers = {}, [], [], 0
            loop = asyncio.get_running_loop()
            end = loop.time() + 3.0
            while loop.time() < end:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 2))
                if "op" in msg:
                    replies[msg["req_id"] or msg["op"] or "bad"] = msg
                elif msg["topic"].startswith("kline"):
                    for item in msg["data"]:
                        (confirmed if item["confirm"] else forming).append(item)
                else:
                    tickers += 1
        assert replies["a"]["success"] is True and replies["a"]["op"] == "subscribe"
        assert replies["b"]["success"] is False and "NOPEUSDT" in replies["b"]["ret_msg"]
        assert replies["p"]["ret_msg"] == "pong" and replies["p"]["op"] == "ping"
        assert replies["bad"]["success"] is False
        assert tickers >= 2
        starts = [c["start"] for c in confirmed]
        assert len(starts) >= 8 and starts == sorted(set(starts)) and (np.diff(starts) == Q).all()
        truth = market.closed_candles("BTCUSDT", Q, starts[0], starts[-1])
        assert [(c["start"], c["open"], c["high"], c["low"], c["close"], c["volume"]) for c in confirmed] == [
            (r[0], market.fmt_price("BTCUSDT", r[1]), market.fmt_price("BTCUSDT", r[2]),
             market.fmt_price("BTCUSDT", r[3]), market.fmt_price("BTCUSDT", r[4]), market.fmt_qty("BTCUSDT", r[5]))
            for r in truth]
        assert all(c["end"] == c["start"] + Q - 1 for c in confirmed)
    finally:
        await server.stop()


async def test_idle_connection_is_closed():
    server = SimServer(Market(SimClock(), seed=1, history_days=1), push_interval=0.05, idle_timeout=0.3)
    await server.start()
    try:
        async with connect(server.ws_url("bybit")) as ws:
            await asyncio.wait_for(ws.wait_closed(), 3)
            assert ws.close_code == 1000
    finally:
        await server.stop()
