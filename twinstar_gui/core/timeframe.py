"""Candle timeframes: 15m is the source of truth, 1h/4h/1d are derived from complete 15m groups."""
from __future__ import annotations

from enum import Enum

MINUTE_MS = 60_000


class Timeframe(Enum):
    """A candle length. `value` is the canonical label used across the app ("15m", "1h", ...)."""

    M1 = "1m"  # only for exchanges' 1m streams (recorded frames); never stored as truth
    M15 = "15m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"

    @property
    def ms(self) -> int:
        """The length in ms: an attribute set on each member below (a dict lookup hashes the member in Python, and
        this is asked on every candle)."""
        return self._ms  # type: ignore[attr-defined, no-any-return]

    @property
    def label(self) -> str:
        return self.value

    def bucket_start(self, time_ms: int) -> int:
        """Open time of the candle that contains `time_ms` (UTC epoch alignment, days at 00:00 UTC)."""
        return time_ms - (time_ms % self.ms)

    def ratio_to(self, base: Timeframe) -> int:
        """How many `base` candles make one candle of this timeframe."""
        if self.ms % base.ms:
            raise ValueError(f"{self.label} is not a whole multiple of {base.label}")
        return self.ms // base.ms

    @classmethod
    def parse(cls, text: str | Timeframe) -> Timeframe:
        if isinstance(text, Timeframe):
            return text
        for tf in cls:
            if tf.value == str(text).strip().lower():
                return tf
        valid = ", ".join(tf.value for tf in CHART_TIMEFRAMES)
        raise ValueError(f"unknown timeframe {text!r}; valid: {valid}")


_LENGTH_MS = {
    Timeframe.M1: MINUTE_MS,
    Timeframe.M15: 15 * MINUTE_MS,
    Timeframe.H1: 60 * MINUTE_MS,
    Timeframe.H4: 240 * MINUTE_MS,
    Timeframe.D1: 1440 * MINUTE_MS,
}

for _tf, _length in _LENGTH_MS.items():
    _tf._ms = _length  # type: ignore[attr-defined]

#: Timeframes the product shows and derives (1m exists only as an exchange stream interval).
CHART_TIMEFRAMES = (Timeframe.M15, Timeframe.H1, Timeframe.H4, Timeframe.D1)
BASE_TIMEFRAME = Timeframe.M15
DERIVED_TIMEFRAMES = (Timeframe.H1, Timeframe.H4, Timeframe.D1)
