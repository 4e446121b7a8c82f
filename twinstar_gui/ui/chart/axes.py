"""Axes whose bounds are computed once per layout change, not on every call.

With its grid on, an axis's bounding rect covers its plot: pyqtgraph computes it on every call, with five calls
into Qt, and the scene asks for it many times per repaint. At 350 streamed series the GUI thread spent a fifth
of its time there (each call into Qt may wait for the interpreter lock the market engine's thread holds). Here
it is kept until the axis or its view moves or changes size, or the grid or style changes."""
from __future__ import annotations

import contextlib

import pyqtgraph as pg
from PySide6.QtCore import QRectF


class CachedBounds:
    """Mixin for pg.AxisItem subclasses (first in the bases)."""

    _bounds: QRectF | None = None

    def _hook_bounds(self) -> None:
        self.geometryChanged.connect(self.forget_bounds)  # type: ignore[attr-defined]

    def forget_bounds(self, *_: object) -> None:
        """Python only, no call into Qt: it runs from other items' signals, also while a window is torn down.
        (The axis's own geometry changes are announced by Qt before they happen; a view that moves or resizes
        repaints its plot, as with pyqtgraph's own axes.)"""
        self._bounds = None

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        if self._bounds is None:
            self._bounds = super().boundingRect()  # type: ignore[misc]
        return QRectF(self._bounds)  # a copy: callers may adjust what they get

    def _linkToView_internal(self, view) -> None:  # noqa: N802 - pyqtgraph's name
        old = self.linkedView()  # type: ignore[attr-defined]
        if old is not None:
            for sig in (old.sigResized, old.geometryChanged):
                with contextlib.suppress(TypeError, RuntimeError):  # not connected
                    sig.disconnect(self.forget_bounds)
        super()._linkToView_internal(view)  # type: ignore[misc]
        view.sigResized.connect(self.forget_bounds)
        view.geometryChanged.connect(self.forget_bounds)
        self.forget_bounds()

    def setGrid(self, grid) -> None:  # noqa: N802 - pyqtgraph's name
        self.forget_bounds()
        super().setGrid(grid)  # type: ignore[misc]

    def setStyle(self, **kwargs) -> None:  # noqa: N802 - pyqtgraph's name
        self.forget_bounds()
        super().setStyle(**kwargs)  # type: ignore[misc]


class Axis(CachedBounds, pg.AxisItem):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._hook_bounds()


class DateAxis(CachedBounds, pg.DateAxisItem):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._hook_bounds()
