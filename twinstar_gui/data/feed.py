"""One exchange's live market feed: REST client + WebSocket + one SeriesManager per symbol, wired together."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from ..core.models import KlineEvent, MarketEvent, TickerEvent, TradeEvent
from ..core.timeframe import BASE_TIMEFRAME, Timeframe
from ..exchanges.base import ExchangeAdapter
from ..net.backoff import ReconnectPolicy
from ..net.rest import RestClient
from ..net.ws import WsConnection
from .manager import SeriesManager
from .store import CandleStore
from .writer import CandleWriter

log = logging.getLogger(__name__)


class MarketFeed:
    """Streams 15m candles (and last prices) for `symbols`, keeping every series gap-free.

    At start and after every reconnect each series backfills by REST from its last closed candle;
    stream closes that arrive meanwhile are held and emitted after the backfill, in order.
    """

    def __init__(self, adapter: ExchangeAdapter, store: CandleStore, writer: CandleWriter,
                 symbols: Iterable[str], *, windows: dict[Timeframe, int] | None = None,
                 rest: RestClient | None = None, policy: ReconnectPolicy | None = None,
                 heartbeat_interval: float | None = None, max_silence: float | None = None,
                 now_ms: Callable[[], int] | None = None) -> None:
        self.adapter = adapter
        self.rest = rest or RestClient(adapter)
        self.ws = WsConnection(adapter, policy=policy, heartbeat_interval=heartbeat_interval,
                               max_silence=max_silence, on_events=self._route,
                               on_connect=self._on_connect, on_error=self._on_ws_error)
        extra = {"now_ms": now_ms} if now_ms else {}
        self.series: dict[str, SeriesManager] = {}
        for sym in dict.fromkeys(symbols):
            self.series[sym] = SeriesManager(adapter.name, sym, rest=self.rest, store=store, writer=writer,
                                             windows=windows, **extra)
        self.errors: list[str] = []
        self._started = False

    def __repr__(self) -> str:
        return f"MarketFeed({self.adapter.name}, {list(self.series)})"

    def topics_for(self, symbol: str) -> list[str]:
        """The stream topics of one symbol; an exchange without a ticker on this connection gives none."""
        topics = [self.adapter.kline_topic(symbol, BASE_TIMEFRAME), self.adapter.ticker_topic(symbol)]
        return [t for t in topics if t]

    async def start(self) -> None:
        """Load history from disk, subscribe, connect; backfill starts once the socket is up."""
        if self._started:
            return
        self._started = True
        for s in self.series.values():
            s.listeners.error.append(self._on_series_error)
        await asyncio.gather(*(s.load_history() for s in self.series.values()))
        await self.ws.subscribe([t for sym in self.series for t in self.topics_for(sym)])
        self.ws.start()

    async def stop(self) -> None:
        await self.ws.stop()
        for s in self.series.values():
            task = s._backfill
            if task is not None and not task.done():
                task.cancel()
        await asyncio.to_thread(self.rest.close)
        self._started = False

    async def wait_backfills(self) -> None:
        tasks = [s._backfill for s in self.series.values() if s._backfill is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- wiring -------------------------------------------------------------------------------------
    def _on_connect(self) -> None:
        for s in self.series.values():
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
            if s.failed and any(t in self.ws.topics for t in self.topics_for(sym)):
                asyncio.get_running_loop().create_task(self.ws.unsubscribe(self.topics_for(sym)))

    def _on_ws_error(self, message: str) -> None:
        self.errors.append(f"{self.adapter.name} stream: {message}")
