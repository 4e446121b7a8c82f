"""The simulator's server: REST and WebSocket on one loopback port, each exchange under its own path prefix."""
from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
import threading
import time
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from . import bybit
from .market import Market

log = logging.getLogger(__name__)

REST_HANDLERS = {"bybit": bybit.handle_rest}
WS_SESSIONS = {bybit.WS_PATH: bybit.BybitWsSession}


class SimServer:
    def __init__(self, market: Market, host: str = "127.0.0.1", port: int = 0, push_interval: float = 0.25,
                 idle_timeout: float = 600.0) -> None:
        self.market = market
        self.host = host
        self.port = port
        self.push_interval = push_interval
        self.idle_timeout = idle_timeout
        self.rest_requests = 0
        self.ws_connections_total = 0
        self._server: Server | None = None
        self._conns: set[ServerConnection] = set()
        self._frozen = False
        self._rest_faults: list[tuple[int, float | None]] = []

    def __repr__(self) -> str:
        return f"SimServer({self.host}:{self.port}, {self.market!r})"

    # -- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await serve(self._ws_handler, self.host, self.port, process_request=self._process_request,
                                   ping_interval=None, max_size=2 ** 20)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("simulator listening on http://%s:%d (speed x%g)", self.host, self.port, self.market.clock.speed)

    async def stop(self) -> None:
        if self._server is not None:
            for c in list(self._conns):
                c.transport.abort()
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 3)
            self._server = None

    def rest_url(self, exchange: str = "bybit") -> str:
        return f"http://{self.host}:{self.port}/{exchange}"

    def ws_url(self, exchange: str = "bybit") -> str:
        paths = {"bybit": bybit.WS_PATH}
        return f"ws://{self.host}:{self.port}{paths[exchange]}"

    # -- fault injection ----------------------------------------------------------------------------
    async def drop_connections(self) -> None:
        """Abort every WebSocket without a close frame (a network cut)."""
        for c in list(self._conns):
            c.transport.abort()

    def freeze(self, frozen: bool = True) -> None:
        """Keep sockets open but send nothing and answer no ping: a half-open stream."""
        self._frozen = frozen

    def fail_rest(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        self._rest_faults.extend([(status, retry_after)] * times)

    @property
    def ws_connections_open(self) -> int:
        return len(self._conns)

    # -- REST ---------------------------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if urlsplit(request.path).path not in WS_SESSIONS:
                return self._json(connection, 404, {"error": f"no WebSocket at {request.path}"})
            return None
        self.rest_requests += 1
        if self._rest_faults:
            status, retry_after = self._rest_faults.pop(0)
            resp = self._json(connection, status, {"retCode": 10006 if status == 429 else status,
                                                   "retMsg": "Too many visits!" if status == 429 else "simulated failure",
                                                   "result": {}, "retExtInfo": {}, "time": self.market.now_ms()})
            if retry_after is not None:
                resp.headers["Retry-After"] = f"{retry_after:g}"
            return resp
        parts = urlsplit(request.path)
        exchange = parts.path.strip("/").split("/", 1)[0]
        handler = REST_HANDLERS.get(exchange)
        if handler is None:
            return self._json(connection, 404, {"error": f"unknown exchange prefix /{exchange}"})
        try:
            status, body = handler(self.market, parts.path, dict(parse_qsl(parts.query)))
        except Exception:
            log.exception("simulator REST handler failed for %s", request.path)
            status, body = 500, {"error": "internal simulator error"}
        return self._json(connection, status, body)

    @staticmethod
    def _json(connection: ServerConnection, status: int, body: dict) -> Response:
        resp = connection.respond(http.HTTPStatus(status), json.dumps(body, separators=(",", ":")))
        resp.headers["Content-Type"] = "application/json"
        return resp

    # -- WebSocket ----------------------------------------------------------------------------------
    async def _ws_handler(self, ws: ServerConnection) -> None:
        session = WS_SESSIONS[urlsplit(ws.request.path).path](self.market)
        self._conns.add(ws)
        self.ws_connections_total += 1
        pusher = asyncio.create_task(self._push_loop(ws, session))
        try:
            async for raw in ws:
                if self._frozen:
                    continue
                for frame in session.on_message(raw):
                    await ws.send(frame)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("simulator WS session failed")
        finally:
            pusher.cancel()
            self._conns.discard(ws)

    async def _push_loop(self, ws: ServerConnection, session) -> None:
        try:
            while True:
                await asyncio.sleep(self.push_interval)
                if time.monotonic() - session.last_client_message > self.idle_timeout:
                    log.info("simulator: closing idle connection %s", session.conn_id)
                    await ws.close(1000, "idle timeout")
                    return
                if self._frozen:
                    continue
                for frame in session.push():
                    await ws.send(frame)
        except ConnectionClosed:
            return


class SimThread:
    """Runs a SimServer on its own asyncio loop in a daemon thread (GUI demo, CLI, self-test)."""

    def __init__(self, market: Market, host: str = "127.0.0.1", port: int = 0, **kw) -> None:
        self.server = SimServer(market, host, port, **kw)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)

    def start(self, timeout: float = 10.0) -> "SimThread":
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("simulator did not start")
        if self._error is not None:
            raise RuntimeError(f"simulator failed to start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # e.g. port in use
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.stop())
        self._loop.close()

    def rest_url(self, exchange: str = "bybit") -> str:
        return self.server.rest_url(exchange)

    def ws_url(self, exchange: str = "bybit") -> str:
        return self.server.ws_url(exchange)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
