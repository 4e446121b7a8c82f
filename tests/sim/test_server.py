"""SimServer: one port for REST and WS, fault injection (drop, freeze, idle, rejected topics), threads, CLI."""
import asyncio
import json
import signal
import subprocess
import sys
import time

import pytest
import requests
from sim_helpers import START_MS, client, collect, recv_json, running, send, until
from websockets.exceptions import ConnectionClosed, InvalidStatus

from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer, SimThread


async def test_urls_share_one_port_and_unknown_ws_paths_are_refused():
    async with running() as server:
        assert server.port > 0
        assert server.rest_url() == f"http://127.0.0.1:{server.port}/bybit"
        assert server.ws_url("bybit") == f"ws://127.0.0.1:{server.port}/bybit/v5/public/linear"
        for path in ("/bybit/v5/public/spot", "/nope/v5/public/linear", "/"):
            with pytest.raises(InvalidStatus) as err:
                async with client(server, path):
                    pass
            assert err.value.response.status_code == 404
        assert server.ws_connections_total == 0 and server.rest_requests == 0


async def test_drop_connections_aborts_without_close_frame_and_clients_can_reconnect():
    async with running(speed=600.0) as server:
        async with client(server) as a, client(server) as b:
            for ws in (a, b):
                await send(ws, op="subscribe", args=["kline.1.BTCUSDT"])
                await until(ws, lambda f: "topic" in f)
            assert server.ws_connections_open == 2 and server.ws_connections_total == 2
            await server.drop_connections()
            for ws in (a, b):
                with pytest.raises(ConnectionClosed):
                    while True:
                        await asyncio.wait_for(ws.recv(), 2)
                assert ws.protocol.close_rcvd is None and ws.close_code == 1006  # cut, not closed
        for _ in range(500):  # the server's side of the cut connections ends shortly (10 s on a loaded machine)
            if server.ws_connections_open == 0:
                break
            await asyncio.sleep(0.02)
        assert server.ws_connections_open == 0
        async with client(server) as c:
            await send(c, req_id="again", op="subscribe", args=["kline.1.BTCUSDT"])
            assert (await recv_json(c))["success"] is True
            assert "topic" in await recv_json(c)
        assert server.ws_connections_total == 3


async def test_freeze_is_a_half_open_stream_and_unfreeze_resumes():
    async with running(speed=600.0) as server, client(server) as ws:
        await send(ws, op="subscribe", args=["kline.1.BTCUSDT", "tickers.BTCUSDT"])
        await until(ws, lambda f: "topic" in f)
        server.freeze(True)
        await collect(ws, 0.15)  # whatever was already in flight
        await send(ws, req_id="frozen-ping", op="ping")
        waiter = await ws.ping()  # a protocol-level ping goes unanswered too
        assert await collect(ws, 0.6) == []
        assert not waiter.done() and server.ws_connections_open == 1
        server.freeze(False)
        frames = await until(ws, lambda f: f.get("req_id") == "frozen-ping")
        assert frames[-1]["ret_msg"] == "pong"
        await asyncio.wait_for(waiter, 2)
        assert any("topic" in f for f in await collect(ws, 0.3))


async def test_a_connection_opened_while_frozen_gets_its_acks_after_unfreeze():
    async with running() as server:
        server.freeze(True)
        async with client(server) as ws:
            await send(ws, req_id="late", op="subscribe", args=["kline.15.BTCUSDT"])
            assert await collect(ws, 0.4) == []
            server.freeze(False)
            assert (await until(ws, lambda f: f.get("req_id") == "late"))[-1]["success"] is True


async def test_idle_connection_is_closed_but_pings_keep_it_open():
    async with running(idle_timeout=0.4) as server, client(server) as idle, client(server) as busy:
        loop = asyncio.get_running_loop()
        end = loop.time() + 0.9
        while loop.time() < end:
            await send(busy, op="ping")
            await asyncio.sleep(0.1)
        await asyncio.wait_for(idle.wait_closed(), 2)
        assert idle.close_code == 1000
        await send(busy, req_id="alive", op="ping")
        assert (await until(busy, lambda f: f.get("req_id") == "alive"))[-1]["ret_msg"] == "pong"


async def test_rejected_topics_and_bad_messages_never_kill_the_server(caplog):
    async with running() as server:
        server.reject_topics({"kline.15.ETHUSDT"})
        async with client(server) as ws:
            await send(ws, req_id="r", op="subscribe", args=["kline.15.ETHUSDT", "kline.15.BTCUSDT"])
            reply = await recv_json(ws)
            assert reply["success"] is False and "kline.15.ETHUSDT" in reply["ret_msg"]
            assert "kline.15.BTCUSDT" not in reply["ret_msg"]
            await ws.send(b"\xff\xfe binary junk")
            await ws.send(json.dumps({"op": "subscribe", "args": [["nested"], 5]}))
            await ws.send("{" * 5000)
            await send(ws, req_id="still", op="ping")
            assert (await until(ws, lambda f: f.get("req_id") == "still"))[-1]["success"] is True
        server.reject_topics(set())
        async with client(server) as ws:
            await send(ws, req_id="ok", op="subscribe", args=["kline.15.ETHUSDT"])
            assert (await recv_json(ws))["success"] is True


async def test_many_clients_at_once():
    async with running(speed=600.0) as server:
        async def one(k):
            async with client(server) as ws:
                await send(ws, req_id=str(k), op="subscribe", args=[f"kline.1.{('BTCUSDT', 'ETHUSDT')[k % 2]}"])
                frames = await until(ws, lambda f: "topic" in f)
                return frames[0]["req_id"]

        assert sorted(await asyncio.gather(*(one(k) for k in range(12))), key=int) == [str(k) for k in range(12)]
        assert server.ws_connections_total == 12


def test_thread_runner_serves_rest_and_ws_and_stops():
    server = SimServer(Market(SimClock(speed=60.0, start_ms=START_MS), history_days=1), push_interval=0.05)
    assert server.run_in_thread() is server
    try:
        r = requests.get(f"{server.rest_url()}/v5/market/time", timeout=5)
        assert r.status_code == 200 and r.json()["time"] >= START_MS and server.rest_requests == 1

        async def talk():
            async with client(server) as ws:
                await send(ws, req_id="t", op="subscribe", args=["tickers.SOLUSDT"])
                return [await recv_json(ws) for _ in range(2)]

        ack, snap = asyncio.run(talk())
        assert ack["req_id"] == "t" and snap["topic"] == "tickers.SOLUSDT"
        server.freeze(True)  # from another thread
        server.freeze(False)
    finally:
        server.stop_thread()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.rest_url()}/v5/market/time", timeout=2)


def test_sim_thread_reports_a_taken_port():
    first = SimThread(Market(SimClock(), history_days=1)).start()
    try:
        with pytest.raises(RuntimeError, match="failed to start"):
            SimThread(Market(SimClock(), history_days=1), port=first.server.port).start()
        first.fail_rest(503)
        assert requests.get(f"{first.rest_url()}/v5/market/time", timeout=5).status_code == 503
        first.drop_connections()
    finally:
        first.stop()


def test_module_cli_serves_until_interrupted():
    proc = subprocess.Popen([sys.executable, "-m", "twinstar_gui.sim", "--port", "0", "--speed", "60", "--seed", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = None
        deadline = time.monotonic() + 15
        while base is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            words = line.split()
            if words[:2] == ["bybit", "REST"]:  # "  bybit    REST http://...   WS ws://..."
                base, ws = words[2], words[4]
        assert base and base.startswith("http://127.0.0.1:") and base.endswith("/bybit")
        assert ws.startswith("ws://127.0.0.1:") and ws.endswith("/bybit/v5/public/linear")
        body = requests.get(f"{base}/v5/market/kline", params={"symbol": "BTCUSDT", "interval": "1", "limit": 3},
                            timeout=5).json()
        assert body["retCode"] == 0 and len(body["result"]["list"]) == 3
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
