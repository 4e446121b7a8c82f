"""RSI subplot: Wilder's RSI kept current with the forming candle in O(1), drawn visible-range only."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QPainter

from ...core.indicators import rsi_wilder
from .base import Extent, PaintFrame, SeriesItem, pen, vertical_segments

LINE = QColor("#b39ddb")
SETTLE_BARS = 600  # Wilder's memory fades as (13/14)^k: after 600 bars a changed seed moves RSI by < 1e-19


def _rsi_of(avg_gain: float, avg_loss: float) -> float:
    if avg_loss == 0.0:
        return 50.0 if avg_gain == 0.0 else 100.0
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)


class IncrementalRsi:
    """RSI(period) over closes whose last one may still change (the forming candle); matches `rsi_wilder`.

    Keeps Wilder's averages up to the second-to-last close, so rewriting the last close or appending one is
    O(1); a reset computes the whole series with the core's `rsi_wilder`.
    """

    def __init__(self, period: int = 14) -> None:
        self.period = period
        self._closes: list[float] = []
        self._base: tuple[float, float] | None = None  # Wilder averages at index n-2 (deltas d[0..n-3])

    def __len__(self) -> int:
        return len(self._closes)

    def reset(self, closes: Sequence[float] | np.ndarray) -> np.ndarray:
        """All RSI values of `closes` (NaN for the first `period`)."""
        c = np.asarray(closes, dtype=np.float64)
        self._closes = c.tolist()
        self._base = self._averages_at(len(c) - 2)
        return rsi_wilder(c, self.period)

    def prepend(self, older: Sequence[float] | np.ndarray, values: np.ndarray) -> np.ndarray:
        """RSI of older + current closes, given the current `values`: only the older part and the first
        SETTLE_BARS current rows are recomputed (the rest cannot change in float64)."""
        old = np.asarray(older, dtype=np.float64)
        if len(self._closes) <= SETTLE_BARS + 2:
            return self.reset(np.r_[old, self._closes])
        head = rsi_wilder(np.r_[old, self._closes[:SETTLE_BARS]], self.period)
        self._closes = old.tolist() + self._closes
        return np.r_[head, values[SETTLE_BARS:]]

    def update_last(self, close: float) -> float:
        """Rewrite the last close (the forming candle moved); its RSI."""
        self._closes[-1] = float(close)
        return self._last()

    def append(self, close: float) -> float:
        """The last close is final now; a new one follows. The new one's RSI."""
        n = len(self._closes)
        if self._base is not None and n >= 2:  # fold the now-final last delta into the averages
            g, l = self._base
            d = self._closes[-1] - self._closes[-2]
            p = self.period
            self._base = ((g * (p - 1) + max(d, 0.0)) / p, (l * (p - 1) + max(-d, 0.0)) / p)
        self._closes.append(float(close))
        if self._base is None:
            self._base = self._averages_at(len(self._closes) - 2)
        return self._last()

    def _last(self) -> float:
        n, p = len(self._closes), self.period
        if n - 1 < p:
            return math.nan
        if self._base is None:  # n - 1 == p: the seed itself
            return float(rsi_wilder(self._closes, p)[-1])
        g, l = self._base
        d = self._closes[-1] - self._closes[-2]
        return _rsi_of((g * (p - 1) + max(d, 0.0)) / p, (l * (p - 1) + max(-d, 0.0)) / p)

    def _averages_at(self, k: int) -> tuple[float, float] | None:
        """Wilder's (avg_gain, avg_loss) at index k (over deltas d[0..k-1]); None while k < period."""
        p = self.period
        if k < p:
            return None
        delta = np.diff(np.asarray(self._closes[: k + 1], dtype=np.float64))
        gains, losses = np.clip(delta, 0.0, None), np.clip(-delta, 0.0, None)
        avg_gain, avg_loss = gains[:p].mean(), losses[:p].mean()  # the same operations as rsi_wilder
        for i in range(p, k):
            avg_gain = (avg_gain * (p - 1) + gains[i]) / p
            avg_loss = (avg_loss * (p - 1) + losses[i]) / p
        return float(avg_gain), float(avg_loss)


class RsiItem(SeriesItem):
    """One line through the bar centres, y in 0..100; zoomed out, a min/max segment per pixel column."""

    N_COLUMNS = 2

    def set_data(self, x: np.ndarray, rsi: np.ndarray, bar_width: float) -> None:
        self._replace((x, rsi), bar_width)

    def update_last(self, x: float, rsi: float) -> None:
        self._upsert((float(x), float(rsi)))

    def value_at_row(self, i: int) -> float:
        return float(self._store.column(1)[i])

    def _extent(self, i0: int, i1: int) -> Extent:
        return 0.0, 100.0

    def _draw_bars(self, p: QPainter, frame: PaintFrame) -> None:
        x = self._store.column(0)[frame.i0:frame.i1] + self._bar_width / 2
        y = self._store.column(1)[frame.i0:frame.i1]
        self.last_painted = len(x)
        p.setPen(pen(LINE))
        p.drawPath(pg.arrayToQPath(x, y, connect="finite"))

    def _draw_columns(self, p: QPainter, frame: PaintFrame) -> None:
        y = self._store.column(1)[frame.i0:frame.i1]
        starts, line_x = self._pixel_columns(frame)
        self.last_painted = len(starts)
        ends = np.r_[starts[1:], len(y)] - 1
        with np.errstate(invalid="ignore"):
            lo, hi = np.fmin.reduceat(y, starts), np.fmax.reduceat(y, starts)
        ok = np.isfinite(lo)
        p.setPen(pen(LINE))
        p.drawPath(vertical_segments(line_x[ok], lo[ok], hi[ok]))
        p.drawPath(pg.arrayToQPath(line_x, y[ends], connect="finite"))  # joins neighbouring columns
