"""WS health panel: one row per connection (exchange, topics, state colour, last message age, messages/s with
a sparkline of the last minute, ping RTT, reconnects, REST fallback, bad frames, last error)."""
from __future__ import annotations

from collections import deque

import numpy as np
from pyqtgraph.functions import arrayToQPolygonF
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ..theme import STATE_COLOURS
from .table import cell

COLUMNS = ["Exchange", "Connection", "State", "Topics", "Last msg", "Msg/s", "Rate (1 min)", "Ping RTT", "Reconnects",
           "REST fallback", "Bad frames", "Last error"]
SPARK_COL = COLUMNS.index("Rate (1 min)")
STATE_COL = COLUMNS.index("State")
SPARK_POINTS = 240  # one per poll (4 Hz): the last minute
_RIGHT = {COLUMNS.index(c) for c in ("Topics", "Last msg", "Msg/s", "Ping RTT", "Reconnects", "Bad frames")}


class Sparkline(QWidget):
    """A small line of recent values, scaled to its own maximum."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: deque[float] = deque()
        self.colour = QColor(STATE_COLOURS["live"])
        self._colour_name = ""
        self.setMinimumWidth(90)

    def set_values(self, values: deque[float], colour: str) -> None:
        self.values = values
        if colour != self._colour_name:
            self._colour_name = colour
            self.colour = QColor(colour)
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt API)
        n = len(self.values)
        if n < 2:
            return
        w, h = self.width() - 2, self.height() - 4
        y = np.fromiter(self.values, dtype=float, count=n)
        top = float(y.max()) or 1.0
        step = w / (SPARK_POINTS - 1)
        x = 1 + w - step * (n - 1) + step * np.arange(n)
        # a few calls into Qt, not one per point: every call from the GUI thread may wait for the interpreter lock
        line = arrayToQPolygonF(x, 2 + h - h * y / top)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(self.colour, 1.2))
        p.drawPolyline(line)
        p.end()


class HealthPanel(QWidget):
    """Updated a few times a second: it touches only the cells whose text or colour changed (each call into Qt
    from the GUI thread can wait for the interpreter lock while the market engine's thread holds it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        # Interactive, fitted when the rows change: ResizeToContents re-measured every row on each cell's change
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self._rates: dict[str, deque[float]] = {}  # connection name -> its rate history (survives row changes)
        self._shown: list[tuple | None] = []  # per row: what its cells show now
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.table)

    def show_rows(self, rows) -> None:
        names = {h.name for h in rows}
        for gone in set(self._rates) - names:
            del self._rates[gone]
        resize = len(rows) != len(self._shown)
        if resize:
            self.table.setRowCount(len(rows))
            self._shown = [None] * len(rows)
        for r, h in enumerate(rows):
            age = "-" if h.last_message_age is None else f"{h.last_message_age:.1f}s"
            rtt = "-" if h.ping_rtt is None else f"{h.ping_rtt * 1000:.0f} ms"
            values = (h.exchange or h.name.split(":")[0], h.name, h.state.value, str(h.topics), age,
                      f"{h.messages_per_sec:.1f}", "", rtt, str(h.reconnects), "active" if h.fallback else "-",
                      str(h.bad_messages), h.last_error)
            colour = STATE_COLOURS.get(h.state.value, "#d1d4dc")
            tip = "\n".join(h.topic_names[:40]) + (f"\n… {len(h.topic_names) - 40} more" if len(h.topic_names) > 40
                                                   else "")
            shown = (values, colour, h.fallback, tip)
            old = self._shown[r]
            if shown != old:
                resize = resize or old is None or old[0][1] != values[1]
                self._show_row(r, shown, old)
                self._shown[r] = shown
            rates = self._rates.setdefault(h.name, deque(maxlen=SPARK_POINTS))
            rates.append(max(0.0, h.messages_per_sec))
            spark = self.table.cellWidget(r, SPARK_COL)
            if not isinstance(spark, Sparkline):
                spark = Sparkline()
                self.table.setCellWidget(r, SPARK_COL, spark)
            spark.set_values(rates, colour)
        if resize:  # fitted when the connections change, never behind the back of a user who dragged a column
            self.table.resizeColumnsToContents()
            self.table.setColumnWidth(SPARK_COL, 110)

    def _show_row(self, r: int, shown: tuple, old: tuple | None) -> None:
        values, colour, fallback, tip = shown
        before = old[0] if old is not None else (None,) * len(values)
        for c, text in enumerate(values):
            if text == before[c]:
                continue
            item = self.table.item(r, c)
            if item is None:
                item = QTableWidgetItem()
                if c in _RIGHT:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
            item.setText(text)
            if c == len(COLUMNS) - 1:
                item.setToolTip(text)
        if old is None or old[3] != tip:
            cell(self.table, r, COLUMNS.index("Topics")).setToolTip(tip)
        if old is None or old[1] != colour:
            cell(self.table, r, STATE_COL).setForeground(QColor(colour))
        if old is None or old[2] != fallback:
            cell(self.table, r, COLUMNS.index("REST fallback")).setForeground(
                QColor(STATE_COLOURS["fallback"] if fallback else "#787b86"))

    def state_of(self, row: int) -> str:
        return self.text(row, "State")

    def text(self, row: int, column: str) -> str:
        item = self.table.item(row, COLUMNS.index(column))
        return item.text() if item else ""

    def rate_history(self, name: str) -> list[float]:
        return list(self._rates.get(name, ()))

    def sparkline_at(self, row: int) -> Sparkline | None:
        spark = self.table.cellWidget(row, SPARK_COL)
        return spark if isinstance(spark, Sparkline) else None
