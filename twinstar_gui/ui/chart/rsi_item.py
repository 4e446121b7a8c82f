"""RSI subplot: one line of RSI values (core.indicators computes them), drawn visible-range only."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QPainter

from .base import Extent, PaintFrame, SeriesItem, pen, vertical_segments

LINE = QColor("#b39ddb")


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
