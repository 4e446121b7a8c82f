"""Candlestick item: paints only the visible candles, one min/max line per pixel column when zoomed out."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter

from .base import BODY_FRACTION, Extent, PaintFrame, SeriesItem, pen, vertical_segments

UP = QColor("#26a69a")
DOWN = QColor("#ef5350")
DOJI = QColor("#9598a1")

X, OPEN, HIGH, LOW, CLOSE = range(5)


def _by_direction(open_: np.ndarray, close: np.ndarray) -> list[tuple[QColor, np.ndarray]]:
    """(colour, mask) for up, down and doji rows, skipping empty masks."""
    groups = ((UP, close > open_), (DOWN, close < open_), (DOJI, close == open_))
    return [(colour, mask) for colour, mask in groups if mask.any()]


class CandlestickItem(SeriesItem):
    """OHLC candles; x = candle open time in seconds (ascending), each candle `bar_width` wide.

    `set_data` replaces everything; `update_last` keeps the live forming candle current in O(1) amortized.
    After a paint, `last_painted` says how many candles (bars mode) or pixel columns (`lod_active`) it handled.
    """

    N_COLUMNS = 5

    def set_data(self, x: np.ndarray, open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray,
                 bar_width: float) -> None:
        """Replace all candles. Arrays are copied (float64); x must be ascending."""
        self._replace((x, open_, high, low, close), bar_width)

    def update_last(self, x: float, o: float, h: float, l: float, c: float) -> None:
        """Rewrite the last candle when x equals its x, else append one (x must not be older)."""
        self._upsert((float(x), float(o), float(h), float(l), float(c)))

    def _extent(self, i0: int, i1: int) -> Extent:
        s = self._store
        return float(s.column(LOW)[i0:i1].min()), float(s.column(HIGH)[i0:i1].max())

    def _rows(self, frame: PaintFrame) -> list[np.ndarray]:
        return [self._store.column(k)[frame.i0:frame.i1] for k in range(self.N_COLUMNS)]

    def _draw_bars(self, p: QPainter, frame: PaintFrame) -> None:
        x, o, h, l, c = self._rows(frame)
        self.last_painted = len(x)
        centre = x + self._bar_width / 2
        half_body = self._bar_width * BODY_FRACTION / 2
        top, bottom = np.maximum(o, c), np.minimum(o, c)
        for colour, mask in _by_direction(o, c):
            p.setPen(pen(colour))
            p.setBrush(colour)
            p.drawPath(vertical_segments(centre[mask], h[mask], l[mask]))
            p.drawRects([QRectF(xc - half_body, b, 2 * half_body, t - b)
                         for xc, b, t in zip(centre[mask].tolist(), bottom[mask].tolist(), top[mask].tolist())])

    def _draw_columns(self, p: QPainter, frame: PaintFrame) -> None:
        x, o, h, l, c = self._rows(frame)
        starts, line_x = self._pixel_columns(frame)
        self.last_painted = len(starts)
        ends = np.r_[starts[1:], len(x)] - 1
        high = np.maximum.reduceat(h, starts)
        low = np.minimum.reduceat(l, starts)
        for colour, mask in _by_direction(o[starts], c[ends]):
            p.setPen(pen(colour))
            p.drawPath(vertical_segments(line_x[mask], high[mask], low[mask]))
