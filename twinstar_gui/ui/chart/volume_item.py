"""Volume bars: the candles' visible-range painting, one max-volume line per pixel column when zoomed out."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter

from .base import BODY_FRACTION, Extent, PaintFrame, SeriesItem, pen, vertical_segments

UP = QColor(38, 166, 154, 128)  # the candle colours, half transparent
DOWN = QColor(239, 83, 80, 128)

X, VOLUME, OPEN, CLOSE = range(4)


def _direction(open_: np.ndarray | float | None, close: np.ndarray | float | None,
               up: np.ndarray | bool | None) -> tuple[np.ndarray, np.ndarray]:
    """(open, close) columns; an `up` mask is stored as open 0 and close +1 (up) / -1 (down)."""
    if up is not None:
        up_arr = np.asarray(up, dtype=bool)
        return np.zeros(up_arr.shape), np.where(up_arr, 1.0, -1.0)
    if open_ is None or close is None:
        raise TypeError("give open_ and close, or up")
    return np.asarray(open_, dtype=np.float64), np.asarray(close, dtype=np.float64)


class VolumeItem(SeriesItem):
    """Volume per candle from y = 0; green when close >= open, red otherwise (or from an `up` mask)."""

    N_COLUMNS = 4

    def set_data(self, x: np.ndarray, volume: np.ndarray, open_: np.ndarray | None = None,
                 close: np.ndarray | None = None, bar_width: float | None = None, *,
                 up: np.ndarray | None = None) -> None:
        """Replace all bars: `set_data(x, volume, open_, close, bar_width)` or `(x, volume, bar_width=w, up=mask)`."""
        if bar_width is None:
            raise TypeError("bar_width is required")
        o, c = _direction(open_, close, up)
        self._replace((x, volume, o, c), bar_width)

    def update_last(self, x: float, volume: float, open_: float | None = None, close: float | None = None, *,
                    up: bool | None = None) -> None:
        """Rewrite the last bar when x equals its x, else append one (x must not be older)."""
        o, c = _direction(open_, close, up)
        self._upsert((float(x), float(volume), float(o), float(c)))

    def _extent(self, i0: int, i1: int) -> Extent:
        return 0.0, max(0.0, float(self._store.column(VOLUME)[i0:i1].max()))

    def _draw_bars(self, p: QPainter, frame: PaintFrame) -> None:
        s = self._store
        x, vol = s.column(X)[frame.i0:frame.i1], s.column(VOLUME)[frame.i0:frame.i1]
        up = s.column(CLOSE)[frame.i0:frame.i1] >= s.column(OPEN)[frame.i0:frame.i1]
        self.last_painted = len(x)
        width = self._bar_width * BODY_FRACTION
        left = x + (self._bar_width - width) / 2
        p.setPen(pg.mkPen(None))
        for colour, mask in ((UP, up), (DOWN, ~up)):
            if mask.any():
                p.setBrush(colour)
                p.drawRects([QRectF(xl, 0.0, width, v) for xl, v in zip(left[mask].tolist(), vol[mask].tolist())])

    def _draw_columns(self, p: QPainter, frame: PaintFrame) -> None:
        s = self._store
        vol = s.column(VOLUME)[frame.i0:frame.i1]
        starts, line_x = self._pixel_columns(frame)
        self.last_painted = len(starts)
        ends = np.r_[starts[1:], len(vol)] - 1
        top = np.maximum.reduceat(vol, starts)
        up = s.column(CLOSE)[frame.i0:frame.i1][ends] >= s.column(OPEN)[frame.i0:frame.i1][starts]
        zero = np.zeros(len(top))
        for colour, mask in ((UP, up), (DOWN, ~up)):
            if mask.any():
                p.setPen(pen(colour))
                p.drawPath(vertical_segments(line_x[mask], zero[mask], top[mask]))
