"""Indicators on close prices: RSI with Wilder's smoothing, over a whole series (signals) or kept current as the
last close moves (the chart's forming candle). One set of formulas for both, so they agree to the last bit."""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

SETTLE_BARS = 600  # Wilder's memory fades as (13/14)^k: after 600 bars a changed seed moves RSI by < 1e-19


def rsi_wilder(closes: Sequence[float] | np.ndarray, period: int = 14) -> np.ndarray:
    """RSI(period) with Wilder's smoothing; the first `period` values are NaN.

    Seed: simple mean of the first `period` gains/losses; then avg = (avg*(period-1) + x) / period.
    RSI is 100 when there were no losses, 50 when price did not move at all.
    """
    if period < 1:
        raise ValueError("RSI period must be >= 1")
    c = np.asarray(closes, dtype=np.float64)
    out = np.full(c.shape, np.nan)
    if c.size <= period:
        return out
    delta = np.diff(c)
    avg_gain, avg_loss = _seed(delta, period)
    out[period] = _rsi(avg_gain, avg_loss)
    for i, d in enumerate(delta[period:].tolist(), start=period + 1):  # Python floats: the same IEEE doubles
        avg_gain, avg_loss = _step(avg_gain, avg_loss, d, period)
        out[i] = _rsi(avg_gain, avg_loss)
    return out


class IncrementalRsi:
    """RSI(period) over closes whose last one may still change (the forming candle); equals `rsi_wilder`.

    Keeps Wilder's averages up to the second-to-last close, so rewriting the last close or appending one is
    O(1); a reset computes the whole series with `rsi_wilder`.
    """

    def __init__(self, period: int = 14) -> None:
        self.period = period
        self._closes: list[float] = []
        self._base: tuple[float, float] | None = None  # Wilder averages at index n-2 (deltas d[0..n-3])

    def __len__(self) -> int:
        return len(self._closes)

    def reset(self, closes: Sequence[float] | np.ndarray) -> np.ndarray:
        """All RSI values of `closes` (NaN for the first `period`)."""
        c = np.asarray(closes, dtype=np.float64)
        self._closes = c.tolist()
        self._base = self._averages_at(len(c) - 2)
        return rsi_wilder(c, self.period)

    def prepend(self, older: Sequence[float] | np.ndarray, values: np.ndarray) -> np.ndarray:
        """RSI of older + current closes, given the current `values`: only the older part and the first
        SETTLE_BARS current rows are recomputed (the rest cannot change in float64)."""
        old = np.asarray(older, dtype=np.float64)
        if len(self._closes) <= SETTLE_BARS + 2:
            return self.reset(np.r_[old, self._closes])
        head = rsi_wilder(np.r_[old, self._closes[:SETTLE_BARS]], self.period)
        self._closes = old.tolist() + self._closes
        return np.concatenate([head, values[SETTLE_BARS:]])

    def update_last(self, close: float) -> float:
        """Rewrite the last close (the forming candle moved); its RSI."""
        self._closes[-1] = float(close)
        return self._last()

    def append(self, close: float) -> float:
        """The last close is final now; a new one follows. The new one's RSI."""
        if self._base is not None and len(self._closes) >= 2:  # fold the now-final last delta into the averages
            self._base = _step(*self._base, self._closes[-1] - self._closes[-2], self.period)
        self._closes.append(float(close))
        if self._base is None:
            self._base = self._averages_at(len(self._closes) - 2)
        return self._last()

    def _last(self) -> float:
        n, p = len(self._closes), self.period
        if n - 1 < p:
            return math.nan
        if self._base is None:  # n - 1 == p: the seed itself
            return float(rsi_wilder(self._closes, p)[-1])
        return _rsi(*_step(*self._base, self._closes[-1] - self._closes[-2], p))

    def _averages_at(self, k: int) -> tuple[float, float] | None:
        """Wilder's (avg_gain, avg_loss) at index k (over deltas d[0..k-1]); None while k < period."""
        p = self.period
        if k < p:
            return None
        delta = np.diff(np.asarray(self._closes[: k + 1], dtype=np.float64))
        avg_gain, avg_loss = _seed(delta, p)
        for d in delta[p:k].tolist():
            avg_gain, avg_loss = _step(avg_gain, avg_loss, d, p)
        return avg_gain, avg_loss


def _seed(delta: np.ndarray, period: int) -> tuple[float, float]:
    """Wilder's first averages: the simple means of the first `period` gains and losses."""
    head = delta[:period]
    return float(np.clip(head, 0.0, None).mean()), float(np.clip(-head, 0.0, None).mean())


def _step(avg_gain: float, avg_loss: float, d: float, period: int) -> tuple[float, float]:
    """Wilder's averages after one more close-to-close change `d`."""
    return ((avg_gain * (period - 1) + max(d, 0.0)) / period,
            (avg_loss * (period - 1) + max(-d, 0.0)) / period)


def _rsi(avg_gain: float, avg_loss: float) -> float:
    if avg_loss == 0.0:
        return 50.0 if avg_gain == 0.0 else 100.0
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
