"""Shared machinery of the chart items: growable column storage and a base item that paints only what is on screen.

Nothing is pre-rendered. Each paint finds the rows inside the visible x-range by binary search on the sorted
x column and then either draws every bar (bars at least `LOD_PIXELS` device pixels wide) or one aggregate per
device pixel column (zoomed out), so its cost follows the screen, not the length of the history.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen

LOD_PIXELS = 3.0  # bars narrower than this many device pixels are aggregated per pixel column
BODY_FRACTION = 0.7  # share of bar_width taken by a candle body / volume bar
MIN_CAPACITY = 256

Extent = tuple[float, float]


class ColumnStore:
    """Equal-length float64 columns kept column-major (each column contiguous) with spare capacity.

    `replace` copies the given arrays; `upsert_last` rewrites or appends one row and doubles the capacity when
    it runs out, so a live stream of appends costs O(1) amortized.
    """

    def __init__(self, ncols: int) -> None:
        self._cols = np.empty((ncols, MIN_CAPACITY))
        self.n = 0

    @property
    def capacity(self) -> int:
        return int(self._cols.shape[1])

    def replace(self, columns: Sequence[np.ndarray]) -> None:
        arrays = [np.asarray(c, dtype=np.float64).reshape(-1) for c in columns]
        n = len(arrays[0])
        if any(len(a) != n for a in arrays):
            raise ValueError("all columns must have the same length")
        x = arrays[0]
        if n > 1 and not bool(np.all(x[1:] >= x[:-1])):
            raise ValueError("x must be ascending")
        cols = self._cols
        if not (cols.shape[0] == len(arrays) and n <= cols.shape[1] <= max(MIN_CAPACITY, 4 * n)):
            cols = np.empty((len(arrays), max(MIN_CAPACITY, n + n // 4)))  # else reuse: no fresh pages to fault in
        for i, a in enumerate(arrays):
            cols[i, :n] = a
        self._cols, self.n = cols, n

    def upsert_last(self, row: Sequence[float]) -> bool:
        """Rewrite the last row when its x equals row[0], else append; True when a row was appended."""
        n = self.n
        if n:
            last_x = self._cols[0, n - 1]
            if row[0] == last_x:
                self._cols[:, n - 1] = row
                return False
            if row[0] < last_x:
                raise ValueError(f"x {row[0]} is older than the last row ({last_x})")
        if n == self.capacity:
            grown = np.empty((self._cols.shape[0], 2 * self.capacity))
            grown[:, :n] = self._cols[:, :n]
            self._cols = grown
        self._cols[:, n] = row
        self.n = n + 1
        return True

    def column(self, i: int) -> np.ndarray:
        """The filled part of column i (a view, no copy)."""
        return self._cols[i, : self.n]

    def row(self, i: int) -> tuple[float, ...]:
        return tuple(float(v) for v in self._cols[:, i])


@dataclass(frozen=True)
class PaintFrame:
    """What one paint covers: rows [i0, i1) and the item-x -> device-x mapping (u = x * scale + offset)."""

    i0: int
    i1: int
    scale: float
    offset: float

    def pixel_x(self, device_u: np.ndarray) -> np.ndarray:
        return (device_u - self.offset) / self.scale


def pen(colour: QColor) -> QPen:
    """A one-device-pixel pen whatever the zoom."""
    p = QPen(colour)
    p.setWidth(1)
    p.setCosmetic(True)
    return p


def vertical_segments(x: np.ndarray, y0: np.ndarray, y1: np.ndarray) -> QPainterPath:
    """One path of unconnected vertical segments (x[i], y0[i]) -> (x[i], y1[i])."""
    ys = np.empty(2 * len(x))
    ys[0::2], ys[1::2] = y0, y1
    return pg.arrayToQPath(np.repeat(x, 2), ys, connect="pairs")


class SeriesItem(pg.GraphicsObject):
    """Rows (x, ...) sorted by x, one bar of `bar_width` per row starting at x.

    Subclasses set `N_COLUMNS`, give the y extent of a row range (`_extent`) and draw a frame (`_draw_bars`,
    `_draw_columns`). Bounds are kept exact in O(1) per live update: the extent of every row but the last is
    cached ("settled") and merged with the current last row.
    """

    N_COLUMNS = 2

    def __init__(self) -> None:
        super().__init__()
        self._store = ColumnStore(self.N_COLUMNS)
        self._bar_width = 1.0
        self._settled: Extent = (math.inf, -math.inf)
        self._rect = QRectF()
        self.last_painted = 0  # rows (bars mode) or pixel columns (LOD mode) handled by the last paint
        self.lod_active = False  # whether the last paint aggregated per pixel column
        self.paint_count = 0

    # -- data -----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._store.n

    @property
    def bar_width(self) -> float:
        return self._bar_width

    def x_values(self) -> np.ndarray:
        return self._store.column(0)

    def column(self, i: int) -> np.ndarray:
        """The filled part of column i (a view: copy it before keeping it across updates)."""
        return self._store.column(i)

    def row(self, i: int) -> tuple[float, ...]:
        return self._store.row(i)

    def _extent(self, i0: int, i1: int) -> Extent:
        """(low, high) y of rows [i0, i1), i1 > i0."""
        raise NotImplementedError

    def _replace(self, columns: Sequence[np.ndarray], bar_width: float) -> None:
        if not bar_width > 0:
            raise ValueError("bar_width must be > 0")
        self._store.replace(columns)
        self._bar_width = float(bar_width)
        n = self._store.n
        self._settled = self._extent(0, n - 1) if n > 1 else (math.inf, -math.inf)
        self._sync_bounds(notify=True)
        self.update()

    def _upsert(self, row: Sequence[float]) -> None:
        n = self._store.n
        before = self._extent(n - 1, n) if n else None
        appended = self._store.upsert_last(row)
        n = self._store.n
        if appended and n > 1:  # the previous last row is final now: fold it into the settled extent
            lo, hi = self._extent(n - 2, n - 1)
            self._settled = (min(lo, self._settled[0]), max(hi, self._settled[1]))
        # a new row or a changed y extent of the live row can move auto-range; a close inside its range can't
        self._sync_bounds(notify=appended or before != self._extent(n - 1, n))
        self.update()

    def full_extent(self) -> Extent | None:
        n = self._store.n
        if not n:
            return None
        lo, hi = self._extent(n - 1, n)
        return min(lo, self._settled[0]), max(hi, self._settled[1])

    def _sync_bounds(self, notify: bool) -> None:
        extent = self.full_extent()
        if extent is None:
            rect = QRectF()
        else:
            x = self.x_values()
            lo, hi = extent
            rect = QRectF(float(x[0]), lo, float(x[-1] - x[0]) + self._bar_width, max(hi - lo, 1e-12))
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
            notify = True
        if notify:
            self.informViewBoundsChanged()

    # -- ranges ---------------------------------------------------------------------------------------
    def rows_overlapping(self, x0: float, x1: float) -> tuple[int, int]:
        """Rows [i0, i1) whose bar [x, x + bar_width) overlaps the x-range [x0, x1]."""
        x = self.x_values()
        i0 = int(np.searchsorted(x, x0 - self._bar_width, side="right"))
        i1 = int(np.searchsorted(x, x1, side="right"))
        return i0, max(i0, i1)

    def visible_count(self) -> int:
        """Rows overlapping the x-range the item is shown at now (all rows when not in a ViewBox)."""
        vb = self.getViewBox()
        if not isinstance(vb, pg.ViewBox):
            return len(self)
        i0, i1 = self.rows_overlapping(*vb.viewRange()[0])
        return i1 - i0

    # -- pyqtgraph / Qt -------------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return QRectF(self._rect)

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange: Sequence[float] | None = None):  # noqa: N802, N803 - pyqtgraph's names
        """x: the whole series. y: the rows overlapping `orthoRange` (an x-range) when given, so auto-range
        with auto-visible fits the candles on screen; else the whole series."""
        n = self._store.n
        if not n:
            return None, None
        if ax == 0:
            x = self.x_values()
            return float(x[0]), float(x[-1]) + self._bar_width
        if orthoRange is None or orthoRange[0] is None or orthoRange[1] is None:
            return self.full_extent()
        i0, i1 = self.rows_overlapping(float(orthoRange[0]), float(orthoRange[1]))
        if i1 <= i0:
            return None, None
        return self.full_extent() if (i0 == 0 and i1 == n) else self._extent(i0, i1)

    def paint(self, p: QPainter, *args: object) -> None:
        self.paint_count += 1
        self.last_painted = 0
        frame = self._frame(p)
        if frame is None:
            return
        if self._bar_width * abs(frame.scale) < LOD_PIXELS:
            self.lod_active = True
            self._draw_columns(p, frame)
        else:
            self.lod_active = False
            self._draw_bars(p, frame)

    def _draw_bars(self, p: QPainter, frame: PaintFrame) -> None:
        raise NotImplementedError

    def _draw_columns(self, p: QPainter, frame: PaintFrame) -> None:
        raise NotImplementedError

    def _frame(self, p: QPainter) -> PaintFrame | None:
        n = self._store.n
        if not n:
            return None
        t = p.combinedTransform()
        scale, offset = t.m11(), t.dx()
        if not (math.isfinite(scale) and scale != 0.0 and math.isfinite(offset)):
            return None
        vb = self.getViewBox()
        if isinstance(vb, pg.ViewBox):
            x0, x1 = vb.viewRange()[0]
        else:  # not in a ViewBox: whatever maps onto the paint device
            dev = p.device()
            u0, u1 = sorted(((0.0 - offset) / scale, (dev.width() - offset) / scale)) if dev else (-math.inf,
                                                                                                    math.inf)
            x0, x1 = u0, u1
        i0, i1 = self.rows_overlapping(x0, x1)
        if i1 <= i0:
            return None
        if self._bar_width * abs(scale) >= LOD_PIXELS:  # one neighbour each side for partly shown bars
            i0, i1 = max(0, i0 - 1), min(n, i1 + 1)
        return PaintFrame(i0, i1, scale, offset)

    def _pixel_columns(self, frame: PaintFrame) -> tuple[np.ndarray, np.ndarray]:
        """Group the frame's rows by the device pixel column their bar centre falls in.

        Returns (starts, line_x): the first row of each non-empty group (relative to frame.i0, ascending) and the
        item x of that pixel column's centre. Costs O(pixel columns * log rows), plus nothing per row.
        """
        x = self.x_values()[frame.i0:frame.i1]
        half = self._bar_width / 2
        u_a = (x[0] + half) * frame.scale + frame.offset
        u_b = (x[-1] + half) * frame.scale + frame.offset
        lo, hi = min(u_a, u_b), max(u_a, u_b)
        columns = np.arange(math.floor(lo), math.floor(hi) + 2, dtype=np.float64)
        edges = np.sort(frame.pixel_x(columns) - half)  # x at which a bar's centre enters each column
        starts = np.unique(np.r_[0, np.searchsorted(x, edges, side="left")])
        starts = starts[starts < len(x)]
        centre_u = np.floor((x[starts] + half) * frame.scale + frame.offset) + 0.5
        return starts, frame.pixel_x(centre_u)
