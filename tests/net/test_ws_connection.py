"""WsConnection against a tiny scripted WebSocket server on 127.0.0.1 (real sockets)."""
import json
import logging

from waiting import wait_for
from websockets.asyncio.server import serve

from twinstar_gui.core.models import KlineEvent
from twinstar_gui.exchanges import get_exchange
from twinstar_gui.net.backoff import ReconnectPolicy
from twinstar_gui.net.ws import StreamState, WsConnection

KLINE = {"topic": "kline.15.BTCUSDT", "type": "snapshot", "ts": 1, "data": [{
    "start": 1736942400000, "end": 1736943299999, "interval": "15", "open": "1", "close": "2", "high": "3",
    "low": "0.5", "volume": "10", "turnover": "20", "confirm": False, "timestamp": 1}]}




async def test_malformed_frame_is_logged_and_skipped_stream_goes_on(caplog):
    received = []

    async def handler(ws):
        msg = json.loads(await ws.recv())
        received.append(msg)
        await ws.send(json.dumps({"success": True, "ret_msg": "", "conn_id": "c", "req_id": msg["req_id"],
                                  "op": "subscribe"}))
        await ws.send("{not json")
        await ws.send(json.dumps(KLINE))
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        events = []
        conn = WsConnection(get_exchange("bybit"), url=f"ws://127.0.0.1:{port}", on_events=events.extend)
        await conn.subscribe(["kline.15.BTCUSDT"])
        with caplog.at_level(logging.WARNING):
            conn.start()
            await wait_for(lambda: events)
        await conn.stop()
    assert received[0]["op"] == "subscribe" and received[0]["args"] == ["kline.15.BTCUSDT"]
    assert isinstance(events[0], KlineEvent) and events[0].high == 3.0
    assert conn.bad_messages == 1
    assert any("malformed" in r.getMessage() and "{not json" in r.getMessage() for r in caplog.records)


async def test_heartbeat_reconnect_and_resubscribe():
    pings, subs, conns = [], [], []

    async def handler(ws):
        conns.append(ws)
        async for raw in ws:
            msg = json.loads(raw)
            if msg["op"] == "ping":
                pings.append(msg)
                await ws.send(json.dumps({"success": True, "ret_msg": "pong", "conn_id": "c", "req_id": "",
                                          "op": "ping"}))
            elif msg["op"] == "subscribe":
                subs.append(msg["args"])
                if len(conns) == 1:
                    await ws.close()  # drop the first connection right after the subscription

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        connects = []
        conn = WsConnection(get_exchange("bybit"), url=f"ws://127.0.0.1:{port}", heartbeat_interval=0.1,
                            policy=ReconnectPolicy(base=0.05, jitter=0.0), on_connect=lambda: connects.append(1))
        await conn.subscribe(["kline.15.BTCUSDT", "tickers.BTCUSDT"])
        conn.start()
        await wait_for(lambda: len(subs) >= 2 and len(pings) >= 2)
        assert conn.state is StreamState.LIVE and conn.is_healthy(5.0)
        await conn.stop()
    assert sorted(subs[0]) == sorted(subs[1]) == ["kline.15.BTCUSDT", "tickers.BTCUSDT"]  # replayed
    assert len(connects) >= 2 and conn.reconnects >= 1
    assert not conn.is_healthy()


async def test_silent_half_open_socket_is_dropped_by_the_watchdog():
    conns = []

    async def handler(ws):
        conns.append(ws)
        await ws.wait_closed()  # accepts, never answers anything: a half-open stream

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        conn = WsConnection(get_exchange("bybit"), url=f"ws://127.0.0.1:{port}", max_silence=0.3,
                            heartbeat_interval=0.1, policy=ReconnectPolicy(base=0.05, jitter=0.0))
        conn.start()
        await wait_for(lambda: len(conns) >= 2, timeout=5)
        assert "no data" in conn.last_error
        await conn.stop()


PONG_DELAY = 0.15


async def test_ping_rtt_is_measured_and_a_missing_pong_drops_the_connection():
    answer = {"pongs": True}
    conns = []

    async def handler(ws):
        conns.append(ws)
        async def feed():
            import asyncio
            while True:  # data keeps flowing whatever happens to pongs
                await ws.send(json.dumps(KLINE))
                await asyncio.sleep(0.02)
        import asyncio
        task = asyncio.create_task(feed())
        try:
            async for raw in ws:
                msg = json.loads(raw)
                if msg["op"] == "ping" and answer["pongs"]:
                    await asyncio.sleep(PONG_DELAY)  # a slow exchange: the round trip is at least this long
                    await ws.send(json.dumps({"success": True, "ret_msg": "pong", "conn_id": "c", "req_id": "",
                                              "op": "ping"}))
        except Exception:  # noqa: BLE001 - the client hung up or the test ended: this connection is done
            pass
        finally:
            task.cancel()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        conn = WsConnection(get_exchange("bybit"), url=f"ws://127.0.0.1:{port}", heartbeat_interval=0.1,
                            pong_timeout=0.5, max_silence=5.0, policy=ReconnectPolicy(base=0.05, jitter=0.0))
        await conn.subscribe(["kline.15.BTCUSDT"])
        conn.start()
        await wait_for(lambda: conn.ping_rtt is not None, what="a measured ping round trip")
        # ping to pong, not less (the server's sleep runs on a Qt coarse timer, which may fire up to 5% early)
        assert conn.ping_rtt >= 0.9 * PONG_DELAY and conn.health().ping_rtt == conn.ping_rtt
        answer["pongs"] = False
        await wait_for(lambda: "no pong" in conn.last_error, what="the pong timeout")
        await wait_for(lambda: len(conns) >= 2, what="a new connection after the pong timeout")
        await conn.stop()
