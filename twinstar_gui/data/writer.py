"""Background durable appends: a queue drained by one writer thread, batched per series."""
from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.models import Candle
from .store import CandleStore, Rows

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
# Journals are durable already; folding them into the month files (what other tools read) rewrites a file
# per series, so do it when idle and at most this often (and always at close).
COMPACT_EVERY_S = 10.0


@dataclass(frozen=True, slots=True)
class WriteJob:
    """Rows for one series: either a ready frame, or plain candles + their source. The live path hands over
    candles so the asyncio/GUI thread never builds a DataFrame per closed candle; the writer thread does."""

    exchange: str
    symbol: str
    rows: pd.DataFrame | None = None  # timestamp (ms or datetime) + OHLCV + source
    tf: str = "15m"
    candles: tuple[Candle, ...] = ()
    source: str = ""

    def columns(self) -> Rows:
        """The rows as the store's column arrays (live candles go there without a DataFrame)."""
        if self.rows is not None:
            return Rows.from_frame(self.rows)
        return Rows.from_candles(self.candles, self.source)


class CandleWriter:
    """Owns all writes to a store so the GUI/asyncio thread never touches the disk.

    A failed write (disk full, permissions) keeps the rows queued and retries with backoff; `close()`
    flushes everything that is queued before it returns.
    """

    def __init__(self, store: CandleStore, *, on_durable: Callable[[WriteJob], None] | None = None,
                 retry_delay: float = 1.0, compact_every: float = COMPACT_EVERY_S) -> None:
        self.store = store
        self.compact_every = compact_every
        self._last_compact = time.monotonic()
        self.on_durable = on_durable
        self.retry_delay = retry_delay
        self.last_error = ""
        self.failing = False  # a write is failing right now (disk full, permissions); rows stay queued
        self.written_rows = 0
        self._queue: queue.Queue[WriteJob | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="candle-writer", daemon=True)
        self._closed = False
        self._stopping = threading.Event()
        self._thread.start()

    def submit(self, job: WriteJob) -> None:
        if self._closed:
            raise RuntimeError("candle writer is closed")
        with self._idle:
            self._pending += 1
        self._queue.put(job)

    @property
    def pending(self) -> int:
        return self._pending

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every submitted job is durable; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, timeout: float | None = 10.0) -> bool:
        """Flush and stop the thread, all within `timeout`; returns False if rows were still queued then (a
        failing disk: they are given up, said in the log). Journals are folded into the month files with the
        time left; what is not folded stays durable in its journal for the next start."""
        if self._closed:
            return self._pending == 0
        deadline = None if timeout is None else time.monotonic() + timeout
        done = self.flush(timeout)
        self._closed = True
        self._stopping.set()  # a write retrying on a failing disk gives up now
        self._queue.put(None)
        self._thread.join(timeout=2.0 if deadline is None else max(0.1, deadline - time.monotonic()))
        if done and not self.failing:
            self._compact(deadline)
        try:
            self.store.close()  # let another process take these series over
        except OSError as exc:
            log.error("could not release the dataset's series cleanly: %s", exc)
        if not done:
            log.error("writer closed with %d jobs not yet durable: %s", self._pending, self.last_error)
        return done

    def _run(self) -> None:
        while True:
            wait = None  # journaled rows waiting to be folded: wake up for it even if nothing else comes
            if self.store.pending_series:
                wait = max(0.0, self._last_compact + self.compact_every - time.monotonic())
            try:
                job = self._queue.get(timeout=wait)
            except queue.Empty:
                self._compact()
                continue
            if job is None:
                return
            batch = [job]
            while True:  # take everything already queued: one file write per series per batch
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            self._write_batch(batch)
            if self._queue.empty() and time.monotonic() - self._last_compact >= self.compact_every:
                self._compact()  # idle: fold journals into the month files other tools read
            if self._queue.empty():
                _release_arrow_memory()

    def _compact(self, deadline: float | None = None) -> None:
        self._last_compact = time.monotonic()
        try:
            self.store.compact(deadline)
        except OSError as exc:  # the rows stay safe in the journal; try again when next idle
            self.last_error = f"compaction: {type(exc).__name__}: {exc}"
            log.error("could not fold the journal into month files (kept, will retry): %s", exc)

    def _write_batch(self, batch: list[WriteJob]) -> None:
        groups: dict[tuple[str, str, str], list[WriteJob]] = defaultdict(list)
        for job in batch:
            groups[(job.exchange, job.symbol, job.tf)].append(job)
        for (exchange, symbol, tf), jobs in groups.items():
            try:
                rows = Rows.concat([j.columns() for j in jobs]) if len(jobs) > 1 else jobs[0].columns()
            except Exception as exc:  # noqa: BLE001 - malformed rows will never write: drop them loudly, keep the thread
                log.error("%s %s: cannot make rows to write (%d jobs dropped): %s", exchange, symbol, len(jobs), exc)
                self._settle(jobs)
                continue
            delay = self.retry_delay
            while True:
                try:
                    self.store.append(exchange, symbol, rows, tf=tf)
                    if self.failing:
                        log.warning("candle writes recovered after: %s", self.last_error)
                    self.failing = False
                    break
                except (OSError, ValueError) as exc:
                    self.failing = isinstance(exc, OSError)
                    self.last_error = f"{exchange} {symbol}: {type(exc).__name__}: {exc}"
                    log.error("candle write failed, kept queued, retry in %.0fs: %s", delay, self.last_error)
                    if isinstance(exc, ValueError):  # bad rows will never write: drop them loudly
                        break
                    if self._stopping.wait(delay):  # closing: these rows are given up (close says how many)
                        return
                    delay = min(delay * 2, 30.0)
            self.written_rows += len(rows)
            for job in jobs:
                if self.on_durable is not None:
                    try:
                        self.on_durable(job)
                    except Exception:
                        log.exception("on_durable callback failed")
            self._settle(jobs)

    def _settle(self, jobs: list[WriteJob]) -> None:
        """These jobs are done with (durable, or dropped loudly): wake whoever waits in flush()."""
        with self._idle:
            self._pending -= len(jobs)
            self._idle.notify_all()


def _release_arrow_memory() -> None:
    """Hand the memory Arrow's allocator keeps after a write back to the OS (mimalloc held on to ~9 MiB of a
    collector's 115 MiB between writes that come every 15 minutes). Idle only: a no-op when pyarrow is not loaded."""
    pa = sys.modules.get("pyarrow")
    if pa is not None:
        try:
            pa.default_memory_pool().release_unused()
        except Exception as exc:  # noqa: BLE001 - an allocator that cannot release keeps its memory, nothing more
            log.debug("arrow memory not released: %s", exc)
