"""One WebSocket connection: subscribe, heartbeat, silence watchdog, reconnect with capped backoff, replay."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from ..core.errors import BadMessage, excerpt
from ..core.models import MarketEvent, SubscriptionAck
from ..exchanges.base import ExchangeAdapter
from .backoff import ReconnectPolicy

log = logging.getLogger(__name__)
YIELD_EVERY_S = 0.005  # longest run of frame handling before the receive loop lets other tasks run
CLOSE_WAIT_S = 0.8  # stopping: how long the close handshake may take before the socket is dropped



class StreamState(str, Enum):
    CONNECTING = "connecting"
    LIVE = "live"
    STALE = "stale"
    BACKOFF = "backoff"
    STOPPED = "stopped"
    FALLBACK = "fallback"  # the stream is unhealthy and REST polling stands in


@dataclass(frozen=True, slots=True)
class StreamHealth:
    """A snapshot for the health panel and log lines."""

    name: str
    url: str
    state: StreamState
    topics: int
    last_message_age: float | None
    messages_per_sec: float
    reconnects: int
    bad_messages: int
    last_error: str
    ping_rtt: float | None = None  # seconds, from our last heartbeat to the exchange's answer
    exchange: str = ""
    fallback: bool = False  # REST polling stands in for this stream's symbols
    topic_names: tuple[str, ...] = ()


class WsConnection:
    """Runs on the asyncio loop (qasync's in the GUI). Callbacks are called on that loop."""

    def __init__(self, adapter: ExchangeAdapter, *, url: str | None = None, name: str = "",
                 policy: ReconnectPolicy | None = None, heartbeat_interval: float | None = None,
                 max_silence: float | None = None, open_timeout: float = 10.0, pong_timeout: float | None = None,
                 on_events: Callable[[list[MarketEvent]], None] | None = None,
                 on_connect: Callable[[], None] | None = None,
                 on_disconnect: Callable[[str], None] | None = None,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.adapter = adapter
        self.url = url or adapter.ws_url
        self.name = name or adapter.name
        self.policy = policy or ReconnectPolicy()
        self.heartbeat_interval = adapter.heartbeat_interval if heartbeat_interval is None else heartbeat_interval
        self.max_silence = adapter.max_silence if max_silence is None else max_silence
        self.open_timeout = open_timeout
        # no answer to a heartbeat within this many seconds -> the connection is dropped
        self.pong_timeout = pong_timeout if pong_timeout is not None else max(2.0, self.heartbeat_interval)
        self.ping_rtt: float | None = None
        self._ping_sent: float | None = None
        self._stale_reason = ""
        self.on_events = on_events
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self.on_error = on_error
        self.topics: set[str] = set()
        self.state = StreamState.STOPPED
        self.reconnects = 0
        self.connects = 0
        self.bad_messages = 0
        self.last_error = ""
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._connected_at: float | None = None
        self._last_message: float | None = None  # last frame, or the connect time (for the watchdog)
        self._last_frame: float | None = None  # last frame received on the current connection
        self._arrivals: deque[float] = deque(maxlen=4096)
        self.fallback_active: Callable[[], bool] = lambda: False  # set by the owner that runs a REST fallback

    def __repr__(self) -> str:
        return f"WsConnection({self.name!r}, {self.url!r}, state={self.state.value})"

    # -- public API -------------------------------------------------------------------------------
    def start(self) -> asyncio.Task:
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"ws-{self.name}")
        return self._task

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        ws = self._ws
        if ws is not None:  # a polite close, but never a long wait for a server that does not answer
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), CLOSE_WAIT_S)
            with contextlib.suppress(Exception):
                ws.transport.abort()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self.state = StreamState.STOPPED

    async def subscribe(self, topics: Iterable[str]) -> None:
        new = [t for t in topics if t not in self.topics]
        self.topics.update(new)
        if new and self.state is StreamState.LIVE:
            with contextlib.suppress(ConnectionClosed):
                await self._send_subscribe(sorted(self.topics) if self.adapter.replaces_subscriptions else new)

    async def unsubscribe(self, topics: Iterable[str]) -> None:
        gone = [t for t in topics if t in self.topics]
        self.topics.difference_update(gone)
        if gone and self._ws is not None and self.state is StreamState.LIVE:
            with contextlib.suppress(ConnectionClosed):
                if self.adapter.replaces_subscriptions:  # the new, smaller set replaces the old one
                    await self._send_subscribe(sorted(self.topics))
                    return
                step = self.adapter.topics_per_subscribe
                try:
                    for i in range(0, len(gone), step):
                        await self._ws.send(self.adapter.unsubscribe_message(gone[i:i + step]))
                except NotImplementedError:  # no unsubscribe on this exchange: reconnect with the rest
                    if self.topics:
                        self._ws.transport.abort()

    def is_healthy(self, max_silence: float = 60.0) -> bool:
        """Connected and a frame arrived within `max_silence` seconds (a fresh but silent socket is not)."""
        if self.state is not StreamState.LIVE or self._last_frame is None:
            return False
        return time.monotonic() - self._last_frame <= max_silence

    def last_message_age(self) -> float | None:
        return None if self._last_message is None else time.monotonic() - self._last_message

    def messages_per_sec(self, window: float = 5.0) -> float:
        cutoff = time.monotonic() - window
        arrivals = list(self._arrivals)  # one copy (atomic): the connection's thread appends meanwhile
        return sum(1 for t in arrivals if t >= cutoff) / window

    def health(self) -> StreamHealth:
        state = StreamState.FALLBACK if self.fallback_active() and self.state is not StreamState.STOPPED else self.state
        return StreamHealth(self.name, self.url, state, len(self.topics), self.last_message_age(),
                            self.messages_per_sec(), self.reconnects, self.bad_messages, self.last_error, self.ping_rtt,
                            self.adapter.name, bool(self.fallback_active()), tuple(sorted(self.topics)))

    # -- the loop -----------------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._stopping:
            self.state = StreamState.CONNECTING
            reason = "closed"
            try:
                async with connect(self.url, ping_interval=self.adapter.protocol_ping_interval,
                                   open_timeout=self.open_timeout, close_timeout=2.0, max_size=2 ** 23,
                                   compression=None) as ws:
                    reason = await self._session(ws)
            except asyncio.CancelledError:
                raise
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError, ConnectionClosed) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # never let one bad connection kill the stream for good
                log.exception("%s: unexpected error in stream", self.name)
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self._ws = None
            if self._stopping:
                break
            self.last_error = reason
            self._notify(self.on_disconnect, reason)
            delay = self.policy.next_delay()
            self.state = StreamState.BACKOFF
            log.warning("%s: disconnected (%s); reconnect in %.1fs (failure %d)", self.name, reason, delay,
                        self.policy.failures)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self.reconnects += 1
        self.state = StreamState.STOPPED

    async def _session(self, ws: ClientConnection) -> str:
        self._ws = ws
        self._ping_sent = None
        self._stale_reason = ""
        now = time.monotonic()
        self._connected_at = self._last_message = now
        self._last_frame = None
        self.connects += 1
        if self.topics:
            await self._send_subscribe(sorted(self.topics))
        self.state = StreamState.LIVE
        log.info("%s: connected to %s (%d topics)", self.name, self.url, len(self.topics))
        self._notify(self.on_connect)
        helpers = [asyncio.create_task(self._watchdog(ws))]
        if self.heartbeat_interval > 0 and self.adapter.heartbeat_message() is not None:
            helpers.append(asyncio.create_task(self._heartbeat(ws)))
        try:
            slice_start = time.monotonic()
            async for raw in ws:
                self._on_frame(raw, ws)
                # Buffered frames come back from recv() without suspending: after a backlog (a reconnect, a
                # burst of 200 symbols' closes) give the GUI and the other streams a turn every few ms.
                now = time.monotonic()
                if now - slice_start >= YIELD_EVERY_S:
                    await asyncio.sleep(0)
                    slice_start = time.monotonic()
            reason = f"server closed ({ws.close_code}: {ws.close_reason or 'no reason'})"
        except ConnectionClosed as exc:
            reason = f"connection lost ({exc})"
        finally:
            for h in helpers:
                h.cancel()
        if self.state is StreamState.STALE:
            reason = self._stale_reason  # the watchdog's verdict
        return reason

    def _on_frame(self, raw: str | bytes, ws: ClientConnection | None = None) -> None:
        now = time.monotonic()
        self._last_message = self._last_frame = now
        self._arrivals.append(now)
        if self._connected_at is not None and now - self._connected_at >= self.policy.healthy_after:
            self.policy.healthy()
        try:
            if self._ping_sent is not None and self.adapter.is_pong(raw):
                self.ping_rtt, self._ping_sent = now - self._ping_sent, None
                return
            reply = self.adapter.heartbeat_reply(raw)
            if reply is not None and ws is not None:  # the server pinged us at application level
                asyncio.get_running_loop().create_task(self._send_quietly(ws, reply))
                return
            events = self.adapter.parse_ws_message(raw)
        except Exception as exc:  # noqa: BLE001 - BadMessage from the parsers; anything else is one too here
            if not isinstance(exc, BadMessage):
                exc = BadMessage(self.adapter.name, f"{type(exc).__name__}: {excerpt(exc, 80)}", raw)
            self.bad_messages += 1
            log.warning("%s: skipped malformed frame: %s", self.name, exc)
            return
        rejected = [e for e in events if isinstance(e, SubscriptionAck) and not e.ok]
        for ack in rejected:
            self.last_error = f"{ack.op} rejected: {ack.message}"
            log.error("%s: %s", self.name, self.last_error)
            self._notify(self.on_error, self.last_error)
        if rejected:
            events = [e for e in events if not isinstance(e, SubscriptionAck)]
        if events and self.on_events is not None:
            try:
                self.on_events(events)
            except Exception:
                log.exception("%s: event handler failed", self.name)

    async def _send_subscribe(self, topics: list[str]) -> None:
        assert self._ws is not None
        step = len(topics) if self.adapter.replaces_subscriptions else self.adapter.topics_per_subscribe
        for i in range(0, len(topics), max(1, step)):
            await self._ws.send(self.adapter.subscribe_message(topics[i:i + step]))

    @staticmethod
    async def _send_quietly(ws: ClientConnection, text: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await ws.send(text)

    async def _heartbeat(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            msg = self.adapter.heartbeat_message()
            if msg is None:
                return
            if self._ping_sent is None:  # before the send: the round trip includes it, and a fast pong finds it
                self._ping_sent = time.monotonic()
            try:
                await ws.send(msg)
            except ConnectionClosed:
                return

    async def _watchdog(self, ws: ClientConnection) -> None:
        tick = max(0.05, min(1.0, self.max_silence / 4))
        while True:
            await asyncio.sleep(tick)
            age = self.last_message_age()
            waited = None if self._ping_sent is None else time.monotonic() - self._ping_sent
            if (age is not None and age > self.max_silence) or (waited is not None and waited > self.pong_timeout):
                self.state = StreamState.STALE
                self._stale_reason = (f"no data for {self.max_silence:.0f}s"
                                      if age is not None and age > self.max_silence
                                      else f"no pong for {waited:.1f}s")
                log.warning("%s: %s; dropping the connection", self.name, self._stale_reason)
                ws.transport.abort()  # a half-open socket would never finish a close handshake
                return

    def _notify(self, callback: Callable | None, *args) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            log.exception("%s: callback %r failed", self.name, callback)
