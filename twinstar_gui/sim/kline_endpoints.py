"""What the simulated exchanges' kline endpoints share: query parameters, the candle window of a REST request,
compact JSON, and the push state of a WebSocket kline topic."""
from __future__ import annotations

import json
import time

from .market import Candle, Market


class BadParam(ValueError):
    """A request parameter the exchange would reject (each module maps it to its own error format)."""


def int_param(query: dict[str, str], name: str) -> int | None:
    text = query.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise BadParam(f"{name} invalid: {text!r}") from None


def limit_param(query: dict[str, str], name: str, default: int, cap: int) -> int:
    limit = int_param(query, name)
    limit = default if limit is None else limit
    if not 1 <= limit <= cap:
        raise BadParam(f"{name} must be 1..{cap}")
    return limit


def window(market: Market, symbol: str, ms: int, start: int | None, end: int | None, limit: int,
           oldest_first_from_start: bool) -> list[Candle]:
    """Candles with open time in [start, end] (end defaults to now), at most `limit` of them.

    Exchanges differ when the range holds more than `limit`: paging forward from `start` takes the oldest
    ones (Binance, Bitget, BingX with a start), the others take the newest (Bybit, OKX, Upbit).
    """
    now = market.now_ms()
    hi = now if end is None else min(end, now)
    lo = hi - hi % ms - (limit - 1) * ms if start is None or not oldest_first_from_start else start
    if start is not None:
        lo = max(lo, start)
    rows = market.candles(symbol, ms, lo, hi, now) if lo <= hi else []
    if oldest_first_from_start and start is not None:
        return rows[:limit]
    return rows[-limit:]


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


KEEPALIVE_S = 1.0  # an unchanged forming candle is re-pushed at most this often (real seconds)


class KlineFeed:
    """Push state of one kline topic: each push gives every bucket closed since the last one (once, in
    order) followed by the forming candle; an unchanged forming candle is re-sent at most every second."""

    __slots__ = ("symbol", "ms", "sent_start", "sent_values", "sent_at")

    def __init__(self, symbol: str, ms: int) -> None:
        self.symbol, self.ms = symbol, ms
        self.sent_start: int | None = None
        self.sent_values: tuple | None = None
        self.sent_at = 0.0

    def due(self, market: Market, now: int | None = None) -> tuple[list[Candle], int]:
        now = market.now_ms() if now is None else now
        current = now - now % self.ms
        rows = market.candles(self.symbol, self.ms, current if self.sent_start is None else self.sent_start,
                              current, now)
        if not rows:
            return [], now
        values, real = tuple(rows[-1]), time.monotonic()
        if self.sent_start == current and values == self.sent_values and real - self.sent_at < KEEPALIVE_S:
            return [], now
        self.sent_start, self.sent_values, self.sent_at = current, values, real
        return rows, now
