"""Growable column buffers and the base of chart items that paint only the visible range."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF


class ColumnBuffer:
    """`width` float64 columns; `view()` is the filled part (no copy)."""

    def __init__(self, width: int, capacity: int = 1024) -> None:
        self._data = np.empty((capacity, width))
        self.n = 0

    def set(self, columns: list[np.ndarray]) -> None:
        n = len(columns[0])
        self._data = np.empty((max(1024, 2 * n), len(columns)))
        for i, col in enumerate(columns):
            self._data[:n, i] = col
        self.n = n

    def upsert_last(self, row: tuple[float, ...]) -> bool:
        """Replace the last row if its x (column 0) equals row[0], else append; True when appended."""
        if self.n and self._data[self.n - 1, 0] == row[0]:
            self._data[self.n - 1] = row
            return False
        if self.n == len(self._data):
            grown = np.empty((2 * len(self._data), self._data.shape[1]))
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[self.n] = row
        self.n += 1
        return True

    def view(self) -> np.ndarray:
        return self._data[: self.n]

    def visible_slice(self, x0: float, x1: float, pad: int = 1) -> slice:
        """Rows whose x lies in (x0, x1], plus `pad` on each side (binary search on sorted x)."""
        x = self._data[: self.n, 0]
        i0 = max(0, int(np.searchsorted(x, x0, side="right")) - pad)
        i1 = min(self.n, int(np.searchsorted(x, x1, side="right")) + pad)
        return slice(i0, i1)


def column_groups(px: np.ndarray) -> np.ndarray:
    """Start indices of runs of equal integer pixel columns (px ascending)."""
    cols = np.floor(px).astype(np.int64)
    return np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])


class VisibleRangeItem(pg.GraphicsObject):
    """Rows of (x, ...) sorted by x, one bar of `bar_width` per row; subclasses say the y extent and paint."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self._buf = ColumnBuffer(width)
        self.bar_width = 1.0
        self._bounds = QRectF()
        self.last_painted = 0  # rows (or pixel columns when aggregated) handled by the last paint

    def __len__(self) -> int:
        return self._buf.n

    def y_extent(self, rows: np.ndarray) -> tuple[float, float]:
        raise NotImplementedError

    def _set_columns(self, columns, bar_width: float) -> None:
        self.prepareGeometryChange()
        self.bar_width = float(bar_width)
        self._buf.set([np.asarray(a, dtype=np.float64) for a in columns])
        self._refresh_bounds()

    def _upsert(self, row: tuple[float, ...]) -> None:
        appended = self._buf.upsert_last(row)
        lo, hi = self.y_extent(self._buf.view()[-1:])
        b = self._bounds
        if appended or not b.isValid() or hi > b.bottom() or lo < b.top():
            self.prepareGeometryChange()
            self._refresh_bounds()
        self.update()

    def _refresh_bounds(self) -> None:
        d = self._buf.view()
        if len(d):
            lo, hi = self.y_extent(d)
            self._bounds = QRectF(d[0, 0] - self.bar_width, lo, d[-1, 0] - d[0, 0] + 2 * self.bar_width,
                                  max(hi - lo, 1e-12))
        else:
            self._bounds = QRectF()
        self.informViewBoundsChanged()
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return QRectF(self._bounds)

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):  # noqa: N802 (pyqtgraph API)
        d = self._buf.view()
        if not len(d):
            return None, None
        if ax == 0:
            return float(d[0, 0]), float(d[-1, 0] + self.bar_width)
        if orthoRange is not None:  # fit y to what is visible, so auto-range follows the scroll
            d = d[self._buf.visible_slice(orthoRange[0] - self.bar_width, orthoRange[1], pad=0)]
            if not len(d):
                return None, None
        return self.y_extent(d)

    def visible_rows(self) -> tuple[np.ndarray, float, float] | None:
        """(rows in view, left x, pixels per x unit), or None when nothing is visible."""
        self.last_painted = 0
        vb = self.getViewBox()
        if not self._buf.n or vb is None:
            return None
        (x0, x1), _ = vb.viewRange()
        d = self._buf.view()[self._buf.visible_slice(x0 - self.bar_width, x1)]
        if not len(d):
            return None
        return d, x0, vb.width() / max(x1 - x0, 1e-12)
