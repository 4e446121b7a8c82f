"""Hub benchmark: frames/s from socket to subscriber callbacks for 200 symbols vs a bare websockets receive
loop in the same run, and the time from a stall to the reconnect / REST fallback taking over.

Usage: .venv/bin/python bench/bench_hub.py [--frames 200000]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.data.feed import MarketFeed
from twinstar_gui.data.store import CandleStore
from twinstar_gui.data.writer import CandleWriter
from twinstar_gui.exchanges import get_exchange
from twinstar_gui.net.backoff import ReconnectPolicy
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market, SymbolSpec
from twinstar_gui.sim.server import SimServer

from _report import add_json_option, row, write_json

SYMBOLS = [f"S{i:03d}USDT" for i in range(200)]


def frames(n: int) -> list[str]:
    out, t0 = [], 1_760_000_000_000
    for i in range(n):
        sym = SYMBOLS[i % len(SYMBOLS)]
        p = 100 + (i % 97) * 0.01
        out.append(json.dumps({"topic": f"kline.15.{sym}", "type": "snapshot", "ts": t0 + i, "data": [{
            "start": t0, "end": t0 + 899_999, "interval": "15", "open": "100.00", "close": f"{p:.2f}",
            "high": "101.00", "low": "99.00", "volume": f"{i % 1000}.5", "turnover": "1", "confirm": False,
            "timestamp": t0 + i}]}, separators=(",", ":")))
    return out


async def blast_server(payload: list[str]):
    async def handler(ws):
        started = False
        async for raw in ws:  # the first subscribe message starts the blast
            if "subscribe" in str(raw) and not started:
                started = True
                await ws.send(json.dumps({"success": True, "ret_msg": "", "conn_id": "b", "req_id": "",
                                          "op": "subscribe"}))
                for f in payload:
                    await ws.send(f)
                await ws.send("END")
    return await serve(handler, "127.0.0.1", 0, max_queue=None)


async def bare(port: int, n: int) -> float:
    async with connect(f"ws://127.0.0.1:{port}", max_queue=None) as ws:
        await ws.send('{"op":"subscribe","args":[]}')
        t0, got = time.perf_counter(), 0
        async for raw in ws:
            if raw == "END":
                break
            got += 1
        return got / (time.perf_counter() - t0)


async def routed(port: int, n: int) -> tuple[float, int]:
    # loopback only; this measures the stream path, so no REST backfill runs (on_connect unset below)
    adapter = get_exchange("bybit", rest_url=f"http://127.0.0.1:{port}/unused", ws_url=f"ws://127.0.0.1:{port}")
    with tempfile.TemporaryDirectory() as tmp:
        store = CandleStore(tmp)
        writer = CandleWriter(store)
        feed = MarketFeed(adapter, store, writer, SYMBOLS)
        updates = [0]
        for s in feed.series.values():
            s.listeners.forming.append(lambda sym, c: updates.__setitem__(0, updates[0] + 1))
        original = feed._route

        def route(events):
            original(events)

        feed.hub.on_events = route
        feed.hub.on_connect = None
        for c in feed.hub.connections:
            c.on_events, c.on_connect = route, None
        await feed.hub.acquire([adapter.kline_topic(s, Timeframe.M15) for s in SYMBOLS])
        for c in feed.hub.connections:
            c.on_events, c.on_connect = route, None
        t0 = time.perf_counter()
        feed.hub.start()
        while updates[0] < n and time.perf_counter() - t0 < 60:
            await asyncio.sleep(0.01)
        rate = updates[0] / (time.perf_counter() - t0)
        await feed.hub.stop()
        writer.close()
        return rate, updates[0]


async def stall_recovery() -> tuple[float, float]:
    market = Market(SimClock(speed=60.0), seed=3, history_days=2,
                    symbols={s: SymbolSpec(100.0, 0.01, 0.1, 10.0) for s in SYMBOLS[:20]})
    server = SimServer(market, push_interval=0.1)
    await server.start()
    adapter = get_exchange("bybit", rest_url=server.rest_url("bybit"), ws_url=server.ws_url("bybit"))
    with tempfile.TemporaryDirectory() as tmp:
        store = CandleStore(tmp)
        writer = CandleWriter(store)
        feed = MarketFeed(adapter, store, writer, SYMBOLS[:20], windows=None, heartbeat_interval=1.0,
                          max_silence=5.0, policy=ReconnectPolicy(base=0.2, jitter=0.0), fallback_after=2.0,
                          fallback_poll=1.0, recover_after=5.0)
        feed.ws.pong_timeout = 2.0
        await feed.start()
        while not feed.ws.is_healthy(1.0):
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        before = feed.ws.connects
        t0 = time.perf_counter()
        server.freeze(True)
        dropped = fallback = None
        while (dropped is None or fallback is None) and time.perf_counter() - t0 < 30:
            if dropped is None and feed.ws.last_error and feed.ws.state.value != "live":
                dropped = time.perf_counter() - t0
            if fallback is None and feed.fallback_active:
                fallback = time.perf_counter() - t0
            await asyncio.sleep(0.01)
        server.freeze(False)
        await feed.stop()
        writer.close()
    await server.stop()
    assert before >= 1
    return dropped or float("nan"), fallback or float("nan")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=100_000)
    add_json_option(ap)
    args = ap.parse_args()
    payload = frames(args.frames)
    server = await blast_server(payload)
    port = server.sockets[0].getsockname()[1]
    base = await bare(port, args.frames)
    ours, n = await routed(port, args.frames)
    server.close()
    dropped, fallback = await stall_recovery()
    print("| measure | TwinStar | baseline (same run) | ratio |")
    print("|---|---|---|---|")
    print(f"| kline frames/s, socket -> parse -> 200 series -> callbacks | {ours:,.0f} ({n:,} frames) "
          f"| {base:,.0f} (bare websockets receive loop) | {ours / base:.2f} |")
    print(f"| stall -> connection dropped (heartbeat 1 s, pong timeout 2 s) | {dropped:.2f} s | - | - |")
    print(f"| stall -> REST fallback active (fallback after 2 s unhealthy) | {fallback:.2f} s | - | - |")
    write_json(args.json, "bench_hub", [
        row("hub: kline frames/s, socket -> parse -> 200 series -> callbacks", f"{ours:,.0f}",
            f"{base:,.0f} (bare websockets receive loop)", f"{ours / base:.2f}", ours_per_s=ours, baseline_per_s=base),
        row("hub: stall -> connection dropped (heartbeat 1 s, pong timeout 2 s)", f"{dropped:.2f} s", seconds=dropped),
        row("hub: stall -> REST fallback active (fallback after 2 s unhealthy)", f"{fallback:.2f} s", seconds=fallback),
    ], [f"{n:,} frames routed"])


if __name__ == "__main__":
    asyncio.run(main())
