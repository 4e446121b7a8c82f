"""Helpers for the simulator tests: a server living inside the test body, JSON frames from a WebSocket."""
from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from websockets.asyncio.client import ClientConnection, connect

from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer

START_MS = 1_786_310_818_440  # a fixed clock start: tests do not depend on today's date


@contextlib.asynccontextmanager
async def running(speed: float = 3600.0, seed: int = 5, history_days: float = 2,
                  **server_options) -> AsyncIterator[SimServer]:
    """A started SimServer on 127.0.0.1:0 (not a fixture: sockets live and die on the test's own loop)."""
    market = Market(SimClock(speed=speed, start_ms=START_MS), seed=seed, history_days=history_days)
    server = SimServer(market, **{"push_interval": 0.05, **server_options})
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def client(server: SimServer, path: str | None = None):
    url = server.ws_url("bybit") if path is None else f"ws://127.0.0.1:{server.port}{path}"
    return connect(url, ping_interval=None, open_timeout=5, close_timeout=1)


async def recv_json(ws: ClientConnection, timeout: float = 2.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def collect(ws: ClientConnection, seconds: float) -> list[dict]:
    """Every frame that arrives within `seconds`."""
    loop = asyncio.get_running_loop()
    end, out = loop.time() + seconds, []
    while (left := end - loop.time()) > 0:
        try:
            out.append(json.loads(await asyncio.wait_for(ws.recv(), left)))
        except TimeoutError:
            break
    return out


async def until(ws: ClientConnection, cond, timeout: float = 3.0) -> list[dict]:
    """Frames up to and including the first one satisfying cond."""
    loop = asyncio.get_running_loop()
    end, out = loop.time() + timeout, []
    while True:
        out.append(await recv_json(ws, max(0.01, end - loop.time())))
        if cond(out[-1]):
            return out


async def send(ws: ClientConnection, **msg) -> None:
    await ws.send(json.dumps(msg))
