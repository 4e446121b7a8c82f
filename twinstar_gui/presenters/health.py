"""Stream health presenter: polls each connection's health a few times a second for the health panel."""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from ..data.feed import MarketFeed

POLL_MS = 250  # 4 Hz: live enough for ages and rates, cheap for the GUI


class HealthPresenter(QObject):
    rows = Signal(object)  # list[StreamHealth]

    def __init__(self, feeds: dict[str, MarketFeed], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.feeds = feeds
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()

    def poll(self) -> list:
        rows = [h for feed in self.feeds.values() for h in feed.health()]
        self.rows.emit(rows)
        return rows
