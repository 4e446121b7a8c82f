"""Volume bars: same visible-range painting and per-pixel-column max aggregation as the candles."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter

from .buffers import VisibleRangeItem, column_groups
from .candle_item import BODY, LOD_PIXELS

UP = QColor(38, 166, 154, 140)
DOWN = QColor(239, 83, 80, 140)


class VolumeItem(VisibleRangeItem):
    """x = candle open time (seconds), columns volume/open/close (colour by direction)."""

    def __init__(self) -> None:
        super().__init__(4)

    def y_extent(self, rows: np.ndarray) -> tuple[float, float]:
        return 0.0, float(rows[:, 1].max())

    def set_data(self, x, volume, open_, close, bar_width: float) -> None:
        self._set_columns((x, volume, open_, close), bar_width)

    def update_last(self, x: float, volume: float, open_: float, close: float) -> None:
        self._upsert((x, volume, open_, close))

    def paint(self, p: QPainter, *args) -> None:
        seen = self.visible_rows()
        if seen is None:
            return
        d, x0, px_per_x = seen
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
