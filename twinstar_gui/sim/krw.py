"""KRW markets (Upbit, Bithumb) priced from the same USDT price process: KRW = USDT x rate, on KRW ticks."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .market import Candle, Market

USDKRW = 1400.0
KST = timezone(timedelta(hours=9))


def krw_tick(price_krw: float) -> float:
    """Upbit's KRW price units (a subset of its table, enough for the simulated symbols)."""
    for floor, tick in ((2_000_000, 1000.0), (1_000_000, 500.0), (500_000, 100.0), (100_000, 50.0),
                        (10_000, 10.0), (1_000, 1.0), (100, 0.1), (10, 0.01)):
        if price_krw >= floor:
            return tick
    return 0.001


class KrwBook:
    """Maps KRW codes (KRW-BTC / BTC_KRW) to the market's USDT symbols and converts prices."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self._ticks = {s: krw_tick(market.spec(s).price * USDKRW) for s in market.symbols if s.endswith("USDT")}

    def usdt(self, base: str) -> str | None:
        sym = f"{base}USDT"
        return sym if sym in self._ticks else None

    def bases(self) -> list[str]:
        return [s[:-4] for s in self._ticks]

    def price(self, usdt_symbol: str, value: float) -> float:
        tick = self._ticks[usdt_symbol]
        return round(round(value * USDKRW / tick) * tick, 3)

    def candle(self, usdt_symbol: str, c: Candle) -> Candle:
        p = lambda v: self.price(usdt_symbol, v)  # noqa: E731  (monotonic, so highs stay highs)
        return Candle(c.open_time, p(c.open), p(c.high), p(c.low), p(c.close), c.volume, c.turnover * USDKRW,
                      c.closed)

    def candles(self, usdt_symbol: str, ms: int, start: int, end: int, now: int | None = None) -> list[Candle]:
        return [self.candle(usdt_symbol, c) for c in self.market.candles(usdt_symbol, ms, start, end, now)]

    def closed_candles(self, usdt_symbol: str, ms: int, start: int, end: int) -> list[Candle]:
        return [self.candle(usdt_symbol, c) for c in self.market.closed_candles(usdt_symbol, ms, start, end)]


def utc_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def kst_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=KST).strftime("%Y-%m-%dT%H:%M:%S")


def parse_to(text: str | None, now: int) -> int:
    """Upbit's `to` (exclusive end): ISO-8601, UTC when it has no zone."""
    if not text:
        return now + 1
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def candle_object(book: KrwBook, code: str, usdt_symbol: str, c: Candle, unit: int | None) -> dict:
    obj = {"market": code, "candle_date_time_utc": utc_text(c.open_time), "candle_date_time_kst": kst_text(c.open_time),
           "opening_price": c.open, "high_price": c.high, "low_price": c.low, "trade_price": c.close,
           "timestamp": c.open_time, "candle_acc_trade_price": round(c.turnover, 4),
           "candle_acc_trade_volume": round(c.volume, 8)}
    if unit is not None:
        obj["unit"] = unit
    return obj


def candles_page(book: KrwBook, code: str, usdt_symbol: str, ms: int, count: int, to_ms: int) -> list[dict]:
    """Newest first, open time < to, at most `count` (v1 candles of Upbit and Bithumb)."""
    now = book.market.now_ms()
    hi = min(to_ms - 1, now)
    rows = book.candles(usdt_symbol, ms, hi - hi % ms - (count - 1) * ms, hi, now)[-count:]
    unit = ms // 60_000 if ms < 86_400_000 else None
    return [candle_object(book, code, usdt_symbol, c, unit) for c in reversed(rows)]
