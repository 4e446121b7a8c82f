"""A thread-safe token bucket so REST calls stay inside an exchange's request budget (no fixed sleeps)."""
from __future__ import annotations

import threading
import time


class TokenBucket:
    def __init__(self, requests: int, per_seconds: float, clock=time.monotonic, sleep=time.sleep) -> None:
        if requests < 1 or per_seconds <= 0:
            raise ValueError("budget needs requests >= 1 and per_seconds > 0")
        self.capacity = float(requests)
        self.rate = requests / per_seconds
        self._tokens = float(requests)
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """Hold every caller for `seconds` (the exchange said Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def acquire(self, cost: float = 1.0) -> float:
        """Block until a request of this cost may go (an exchange that weighs requests: Binance's weight);
        returns the seconds waited. A cost above the capacity waits for a full bucket and leaves it in debt,
        so the requests after it wait for the debt to be paid back."""
        need = min(cost, self.capacity)
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                hold = self._paused_until - now
                if hold <= 0 and self._tokens >= need - 1e-9:  # a float rounding is not worth a sleep
                    self._tokens -= cost
                    return waited
                wait = hold if hold > 0 else (need - self._tokens) / self.rate
            if self._sleep(wait):  # an Event.wait that returned True: stopping, go at once (the caller checks)
                return waited
            waited += wait
