"""Stream health presenter: polls each connection's health a few times a second for the health panel."""
from __future__ import annotations

import queue
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from ..data.engine import MarketEngine
from ..data.feed import MarketFeed, SyncSummary, sync_summary
from ..data.store import QUARANTINE_DIR
from ..net.ws import StreamHealth

POLL_MS = 250  # 4 Hz: live enough for ages and rates, cheap for the GUI
ENGINE_LAG_SHOWN_MS = 250.0  # the engine's loop this late (queued work: backfill bursts) is said in the status bar


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """The streams' health and the history sync over all series, taken at one moment on the engine's thread."""

    rows: tuple[StreamHealth, ...]
    sync: SyncSummary


def health_snapshot(feeds: dict[str, MarketFeed]) -> HealthSnapshot:
    return HealthSnapshot(tuple(h for feed in list(feeds.values()) for h in feed.health()),
                          sync_summary(list(feeds.values())))


class HealthPresenter(QObject):
    """Polls the streams' health a few times a second for the health panel and the status bar. With an engine,
    the snapshot is taken on its thread (the GUI only shows it, one poll later)."""

    rows = Signal(object)  # list[StreamHealth]
    sync = Signal(object)  # SyncSummary: history backfill / gap repair progress over all series
    storage = Signal(str)  # "" when writes are keeping up, else what is wrong (queued rows, last error, backlog)
    catalogs = Signal(str)  # "" when every instrument list came from its exchange, else which are old or missing

    def __init__(self, feeds: dict[str, MarketFeed], parent: QObject | None = None, writer: Any = None,
                 catalogs: dict | None = None, engine: MarketEngine | None = None) -> None:
        super().__init__(parent)
        self.feeds = feeds
        self.writer = writer
        self.engine = engine
        self.catalog_books = catalogs if catalogs is not None else {}  # the core's: exchanges added later show
        self._answers: queue.SimpleQueue[Future[HealthSnapshot]] = queue.SimpleQueue()
        self._asked = False
        self._last: HealthSnapshot | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()

    def poll(self) -> list:
        engine = self.engine
        if engine is None or not engine.running:
            self._last = health_snapshot(self.feeds)
        else:
            self._drain()
            if not self._asked:
                self._asked = True
                engine.call(health_snapshot, self.feeds).add_done_callback(self._answers.put)
        snap = self._last
        if snap is not None:
            self.rows.emit(list(snap.rows))
            self.sync.emit(snap.sync)
        if self.writer is not None or engine is not None:
            self.storage.emit(storage_problem(self.writer, engine))
        self.catalogs.emit(catalog_problem(list(self.catalog_books.values())))  # a copy: changed on the engine
        return list(snap.rows) if snap is not None else []

    def _drain(self) -> None:
        while True:
            try:
                future = self._answers.get_nowait()
            except queue.Empty:
                return
            self._asked = False
            if future.exception() is None:
                self._last = future.result()


def catalog_problem(books) -> str:
    """Instrument lists not (yet) from their exchange, once their first load has ended: the cached one in use
    (and how old it is), or none at all (symbols unverified). "" when all are fresh or still loading."""
    return "; ".join(book.status() for book in books if book.source != "exchange" and not book.refreshing)


def storage_problem(writer: Any, engine: MarketEngine | None = None) -> str:
    """What the user must know about the data: writes not keeping up (the queue and the error), damaged files
    moved or copied to the quarantine folder this session (with what was lost), and work queued in the market
    engine (a burst of backfills): it runs behind, the window does not freeze."""
    parts = []
    if writer is not None and writer.failing:
        parts.append(f"{writer.pending} write(s) queued, not yet on disk: {writer.last_error}")
    found = list(writer.store.quarantined) if writer is not None else []
    if found:
        last = found[-1]
        parts.append(f"{len(found)} damaged file(s) in {QUARANTINE_DIR}/, latest {last.path.name}: {last.reason}")
    if engine is not None and engine.lag_ms >= ENGINE_LAG_SHOWN_MS:
        parts.append(f"market data {engine.lag_ms / 1000:.1f}s behind (queued work)")
    return "; ".join(parts)
