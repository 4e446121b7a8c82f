"""Small helpers for the data tables: numeric sorting, in-place updates (no flicker, no re-sort per tick)."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
COLOUR_ROLE = Qt.ItemDataRole.UserRole + 2  # the text colour last set (setForeground is not cheap)


class Item(QTableWidgetItem):
    """Sorts by the value it was given (numbers as numbers), shows the text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        return str(a) < str(b)


def make_table(columns: list[str], parent: QWidget, *, sortable: bool = False) -> QTableWidget:
    t = QTableWidget(0, len(columns), parent)
    t.setHorizontalHeaderLabels(columns)
    t.verticalHeader().setVisible(False)
    t.verticalHeader().setDefaultSectionSize(22)
    t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    # Interactive, sized by `fill` once per update: ResizeToContents re-measured every row on each cell's
    # change, which made an 80-row refresh take seconds of the GUI thread
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    t.horizontalHeader().setStretchLastSection(True)
    t.setSortingEnabled(sortable)
    return t


class RefreshWhileShown(QObject):
    """Calls `refresh` every `ms` while one of `tables` is on screen, and at once when one of them comes on screen
    (its tab picked, its dock shown). A history read from the journals is not free: a table nobody sees is not
    refilled every two seconds."""

    def __init__(self, tables: Sequence[QWidget], refresh: Callable[[], None], ms: int = 2000) -> None:
        super().__init__(tables[0])
        self.tables, self.refresh = list(tables), refresh
        self.timer = QTimer(self)
        self.timer.setInterval(ms)
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        for t in self.tables:
            t.installEventFilter(self)

    def shown(self) -> bool:
        return any(t.isVisible() for t in self.tables)

    def _tick(self) -> None:
        if self.shown():
            self.refresh()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Show:
            QTimer.singleShot(0, self._tick)  # after the show: the table is visible by then
        return False


_FILLED = "_twinstar_filled"  # on a table: (rows, colours) as fill() last showed them


def fill(table: QTableWidget, rows: list[list[tuple[str, object]]], *, colours: dict[int, str] | None = None) -> None:
    """rows: per row, per column (text, sort value). Numbers align right. `colours`: row -> text colour.

    Panels call this a few times a second with mostly the same rows: what it showed last is kept on the Python
    side, and unchanged rows cost no call into Qt (each such call from the GUI thread can wait for the
    interpreter lock while the market engine's thread holds it)."""
    rows = [list(r) for r in rows]  # a copy to compare the next call with (rows may come as tuples)
    colours = dict(colours or {})
    last = getattr(table, _FILLED, None)
    if last is not None and table.rowCount() != len(last[0]):
        last = None  # the table was changed behind fill's back (emptied): what it showed is not known
    if last == (rows, colours):
        return
    setattr(table, _FILLED, None)  # until this fill has succeeded: one that fails is not taken for done
    if last is not None and not table.isSortingEnabled() and len(last[0]) == len(rows):
        _fill_changed(table, rows, colours, last)
    else:
        _fill_all(table, rows, colours)
    setattr(table, _FILLED, (rows, colours))


def _fill_changed(table: QTableWidget, rows: list[list[tuple[str, object]]], colours: dict[int, str],
                  last: tuple[list, dict]) -> None:
    """Only the rows that differ from `last` (same row count, no sorting: row r is rows[r])."""
    before, before_colours = last
    changed = [r for r, row in enumerate(rows) if row != before[r] or colours.get(r) != before_colours.get(r)]
    if changed:
        _fill_rows(table, rows, colours, changed)


def _fill_all(table: QTableWidget, rows: list[list[tuple[str, object]]], colours: dict[int, str]) -> None:
    sorting = table.isSortingEnabled()
    table.setSortingEnabled(False)  # no re-sort while filling
    try:
        table.setRowCount(len(rows))
        _fill_rows(table, rows, colours, range(len(rows)))
    finally:
        table.setSortingEnabled(sorting)


def _fill_rows(table: QTableWidget, rows: list[list[tuple[str, object]]], colours: dict[int, str],
               which) -> None:
    table.setUpdatesEnabled(False)  # one repaint at the end, not one per cell
    grew = False
    try:
        for r in which:
            row = rows[r]
            colour = colours.get(r)
            for c, (text, value) in enumerate(row):
                item = table.item(r, c)
                if item is None:
                    item = Item()
                    table.setItem(r, c, item)
                if item.text() != text:
                    grew = grew or len(text) > len(item.text())
                    item.setText(text)
                if item.data(SORT_ROLE) != value:
                    item.setData(SORT_ROLE, value)
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        # a cell may turn numeric later
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if colour is not None and item.data(COLOUR_ROLE) != colour:
                    item.setData(COLOUR_ROLE, colour)
                    item.setForeground(QColor(colour))
        if grew:
            table.resizeColumnsToContents()  # once, and only when some text got longer
            table.horizontalHeader().setStretchLastSection(True)
    finally:
        table.setUpdatesEnabled(True)


def cell(table: QTableWidget, row: int, column: int) -> QTableWidgetItem:
    """The item of a cell that fill() filled (it puts one in every cell)."""
    item = table.item(row, column)
    if item is None:
        raise LookupError(f"no item at row {row}, column {column}")
    return item
