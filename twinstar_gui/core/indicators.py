"""Indicators on close prices: RSI with Wilder's smoothing."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


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
    gains = np.clip(delta, 0.0, None)
    losses = np.clip(-delta, 0.0, None)
    avg_gain = gains[:period].mean()
    avg_loss = losses[:period].mean()
    out[period] = _rsi(avg_gain, avg_loss)
    for i in range(period, delta.size):
        avg_gain = (avg_gain * (period - 1) + gains[i]) / period
        avg_loss = (avg_loss * (period - 1) + losses[i]) / period
        out[i + 1] = _rsi(avg_gain, avg_loss)
    return out


def _rsi(avg_gain: float, avg_loss: float) -> float:
    if avg_loss == 0.0:
        return 50.0 if avg_gain == 0.0 else 100.0
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
