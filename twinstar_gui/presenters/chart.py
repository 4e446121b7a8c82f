"""Chart presenter: turns one series' history/closes/forming updates into view data at <= 20 Hz."""
from __future__ import annotations

import logging

import pandas as pd
from PySide6.QtCore import QObject, QTimer, Signal

from ..core.models import Candle
from ..core.timeframe import BASE_TIMEFRAME, Timeframe
from ..data.feed import MarketFeed
from ..data.manager import ClosedCandle, SeriesManager, frame_of

log = logging.getLogger(__name__)

FLUSH_MS = 50  # 20 Hz at most
RESET_OVER = 50  # more closed candles than this in one flush (a backfill): resend the window instead


class ChartPresenter(QObject):
    """`history(frame, symbol, tf)` resets the chart; `candles(list[tuple], symbol, tf)` updates it in place.

    Each tuple is (open_time_ms, open, high, low, close, volume, closed).
    """

    history = Signal(object, str, str)
    candles = Signal(object, str, str)

    def __init__(self, feeds: dict[str, MarketFeed], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.feeds = feeds
        self.exchange = ""
        self.symbol = ""
        self.tf = BASE_TIMEFRAME
        self._series: SeriesManager | None = None
        self._history_dirty = False
        self._updates: dict[int, tuple] = {}
        self.flushes = 0
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self._flush)
        self._timer.start()
        for feed in feeds.values():
            for s in feed.series.values():
                s.listeners.history.append(self._on_history)
                s.listeners.closed.append(self._on_closed)
                s.listeners.forming.append(self._on_forming)

    def choices(self) -> dict[str, list[str]]:
        return {name: [s for s, m in feed.series.items() if not m.failed] for name, feed in self.feeds.items()}

    def select(self, exchange: str, symbol: str, tf: Timeframe | str = BASE_TIMEFRAME) -> None:
        feed = self.feeds.get(exchange)
        if feed is None or symbol not in feed.series:
            raise ValueError(f"no series {exchange}:{symbol}; have {self.choices()}")
        self.exchange, self.symbol, self.tf = exchange, symbol, Timeframe.parse(tf)
        self._series = feed.series[symbol]
        self._history_dirty = True
        self._updates.clear()

    def current_frame(self) -> pd.DataFrame:
        if self._series is None:
            return frame_of([])
        return self._series.frame(self.tf)

    # -- listeners (asyncio loop == GUI thread under qasync) -----------------------------------------
    def _mine(self, series: SeriesManager) -> bool:
        return series is self._series

    def _on_history(self, series: SeriesManager) -> None:
        if self._mine(series):
            self._history_dirty = True

    def _on_closed(self, ev: ClosedCandle) -> None:
        s = self._series
        if s is None or ev.symbol != s.symbol or ev.exchange != s.exchange or ev.timeframe is not self.tf:
            return
        c = ev.candle
        self._updates[c.open_time] = (c.open_time, c.open, c.high, c.low, c.close, c.volume, True)

    def _on_forming(self, symbol: str, candle: Candle) -> None:
        s = self._series
        if s is None or symbol != s.symbol:
            return
        shown = candle if self.tf is BASE_TIMEFRAME else self._derived_forming(s, candle)
        if shown is not None:
            self._updates[-1] = (shown.open_time, shown.open, shown.high, shown.low, shown.close, shown.volume, False)

    def _derived_forming(self, s: SeriesManager, candle: Candle) -> Candle | None:
        partial = s._resamplers[self.tf].forming
        group = self.tf.bucket_start(candle.open_time)
        if partial is None or partial.open_time != group:
            return Candle(group, candle.open, candle.high, candle.low, candle.close, candle.volume)
        return partial.merged_with(candle)

    def _flush(self) -> None:
        if self._series is None:
            return
        if len(self._updates) > RESET_OVER:
            self._history_dirty = True
        if self._history_dirty:
            self._history_dirty = False
            forming = self._updates.get(-1)
            self._updates.clear()
            self.flushes += 1
            self.history.emit(self.current_frame(), self.symbol, self.tf.label)
            if forming is not None:
                self.candles.emit([forming], self.symbol, self.tf.label)
            return
        if self._updates:
            forming = self._updates.pop(-1, None)
            batch = [self._updates[k] for k in sorted(self._updates)]
            if forming is not None and (not batch or forming[0] > batch[-1][0]):
                batch.append(forming)
            self._updates.clear()
            self.flushes += 1
            self.candles.emit(batch, self.symbol, self.tf.label)
