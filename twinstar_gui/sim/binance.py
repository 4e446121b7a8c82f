"""Binance USD-M futures wire formats: /fapi/v1 klines + 24 h tickers, and the /market WebSocket.

Served under /binance. Simplifications: only the raw /market/ws endpoint with SUBSCRIBE (the combined
/market/stream?streams= form is not served); the server's 3-minute ping frames are left to websockets.
exchangeInfo lists the market as `sim/listing.py` says: the renamed symbol under its new name only (its klines and
tickers are the old symbol's, which still answers too), the delisted one with status SETTLING.
"""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Container

from .kline_endpoints import BadParam, KlineFeed, dumps, int_param, limit_param, window
from .listing import listed_usdt, served_concat
from .market import Market, decimals

NAME = "binance"
DEFAULT_WS_PATH = "/market/ws"
INTERVAL_MS = {"1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000,
               "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "12h": 43_200_000, "1d": 86_400_000}


def _error(code: int, msg: str) -> tuple[int, dict]:
    return 400, {"code": code, "msg": msg}


def handle_rest(market: Market, path: str, query: dict[str, str]) -> tuple[int, dict | list]:
    try:
        if path == "/fapi/v1/klines":
            return 200, _klines(market, query)
        if path == "/fapi/v1/ticker/24hr":
            if query.get("symbol"):
                served = served_concat(market, query["symbol"])
                if served is None:
                    return _error(-1121, "Invalid symbol.")
                return 200, _ticker(market, served, query["symbol"])
            return 200, [_ticker(market, s) for s in market.symbols]
        if path == "/fapi/v1/exchangeInfo":
            return 200, _exchange_info(market)
        if path == "/fapi/v1/time":
            return 200, {"serverTime": market.now_ms()}
    except _Invalid:
        return _error(-1121, "Invalid symbol.")
    except BadParam as exc:
        return _error(-1100, f"Illegal characters found in a parameter. {exc}")
    return 404, {"code": -5000, "msg": f"Path {path} not found"}


def fault_response(status: int, now_ms: int) -> tuple[dict, dict[str, str]]:
    if status == 429:
        return {"code": -1003, "msg": "Too many requests; current limit is 2400 requests per minute."}, {}
    return {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}, {}


def _klines(market: Market, query: dict[str, str]) -> list:
    sym = served_concat(market, query.get("symbol", ""))
    if sym is None:
        raise _Invalid()
    interval = query.get("interval", "")
    if interval not in INTERVAL_MS:
        raise BadParam(f"Invalid interval {interval!r}")
    limit = limit_param(query, "limit", 500, 1500)
    rows = window(market, sym, INTERVAL_MS[interval], int_param(query, "startTime"), int_param(query, "endTime"),
                  limit, oldest_first_from_start=True)
    p, q = (lambda v: market.fmt_price(sym, v)), (lambda v: market.fmt_qty(sym, v))
    ms = INTERVAL_MS[interval]
    return [[c.open_time, p(c.open), p(c.high), p(c.low), p(c.close), q(c.volume), c.open_time + ms - 1,
             market.fmt_turnover(sym, c.turnover), 100, q(c.volume / 2), market.fmt_turnover(sym, c.turnover / 2), "0"]
            for c in rows]


class _Invalid(BadParam):
    pass


def _ticker(market: Market, sym: str, name: str = "") -> dict:
    t = market.ticker(sym)
    p = lambda v: market.fmt_price(sym, v)
    return {"symbol": name or sym, "lastPrice": p(t["lastPrice"]),
            "priceChangePercent": f"{t['price24hPcnt'] * 100:.3f}",
            "openPrice": p(t["prevPrice24h"]), "highPrice": p(t["highPrice24h"]), "lowPrice": p(t["lowPrice24h"]),
            "volume": market.fmt_qty(sym, t["volume24h"]), "quoteVolume": market.fmt_turnover(sym, t["turnover24h"]),
            "openTime": market.now_ms() - 86_400_000, "closeTime": market.now_ms(), "count": 1000}


def _exchange_info(market: Market) -> dict:
    return {"timezone": "UTC", "serverTime": market.now_ms(), "futuresType": "U_MARGINED", "exchangeFilters": [],
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                           {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200}],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [_symbol_info(market, sym, base, trading) for base, sym, trading in listed_usdt(market)]}


def _symbol_info(market: Market, sym: str, base: str, trading: bool) -> dict:
    spec = market.spec(sym)
    p, q = (lambda v: market.fmt_price(sym, v)), (lambda v: market.fmt_qty(sym, v))
    lots = max(1000, round(1_000_000 / (spec.price * spec.lot)))
    lot_size = {"minQty": q(spec.lot), "maxQty": q(spec.lot * lots), "stepSize": q(spec.lot)}
    return {
        "symbol": f"{base}USDT", "pair": f"{base}USDT", "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
        "onboardDate": market.genesis, "status": "TRADING" if trading else "SETTLING", "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000", "baseAsset": base, "quoteAsset": "USDT", "marginAsset": "USDT",
        "pricePrecision": decimals(spec.tick), "quantityPrecision": decimals(spec.lot), "baseAssetPrecision": 8,
        "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": [], "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500", "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
        "filters": [{"filterType": "PRICE_FILTER", "minPrice": p(spec.tick),
                     "maxPrice": p(spec.tick * round(spec.price * 100 / spec.tick)), "tickSize": p(spec.tick)},
                    {"filterType": "LOT_SIZE", **lot_size}, {"filterType": "MARKET_LOT_SIZE", **lot_size},
                    {"filterType": "MAX_NUM_ORDERS", "limit": 200}, {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                    {"filterType": "MIN_NOTIONAL", "notional": "5"},
                    {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
                     "multiplierDecimal": "4"}],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                       "TRAILING_STOP_MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"]}


class BinanceMarketSession:
    IDLE_TIMEOUT_S: float | None = None  # the server pings; websockets answers with pong frames

    def __init__(self, market: Market, rejected: Container[str] = frozenset()) -> None:
        self.market = market
        self.rejected = rejected
        self.conn_id = secrets.token_hex(8)
        self.last_client_message = time.monotonic()
        self.klines: dict[str, KlineFeed] = {}
        self.tickers: dict[str, str | None] = {}

    def on_message(self, raw: str | bytes) -> list[str]:
        self.last_client_message = time.monotonic()
        try:
            msg = json.loads(raw)
            method, params, req_id = msg["method"], msg.get("params", []), msg["id"]
        except (ValueError, TypeError, KeyError):
            return [dumps({"error": {"code": 3, "msg": "Invalid JSON: expected method/params/id"}})]
        if method == "LIST_SUBSCRIPTIONS":
            return [dumps({"result": [*self.klines, *self.tickers], "id": req_id})]
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            return [dumps({"error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"}, "id": req_id})]
        for stream in params:
            if method == "UNSUBSCRIBE":
                self.klines.pop(stream, None)
                self.tickers.pop(stream, None)
            elif not self._add(str(stream)):
                return [dumps({"error": {"code": 2, "msg": f"Invalid request: invalid stream {stream!r}"},
                               "id": req_id})]
        return [dumps({"result": None, "id": req_id})]

    def _add(self, stream: str) -> bool:
        name, _, kind = stream.partition("@")
        sym = served_concat(self.market, name.upper())
        if stream in self.rejected or stream != stream.lower() or sym is None:
            return False
        if kind.startswith("kline_") and kind[6:] in INTERVAL_MS:
            self.klines.setdefault(stream, KlineFeed(sym, INTERVAL_MS[kind[6:]]))
            return True
        if kind == "ticker":
            self.tickers.setdefault(stream, None)
            return True
        return False

    def push(self) -> list[str]:
        frames = []
        for stream, feed in self.klines.items():
            rows, now = feed.due(self.market)
            interval = stream.partition("@kline_")[2]
            for c in rows:
                frames.append(dumps({"e": "kline", "E": now, "s": stream.partition("@")[0].upper(),
                                     "k": self._k(feed, interval, c, stream.partition("@")[0].upper())}))
        for stream in self.tickers:
            sym = stream.partition("@")[0].upper()  # the listed name; prices of the market's symbol behind it
            t = _ticker(self.market, served_concat(self.market, sym) or sym, sym)
            if t["lastPrice"] != self.tickers[stream]:
                self.tickers[stream] = t["lastPrice"]
                frames.append(dumps({"e": "24hrTicker", "E": self.market.now_ms(), "s": sym, "c": t["lastPrice"],
                                     "o": t["openPrice"], "h": t["highPrice"], "l": t["lowPrice"], "v": t["volume"],
                                     "q": t["quoteVolume"]}))
        return frames

    def _k(self, feed: KlineFeed, interval: str, c, name: str) -> dict:
        p, sym = self.market.fmt_price, feed.symbol
        return {"t": c.open_time, "T": c.open_time + feed.ms - 1, "s": name, "i": interval, "f": 1, "L": 2,
                "o": p(sym, c.open), "c": p(sym, c.close), "h": p(sym, c.high), "l": p(sym, c.low),
                "v": self.market.fmt_qty(sym, c.volume), "n": 100, "x": c.closed,
                "q": self.market.fmt_turnover(sym, c.turnover), "V": "0", "Q": "0", "B": "0"}


WS_SESSIONS = {"/market/ws": BinanceMarketSession}
