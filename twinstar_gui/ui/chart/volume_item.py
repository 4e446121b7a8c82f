"""Volume bars: same visible-range painting and per-pixel-column max aggregation as the candles."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter

from .buffers import ColumnBuffer, column_groups
from .candle_item import BODY, LOD_PIXELS

UP = QColor(38, 166, 154, 140)
DOWN = QColor(239, 83, 80, 140)


class VolumeItem(pg.GraphicsObject):
    """x = candle open time (seconds), columns volume/open/close (colour by direction)."""

    def __init__(self) -> None:
        super().__init__()
        self._buf = ColumnBuffer(4)
        self.bar_width = 1.0
        self._bounds = QRectF()
        self.last_painted = 0

    def __len__(self) -> int:
        return self._buf.n

    def set_data(self, x, volume, open_, close, bar_width: float) -> None:
        self.prepareGeometryChange()
        self.bar_width = float(bar_width)
        self._buf.set([np.asarray(a, dtype=np.float64) for a in (x, volume, open_, close)])
        self._recompute_bounds()
        self.informViewBoundsChanged()
        self.update()

    def update_last(self, x: float, volume: float, open_: float, close: float) -> None:
        appended = self._buf.upsert_last((x, volume, open_, close))
        if appended or volume > self._bounds.bottom():
            self.prepareGeometryChange()
            self._recompute_bounds()
            self.informViewBoundsChanged()
        self.update()

    def _recompute_bounds(self) -> None:
        d = self._buf.view()
        self._bounds = QRectF() if not len(d) else QRectF(
            d[0, 0] - self.bar_width, 0.0, d[-1, 0] - d[0, 0] + 2 * self.bar_width, max(float(d[:, 1].max()), 1e-12))

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return QRectF(self._bounds)

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):  # noqa: N802 (pyqtgraph API)
        d = self._buf.view()
        if not len(d):
            return None, None
        if ax == 0:
            return float(d[0, 0]), float(d[-1, 0] + self.bar_width)
        if orthoRange is not None:
            d = d[self._buf.visible_slice(orthoRange[0] - self.bar_width, orthoRange[1], pad=0)]
            if not len(d):
                return None, None
        return 0.0, float(d[:, 1].max())

    def paint(self, p: QPainter, *args) -> None:
        d = self._buf.view()
        vb = self.getViewBox()
        self.last_painted = 0
        if not len(d) or vb is None:
            return
        (x0, x1), _ = vb.viewRange()
        d = d[self._buf.visible_slice(x0 - self.bar_width, x1)]
        if not len(d):
            return
        px_per_x = vb.width() / max(x1 - x0, 1e-12)
        p.setPen(pg.mkPen(None))
        if self.bar_width * px_per_x < LOD_PIXELS:
            starts = column_groups((d[:, 0] - x0) * px_per_x)
            vol = np.maximum.reduceat(d[:, 1], starts)
            ends = np.r_[starts[1:], len(d)] - 1
            up = d[ends, 3] >= d[starts, 2]
            xs, w = d[starts, 0], 1.0 / px_per_x  # one pixel wide
        else:
            vol, up, xs = d[:, 1], d[:, 3] >= d[:, 2], d[:, 0] + self.bar_width * (1 - BODY) / 2
            w = self.bar_width * BODY
        self.last_painted = len(xs)
        for colour, mask in ((UP, up), (DOWN, ~up)):
            if mask.any():
                p.setBrush(colour)
                p.drawRects([QRectF(x, 0.0, w, v) for x, v in zip(xs[mask], vol[mask])])
