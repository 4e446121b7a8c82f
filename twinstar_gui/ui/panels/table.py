"""Small helpers for the data tables: numeric sorting, in-place updates (no flicker, no re-sort per tick)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

SORT_ROLE = Qt.UserRole + 1


class Item(QTableWidgetItem):
    """Sorts by the value it was given (numbers as numbers), shows the text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:  # noqa: D105
        a, b = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        return str(a) < str(b)


def make_table(columns: list[str], parent: QWidget, *, sortable: bool = False) -> QTableWidget:
    t = QTableWidget(0, len(columns), parent)
    t.setHorizontalHeaderLabels(columns)
    t.verticalHeader().setVisible(False)
    t.verticalHeader().setDefaultSectionSize(22)
    t.setEditTriggers(QTableWidget.NoEditTriggers)
    t.setSelectionBehavior(QTableWidget.SelectRows)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    t.setSortingEnabled(sortable)
    return t


def fill(table: QTableWidget, rows: list[list[tuple[str, object]]], *, colours: dict[int, str] | None = None) -> None:
    """rows: per row, per column (text, sort value). Numbers align right. `colours`: row -> text colour."""
    sorting = table.isSortingEnabled()
    table.setSortingEnabled(False)  # no re-sort while filling
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, (text, value) in enumerate(row):
            item = table.item(r, c)
            if item is None:
                item = Item()
                table.setItem(r, c, item)
            if item.text() != text:
                item.setText(text)
            item.setData(SORT_ROLE, value)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            if colours and r in colours:
                item.setForeground(QColor(colours[r]))
    table.setSortingEnabled(sorting)


def texts(table: QTableWidget, column: int) -> list[str]:
    return [table.item(r, column).text() for r in range(table.rowCount()) if table.item(r, column)]
