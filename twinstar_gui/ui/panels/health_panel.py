"""WS health panel: one row per connection (exchange, topics, state colour, last message age, messages/s with
a sparkline of the last minute, ping RTT, reconnects, REST fallback, bad frames, last error)."""
from __future__ import annotations

from collections import deque

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
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
        self.setMinimumWidth(90)

    def set_values(self, values: deque[float], colour: str) -> None:
        self.values = values
        self.colour = QColor(colour)
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt API)
        n = len(self.values)
        if n < 2:
            return
        w, h = self.width() - 2, self.height() - 4
        top = max(self.values) or 1.0
        step = w / (SPARK_POINTS - 1)
        x0 = 1 + w - step * (n - 1)
        line = QPolygonF([QPointF(x0 + i * step, 2 + h - h * v / top) for i, v in enumerate(self.values)])
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(self.colour, 1.2))
        p.drawPolyline(line)
        p.end()


class HealthPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(SPARK_COL, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(SPARK_COL, 110)
        self.table.horizontalHeader().setStretchLastSection(True)
        self._rates: dict[str, deque[float]] = {}  # connection name -> its rate history (survives row changes)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.table)

    def show_rows(self, rows) -> None:
        names = {h.name for h in rows}
        for gone in set(self._rates) - names:
            del self._rates[gone]
        self.table.setRowCount(len(rows))
        for r, h in enumerate(rows):
            age = "-" if h.last_message_age is None else f"{h.last_message_age:.1f}s"
            rtt = "-" if h.ping_rtt is None else f"{h.ping_rtt * 1000:.0f} ms"
            values = [h.exchange or h.name.split(":")[0], h.name, h.state.value, str(h.topics), age,
                      f"{h.messages_per_sec:.1f}", "", rtt, str(h.reconnects), "active" if h.fallback else "-",
                      str(h.bad_messages), h.last_error]
            for c, text in enumerate(values):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    if c in _RIGHT:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(r, c, item)
                if item.text() != text:
                    item.setText(text)
                    if c == len(COLUMNS) - 1:
                        item.setToolTip(text)
            topics = cell(self.table, r, COLUMNS.index("Topics"))
            tip = "\n".join(h.topic_names[:40]) + (f"\n… {len(h.topic_names) - 40} more" if len(h.topic_names) > 40
                                                   else "")
            if topics.toolTip() != tip:
                topics.setToolTip(tip)
            colour = STATE_COLOURS.get(h.state.value, "#d1d4dc")
            cell(self.table, r, STATE_COL).setForeground(QColor(colour))
            cell(self.table, r, COLUMNS.index("REST fallback")).setForeground(
                QColor(STATE_COLOURS["fallback"] if h.fallback else "#787b86"))
            rates = self._rates.setdefault(h.name, deque(maxlen=SPARK_POINTS))
            rates.append(max(0.0, h.messages_per_sec))
            spark = self.sparkline_at(r)
            if spark is None:
                spark = Sparkline()
                self.table.setCellWidget(r, SPARK_COL, spark)
            spark.set_values(rates, colour)

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
