"""One exchange's live market feed: REST client + WebSocket + one SeriesManager per symbol, wired together."""
from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..core.models import KlineEvent, MarketEvent, TickerEvent, TradeEvent
from ..core.timeframe import BASE_TIMEFRAME, Timeframe
from ..exchanges.base import ExchangeAdapter
from ..net.backoff import ReconnectPolicy
from ..net.hub import StreamHub
from ..net.rest import RestClient
from ..net.ws import StreamHealth, WsConnection
from .manager import REST_CONCURRENCY, SeriesManager
from .store import CandleStore
from .writer import CandleWriter

log = logging.getLogger(__name__)
STOP_WAIT_S = 2.0  # longest a stop waits for its cancelled tasks to end


@dataclass(frozen=True, slots=True)
class SyncSummary:
    """Catching up with the exchanges, over many series: for a progress bar or a status line."""

    series: int
    ready: int
    done: int  # candle slots fetched so far by the series still busy
    total: int
    retrying: int = 0  # series whose REST fetches fail (network, exchange down): retried with backoff
    problem: str = ""  # the first of their reasons
    rejected: int = 0  # series the exchange said it does not list (counted in neither ready nor busy)

    @property
    def busy(self) -> bool:
        return self.ready + self.rejected < self.series

    def text(self) -> str:
        if not self.busy:
            if self.rejected:
                return (f"history up to date ({self.ready} series); {self.rejected} rejected by the exchange"
                        if self.ready else f"no history: all {self.rejected} series rejected by the exchange")
            return f"history up to date ({self.series} series)"
        out = f"syncing history: {self.ready}/{self.series} series ready"
        if self.total:
            out += f", {self.done:,}/{self.total:,} candles fetched"
        if self.retrying:
            out += f"; {self.retrying} waiting for the exchange ({self.problem})"
        return out


def sync_summary(feeds: Iterable[MarketFeed]) -> SyncSummary:
    series = ready = done = total = retrying = rejected = 0
    problem = ""
    for feed in feeds:
        for s in list(feed.series.values()):
            sync = s.sync
            series += 1
            if s.failed:
                rejected += 1
            elif sync.stage == "retrying":
                retrying += 1
                problem = problem or f"{s.exchange} {s.symbol}: {sync.problem}"
            elif sync.busy:
                done, total = done + min(sync.done, sync.total), total + sync.total
            else:
                ready += 1
    return SyncSummary(series, ready, done, total, retrying, problem, rejected)


class MarketFeed:
    """Streams 15m candles (and last prices) for `symbols`, keeping every series gap-free.

    At start and after every reconnect each series backfills by REST from its last closed candle;
    stream closes that arrive meanwhile are held and emitted after the backfill, in order.
    """

    def __init__(self, adapter: ExchangeAdapter, store: CandleStore, writer: CandleWriter,
                 symbols: Iterable[str], *, windows: dict[Timeframe, int] | None = None,
                 rest: RestClient | None = None, policy: ReconnectPolicy | None = None,
                 heartbeat_interval: float | None = None, max_silence: float | None = None,
                 now_ms: Callable[[], int] | None = None, fallback_after: float = 10.0,
                 fallback_poll: float = 5.0, recover_after: float = 30.0, close_grace: float = 10.0) -> None:
        self.adapter = adapter
        self.rest = rest or RestClient(adapter)
        self.hub = StreamHub(adapter, policy=policy, heartbeat_interval=heartbeat_interval, max_silence=max_silence,
                             on_events=self._route, on_connect=self._on_connect, on_error=self._on_ws_error)
        extra = {"now_ms": now_ms} if now_ms else {}
        # one REST semaphore for all series of this exchange (asyncio binds it to the loop at first use)
        self._series_args: dict[str, Any] = dict(rest=self.rest, store=store, writer=writer, windows=windows,
                                                 rest_slots=asyncio.Semaphore(REST_CONCURRENCY), retry_policy=policy,
                                                 **extra)
        self.series: dict[str, SeriesManager] = {}
        for sym in dict.fromkeys(symbols):
            self.series[sym] = SeriesManager(adapter.name, sym, **self._series_args)
        self.configured: set[str] = set(self.series)  # the settings' symbols (see set_symbols)
        self._added: dict[str, int] = {}  # symbols added at run time (bots, scanners, chart) -> reference count
        self.errors: list[str] = []
        self._started = False
        # REST fallback with hysteresis: on after the stream has been unhealthy for `fallback_after` s,
        # polls every `fallback_poll` s, off once the stream stayed healthy for `recover_after` s.
        self.fallback_after = fallback_after
        self.fallback_poll = fallback_poll
        self.recover_after = recover_after
        self.fallback_polls = 0
        self.close_grace_ms = int(close_grace * 1000)  # exchange-time grace after a bucket's end
        self._fallback: set[str] = set()  # names of connections whose symbols are polled by REST
        self._supervisor: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"MarketFeed({self.adapter.name}, {list(self.series)})"

    @property
    def ws(self) -> WsConnection:
        """The first connection (most feeds need only one; see `hub.connections` for all)."""
        return self.hub.connections[0]

    @property
    def fallback_active(self) -> bool:
        return bool(self._fallback)

    def health(self) -> list[StreamHealth]:
        return self.hub.health()

    def topics_for(self, symbol: str) -> list[str]:
        """The stream topics of one symbol; an exchange without a ticker on this connection gives none."""
        topics = [self.adapter.kline_topic(symbol, BASE_TIMEFRAME), self.adapter.ticker_topic(symbol)]
        return [t for t in topics if t]

    async def start(self, first: str | None = None) -> None:
        """Load history from disk, subscribe, connect, and catch up by REST at once (whether or not the stream
        connects: an exchange unreachable at start is retried); every (re)connect catches up again. `first`: a
        symbol (the one on screen) whose history is fetched alone before its siblings'."""
        if self._started:
            return
        self._started = True
        for s in self.series.values():
            s.listeners.error.append(self._on_series_error)
        await asyncio.gather(*(s.load_history() for s in self.series.values()))
        if not self._started:  # stopped while the history loaded (a settings change removed the exchange)
            return
        await self.hub.acquire([t for sym in self.series for t in self.topics_for(sym)])
        for conn in self.hub.connections:
            conn.fallback_active = functools.partial(self._in_fallback, conn)  # shown in the stream's health
        self.hub.start()
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise(),
                                                                  name=f"fallback-{self.adapter.name}")
        lead = self.series.get(first) if first else None
        if lead is not None:  # the series on screen fetches alone, its siblings right after
            others = [s for s in self.series.values() if s is not lead]
            lead.backfill().add_done_callback(lambda _t: self._started and [s.backfill() for s in others])
        else:
            for s in self.series.values():
                s.backfill()

    async def add_symbol(self, symbol: str) -> SeriesManager:
        """Start streaming (and storing) one more symbol while running; reference-counted with
        `remove_symbol`. A symbol of the settings (`configured`) streams until `set_symbols` leaves it out and
        no run-time user holds it any more."""
        self._added[symbol] = self._added.get(symbol, 0) + 1
        s = self.series.get(symbol)
        if s is not None:
            return s
        return await self._stream(symbol)

    async def remove_symbol(self, symbol: str) -> None:
        n = self._added.get(symbol)
        if not n:
            return
        if n > 1:
            self._added[symbol] = n - 1
            return
        del self._added[symbol]
        if symbol not in self.configured:
            await self._drop(symbol)

    async def set_symbols(self, symbols: Iterable[str]) -> tuple[list[str], list[str]]:
        """The settings' symbols change while running: new ones stream (history from disk, subscribe, REST catch
        up), those left out stop, unless a bot, scanner or the chart still holds them (`add_symbol`): they
        stream until released. Before `start`, only the list changes. Returns (started, stopped)."""
        wanted = list(dict.fromkeys(symbols))
        old, self.configured = self.configured, set(wanted)
        started = [sym for sym in wanted if sym not in self.series]
        for sym in started:
            if self._started:
                await self._stream(sym)
            else:  # start() loads, subscribes and catches up every series
                self.series[sym] = SeriesManager(self.adapter.name, sym, **self._series_args)
        stopped = [sym for sym in old - self.configured if sym in self.series and not self._added.get(sym)]
        for sym in stopped:
            await self._drop(sym)
        return started, stopped

    async def resize_windows(self, windows: dict[Timeframe, int]) -> None:
        """New memory windows for every series (and those added later); a grown one reloads history from disk."""
        self._series_args["windows"] = {**(self._series_args.get("windows") or {}), **windows}
        for s in list(self.series.values()):
            await s.resize_windows(windows)

    async def _stream(self, symbol: str) -> SeriesManager:
        s = self.series[symbol] = SeriesManager(self.adapter.name, symbol, **self._series_args)
        s.listeners.error.append(self._on_series_error)
        await s.load_history()
        await self.hub.acquire(self.topics_for(symbol))
        if self._started:
            s.backfill()  # REST catches up now; a (re)connect of its socket backfills again
        log.info("%s: now streaming", s.label)
        return s

    async def _drop(self, symbol: str) -> None:
        gone = self.series.pop(symbol, None)
        if gone is None:
            return
        task = gone.backfill_task
        if task is not None and not task.done():
            task.cancel()
        await self.hub.release(self.topics_for(symbol))
        log.info("%s: stopped streaming", gone.label)

    async def stop(self) -> None:
        tasks = [] if self._supervisor is None else [self._supervisor]
        self.rest.close()  # REST waits end now; a request in flight is left to its daemon thread
        tasks += [s.backfill_task for s in self.series.values() if s.backfill_task is not None]
        tasks = [t for t in tasks if not t.done()]
        for task in tasks:
            task.cancel()
        await self.hub.stop()
        if tasks:  # ended, not just asked to: nothing of this feed runs on after its stop
            await asyncio.wait(tasks, timeout=STOP_WAIT_S)
            late = [t.get_name() for t in tasks if not t.done()]
            if late:
                log.warning("%s: %s still running %.0f s after the stop", self.adapter.name, ", ".join(late),
                            STOP_WAIT_S)
        self._started = False

    # -- REST fallback ------------------------------------------------------------------------------
    def _in_fallback(self, conn: WsConnection) -> bool:
        return conn.name in self._fallback

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        tick = max(0.05, min(1.0, self.fallback_poll / 2))
        unhealthy_since: dict[str, float] = {}
        healthy_since: dict[str, float] = {}
        last_poll = 0.0
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            for conn in list(self.hub.connections):
                name = conn.name
                if conn.is_healthy(conn.max_silence):
                    unhealthy_since.pop(name, None)
                    since = healthy_since.setdefault(name, now)
                    if name in self._fallback and now - since >= self.recover_after:
                        self._fallback.discard(name)
                        log.info("%s: stream healthy for %.0fs; REST fallback off", name, self.recover_after)
                else:
                    healthy_since.pop(name, None)
                    since = unhealthy_since.setdefault(name, now)
                    if name not in self._fallback and now - since >= self.fallback_after:
                        self._fallback.add(name)
                        log.warning("%s: stream unhealthy for %.0fs; polling its symbols by REST", name,
                                    self.fallback_after)
            for s in self.series.values():
                s.check_deadline(self.close_grace_ms)
            if self._fallback and now - last_poll >= self.fallback_poll:
                last_poll = now
                self.fallback_polls += 1
                for sym, s in self.series.items():
                    via = self.hub.connection_of(self.adapter.kline_topic(sym, BASE_TIMEFRAME))
                    if via is not None and via.name in self._fallback:
                        s.backfill()  # closed candles since the last one, by REST, within the budget

    # -- wiring -------------------------------------------------------------------------------------
    def _on_connect(self, conn: WsConnection) -> None:
        """The symbols of that connection catch up by REST on what closed while it was away. A series still
        waiting for its first catch-up (behind the one on screen, see start) is left to it."""
        for sym, s in self.series.items():
            if (s.backfill_task is not None
                    and self.hub.connection_of(self.adapter.kline_topic(sym, BASE_TIMEFRAME)) is conn):
                s.backfill()

    def _route(self, events: list[MarketEvent]) -> None:
        for ev in events:
            series = self.series.get(getattr(ev, "symbol", ""))
            if series is None:
                continue
            if isinstance(ev, KlineEvent):
                series.on_kline(ev)
            elif isinstance(ev, TradeEvent) and self.adapter.candles_from_trades:
                series.on_trade(ev.price, ev.size, ev.time)
            elif isinstance(ev, (TickerEvent, TradeEvent)):
                series.on_price(ev.price, ev.time)

    def _on_series_error(self, message: str) -> None:
        self.errors.append(message)
        for sym, s in self.series.items():
            if s.failed and any(t in self.hub.refs for t in self.topics_for(sym)):
                asyncio.get_running_loop().create_task(self.hub.release(self.topics_for(sym)))

    def _on_ws_error(self, message: str) -> None:
        self.errors.append(f"{self.adapter.name} stream: {message}")
