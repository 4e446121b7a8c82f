"""WS health panel: one row per connection with state colour, message age, rate, reconnects, errors."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ..theme import STATE_COLOURS

COLUMNS = ["Connection", "State", "Topics", "Last msg", "Msg/s", "Ping RTT", "Reconnects", "Bad frames", "Last error"]


class HealthPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.table)

    def show_rows(self, rows) -> None:
        self.table.setRowCount(len(rows))
        for r, h in enumerate(rows):
            age = "-" if h.last_message_age is None else f"{h.last_message_age:.1f}s"
            rtt = "-" if h.ping_rtt is None else f"{h.ping_rtt * 1000:.0f} ms"
            values = [h.name, h.state.value, str(h.topics), age, f"{h.messages_per_sec:.1f}", rtt, str(h.reconnects),
                      str(h.bad_messages), h.last_error]
            for c, text in enumerate(values):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    if 2 <= c <= 7:
                        item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                    self.table.setItem(r, c, item)
                if item.text() != text:
                    item.setText(text)
                    if c == 8:
                        item.setToolTip(text)
            self.table.item(r, 1).setForeground(QColor(STATE_COLOURS.get(h.state.value, "#d1d4dc")))

    def state_of(self, row: int) -> str:
        item = self.table.item(row, 1)
        return item.text() if item else ""
