"""Reconnect delays: 3 s x 1.5^n capped at 60 s, a 5 min pause after 20 failures, with jitter."""
from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class ReconnectPolicy:
    """Counts failed attempts and says how long to wait before the next one.

    The counter resets only through `healthy()`, which the connection calls after it stayed up and
    receiving for `healthy_after` seconds, so a server that accepts and drops at once keeps backing off.
    """

    base: float = 3.0
    factor: float = 1.5
    cap: float = 60.0
    max_tries: int = 20
    long_pause: float = 300.0
    jitter: float = 0.2  # +-20 %, so many clients don't reconnect in lockstep
    healthy_after: float = 10.0
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def next_delay(self) -> float:
        """Record one failure and return the wait before the next try."""
        self.failures += 1
        if self.failures > self.max_tries:
            self.failures = 0  # after the long pause, start the ladder again
            return self.long_pause
        raw = min(self.base * self.factor ** (self.failures - 1), self.cap)
        return max(0.0, raw * (1.0 + self.rng.uniform(-self.jitter, self.jitter)))

    def healthy(self) -> None:
        self.failures = 0
