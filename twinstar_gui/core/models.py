"""Domain values: candles and the market events an exchange stream produces."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV candle; `open_time` is the candle's open in UTC epoch milliseconds."""

    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float

    def merged_with(self, later: Candle) -> Candle:
        """Combine with the next candle of the same group (for resampling)."""
        return Candle(
            self.open_time,
            self.open,
            max(self.high, later.high),
            min(self.low, later.low),
            later.close,
            self.volume + later.volume,
        )


@dataclass(frozen=True, slots=True)
class KlineEvent:
    """A candle update from an exchange stream.

    `closed` is True/False where the exchange says so (Bybit `confirm`), None where it says nothing;
    the close detector decides in that case.
    """

    exchange: str
    symbol: str
    timeframe: str
    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool | None

    def candle(self) -> Candle:
        return Candle(self.open_time, self.open, self.high, self.low, self.close, self.volume)


@dataclass(frozen=True, slots=True)
class TickerEvent:
    """Last traded price from a ticker stream; `time` in UTC ms."""

    exchange: str
    symbol: str
    price: float
    time: int


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """One public trade; `time` in UTC ms."""

    exchange: str
    symbol: str
    price: float
    time: int
    size: float = 0.0


@dataclass(frozen=True, slots=True)
class SubscriptionAck:
    """The exchange's answer to a subscribe/unsubscribe request.

    Successful acks are not market data (parse_ws_message gives [] for them); a rejected one is
    reported as this event so the stream can tell the user which topics failed.
    """

    exchange: str
    ok: bool
    op: str
    message: str
    request_id: str = ""


MarketEvent = KlineEvent | TickerEvent | TradeEvent | SubscriptionAck
