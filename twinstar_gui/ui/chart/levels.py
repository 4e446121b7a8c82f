"""Trading levels on the price chart: open orders, the position's entry, take profit and stop loss as horizontal
lines with labels. Dragging an order's line (or the TP / SL) asks for the change; each line but the entry has a
cancel control (✕) at its right end. What the lines show is what the presenter last read from the executor: a
dragged line waits there until its change is settled (done or refused), then follows the executor again, so a
refused amend snaps back."""
from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal

COLOURS = {"buy": "#2962ff", "sell": "#ff9800", "tp": "#26a69a", "sl": "#ef5350", "entry": "#b0b3ba"}


class CancelMark(pg.InfLineLabel):
    """The ✕ at a line's right end: a click removes that order (or that TP / SL)."""

    def __init__(self, line: pg.InfiniteLine, on_click: Callable[[], None]) -> None:
        super().__init__(line, "✕", position=0.985, anchors=[(1, 0.5), (1, 0.5)], color=COLOURS["sl"])
        self.on_click = on_click
        self.setToolTip("Cancel")

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph API)
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.on_click()

    def hoverEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph API)
        if not ev.isExit():
            ev.acceptClicks(Qt.MouseButton.LeftButton)


class LevelLine(pg.InfiniteLine):
    def __init__(self, level, on_move: Callable[[object, float], None],
                 on_remove: Callable[[object], None]) -> None:
        colour = COLOURS.get(level.kind if level.kind != "order" else level.side, COLOURS["entry"])
        style = Qt.PenStyle.SolidLine if level.kind == "entry" else Qt.PenStyle.DashLine
        super().__init__(pos=level.price, angle=0, movable=level.draggable, pen=pg.mkPen(colour, width=1, style=style),
                         hoverPen=pg.mkPen(colour, width=3))
        self.level = level
        self.pending = False  # dragged: stays where it was dropped until the change is settled
        self.label = pg.InfLineLabel(self, level.text, position=0.02, anchors=[(0, 1), (0, 1)], color=colour)
        self.cancel_mark = CancelMark(self, lambda: on_remove(self.level)) if level.kind != "entry" else None
        self.sigPositionChangeFinished.connect(self._dropped)
        self._on_move = on_move
        self.setZValue(20)

    def _dropped(self, _line) -> None:
        if abs(self.value() - self.level.price) > 0:
            self.pending = True
            self._on_move(self.level, float(self.value()))

    def update_level(self, level) -> None:
        self.level = level
        self.label.setFormat(level.text)
        if not self.pending and not self.moving:
            self.setValue(level.price)


class ChartLevels(QObject):
    """The lines of one price plot, keyed by (kind, key)."""

    moved = Signal(object, float)  # Level, the price it was dragged to
    removed = Signal(object)  # Level whose cancel control was clicked

    def __init__(self, plot: pg.PlotItem, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.plot = plot
        self.lines: dict[tuple[str, str], LevelLine] = {}

    def show(self, levels) -> None:
        wanted = {(lv.kind, lv.key): lv for lv in levels}
        for key in [k for k in self.lines if k not in wanted]:
            self.plot.removeItem(self.lines.pop(key))
        for key, level in wanted.items():
            line = self.lines.get(key)
            if line is None:
                line = self.lines[key] = LevelLine(level, self.moved.emit, self.removed.emit)
                self.plot.addItem(line, ignoreBounds=True)
            else:
                line.update_level(level)

    def settle(self) -> None:
        """A change asked by a drag is done or refused: every line follows the executor again."""
        for line in self.lines.values():
            line.pending = False

    def clear(self) -> None:
        self.show([])
