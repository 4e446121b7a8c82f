"""The simulator's server: REST and WebSocket on ONE loopback port, each exchange under its own path prefix.

`http://127.0.0.1:N/bybit` is a drop-in Bybit REST base URL and `ws://127.0.0.1:N/bybit/v5/public/linear` its
public WebSocket. Plain HTTP GETs are answered from the `process_request` hook of `websockets` (JSON, with
`Connection: close` because the socket is closed after the answer); upgrade requests become WebSocket
sessions. Exchange specifics live in one module per exchange (see EXCHANGES); this file only routes.
"""
from __future__ import annotations

import asyncio
import contextlib
import gzip
import http
import json
import logging
import re
import threading
import time
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from . import binance, binance_private, bingx, bitget, bithumb, bybit, bybit_private, okx, okx_private, upbit
from .binance_private import BinanceAccount
from .bybit_private import BybitAccount
from .market import Market
from .okx_private import OkxAccount

log = logging.getLogger(__name__)
_ws_log = logging.getLogger(f"{__name__}.websockets")
_ws_log.setLevel(logging.WARNING)  # websockets logs every answered plain GET as a "rejected" handshake at INFO


class WsSession(Protocol):
    conn_id: str
    last_client_message: float

    def on_message(self, raw: str | bytes) -> list[str]: ...
    def push(self) -> list[str]: ...


# prefix -> module
EXCHANGES: dict[str, Any] = {m.NAME: m for m in (bybit, binance, okx, bitget, bingx, upbit, bithumb)}


def _split(path: str) -> tuple[Any, str]:
    """(exchange module or None, path below its prefix) of a request path."""
    prefix, _, rest = urlsplit(path).path.lstrip("/").partition("/")
    return EXCHANGES.get(prefix), "/" + rest


class SimServer:
    def __init__(self, market: Market, host: str = "127.0.0.1", port: int = 0, push_interval: float = 0.25,
                 idle_timeout: float = 600.0, trade_port: int = 0) -> None:
        self.market = market
        self.host = host
        self.port = port
        self.push_interval = push_interval
        self.idle_timeout = idle_timeout
        self.rest_requests = 0
        self.ws_connections_total = 0
        self._server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conns: set[ServerConnection] = set()
        self._frozen = False
        self._rest_faults: list[tuple[int, float | None]] = []
        self._rejected: set[str] = set()
        self.frame_faults: set[str] = set()  # "duplicate", "reorder", "malformed": applied to every push
        self._close_with: int | None = None
        self._held: dict[int, list] = {}
        self._rest_delay = 0.0
        self._conn_faults: dict[int, set[str]] = {}
        self._order: dict[int, int] = {}
        self._accepted = 0
        self._runner: SimThread | None = None
        # signed trading API (Bybit): a second small HTTP/1.1 server, because the WebSocket server's HTTP
        # parser takes GET only; it serves the public REST routes too, so one base URL covers both
        self.accounts: dict[str, BybitAccount] = {}  # API key -> Bybit account
        self.venue_accounts: dict[str, dict[str, Any]] = {"bybit": self.accounts, "binance": {}, "okx": {}}
        self.trade_port = trade_port
        self._trade_server: asyncio.Server | None = None
        self._lose_answers = 0
        self._trade_tasks: set[tuple[asyncio.Task, asyncio.StreamWriter]] = set()

    def __repr__(self) -> str:
        return f"SimServer({self.host}:{self.port}, {self.market!r})"

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await serve(self._handler, self.host, self.port, process_request=self._process_request,
                                   ping_interval=None, compression=None, max_size=2 ** 20, logger=_ws_log)
        self.port = self._server.sockets[0].getsockname()[1]
        self._trade_server = await asyncio.start_server(self._trade_conn, self.host, self.trade_port,
                                                        limit=2 ** 16)
        self.trade_port = self._trade_server.sockets[0].getsockname()[1]
        log.info("simulator listening on %s (speed x%g; trading API on port %d)", self.rest_url(),
                 self.market.clock.speed, self.trade_port)

    async def stop(self) -> None:
        if self._server is None:
            return
        for ws in list(self._conns):
            ws.transport.abort()
        self._server.close()
        if self._trade_server is not None:
            self._trade_server.close()
        tasks = list(self._trade_tasks)
        for _task, writer in tasks:
            writer.transport.abort()  # its readline() ends; cancelling would upset asyncio's stream callback
        if tasks:
            await asyncio.wait([t for t, _ in tasks], timeout=3)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 3)
        self._server = self._trade_server = None
        log.info("simulator on port %d stopped", self.port)

    def rest_url(self, exchange: str = "bybit") -> str:
        self._exchange(exchange)
        return f"http://{self.host}:{self.port}/{exchange}"

    def ws_url(self, exchange: str = "bybit") -> str:
        return f"ws://{self.host}:{self.port}/{exchange}{self._exchange(exchange).DEFAULT_WS_PATH}"

    def trade_url(self, exchange: str = "bybit") -> str:
        """Base URL of the signed trading API (and the public REST routes) of `exchange`."""
        self._exchange(exchange)
        return f"http://{self.host}:{self.trade_port}/{exchange}"

    def add_account(self, api_key: str, api_secret: str, balance: float = 10_000.0, leverage: float = 10.0,
                    exchange: str = "bybit", passphrase: str = "") -> Any:
        """A trading account of `exchange` (bybit, binance, okx) reachable with this key pair (requests are checked
        with the venue's HMAC scheme; OKX's needs the passphrase too)."""
        if not api_key or not api_secret:
            raise ValueError("the simulator's API key and secret must not be empty")
        if exchange not in self.venue_accounts:
            raise ValueError(f"the simulator has no trading API for {exchange!r} "
                             f"(has: {', '.join(self.venue_accounts)})")
        account: Any
        if exchange == "okx":
            if not passphrase:
                raise ValueError("an OKX account needs a passphrase")
            account = OkxAccount(self.market, api_key, api_secret, passphrase=passphrase, balance=balance,
                                 leverage=leverage)
        elif exchange == "binance":
            account = BinanceAccount(self.market, api_key, api_secret, balance=balance, leverage=leverage)
        else:
            account = BybitAccount(self.market, api_key, api_secret, balance=balance, leverage=leverage)
        self.venue_accounts[exchange][api_key] = account
        return account

    def lose_answers(self, times: int = 1) -> None:
        """The next `times` signed POSTs are carried out but their answer is lost (the connection drops):
        what a client sees when the network fails after the exchange took its order."""
        self._lose_answers += times

    @staticmethod
    def _exchange(name: str) -> Any:
        try:
            return EXCHANGES[name]
        except KeyError:
            raise ValueError(f"the simulator has no exchange {name!r} (has: {', '.join(EXCHANGES)})") from None

    def run_in_thread(self, timeout: float = 10.0) -> SimServer:
        """Start on a private asyncio loop in a daemon thread; returns once listening."""
        self._runner = SimThread(server=self).start(timeout)
        return self

    def stop_thread(self) -> None:
        if self._runner is not None:
            self._runner.stop()
            self._runner = None

    # -- fault injection ----------------------------------------------------------------------------------
    def connections(self) -> list[ServerConnection]:
        """Open WebSocket connections, oldest first (to aim a fault at one of them)."""
        return sorted(self._conns, key=lambda c: self._order.get(id(c), 0))

    async def drop_connections(self, only: ServerConnection | None = None) -> None:
        """Abort every WebSocket (or only `only`) without a close frame (a network cut)."""
        for ws in list(self._conns):
            if only is None or ws is only:
                ws.transport.abort()

    def garble_connection(self, conn: ServerConnection, *faults: str) -> None:
        """Frame faults for one connection only (cleared with no faults)."""
        self._check_faults(faults)
        if faults:
            self._conn_faults[id(conn)] = set(faults)
        else:
            self._conn_faults.pop(id(conn), None)

    @staticmethod
    def _check_faults(faults) -> None:
        unknown = set(faults) - {"duplicate", "reorder", "malformed", "huge_number"}
        if unknown:
            raise ValueError(f"unknown frame faults {sorted(unknown)}")

    def garble(self, *faults: str) -> None:
        """Apply frame faults to every push until cleared with garble(): `duplicate` sends each frame twice,
        `reorder` holds every other push back and sends it after the next one, `malformed` adds an undecodable
        frame to each push, `huge_number` a copy of its first frame whose first number has 5,000 digits (past
        Python's limit for int conversion)."""
        self._check_faults(faults)
        self.frame_faults = set(faults)

    def close_with(self, code: int = 1012) -> None:
        """Close the next connection that pushes with this close code (1001 going away, 1012 restart...)."""
        self._close_with = code

    def _garble(self, session: object, frames: list, ws: ServerConnection | None = None) -> list:
        faults = self.frame_faults | self._conn_faults.get(id(ws), set())
        held = self._held.pop(id(session), None)
        if not faults or not frames:
            return frames if held is None else held + frames
        if "reorder" in faults:  # every other push is held back and sent after the next one
            if held is None:
                self._held[id(session)] = frames
                return []
            frames = frames + held
        if "duplicate" in faults:
            frames = [f for frame in frames for f in (frame, frame)]
        if "malformed" in faults:
            bad = b"\x1f\x8b\x00garbage" if isinstance(frames[0], bytes) else '{"topic":"kline.15.BTC'
            frames = [bad, *frames]
        if "huge_number" in faults:  # the push's first frame again, its first number 5,000 digits long
            frames = [_with_huge_number(frames[0]), *frames]
        return frames

    def freeze(self, frozen: bool = True) -> None:
        """Half-open streams: send nothing, read nothing (so no pong, JSON or protocol-level), sockets stay open.
        Client messages wait in the socket buffer and are answered after unfreezing. Any thread."""
        self._frozen = frozen
        if self._loop is None:
            return
        try:
            same_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            same_loop = False
        if same_loop:
            self._apply_freeze()
        else:
            self._loop.call_soon_threadsafe(self._apply_freeze)

    def _apply_freeze(self) -> None:
        for ws in self._conns:
            self._set_reading(ws)

    def _set_reading(self, ws: ServerConnection) -> None:
        with contextlib.suppress(Exception):
            if self._frozen:
                ws.transport.pause_reading()
            else:
                ws.transport.resume_reading()

    def fail_rest(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        """The next `times` REST requests get HTTP `status` (with Retry-After when given)."""
        self._rest_faults.extend([(int(status), retry_after)] * times)

    def reject_topics(self, topics: set[str]) -> None:
        """Subscriptions to these topics fail from now on (e.g. a delisted symbol)."""
        self._rejected.clear()
        self._rejected.update(topics)

    @property
    def ws_connections_open(self) -> int:
        return len(self._conns)

    # -- HTTP ---------------------------------------------------------------------------------------------
    def slow_rest(self, seconds: float) -> None:
        """Delay every REST answer by `seconds` (0 to stop): a slow or overloaded exchange."""
        self._rest_delay = max(0.0, seconds)

    def _process_request(self, connection: ServerConnection, request: Request):
        if self._rest_delay > 0 and "websocket" not in request.headers.get("Upgrade", "").lower():
            return self._slow_answer(connection, request)
        return self._answer(connection, request)

    async def _slow_answer(self, connection: ServerConnection, request: Request) -> Response | None:
        await asyncio.sleep(self._rest_delay)
        return self._answer(connection, request)

    def _next_fault(self, exchange) -> Response | None:
        """The next queued fail_rest() answer, in the exchange's error format, or None."""
        if not self._rest_faults:
            return None
        status, retry_after = self._rest_faults.pop(0)
        if exchange is not None:
            body, headers = exchange.fault_response(status, self.market.now_ms())
        else:
            body, headers = {"error": "simulated failure"}, {}
        if retry_after is not None:
            headers = {**headers, "Retry-After": f"{retry_after:g}"}
        return _json(status, body, headers)

    def _answer(self, connection: ServerConnection, request: Request) -> Response | None:
        exchange, sub = _split(request.path)
        if "websocket" in request.headers.get("Upgrade", "").lower():
            if exchange is None or sub not in exchange.WS_SESSIONS:
                return _json(404, {"error": f"no WebSocket endpoint at {urlsplit(request.path).path}"})
            return None  # go on with the handshake
        self.rest_requests += 1
        fault = self._next_fault(exchange)
        if fault is not None:
            return fault
        if exchange is None:
            return _json(404, {"error": f"unknown exchange prefix in {urlsplit(request.path).path}"})
        try:
            status, body = exchange.handle_rest(self.market, sub, dict(parse_qsl(urlsplit(request.path).query)))
        except Exception:
            log.exception("simulator REST handler failed for %s", request.path)
            status, body = 500, {"error": "internal simulator error"}
        return _json(status, body)

    # -- the trading API (HTTP/1.1, keep-alive) -----------------------------------------------------------
    async def _trade_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # a coroutine's own
        me = (task, writer)
        self._trade_tasks.add(me)
        try:
            while True:
                line = await reader.readline()
                if not line.strip():
                    return
                method, target, _version = line.decode("latin-1").split(" ", 2)
                headers = Headers()
                while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = h.decode("latin-1").partition(":")
                    headers[name.strip()] = value.strip()
                size = int(headers.get("Content-Length") or 0)
                if size > 2 ** 20:
                    writer.write(_http(_json(413, {"error": "request body too large"}), keep_alive=False))
                    return
                body = await reader.readexactly(size) if size else b""
                if self._rest_delay > 0:
                    await asyncio.sleep(self._rest_delay)
                response = self._trade_answer(method.upper(), target, headers, body)
                if response is None:  # lose_answers(): done, but the client never hears of it
                    writer.transport.abort()
                    return
                keep = headers.get("Connection", "").lower() != "close"
                writer.write(_http(response, keep_alive=keep))
                await writer.drain()
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, UnicodeDecodeError):
            return
        finally:
            self._trade_tasks.discard(me)
            with contextlib.suppress(Exception):
                writer.close()

    def _trade_answer(self, method: str, target: str, headers: Headers, body: bytes) -> Response | None:
        exchange, sub = _split(target)
        private = _PRIVATE.get(getattr(exchange, "NAME", ""))
        if exchange is not None and private is not None and sub.rstrip("/") in private.PRIVATE_PATHS:
            self.rest_requests += 1
            fault = self._next_fault(exchange)
            if fault is not None:
                return fault
            accounts = self.venue_accounts[exchange.NAME]
            key = headers.get(_KEY_HEADER[exchange.NAME]) or ""
            account = accounts.get(key) or next(iter(accounts.values()), None)
            if account is None:
                return _json(*_no_account(exchange.NAME))
            try:
                status, answer = account.handle(method, sub, urlsplit(target).query, body, headers)
            except Exception:
                log.exception("simulator: private %s %s failed", method, sub)
                status, answer = 500, {"error": "internal simulator error"}
            if method == "POST" and self._lose_answers > 0:
                self._lose_answers -= 1
                return None
            return _json(status, answer)
        if method != "GET":
            return _json(404, {"error": f"no {method} endpoint at {urlsplit(target).path}"})
        return self._answer(None, Request(target, headers))  # type: ignore[arg-type]

    # -- WebSocket ----------------------------------------------------------------------------------------
    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None  # the handshake is done when a handler runs
        exchange, sub = _split(ws.request.path)
        session = exchange.WS_SESSIONS[sub](self.market, self._rejected)
        self._conns.add(ws)
        self._accepted += 1
        self._order[id(ws)] = self._accepted
        self.ws_connections_total += 1
        self._set_reading(ws)
        lock = asyncio.Lock()  # one writer at a time keeps each topic's frames in order
        pusher = asyncio.create_task(self._push_loop(ws, session, lock))
        log.debug("simulator: %s connected as %s", ws.remote_address, session.conn_id)
        try:
            async for raw in ws:
                if self._frozen and not await self._wait_unfrozen(ws):
                    break
                try:
                    frames = session.on_message(raw)
                except Exception:
                    log.exception("simulator: session %s failed on %.80r", session.conn_id, raw)
                    continue
                async with lock:
                    for frame in frames:
                        await ws.send(frame)
        except ConnectionClosed:
            pass
        finally:
            pusher.cancel()
            self._conns.discard(ws)
            self._order.pop(id(ws), None)
            self._conn_faults.pop(id(ws), None)

    async def _wait_unfrozen(self, ws: ServerConnection) -> bool:
        """Hold a message that slipped in while frozen; False if the socket closed meanwhile."""
        while self._frozen:
            if ws.state.name in ("CLOSING", "CLOSED"):
                return False
            await asyncio.sleep(0.02)
        return True

    async def _push_loop(self, ws: ServerConnection, session: WsSession, lock: asyncio.Lock) -> None:
        try:
            while True:
                await asyncio.sleep(self.push_interval)
                if self._frozen:
                    continue
                # each exchange cuts silent clients after its own timeout (None: heartbeats are ping frames)
                own = getattr(session, "IDLE_TIMEOUT_S", self.idle_timeout)
                limit = None if own is None else min(own, self.idle_timeout)
                if limit is not None and time.monotonic() - session.last_client_message > limit:
                    log.info("simulator: closing %s, nothing from the client for %gs", session.conn_id, limit)
                    await ws.close(1000, "idle timeout")
                    return
                frames = self._garble(session, session.push(), ws)
                async with lock:
                    for frame in frames:
                        await ws.send(frame)
                if self._close_with is not None:
                    code, self._close_with = self._close_with, None
                    await ws.close(code, "simulated server close")
                    return
        except ConnectionClosed:
            return
        except Exception:
            log.exception("simulator: pushing to %s failed; closing it", session.conn_id)
            await ws.close(1011, "simulator error")


_PRIVATE: dict[str, Any] = {"bybit": bybit_private, "binance": binance_private, "okx": okx_private}
_KEY_HEADER = {"bybit": "X-BAPI-API-KEY", "binance": "X-MBX-APIKEY", "okx": "OK-ACCESS-KEY"}


def _no_account(exchange: str) -> tuple[int, dict]:
    """What the venue answers a key it does not know (no account of that venue in this simulator)."""
    if exchange == "binance":
        return 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1"}
    if exchange == "okx":
        return 401, {"code": "50111", "msg": "Invalid OK-ACCESS-KEY.", "data": []}
    return 200, bybit.envelope(None, int(time.time() * 1000), 10003, "API key is invalid.")


def _json(status: int, body: dict | list, headers: dict[str, str] | None = None) -> Response:
    data = json.dumps(body, separators=(",", ":")).encode()
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    pairs = [("Content-Type", "application/json"), ("Content-Length", str(len(data))), ("Connection", "close"),
             *(headers or {}).items()]
    return Response(status, reason, Headers(pairs), data)


def _http(response: Response, keep_alive: bool) -> bytes:
    head = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
    head += [f"{k}: {v}" for k, v in response.headers.raw_items() if k.lower() != "connection"]
    head.append(f"Connection: {'keep-alive' if keep_alive else 'close'}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (response.body or b"")


class SimThread:
    """A SimServer on its own asyncio loop in a daemon thread (GUI demo, CLI, self-test, sync tests)."""

    def __init__(self, market: Market | None = None, host: str = "127.0.0.1", port: int = 0, *,
                 server: SimServer | None = None, **options: Any) -> None:
        if server is None:
            if market is None:
                raise TypeError("SimThread needs a market or a server")
            server = SimServer(market, host, port, **options)
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="twinstar-simulator", daemon=True)

    def __repr__(self) -> str:
        return f"SimThread({self.server!r})"

    def start(self, timeout: float = 10.0) -> SimThread:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("simulator did not start in time")
        if self._error is not None:
            raise RuntimeError(f"simulator failed to start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # noqa: BLE001 - e.g. the port is taken: start() raises it in the caller
            self._error = exc
            self._loop.close()
            return
        finally:
            self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.stop())
        self._loop.close()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    @property
    def market(self) -> Market:
        return self.server.market

    def rest_url(self, exchange: str = "bybit") -> str:
        return self.server.rest_url(exchange)

    def ws_url(self, exchange: str = "bybit") -> str:
        return self.server.ws_url(exchange)

    def trade_url(self, exchange: str = "bybit") -> str:
        return self.server.trade_url(exchange)

    # thread-safe fault injection for synchronous callers
    def drop_connections(self, timeout: float = 5.0) -> None:
        asyncio.run_coroutine_threadsafe(self.server.drop_connections(), self._loop).result(timeout)

    def freeze(self, frozen: bool = True) -> None:
        self.server.freeze(frozen)

    def fail_rest(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        self.server.fail_rest(status, times, retry_after)


def _with_huge_number(frame: str | bytes) -> str | bytes:
    """The frame with its first JSON number (quoted or not) replaced by 5,000 nines, in the frame's own encoding
    (gzip stays gzip, binary stays binary)."""
    gz = isinstance(frame, bytes) and frame[:2] == b"\x1f\x8b"
    text = frame if isinstance(frame, str) else (gzip.decompress(frame) if gz else frame).decode()
    text = re.sub(r'(?<=[:\[,]) ?"?-?\d+(\.\d+)?"?', "9" * 5000, text, count=1)
    if gz:
        return gzip.compress(text.encode())
    return text.encode() if isinstance(frame, bytes) else text
