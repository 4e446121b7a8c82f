"""Bybit v5 public WebSocket over loopback: acks, pong, errors, kline pushes (every close once), tickers, trades."""
import json
from pathlib import Path

import numpy as np
from sim_helpers import client, collect, recv_json, running, send, until

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bybit"
Q, M1 = 900_000, 60_000


def real_frames(name):
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


def real(name, kind):
    """The first recorded frame of a topic kind (e.g. "publicTrade") or op reply (e.g. "subscribe")."""
    return next(f for f in real_frames(name) if str(f.get("topic", "")).startswith(kind + ".") or f.get("op") == kind)


def same_shape(mine: dict, real: dict, path="") -> None:
    """`mine` has every key of `real`, each with the same JSON type (recursing into objects)."""
    for key, value in real.items():
        assert key in mine, f"{path}{key} missing"
        assert type(mine[key]) is type(value) or {type(mine[key]), type(value)} <= {int, float}, f"{path}{key}"
        if isinstance(value, dict):
            same_shape(mine[key], value, f"{path}{key}.")


async def test_acks_pong_and_errors_keep_the_connection():
    async with running() as server, client(server) as ws:
        await send(ws, req_id="sub-1", op="subscribe", args=["kline.15.BTCUSDT"])
        ack = await recv_json(ws)
        same_shape(ack, real("ws_other.jsonl", "subscribe"))
        assert list(ack) == ["success", "ret_msg", "conn_id", "req_id", "op"]
        assert ack["success"] is True and ack["ret_msg"] == "" and ack["req_id"] == "sub-1" and ack["op"] == "subscribe"
        await send(ws, op="ping")
        pong = (await until(ws, lambda f: f.get("op") == "ping"))[-1]
        assert pong == {"success": True, "ret_msg": "pong", "conn_id": ack["conn_id"], "req_id": "", "op": "ping"}
        await send(ws, req_id="p7", op="ping")
        assert (await until(ws, lambda f: f.get("op") == "ping"))[-1]["req_id"] == "p7"
        for bad in ("garbage", "[1, 2]", json.dumps({"op": "auth", "req_id": "x"}),
                    json.dumps({"op": "subscribe", "args": "kline.15.BTCUSDT"})):
            await ws.send(bad)
            reply = (await until(ws, lambda f: "success" in f))[-1]
            assert reply["success"] is False and reply["ret_msg"].startswith("error:"), (bad, reply)
        await send(ws, req_id="mixed", op="subscribe", args=["kline.15.NOPEUSDT", "tickers.ETHUSDT", "kline.7.BTCUSDT",
                                                               "orderbook.1.BTCUSDT"])
        frames = await until(ws, lambda f: f.get("req_id") == "mixed")
        reply = frames[-1]
        assert reply["success"] is False and reply["op"] == "subscribe"
        for topic in ("kline.15.NOPEUSDT", "kline.7.BTCUSDT", "orderbook.1.BTCUSDT"):
            assert topic in reply["ret_msg"]
        assert "tickers.ETHUSDT" not in reply["ret_msg"]  # the good topic of the request IS subscribed
        frames = await until(ws, lambda f: f.get("topic") == "tickers.ETHUSDT")
        assert frames[-1]["type"] == "snapshot"
        await send(ws, req_id="u", op="unsubscribe", args=["tickers.ETHUSDT"])
        assert (await until(ws, lambda f: f.get("req_id") == "u"))[-1]["success"] is True
        later = await collect(ws, 0.3)
        assert later and all(f.get("topic") != "tickers.ETHUSDT" for f in later)
        await send(ws, req_id="u2", op="unsubscribe", args=["tickers.ETHUSDT"])
        assert (await until(ws, lambda f: f.get("req_id") == "u2"))[-1]["success"] is False
        assert server.ws_connections_open == 1


async def test_kline_push_shape_and_first_push_is_the_forming_candle():
    async with running(speed=60.0) as server, client(server) as ws:
        await send(ws, req_id="a", op="subscribe", args=["kline.1.BTCUSDT", "kline.D.DOGEUSDT"])
        frames = [await recv_json(ws) for _ in range(3)]
        assert frames[0]["req_id"] == "a"
        rec = real("ws_kline.jsonl", "kline")
        by_topic = {f["topic"]: f for f in frames[1:]}
        for topic, ms in (("kline.1.BTCUSDT", M1), ("kline.D.DOGEUSDT", 86_400_000)):
            f = by_topic[topic]
            same_shape(f, rec)
            same_shape(f["data"][0], rec["data"][0])
            item = f["data"][0]
            assert f["type"] == "snapshot" and len(f["data"]) == 1 and item["confirm"] is False
            assert item["start"] % ms == 0 and item["end"] == item["start"] + ms - 1
            assert item["start"] <= f["ts"] <= item["end"] and item["interval"] == topic.split(".")[1]
        assert len(by_topic["kline.D.DOGEUSDT"]["data"][0]["open"].split(".")[1]) == 5


async def test_every_close_is_confirmed_once_in_order_at_high_speed():
    # x3600: a 15m candle closes every 0.25 s, a 1m candle every 1/60 s (~15 closes between two pushes)
    async with running(speed=3600.0, push_interval=0.25) as server, client(server) as ws:
        topics = ["kline.15.BTCUSDT", "kline.1.ETHUSDT"]
        await send(ws, req_id="s", op="subscribe", args=topics)
        frames = await collect(ws, 2.2)
    m = server.market
    assert frames[0]["success"] is True
    for topic, ms in zip(topics, (Q, M1)):
        sym = topic.rsplit(".", 1)[1]
        pushes = [f for f in frames if f.get("topic") == topic]
        items = [i for f in pushes for i in f["data"]]
        assert items[0]["confirm"] is False  # first push: the forming candle
        confirmed = [i for i in items if i["confirm"]]
        starts = [i["start"] for i in confirmed]
        assert len(starts) >= (5 if ms == Q else 60)
        assert starts[0] == items[0]["start"] and (np.diff(starts) == ms).all()  # from the first one, none skipped
        seen_confirmed = set()
        for i in items:  # nothing about a bucket after its confirmation
            assert i["start"] not in seen_confirmed
            if i["confirm"]:
                seen_confirmed.add(i["start"])
        for f in pushes:  # within a frame: closed ones first, then at most one forming, all in order
            flags = [i["confirm"] for i in f["data"]]
            assert flags == sorted(flags, reverse=True) and flags.count(False) <= 1
            assert [i["start"] for i in f["data"]] == sorted(i["start"] for i in f["data"])
        truth = m.closed_candles(sym, ms, starts[0], starts[-1])
        expect = [(c.open_time, m.fmt_price(sym, c.open), m.fmt_price(sym, c.high), m.fmt_price(sym, c.low),
                   m.fmt_price(sym, c.close), m.fmt_qty(sym, c.volume), m.fmt_turnover(sym, c.turnover)) for c in truth]
        assert [(i["start"], i["open"], i["high"], i["low"], i["close"], i["volume"], i["turnover"])
                for i in confirmed] == expect


async def test_forming_candle_evolves_and_boundary_frame_has_closed_then_new():
    async with running(speed=1800.0, push_interval=0.05) as server, client(server) as ws:
        await send(ws, op="subscribe", args=["kline.15.SOLUSDT"])
        frames = [f for f in await collect(ws, 1.2) if "topic" in f]
    boundary = [f for f in frames if len(f["data"]) == 2]
    assert boundary, "no frame carried a close and the next candle"
    closed, new = boundary[0]["data"]
    assert closed["confirm"] is True and new["confirm"] is False and new["start"] == closed["end"] + 1
    forming = [i for f in frames for i in f["data"] if not i["confirm"] and i["start"] == new["start"]]
    assert len({(i["close"], i["volume"]) for i in forming}) > 1  # it updates while it forms
    volumes = [float(i["volume"]) for i in forming]
    assert volumes == sorted(volumes)


async def test_ticker_snapshot_then_deltas():
    async with running(speed=600.0) as server, client(server) as ws:
        await send(ws, req_id="t", op="subscribe", args=["tickers.BTCUSDT"])
        frames = [f for f in await collect(ws, 1.0) if "topic" in f]
    snap, deltas = frames[0], frames[1:]
    real_snap = real("ws_other.jsonl", "tickers")
    real_delta = next(f for f in real_frames("ws_other.jsonl") if f.get("type") == "delta" and "tickers" in f["topic"])
    assert snap["type"] == "snapshot" and snap["topic"] == "tickers.BTCUSDT"
    assert set(snap) == set(real_snap) and isinstance(snap["cs"], int) and isinstance(snap["ts"], int)
    sample = json.loads((FIXTURES / "ws_ticker.json").read_text())["data"]
    same_shape(snap["data"], sample)
    assert deltas and all(d["type"] == "delta" and set(d) == set(real_delta) for d in deltas)
    assert all(d["data"]["symbol"] == "BTCUSDT" and len(d["data"]) > 1 for d in deltas)
    assert any("lastPrice" in d["data"] for d in deltas)
    state = dict(snap["data"])
    for d in deltas:  # a delta carries only what changed
        assert all(state[k] != v for k, v in d["data"].items() if k != "symbol")
        state.update(d["data"])
    cs = [f["cs"] for f in frames]
    assert cs == sorted(cs) and [f["ts"] for f in frames] == sorted(f["ts"] for f in frames)
    truth = server.market.ticker("BTCUSDT", frames[-1]["ts"])
    assert state["lastPrice"] == server.market.fmt_price("BTCUSDT", truth["lastPrice"])


async def test_public_trades():
    async with running(speed=600.0) as server, client(server) as ws:
        await send(ws, op="subscribe", args=["publicTrade.ETHUSDT"])
        frames = [f for f in await collect(ws, 0.6) if "topic" in f]
    rec = real("ws_other.jsonl", "publicTrade")
    trades = [t for f in frames for t in f["data"]]
    assert frames and trades
    same_shape(frames[0], rec)
    same_shape(trades[0], rec["data"][0])
    seqs = [t["seq"] for t in trades]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    m = server.market
    assert [(t["T"], t["p"], t["v"]) for t in trades] == [
        (x.time_ms, m.fmt_price("ETHUSDT", x.price), m.fmt_qty("ETHUSDT", x.qty))
        for x in m.trades("ETHUSDT", trades[0]["T"] - 1, trades[-1]["T"])]
