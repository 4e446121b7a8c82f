"""Build candles from a trade stream, for exchanges that stream trades but no candles (Bithumb)."""
from __future__ import annotations

from .models import Candle
from .timeframe import BASE_TIMEFRAME, Timeframe


class TradeCandles:
    """The forming candle of one symbol, from trades in time order.

    `add` returns the candle that a trade closed by opening a later bucket (its values are only as good as
    the trades seen: callers confirm them by REST), or None. Trades older than the forming bucket are ignored.
    """

    __slots__ = ("tf", "forming")

    def __init__(self, tf: Timeframe = BASE_TIMEFRAME) -> None:
        self.tf = tf
        self.forming: Candle | None = None

    def add(self, price: float, size: float, time_ms: int) -> Candle | None:
        bucket = self.tf.bucket_start(time_ms)
        f = self.forming
        if f is None or bucket > f.open_time:
            self.forming = Candle(bucket, price, price, price, price, size)
            return f
        if bucket == f.open_time:
            self.forming = Candle(f.open_time, f.open, max(f.high, price), min(f.low, price), price, f.volume + size)
        return None
