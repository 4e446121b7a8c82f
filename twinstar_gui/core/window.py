"""A fixed-capacity window of candles in one numpy ring buffer: 48 bytes per candle, O(1) append.

A deque of Candle objects costs ~220 bytes per candle (object headers, boxed floats); a bot holds
~1,300 candles per symbol, so the ring keeps a symbol's windows near the ~60 KB its pandas DataFrames
would take.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .models import Candle


class CandleWindow:
    __slots__ = ("_buf", "_start", "_len", "_cap")

    def __init__(self, maxlen: int) -> None:
        if maxlen <= 0:
            raise ValueError(f"window size must be > 0, got {maxlen}")
        self._buf = np.empty((0, 6), np.float64)  # grows up to maxlen rows, then wraps
        self._start = 0
        self._len = 0
        self._cap = maxlen

    @property
    def maxlen(self) -> int:
        return self._cap

    def __len__(self) -> int:
        return self._len

    def append(self, c: Candle) -> None:
        row = (c.open_time, c.open, c.high, c.low, c.close, c.volume)
        buf = self._buf
        if self._len < len(buf):
            buf[(self._start + self._len) % len(buf)] = row
            self._len += 1
        elif len(buf) < self._cap:  # grow geometrically: small series stay small
            grown = np.empty((min(self._cap, max(16, 2 * len(buf))), 6), np.float64)
            grown[: self._len] = self.array()
            grown[self._len] = row
            self._buf, self._start = grown, 0
            self._len += 1
        else:  # full: overwrite the oldest
            buf[self._start] = row
            self._start = (self._start + 1) % len(buf)

    def extend(self, rows: np.ndarray) -> None:
        """(n, 6) rows after those held, oldest first, in one go (the oldest beyond the capacity drop out)."""
        if not len(rows):
            return
        held = np.concatenate([self.array(), rows]) if self._len else rows
        keep = np.array(held[-self._cap:], dtype=np.float64)  # a copy of its own, contiguous
        self._buf, self._start, self._len = keep, 0, len(keep)

    def clear(self) -> None:
        self._start = self._len = 0

    def array(self) -> np.ndarray:
        """(n, 6) open_time, O, H, L, C, V oldest first (a copy)."""
        buf, n = self._buf, self._len
        end = self._start + n
        if end <= len(buf):
            return buf[self._start:end].copy()
        return np.concatenate([buf[self._start:], buf[: end - len(buf)]])

    def __getitem__(self, i: int) -> Candle:
        n = self._len
        if not -n <= i < n:
            raise IndexError("candle window index out of range")
        r = self._buf[(self._start + (i % n)) % len(self._buf)]
        return Candle(int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]))

    def __iter__(self) -> Iterator[Candle]:
        for r in self.array().tolist():
            yield Candle(int(r[0]), r[1], r[2], r[3], r[4], r[5])

    def __repr__(self) -> str:
        return f"CandleWindow({self._len}/{self._cap})"
