"""Log presenter: a logging handler that queues records from any thread; a timer hands them to the view."""
from __future__ import annotations

import logging
import queue

from PySide6.QtCore import QObject, QTimer, Signal

DRAIN_MS = 100
MAX_BATCH = 500


class _QueueHandler(logging.Handler):
    def __init__(self, sink: queue.SimpleQueue[tuple[int, str]]) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.sink.put((record.levelno, self.format(record)))
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)


class LogPresenter(QObject):
    lines = Signal(object)  # list[(levelno, text)]

    def __init__(self, level: int = logging.INFO, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: queue.SimpleQueue[tuple[int, str]] = queue.SimpleQueue()
        self.handler = _QueueHandler(self._queue)
        self.handler.setLevel(level)
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
        logging.getLogger().addHandler(self.handler)
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_MS)
        self._timer.timeout.connect(self.drain)
        self._timer.start()

    def drain(self) -> None:
        batch: list[tuple[int, str]] = []
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if batch:
            self.lines.emit(batch)

    def close(self) -> None:
        self._timer.stop()
        logging.getLogger().removeHandler(self.handler)
