"""Simulated exchange time: starts at a given epoch ms and runs `speed` times faster than the wall clock."""
from __future__ import annotations

import time


class SimClock:
    def __init__(self, speed: float = 1.0, start_ms: int | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = float(speed)
        self.start_ms = int(time.time() * 1000) if start_ms is None else int(start_ms)
        self._t0 = time.monotonic()

    def __repr__(self) -> str:
        return f"SimClock(speed={self.speed:g}, start_ms={self.start_ms})"

    def now_ms(self) -> int:
        return self.start_ms + int((time.monotonic() - self._t0) * self.speed * 1000)
