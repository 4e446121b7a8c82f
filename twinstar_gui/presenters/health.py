"""Stream health presenter: polls each connection's health a few times a second for the health panel."""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from ..data.feed import MarketFeed, sync_summary
from ..data.store import QUARANTINE_DIR

POLL_MS = 250  # 4 Hz: live enough for ages and rates, cheap for the GUI


class HealthPresenter(QObject):
    rows = Signal(object)  # list[StreamHealth]
    sync = Signal(object)  # SyncSummary: history backfill / gap repair progress over all series
    storage = Signal(str)  # "" when writes are keeping up, else what is wrong (queued rows, last error)
    catalogs = Signal(str)  # "" when every instrument list came from its exchange, else which are old or missing

    def __init__(self, feeds: dict[str, MarketFeed], parent: QObject | None = None, writer=None,
                 catalogs: dict | None = None) -> None:
        super().__init__(parent)
        self.feeds = feeds
        self.writer = writer
        self.catalog_books = catalogs or {}
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()

    def poll(self) -> list:
        rows = [h for feed in self.feeds.values() for h in feed.health()]
        self.rows.emit(rows)
        self.sync.emit(sync_summary(self.feeds.values()))
        if self.writer is not None:
            self.storage.emit(storage_problem(self.writer))
        self.catalogs.emit(catalog_problem(self.catalog_books.values()))
        return rows


def catalog_problem(books) -> str:
    """Instrument lists not (yet) from their exchange, once their first load has ended: the cached one in use
    (and how old it is), or none at all (symbols unverified). "" when all are fresh or still loading."""
    return "; ".join(book.status() for book in books if book.source != "exchange" and not book.refreshing)


def storage_problem(writer) -> str:
    """What the user must know about the data on disk: writes not keeping up (the queue and the error), and
    damaged files moved or copied to the quarantine folder this session (with what was lost)."""
    parts = []
    if writer.failing:
        parts.append(f"{writer.pending} write(s) queued, not yet on disk: {writer.last_error}")
    found = list(writer.store.quarantined)
    if found:
        last = found[-1]
        parts.append(f"{len(found)} damaged file(s) in {QUARANTINE_DIR}/, latest {last.path.name}: {last.reason}")
    return "; ".join(parts)
