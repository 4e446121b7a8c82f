"""Risk limits, as settings: the cap of one position, the number of open positions and the daily loss that
trips the kill switch, in the venue's quote currency (USDT, or KRW on the KRW venues). execution.risk enforces
them; config reads them from the settings file."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_position_usdt: float = 1_000.0  # notional of one position
    max_open_positions: int = 3
    daily_loss_limit_usdt: float = 200.0  # realized (net of fees) + unrealized since 00:00 UTC
    # the same limits on the KRW venues (Upbit, Bithumb), in KRW: about the same money
    max_position_krw: float = 1_000_000.0
    daily_loss_limit_krw: float = 200_000.0

    def __post_init__(self) -> None:
        for name in ("max_position_usdt", "daily_loss_limit_usdt", "max_position_krw", "daily_loss_limit_krw"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if not (isinstance(self.max_open_positions, int) and self.max_open_positions >= 1):
            raise ValueError(f"max_open_positions must be an integer >= 1, got {self.max_open_positions!r}")

    def max_position(self, currency: str) -> float:
        """The cap of one position's notional, in `currency` (the venue's quote: USDT or KRW)."""
        return self.max_position_krw if currency == "KRW" else self.max_position_usdt

    def daily_loss_limit(self, currency: str) -> float:
        return self.daily_loss_limit_krw if currency == "KRW" else self.daily_loss_limit_usdt
