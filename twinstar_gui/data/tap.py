"""What a view watches of one series, handed over from the engine's thread in immutable batches at a bounded rate."""
from __future__ import annotations

import asyncio
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

PUBLISH_EVERY_S = 1 / 60  # one display frame: the first change after a quiet spell goes out at once
RESET_OVER = 50  # more closed candles than this in one batch (a backfill): hand over the whole window instead

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
    """Collects one series' changes on the engine's thread and publishes them as a `SeriesUpdate` at most every
    `every` s, calling `wake()` (thread-safe, e.g. a queued Qt signal) so the view `take()`s it. `attach` and
    `detach` run on the engine's thread; `take` on any thread."""

    def __init__(self, series: SeriesManager, tf: Timeframe, wake: Callable[[], None], *,
                 every: float = PUBLISH_EVERY_S, reset_over: int = RESET_OVER) -> None:
        self.series = series
        self.tf = tf
        self.key = SeriesKey(series.exchange, series.symbol, tf.label)
        self.wake = wake
        self.every = every
        self.reset_over = reset_over
        self.published = 0
        # engine thread only
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reset = False
        self._closed: dict[int, Row] = {}
        self._forming: Row | None = None
        self._since = 0.0
        self._scheduled = False
        self._due = 0.0
        self._last_publish = 0.0
        self._attached = False
        # handed over under the lock
        self._lock = threading.Lock()
        self._out: SeriesUpdate | None = None

    def __repr__(self) -> str:
        return f"SeriesTap({self.key})"

    # -- engine thread ------------------------------------------------------------------------------------
    def attach(self) -> SeriesTap:
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop here (a plain script or test): every change is handed over at once
            self._loop = None
        listeners = self.series.listeners
        listeners.history.append(self._on_history)
        listeners.closed.append(self._on_closed)
        listeners.forming.append(self._on_forming)
        self._attached = True
        self._changed(reset=True)  # the view starts from the whole window
        return self

    def detach(self) -> None:
        if not self._attached:
            return
        self._attached = False
        listeners = self.series.listeners
        _drop(listeners.history, self._on_history)
        _drop(listeners.closed, self._on_closed)
        _drop(listeners.forming, self._on_forming)

    def _on_history(self, _series: SeriesManager) -> None:
        self._changed(reset=True)

    def _on_closed(self, cc: ClosedCandle) -> None:
        if cc.timeframe is not self.tf:
            return
        self._closed[cc.candle.open_time] = _row(cc.candle, True)
        self._changed(reset=len(self._closed) > self.reset_over)

    def _on_forming(self, _key: SeriesKey, candle: Candle) -> None:
        self._forming = _row(self.series.forming_in(self.tf, candle), False)
        self._changed()

    def _changed(self, reset: bool = False) -> None:
        if reset:
            self._reset = True
            self._closed.clear()
        if not self._since:
            self._since = time.monotonic()
        if self._loop is None:
            self._publish()
            return
        now = time.monotonic()
        if self._scheduled:
            if now >= self._due + self.every:  # its timer is late (a burst holds the loop): do not wait for it
                self._publish()
            return
        delay = self._last_publish + self.every - now
        if delay > 0:
            self._scheduled = True
            self._due = now + delay
            self._loop.call_later(delay, self._publish)
        else:
            # at once, not behind the other callbacks ready on the loop (a burst of frames from 350 series at a
            # bucket's close queued the chart's update for 200 ms); what follows within `every` is batched
            self._publish()

    def _publish(self) -> None:
        self._scheduled = False
        if not self._attached or not (self._reset or self._closed or self._forming is not None):
            return  # detached, or published already (a late timer after an early publish)
        history = None
        if self._reset:
            history = self.series.candles[self.tf].array()
            history.flags.writeable = False
        rows = [self._closed[k] for k in sorted(self._closed)]
        _add_forming(rows, self._forming, history)
        update = SeriesUpdate(self.key, history, tuple(rows), self._since)
        self._reset, self._forming, self._since = False, None, 0.0
        self._closed.clear()
        self._last_publish = time.monotonic()
        with self._lock:
            self._out = update if self._out is None else _merged(self._out, update)
        self.published += 1
        self.wake()

    # -- any thread ---------------------------------------------------------------------------------------
    def take(self) -> SeriesUpdate | None:
        """The changes published since the last take (None: nothing new)."""
        with self._lock:
            out, self._out = self._out, None
        return out


def _drop(group: list[F], fn: F) -> None:
    if fn in group:
        group.remove(fn)


def _add_forming(rows: list[Row], forming: Row | None, history: np.ndarray | None) -> None:
    """The forming candle goes last, and only when it is newer than every closed candle handed over with it (a
    forming row of the bucket that has just closed would overwrite the closed candle on the chart)."""
    if forming is None:
        return
    newest = rows[-1][0] if rows else (history[-1, 0] if history is not None and len(history) else None)
    if newest is None or forming[0] > newest:
        rows.append(forming)


def _forming_of(update: SeriesUpdate) -> Row | None:
    return next((r for r in reversed(update.rows) if not r[6]), None)


def _merged(old: SeriesUpdate, new: SeriesUpdate) -> SeriesUpdate:
    """Two batches the view has not taken yet, as one: a newer whole window replaces everything before it (the
    older batch's forming candle stays if the newer one has none and it is still newer than all it holds)."""
    if new.history is not None:
        rows = [r for r in new.rows if r[6]]
        _add_forming(rows, _forming_of(new) or _forming_of(old), new.history)
        return SeriesUpdate(new.key, new.history, tuple(rows), old.since)
    closed = {r[0]: r for r in old.rows if r[6]}
    closed.update((r[0], r) for r in new.rows if r[6])
    rows = [closed[k] for k in sorted(closed)]
    _add_forming(rows, _forming_of(new) or _forming_of(old), old.history)
    return SeriesUpdate(new.key, old.history, tuple(rows), old.since)
