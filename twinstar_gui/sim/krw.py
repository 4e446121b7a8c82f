"""KRW markets (Upbit, Bithumb) priced from the same USDT price process: KRW = USDT x rate, on KRW ticks."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from .listing import DELISTED, listed_bases, market_base
from .market import Candle, Market, decimals

USDKRW = 1400.0
KST = timezone(timedelta(hours=9))
# Upbit's KRW price units since 2025-07-31 (https://docs.upbit.com/kr/docs/krw-market-info), (lowest price, step)
# highest first; Bithumb is simulated on the same table. Written out here rather than taken from the adapter:
# the simulator is a second reading of the exchange, and a test compares the two.
KRW_TICKS = ((2_000_000, 1000.0), (1_000_000, 1000.0), (500_000, 500.0), (100_000, 100.0), (50_000, 50.0),
             (10_000, 10.0), (5_000, 5.0), (1_000, 1.0), (100, 1.0), (10, 0.1), (1, 0.01), (0.1, 0.001),
             (0.01, 0.0001), (0.001, 0.00001), (0.0001, 0.000001), (0.00001, 0.0000001), (0, 0.00000001))
_DECIMALS = {tick: decimals(tick) for _, tick in KRW_TICKS}


def krw_tick(price_krw: float) -> float:
    """The KRW price step at a price."""
    for floor, tick in KRW_TICKS:
        if price_krw >= floor:
            return tick
    return KRW_TICKS[-1][1]


class KrwBook:
    """Maps KRW codes (KRW-BTC / BTC_KRW) to the market's USDT symbols and converts prices onto KRW ticks.

    The KRW venues list only what trades (sim/listing.py): a renamed base under its new name (KRW-RENDER follows
    RNDRUSDT; the old name still answers, as during a migration), a delisted one not at all."""

    def __init__(self, market: Market) -> None:
        self.market = market
        bases = [s[:-4] for s in market.symbols if s.endswith("USDT")]
        self._listed = [name for name, trading in listed_bases(bases) if trading]
        self._usdt = {b: f"{b}USDT" for b in bases if b not in DELISTED}
        self._usdt.update({name: f"{market_base(name)}USDT" for name in self._listed})

    def usdt(self, base: str) -> str | None:
        """The market symbol whose price process the KRW market of `base` follows; None when not listed."""
        return self._usdt.get(base)

    def bases(self) -> list[str]:
        """The listed bases, in the market's order (what the venue's market list and ALL tickers show)."""
        return list(self._listed)

    def price(self, value: float) -> float:
        """A USDT price in KRW on the step of its price band (monotonic: a higher price never gets a lower KRW
        price, so highs stay highs)."""
        krw = value * USDKRW
        tick = krw_tick(krw)
        return round(round(krw / tick) * tick, _DECIMALS[tick])

    def candle(self, c: Candle) -> Candle:
        p = self.price
        return Candle(c.open_time, p(c.open), p(c.high), p(c.low), p(c.close), c.volume, c.turnover * USDKRW,
                      c.closed)

    def candles(self, usdt_symbol: str, ms: int, start: int, end: int, now: int | None = None) -> list[Candle]:
        return [self.candle(c) for c in self.market.candles(usdt_symbol, ms, start, end, now)]

    def closed_candles(self, usdt_symbol: str, ms: int, start: int, end: int) -> list[Candle]:
        return [self.candle(c) for c in self.market.closed_candles(usdt_symbol, ms, start, end)]


def utc_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def kst_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=KST).strftime("%Y-%m-%dT%H:%M:%S")


def parse_to(text: str | None, now: int) -> int:
    """Upbit's `to` (exclusive end): ISO-8601, UTC when it has no zone."""
    if not text:
        return now + 1
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


# Markets of other quotes the venues list too (BTC-ETH, USDT-BTC); not simulated beyond the list.
OTHER_MARKETS = ("BTC-ETH", "USDT-BTC")


def market_list(book: KrwBook, query: dict[str, str], details: Callable[[str], dict]) -> list[dict]:
    """GET /v1/market/all (Upbit, Bithumb v1): every listed market, KRW ones from the book; `details(base)` adds
    the venue's warning fields when isDetails=true."""
    with_details = query.get("isDetails", "false").lower() == "true"
    out = []
    for market in [f"KRW-{b}" for b in book.bases()] + list(OTHER_MARKETS):
        base = market.partition("-")[2]
        item = {"market": market, "korean_name": base, "english_name": base}
        out.append({**item, **details(base)} if with_details else item)
    return out


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
