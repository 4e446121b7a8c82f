"""History download: fill the dataset with closed 15m candles over a date range, by REST.

Per symbol, only the slots the dataset does not hold yet are asked for (so a run stopped half way continues where
the dataset ends, and a second run over the same range asks for nothing but the exchange's own holes). Pages go
through the RestClient, whose token bucket keeps them inside the exchange's budget; what comes back is written in
slabs of SLAB_PAGES pages, each durable before the next is asked for. The report says what was fetched, where the
exchange's history of the symbol starts, and the holes the exchange itself has (slots it answered without).
No Qt here: the CLI and the window both drive it.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.errors import ExchangeError, TransportError, short_reason
from ..core.timeframe import BASE_TIMEFRAME
from .store import SOURCES, CandleStore, Rows, SeriesBusy

if TYPE_CHECKING:
    from ..net.rest import RestClient

log = logging.getLogger(__name__)

SLAB_PAGES = 10  # fetched, then written, in slabs of this many pages: a stop loses at most the slab in hand
STEP = BASE_TIMEFRAME.ms
HISTORY_START = ".history-start"  # in a series' folder: the open time of the exchange's first candle of it


class Stopped(Exception):
    """The download was asked to stop (between two pages)."""


@dataclass
class SymbolReport:
    symbol: str
    slots: int = 0  # 15m slots in the range (up to the last closed one)
    had: int = 0  # already in the dataset before this run
    fetched: int = 0  # written by this run
    first_ms: int | None = None  # the first and last candles the dataset holds in the range after the run
    last_ms: int | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (first, last) open times of missing runs
    error: str = ""
    stopped: bool = False
    history_start: int | None = None  # the exchange's history of the symbol starts here (an earlier run found it)

    @property
    def missing(self) -> int:
        return sum((b - a) // STEP + 1 for a, b in self.gaps)

    @property
    def complete(self) -> bool:
        return not self.error and not self.stopped


def missing_runs(have: np.ndarray, start: int, end: int) -> list[tuple[int, int]]:
    """Runs (first, last open time) of the 15m slots in [start, end] not in `have` (sorted open times)."""
    if end < start:
        return []
    have = have[(have >= start) & (have <= end)]
    edges = np.concatenate([[start - STEP], have, [end + STEP]])
    jumps = np.nonzero(np.diff(edges) > STEP)[0]
    return [(int(edges[i] + STEP), int(edges[i + 1] - STEP)) for i in jumps]


# (symbol, done slots, total slots) after each page
Progress = Callable[[str, int, int], None]


class Downloader:
    """Downloads into `store` through `rest` (a RestClient of `exchange`). `stop`: set from any thread to end the
    run after the page in hand; `progress(symbol, done, total)` is called after each page (from this thread)."""

    def __init__(self, exchange: str, rest: RestClient, store: CandleStore, *, stop: threading.Event | None = None,
                 progress: Progress | None = None) -> None:
        self.exchange, self.rest, self.store = exchange, rest, store
        self.stop = stop or threading.Event()
        self.progress = progress

    def stored_times(self, symbol: str, start: int, end: int) -> np.ndarray:
        frame = self.store.load(self.exchange, symbol, start_ms=start, end_ms=end)
        return frame["timestamp"].astype("int64").to_numpy() if len(frame) else np.empty(0, np.int64)

    def symbol(self, symbol: str, start: int, end: int) -> SymbolReport:
        """Fill [start, end] (open times, clipped to the last closed slot by the exchange's clock) for one symbol."""
        report = SymbolReport(symbol)
        try:
            self.store.claim(self.exchange, symbol)
        except SeriesBusy as exc:
            report.error = f"{exc}; not downloaded (stop that process, or download into another --data dir)"
            return report
        # no candle past the one forming now exists: a range reaching into the future (--until 2100-12-31) must not
        # page through years of empty slots (the forming slot is kept: the exchange's clock may be ahead of ours)
        end = min(end, BASE_TIMEFRAME.bucket_start(int(time.time() * 1000)) + STEP - 1)
        asked_from = start
        begins = self._history_start(symbol)  # the exchange had nothing before this, said by an earlier run
        if begins is not None and start < begins:
            start = begins
        have = self.stored_times(symbol, start, end)
        todo = missing_runs(have, start, end)
        total = sum((b - a) // STEP + 1 for a, b in todo)
        report.had = len(have)
        done = 0
        try:
            for lo, hi in todo:
                slab = lo
                while slab <= hi:
                    slab_end = min(hi, slab + SLAB_PAGES * self.rest.adapter.page_rows(BASE_TIMEFRAME, slab) * STEP
                                   - STEP)
                    base = done

                    def on_page(page_done: int, _page_total: int, base: int = base) -> None:
                        if self.progress is not None:
                            self.progress(symbol, min(total, base + page_done), total)
                        if self.stop.is_set():
                            raise Stopped

                    rows = self.rest.fetch_kline_rows(symbol, BASE_TIMEFRAME, slab, slab_end, closed_only=True,
                                                      on_page=on_page)
                    if len(rows):
                        arr = rows.rows
                        self.store.append(self.exchange, symbol, Rows(
                            rows.open_times, np.ascontiguousarray(arr[:, 1:6]),
                            np.full(len(arr), SOURCES.index("rest"), np.int8)))
                        report.fetched += len(arr)
                    done = base + (slab_end - slab) // STEP + 1
                    if self.progress is not None:
                        self.progress(symbol, min(total, done), total)
                    if self.stop.is_set():
                        raise Stopped
                    slab = slab_end + STEP
        except Stopped:
            report.stopped = True
        except (ExchangeError, TransportError) as exc:
            report.error = f"{short_reason(exc)}: {exc}"
            if self.rest.adapter.is_unknown_symbol(exc):
                report.error = f"the exchange has no such symbol ({exc})"
        # what the dataset holds now: where the symbol's history starts and ends in the range, and its holes
        now_have = self.stored_times(symbol, start, end)
        newest_closed = BASE_TIMEFRAME.bucket_start(int(time.time() * 1000)) - STEP
        report.slots = max(0, (min(end, max(newest_closed, int(now_have[-1]) if len(now_have) else 0)) - start)
                           // STEP + 1)
        if len(now_have):
            report.first_ms, report.last_ms = int(now_have[0]), int(now_have[-1])
            report.gaps = missing_runs(now_have, report.first_ms, report.last_ms)
            if report.complete and todo and todo[0][0] == start and report.first_ms > start:
                # asked from `start` and the exchange's first candle came later: its history of the symbol starts
                # there (a listing date); later runs do not page through the empty years before it again
                self._set_history_start(symbol, report.first_ms)
        report.history_start = begins if begins is not None and asked_from < begins else None
        return report

    def _marker(self, symbol: str) -> Path:
        return self.store.series_dir(self.exchange, symbol) / HISTORY_START

    def _history_start(self, symbol: str) -> int | None:
        try:
            value = int(self._marker(symbol).read_text(encoding="ascii").strip()[:20])
        except (OSError, ValueError):
            return None  # none, or unreadable: page from the start, as if never said
        return value if 0 < value < 4_102_444_800_000 and value % STEP == 0 else None

    def _set_history_start(self, symbol: str, first_ms: int) -> None:
        from ..files import write_text_atomic

        try:
            write_text_atomic(self._marker(symbol), f"{first_ms}\n")
        except OSError as exc:  # only a saving of requests is lost
            log.warning("%s %s: cannot remember where its history starts: %s", self.exchange, symbol, exc)
