"""Stream hub: one exchange's topics on as few connections as its limits allow, ref-counted subscriptions."""
from __future__ import annotations

import asyncio
import copy
import functools
import logging
from collections import Counter
from collections.abc import Callable, Iterable

from ..core.models import MarketEvent
from ..exchanges.base import ExchangeAdapter
from .backoff import ReconnectPolicy
from .ws import StreamHealth, WsConnection

log = logging.getLogger(__name__)


class StreamHub:
    """Chart, bots and scanner may ask for the same topic: it is subscribed once and dropped when the last
    one lets go. Each connection carries at most `adapter.max_topics_per_connection` topics; a connection left
    with none is closed. Each connection replays its own topics after a reconnect (WsConnection)."""

    def __init__(self, adapter: ExchangeAdapter, *, on_events: Callable[[list[MarketEvent]], None],
                 on_connect: Callable[[WsConnection], None] | None = None,
                 on_error: Callable[[str], None] | None = None, policy: ReconnectPolicy | None = None,
                 heartbeat_interval: float | None = None, max_silence: float | None = None) -> None:
        self.adapter = adapter
        self.on_events = on_events
        self.on_connect = on_connect
        self.on_error = on_error
        self.policy = policy or ReconnectPolicy()
        self.heartbeat_interval = heartbeat_interval
        self.max_silence = max_silence
        self.connections: list[WsConnection] = []
        self.refs: Counter[str] = Counter()
        self._where: dict[str, WsConnection] = {}
        self._started = False
        self._serial = 0
        self._new_connection()  # always one (possibly idle) connection, so owners can show its health

    def __repr__(self) -> str:
        return f"StreamHub({self.adapter.name}, {len(self.refs)} topics on {len(self.connections)} connections)"

    def connection_of(self, topic: str) -> WsConnection | None:
        return self._where.get(topic)

    def health(self) -> list[StreamHealth]:
        return [c.health() for c in self.connections]

    def _new_connection(self) -> WsConnection:
        self._serial += 1
        name = self.adapter.name if self._serial == 1 else f"{self.adapter.name}#{self._serial}"
        conn = WsConnection(self.adapter, name=name, policy=copy.copy(self.policy),
                            heartbeat_interval=self.heartbeat_interval, max_silence=self.max_silence,
                            on_events=self.on_events, on_error=self.on_error)
        conn.on_connect = functools.partial(self.on_connect, conn) if self.on_connect else None
        self.connections.append(conn)
        return conn

    async def acquire(self, topics: Iterable[str]) -> None:
        """Take a reference on each topic; new topics go to connections with room (new ones if needed)."""
        cap = max(1, self.adapter.max_topics_per_connection)
        placed: dict[WsConnection, list[str]] = {}
        for topic in topics:
            self.refs[topic] += 1
            if self.refs[topic] > 1:
                continue
            conn = next((c for c in self.connections if len(c.topics) + len(placed.get(c, ())) < cap), None)
            if conn is None:
                conn = self._new_connection()
            placed.setdefault(conn, []).append(topic)
            self._where[topic] = conn
        for conn, new in placed.items():
            await conn.subscribe(new)
            if self._started:
                conn.start()

    async def release(self, topics: Iterable[str]) -> None:
        """Drop a reference on each topic; the last one out unsubscribes (and closes an emptied connection)."""
        gone: dict[WsConnection, list[str]] = {}
        for topic in topics:
            if self.refs[topic] <= 0:
                continue
            self.refs[topic] -= 1
            if self.refs[topic] == 0:
                del self.refs[topic]
                gone.setdefault(self._where.pop(topic), []).append(topic)
        for conn, old in gone.items():
            await conn.unsubscribe(old)
            if not conn.topics:
                await conn.stop()
                if len(self.connections) > 1:
                    self.connections.remove(conn)

    def start(self) -> None:
        self._started = True
        for conn in self.connections:
            if conn.topics:
                conn.start()

    async def stop(self) -> None:
        self._started = False
        await asyncio.gather(*(c.stop() for c in self.connections), return_exceptions=True)
