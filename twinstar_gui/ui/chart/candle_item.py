"""Candlestick item that paints only the visible range and aggregates per pixel column when zoomed out."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter, QPen

from .buffers import ColumnBuffer, column_groups

UP = QColor("#26a69a")
DOWN = QColor("#ef5350")
DOJI = QColor("#9598a1")
LOD_PIXELS = 3.0  # below this many pixels per bar, draw one min/max line per pixel column
BODY = 0.7


class CandlestickItem(pg.GraphicsObject):
    """x = candle open time (seconds), columns o/h/l/c. Nothing is pre-rendered: paint cost ~ visible bars."""

    def __init__(self) -> None:
        super().__init__()
        self._buf = ColumnBuffer(5)
        self.bar_width = 1.0
        self._bounds = QRectF()
        self.last_painted = 0  # candles (or pixel columns in LOD mode) handled by the last paint
        self.lod_active = False

    def __len__(self) -> int:
        return self._buf.n

    def set_data(self, x, open_, high, low, close, bar_width: float) -> None:
        self.prepareGeometryChange()
        self.bar_width = float(bar_width)
        self._buf.set([np.asarray(a, dtype=np.float64) for a in (x, open_, high, low, close)])
        self._recompute_bounds()
        self.informViewBoundsChanged()
        self.update()

    def update_last(self, x: float, o: float, h: float, l: float, c: float) -> None:
        appended = self._buf.upsert_last((x, o, h, l, c))
        b = self._bounds
        grows = appended or not b.isValid() or h > b.bottom() or l < b.top()
        if grows:
            self.prepareGeometryChange()
            self._recompute_bounds()
            self.informViewBoundsChanged()
        self.update()

    def _recompute_bounds(self) -> None:
        d = self._buf.view()
        if not len(d):
            self._bounds = QRectF()
            return
        lo, hi = float(d[:, 3].min()), float(d[:, 2].max())
        self._bounds = QRectF(d[0, 0] - self.bar_width, lo, d[-1, 0] - d[0, 0] + 2 * self.bar_width, max(hi - lo, 1e-12))

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return QRectF(self._bounds)

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):  # noqa: N802 (pyqtgraph API)
        d = self._buf.view()
        if not len(d):
            return None, None
        if ax == 0:
            return float(d[0, 0]), float(d[-1, 0] + self.bar_width)
        if orthoRange is not None:
            sl = self._buf.visible_slice(orthoRange[0] - self.bar_width, orthoRange[1], pad=0)
            d = d[sl]
            if not len(d):
                return None, None
        return float(d[:, 3].min()), float(d[:, 2].max())

    def paint(self, p: QPainter, *args) -> None:
        d = self._buf.view()
        vb = self.getViewBox()
        if not len(d) or vb is None:
            self.last_painted = 0
            return
        (x0, x1), _ = vb.viewRange()
        d = d[self._buf.visible_slice(x0 - self.bar_width, x1)]
        if not len(d):
            self.last_painted = 0
            return
        px_per_x = vb.width() / max(x1 - x0, 1e-12)
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
            pen = QPen(colour)
            pen.setCosmetic(True)
            p.setPen(pen)
            wick = np.empty(2 * len(xs))
            wick_y = np.empty(2 * len(xs))
            wick[0::2] = wick[1::2] = xs
            wick_y[0::2], wick_y[1::2] = h[mask], l[mask]
            p.drawPath(pg.arrayToQPath(wick, wick_y, connect="pairs"))
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
            if not mask.any():
                continue
            pen = QPen(colour)
            pen.setCosmetic(True)
            p.setPen(pen)
            xx = np.repeat(xs[mask], 2)
            yy = np.empty(len(xx))
            yy[0::2], yy[1::2] = hi[mask], lo[mask]
            p.drawPath(pg.arrayToQPath(xx, yy, connect="pairs"))

    def point_at(self, x: float) -> tuple | None:
        """(x, o, h, l, c) of the candle under x, for crosshair readouts."""
        d = self._buf.view()
        if not len(d):
            return None
        i = int(np.clip(np.searchsorted(d[:, 0], x, side="right") - 1, 0, len(d) - 1))
        return tuple(float(v) for v in d[i])


