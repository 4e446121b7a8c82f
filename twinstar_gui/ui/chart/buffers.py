"""Growable column buffers: O(1) amortised append / update-last for live candles."""
from __future__ import annotations

import numpy as np


class ColumnBuffer:
    """`width` float64 columns; `view()` is the filled part (no copy)."""

    def __init__(self, width: int, capacity: int = 1024) -> None:
        self._data = np.empty((capacity, width))
        self.n = 0

    def set(self, columns: list[np.ndarray]) -> None:
        n = len(columns[0])
        self._data = np.empty((max(1024, 2 * n), len(columns)))
        for i, col in enumerate(columns):
            self._data[:n, i] = col
        self.n = n

    def upsert_last(self, row: tuple[float, ...]) -> bool:
        """Replace the last row if its x (column 0) equals row[0], else append; True when appended."""
        if self.n and self._data[self.n - 1, 0] == row[0]:
            self._data[self.n - 1] = row
            return False
        if self.n == len(self._data):
            grown = np.empty((2 * len(self._data), self._data.shape[1]))
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[self.n] = row
        self.n += 1
        return True

    def view(self) -> np.ndarray:
        return self._data[: self.n]

    def visible_slice(self, x0: float, x1: float, pad: int = 1) -> slice:
        """Rows whose x lies in [x0, x1], plus `pad` on each side (binary search on sorted x)."""
        x = self._data[: self.n, 0]
        i0 = max(0, int(np.searchsorted(x, x0, side="left")) - pad)
        i1 = min(self.n, int(np.searchsorted(x, x1, side="right")) + pad)
        return slice(i0, i1)


def column_groups(px: np.ndarray) -> np.ndarray:
    """Start indices of runs of equal integer pixel columns (px ascending)."""
    cols = np.floor(px).astype(np.int64)
    return np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
