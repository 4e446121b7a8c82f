"""What a view watches of one series, handed over from the engine's thread in immutable batches at a bounded rate."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from ..core.instrument import SeriesKey
from ..core.models import Candle
from ..core.timeframe import Timeframe
from .manager import ClosedCandle, SeriesManager

SHOW_EVERY_S = 1 / 60  # a view takes on average at most once per display frame (60 Hz); see ChartPresenter
SHOW_BURST = 2  # ... and at most this many at once
RESET_OVER = 50  # more closed candles than this waiting (a backfill): hand over the whole window instead

F = TypeVar("F")
Row = tuple[int, float, float, float, float, float, bool]  # open_time ms, O, H, L, C, V, closed


@dataclass(frozen=True, slots=True)
class SeriesUpdate:
    """One batch for a view of `key` (exchange, native symbol, timeframe).

    `history`: the whole window (read-only (n, 6) array) when the view must start over (first look, a history
    load, a repair, a backfill burst), else None. `rows`: what changed after it, oldest first; the forming
    candle, if it moved, is last. `since`: monotonic time of the oldest change in the batch (for latency)."""

    key: SeriesKey
    history: np.ndarray | None
    rows: tuple[Row, ...]
    since: float


def _row(c: Candle, closed: bool) -> Row:
    return (c.open_time, c.open, c.high, c.low, c.close, c.volume, closed)


class SeriesTap:
    """Collects one series' changes as they happen on the engine's thread; the view takes them, batched, when it
    is ready (`take`, any thread).

    The first change after a take calls `wake()` (thread-safe, e.g. a queued Qt signal), once: nothing more is
    signalled until the view has taken what waits, so a burst of frames costs the view one wake-up and the rate
    is the view's to bound (it takes at most once per display frame). The engine never holds a change back on
    a timer of its own: its loop may be busy for a while with other series (350 series' frames at a bucket's
    close), and a change that waited for a timer behind them reached the screen 200 ms late.

    `attach` and `detach` run on the engine's thread; `take` on any thread."""

    def __init__(self, series: SeriesManager, tf: Timeframe, wake: Callable[[], None], *,
                 reset_over: int = RESET_OVER) -> None:
        self.series = series
        self.tf = tf
        self.key = SeriesKey(series.exchange, series.symbol, tf.label)
        self.wake = wake
        self.reset_over = reset_over
        self.published = 0  # batches taken
        self.wakes = 0
        self._attached = False
        # written on the engine's thread, taken on the view's: under the lock
        self._lock = threading.Lock()
        self._history: np.ndarray | None = None  # the window to start over from (a copy, read-only)
        self._closed: dict[int, Row] = {}  # closed candles after it (or after what the view has)
        self._forming: Row | None = None
        self._since = 0.0
        self._woken = False
        self._view_newest = -1  # open time of the newest row the view has taken

    def __repr__(self) -> str:
        return f"SeriesTap({self.key})"

    # -- engine thread ------------------------------------------------------------------------------------
    def attach(self) -> SeriesTap:
        listeners = self.series.listeners
        listeners.history.append(self._on_history)
        listeners.closed.append(self._on_closed)
        listeners.forming.append(self._on_forming)
        self._attached = True
        self._start_over()  # the view starts from the whole window
        return self

    def detach(self) -> None:
        if not self._attached:
            return
        self._attached = False
        listeners = self.series.listeners
        _drop(listeners.history, self._on_history)
        _drop(listeners.closed, self._on_closed)
        _drop(listeners.forming, self._on_forming)
        with self._lock:
            self._history, self._forming, self._since = None, None, 0.0
            self._closed.clear()

    def _on_history(self, _series: SeriesManager) -> None:
        self._start_over()

    def _on_closed(self, cc: ClosedCandle) -> None:
        if cc.timeframe is not self.tf:
            return
        with self._lock:
            self._closed[cc.candle.open_time] = _row(cc.candle, True)
            # a close the view can no longer place: it has the next bucket's forming bar already (exchanges
            # without a close flag confirm by REST after the rollover); it gets the window, with the final values
            late = cc.candle.open_time < self._view_newest
            burst = late or len(self._closed) > self.reset_over
            wake = burst or self._note()
        if burst:
            self._start_over()  # one copy of the window instead of hundreds of rows
        elif wake:
            self._wake()

    def _on_forming(self, _key: SeriesKey, candle: Candle) -> None:
        row = _row(self.series.forming_in(self.tf, candle), False)
        with self._lock:
            self._forming = row
            wake = self._note()
        if wake:
            self._wake()

    def _start_over(self) -> None:
        history = self.series.candles[self.tf].array()  # a copy: the engine goes on changing its window
        history.flags.writeable = False
        base = self.series.forming  # the bar in progress goes with the window (take() drops it if not newer)
        forming = _row(self.series.forming_in(self.tf, base), False) if base is not None else None
        with self._lock:
            self._history = history
            self._closed.clear()
            if forming is not None:
                self._forming = forming
            wake = self._note()
        if wake:
            self._wake()

    def _note(self) -> bool:
        """(Under the lock.) A change waits: stamp it; True when the view is to be woken for it."""
        if not self._since:
            self._since = time.monotonic()
        if self._woken or not self._attached:
            return False
        self._woken = True
        return True

    def _wake(self) -> None:
        self.wakes += 1
        self.wake()

    # -- any thread ---------------------------------------------------------------------------------------
    def take(self) -> SeriesUpdate | None:
        """The changes since the last take, as one batch (None: nothing new). The next change wakes the view
        again."""
        with self._lock:
            self._woken = False
            history, forming, since = self._history, self._forming, self._since
            if history is None and forming is None and not self._closed:
                return None
            rows = [self._closed[k] for k in sorted(self._closed)]
            self._history, self._forming, self._since = None, None, 0.0
            self._closed.clear()
            _add_forming(rows, forming, history)
            newest = _newest(rows, history)
            newest = -1 if newest is None else newest
            self._view_newest = newest if history is not None else max(self._view_newest, newest)
        self.published += 1
        return SeriesUpdate(self.key, history, tuple(rows), since)


def _drop(group: list[F], fn: F) -> None:
    if fn in group:
        group.remove(fn)


def _add_forming(rows: list[Row], forming: Row | None, history: np.ndarray | None) -> None:
    """The forming candle goes last, and only when it is newer than every closed candle handed over with it (a
    forming row of the bucket that has just closed would overwrite the closed candle on the chart)."""
    if forming is None:
        return
    newest = _newest(rows, history)
    if newest is None or forming[0] > newest:
        rows.append(forming)


def _newest(rows: list[Row], history: np.ndarray | None) -> int | None:
    """Open time of the newest candle in a batch (its rows after its window), None when it has none."""
    if rows:
        return rows[-1][0]
    return int(history[-1, 0]) if history is not None and len(history) else None
