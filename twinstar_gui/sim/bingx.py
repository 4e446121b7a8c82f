"""BingX perpetual swap wire formats: v3 klines + v2 tickers, and the gzip-framed /swap-market WebSocket.

Served under /bingx with symbols like BTC-USDT. Every server frame is gzip-compressed binary, including the
"Ping" heartbeat sent every 5 s (clients answer "Pong"); kline pushes carry no close flag. The contract list
follows `sim/listing.py`: the renamed symbol under its new name only (its klines and tickers are the old symbol's,
which still answers too), the delisted one with status 0 (offline). Its precisions are decimal places, so a tick
that is not a power of ten (0.05) is listed as its decimals (0.01).
"""
from __future__ import annotations

import gzip
import json
import secrets
import time
from collections.abc import Container

from .kline_endpoints import BadParam, KlineFeed, dumps, int_param, limit_param, window
from .listing import listed_usdt, served_symbol
from .market import Market, decimals

NAME = "bingx"
DEFAULT_WS_PATH = "/swap-market"
INTERVAL_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000, "4h": 14_400_000,
               "1d": 86_400_000}
PING_EVERY_S = 5.0


def market_symbol(market: Market, sym: str) -> str | None:
    """The market's symbol serving BASE-USDT (RENDER-USDT -> RNDRUSDT), None for none."""
    parts = sym.split("-")
    return served_symbol(market, parts[0], parts[1]) if len(parts) == 2 and all(parts) else None


def _env(data, code: int = 0, msg: str = "") -> dict:
    return {"code": code, "msg": msg, "data": data}


def handle_rest(market: Market, path: str, query: dict[str, str]) -> tuple[int, dict]:
    try:
        if path in ("/openApi/swap/v3/quote/klines", "/openApi/swap/v2/quote/klines"):
            return 200, _env(_klines(market, query))
        if path == "/openApi/swap/v2/quote/ticker":
            return 200, _env([_ticker(market, s) for s in market.symbols])
        if path == "/openApi/swap/v2/quote/contracts":
            items = [_contract(market, sym, base, i, trading)
                     for i, (base, sym, trading) in enumerate(listed_usdt(market))]
            return 200, _env([c for c in items if query.get("symbol") in (None, "", c["symbol"])])
    except _NoSymbol as exc:
        return 200, _env({}, 109400, f"symbol {exc} not exist")
    except BadParam as exc:
        return 200, _env({}, 109400, str(exc))
    return 404, _env({}, 100404, f"{path} not found")


def fault_response(status: int, now_ms: int) -> tuple[dict, dict[str, str]]:
    return _env({}, 100410 if status == 429 else 100500, "rate limited" if status == 429 else "internal error"), {}


class _NoSymbol(BadParam):
    pass


def _klines(market: Market, query: dict[str, str]) -> list:
    sym = query.get("symbol", "")
    msym = market_symbol(market, sym)
    if msym is None:
        raise _NoSymbol(sym)
    interval = query.get("interval", "")
    if interval not in INTERVAL_MS:
        raise BadParam(f"interval {interval!r} invalid")
    rows = window(market, msym, INTERVAL_MS[interval], int_param(query, "startTime"), int_param(query, "endTime"),
                  limit_param(query, "limit", 500, 1440), oldest_first_from_start=True)
    p = lambda v: market.fmt_price(msym, v)
    return [{"open": p(c.open), "close": p(c.close), "high": p(c.high), "low": p(c.low),
             "volume": market.fmt_qty(msym, c.volume), "time": c.open_time} for c in rows]


def _ticker(market: Market, msym: str, name: str = "") -> dict:
    t = market.ticker(msym)
    p = lambda v: market.fmt_price(msym, v)
    return {"symbol": name or f"{msym[:-4]}-USDT", "lastPrice": p(t["lastPrice"]), "openPrice": p(t["prevPrice24h"]),
            "highPrice": p(t["highPrice24h"]), "lowPrice": p(t["lowPrice24h"]),
            "volume": market.fmt_qty(msym, t["volume24h"]), "quoteVolume": market.fmt_turnover(msym, t["turnover24h"]),
            "openTime": market.now_ms() - 86_400_000, "closeTime": market.now_ms()}


def _contract(market: Market, sym: str, base: str, index: int, trading: bool) -> dict:
    spec = market.spec(sym)
    return {"contractId": str(100 + index), "symbol": f"{base}-USDT", "size": "0",
            "quantityPrecision": decimals(spec.lot), "pricePrecision": decimals(spec.tick), "feeRate": 0.0005,
            "makerFeeRate": 0.0002, "takerFeeRate": 0.0005,
            "tradeMinLimit": 0, "tradeMinQuantity": spec.lot, "tradeMinUSDT": 2, "maxLongLeverage": 125,
            "maxShortLeverage": 125, "currency": "USDT", "asset": base, "status": 1 if trading else 0,
            "apiStateOpen": "true" if trading else "false", "apiStateClose": "true", "launchTime": market.genesis,
            "maintainTime": 0, "offTime": 0}


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode(), compresslevel=1)


class BingxSwapSession:
    IDLE_TIMEOUT_S: float | None = 30.0  # clients answer every 5 s Ping with Pong

    def __init__(self, market: Market, rejected: Container[str] = frozenset()) -> None:
        self.market = market
        self.rejected = rejected
        self.conn_id = secrets.token_hex(4)
        self.last_client_message = time.monotonic()
        self.feeds: dict[str, KlineFeed] = {}
        self.tickers: dict[str, str | None] = {}
        self._last_ping = time.monotonic()
        self.pongs = 0

    def on_message(self, raw: str | bytes) -> list[bytes]:
        self.last_client_message = time.monotonic()
        if raw == "Pong":
            self.pongs += 1
            return []
        try:
            msg = json.loads(raw)
            req_id, req_type, data_type = str(msg.get("id", "")), msg["reqType"], str(msg["dataType"])
        except (ValueError, TypeError, KeyError, AttributeError):
            return [_gz(dumps({"id": "", "code": 100400, "msg": "invalid request", "dataType": "", "data": None}))]
        sym, _, stream = data_type.partition("@")
        msym = market_symbol(self.market, sym)
        good = data_type not in self.rejected and (
            (stream.startswith("kline_") and stream[6:] in INTERVAL_MS) or stream == "ticker")
        if req_type not in ("sub", "unsub") or not good or msym is None:
            return [_gz(dumps({"id": req_id, "code": 100400, "msg": f"dataType {data_type} invalid", "dataType": "",
                               "data": None}))]
        if req_type == "unsub":
            self.feeds.pop(data_type, None)
            self.tickers.pop(data_type, None)
        elif stream == "ticker":
            self.tickers.setdefault(data_type, None)
        else:
            self.feeds.setdefault(data_type, KlineFeed(msym, INTERVAL_MS[stream[6:]]))
        return [_gz(dumps({"id": req_id, "code": 0, "msg": "", "dataType": "", "data": None}))]

    def push(self) -> list[bytes]:
        frames = []
        if time.monotonic() - self._last_ping >= PING_EVERY_S:
            self._last_ping = time.monotonic()
            frames.append(_gz("Ping"))
        for data_type, feed in self.feeds.items():
            rows, _ = feed.due(self.market)
            sym = data_type.partition("@")[0]
            p = lambda v, sym=feed.symbol: self.market.fmt_price(sym, v)
            for c in rows:
                frames.append(_gz(dumps({"code": 0, "dataType": data_type, "s": sym, "data": [{
                    "c": p(c.close), "o": p(c.open), "h": p(c.high), "l": p(c.low),
                    "v": self.market.fmt_qty(feed.symbol, c.volume), "T": c.open_time}]})))
        for data_type, last in self.tickers.items():
            name = data_type.partition("@")[0]
            t = _ticker(self.market, market_symbol(self.market, name) or name, name)
            if t["lastPrice"] != last:
                self.tickers[data_type] = t["lastPrice"]
                frames.append(_gz(dumps({"code": 0, "dataType": data_type, "data": {
                    "e": "24hTicker", "E": self.market.now_ms(), "s": t["symbol"], "c": t["lastPrice"],
                    "o": t["openPrice"], "h": t["highPrice"], "l": t["lowPrice"], "v": t["volume"],
                    "q": t["quoteVolume"]}})))
        return frames


WS_SESSIONS = {"/swap-market": BingxSwapSession}
