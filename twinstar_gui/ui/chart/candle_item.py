"""Candlestick item that paints only the visible range and aggregates per pixel column when zoomed out."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter, QPen

from .buffers import VisibleRangeItem, column_groups

UP = QColor("#26a69a")
DOWN = QColor("#ef5350")
DOJI = QColor("#9598a1")
LOD_PIXELS = 3.0  # below this many pixels per bar, draw one min/max line per pixel column
BODY = 0.7


def _pen(colour: QColor) -> QPen:
    pen = QPen(colour)
    pen.setCosmetic(True)
    return pen


def _pairs_path(x: np.ndarray, y_top: np.ndarray, y_bottom: np.ndarray):
    xx = np.repeat(x, 2)
    yy = np.empty(len(xx))
    yy[0::2], yy[1::2] = y_top, y_bottom
    return pg.arrayToQPath(xx, yy, connect="pairs")


class CandlestickItem(VisibleRangeItem):
    """x = candle open time (seconds), columns o/h/l/c. Nothing is pre-rendered: paint cost ~ visible bars."""

    def __init__(self) -> None:
        super().__init__(5)
        self.lod_active = False

    def y_extent(self, rows: np.ndarray) -> tuple[float, float]:
        return float(rows[:, 3].min()), float(rows[:, 2].max())

    def set_data(self, x, open_, high, low, close, bar_width: float) -> None:
        self._set_columns((x, open_, high, low, close), bar_width)

    def update_last(self, x: float, o: float, h: float, l: float, c: float) -> None:
        self._upsert((x, o, h, l, c))

    def paint(self, p: QPainter, *args) -> None:
        seen = self.visible_rows()
        if seen is None:
            return
        d, x0, px_per_x = seen
        if self.bar_width * px_per_x < LOD_PIXELS:
            self._paint_lod(p, d, x0, px_per_x)
        else:
            self._paint_bars(p, d)

    def _paint_bars(self, p: QPainter, d: np.ndarray) -> None:
        self.lod_active = False
        self.last_painted = len(d)
        x, o, h, l, c = d.T
        half = self.bar_width * BODY / 2
        for colour, mask in ((UP, c > o), (DOWN, c < o), (DOJI, c == o)):
            if not mask.any():
                continue
            xs = x[mask] + self.bar_width / 2
            p.setPen(_pen(colour))
            p.drawPath(_pairs_path(xs, h[mask], l[mask]))
            p.setBrush(colour)
            tops, bottoms = np.maximum(o[mask], c[mask]), np.minimum(o[mask], c[mask])
            p.drawRects([QRectF(xi - half, b, 2 * half, t - b) for xi, b, t in zip(xs, bottoms, tops)])

    def _paint_lod(self, p: QPainter, d: np.ndarray, x0: float, px_per_x: float) -> None:
        self.lod_active = True
        starts = column_groups((d[:, 0] - x0) * px_per_x)
        self.last_painted = len(starts)
        ends = np.r_[starts[1:], len(d)] - 1
        hi = np.maximum.reduceat(d[:, 2], starts)
        lo = np.minimum.reduceat(d[:, 3], starts)
        up = d[ends, 4] >= d[starts, 1]
        xs = d[starts, 0] + self.bar_width / 2
        for colour, mask in ((UP, up), (DOWN, ~up)):
            if mask.any():
                p.setPen(_pen(colour))
                p.drawPath(_pairs_path(xs[mask], hi[mask], lo[mask]))

    def point_at(self, x: float) -> tuple | None:
        """(x, o, h, l, c) of the candle under x, for crosshair readouts."""
        d = self._buf.view()
        if not len(d):
            return None
        i = int(np.clip(np.searchsorted(d[:, 0], x, side="right") - 1, 0, len(d) - 1))
        return tuple(float(v) for v in d[i])
