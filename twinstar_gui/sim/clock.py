"""Simulated exchange time: begins at `start_ms` and runs `speed` times faster than the real (monotonic) clock."""
from __future__ import annotations

import math
import time
from collections.abc import Callable


class SimClock:
    """now_ms() = start_ms + real seconds since construction * speed * 1000.

    The origin is fixed at construction and never mutated, so reads from any thread are safe without a lock;
    the monotonic source means wall-clock jumps (NTP, DST) never move simulated time backwards.
    """

    __slots__ = ("speed", "start_ms", "_origin", "_monotonic")

    def __init__(self, speed: float = 1.0, start_ms: int | None = None, *,
                 monotonic: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        """`monotonic`, `wall`: the real clocks (seconds), replaceable so tests need not wait on real time."""
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be a finite number > 0, got {speed!r}")
        self.speed = float(speed)
        self.start_ms = int(wall() * 1000) if start_ms is None else int(start_ms)
        self._monotonic = monotonic
        self._origin = monotonic()

    def __repr__(self) -> str:
        return f"SimClock(speed={self.speed:g}, start_ms={self.start_ms})"

    def elapsed_real(self) -> float:
        """Real seconds since the clock was created."""
        return self._monotonic() - self._origin

    def now_ms(self) -> int:
        """Current simulated time in epoch milliseconds (never decreases)."""
        return self.start_ms + int(self.elapsed_real() * self.speed * 1000.0)
