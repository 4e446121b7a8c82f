"""Bitget v2 USDT-futures wire formats: /api/v2/mix/market candles + tickers, the /v2/ws/public WebSocket.

Served under /bitget. Candle pushes carry no close flag (as on Bitget): a snapshot of recent rows after the
subscription, then updates of the forming row; a new bucket's first update is the only close signal.
/market/contracts lists the market as `sim/listing.py` says: the renamed symbol under its new name only (its candles
and tickers are the old symbol's, which still answers too), the delisted one with symbolStatus "off".
"""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Container

from .kline_endpoints import BadParam, KlineFeed, dumps, int_param, limit_param, window
from .listing import listed_usdt, served_concat
from .market import Market, decimals

NAME = "bitget"
DEFAULT_WS_PATH = "/v2/ws/public"
PRODUCT = "USDT-FUTURES"
GRAN_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1H": 3_600_000, "4H": 14_400_000,
           "1Dutc": 86_400_000}

RECENT_DEPTH_DAYS = {"1m": 30, "5m": 30, "15m": 52, "30m": 52, "1H": 83, "4H": 240, "1Dutc": 240}  # /candles' reach


def _env(data, now: int, code: str = "00000", msg: str = "success") -> dict:
    return {"code": code, "msg": msg, "requestTime": now, "data": data}


def handle_rest(market: Market, path: str, query: dict[str, str]) -> tuple[int, dict]:
    now = market.now_ms()
    try:
        if query.get("productType", PRODUCT).upper() != PRODUCT:
            raise BadParam("productType")
        if path in ("/api/v2/mix/market/candles", "/api/v2/mix/market/history-candles"):
            return 200, _env(_candles(market, query, recent=path.endswith("/candles")), now)
        if path == "/api/v2/mix/market/tickers":
            return 200, _env([_ticker(market, s) for s in market.symbols], now)
        if path == "/api/v2/mix/market/contracts":
            items = [_contract(market, sym, base, trading) for base, sym, trading in listed_usdt(market)]
            return 200, _env([i for i in items if query.get("symbol") in (None, "", i["symbol"])], now)
    except _NoSymbol:
        return 400, _env(None, now, "40034", "Parameter symbol does not exist")
    except BadParam as exc:
        return 400, _env(None, now, "40017", f"Parameter verification failed: {exc}")
    return 404, _env(None, now, "40404", "Request URL NOT FOUND")


def fault_response(status: int, now_ms: int) -> tuple[dict, dict[str, str]]:
    if status == 429:
        return _env(None, now_ms, "429", "Too Many Requests"), {}
    return _env(None, now_ms, "40010", "Request timed out"), {}


class _NoSymbol(BadParam):
    pass


def _row(market: Market, sym: str, c, ws: bool = False) -> list[str]:
    p = lambda v: market.fmt_price(sym, v)
    row = [str(c.open_time), p(c.open), p(c.high), p(c.low), p(c.close), market.fmt_qty(sym, c.volume),
           market.fmt_turnover(sym, c.turnover)]
    return row + [row[-1]] if ws else row


def _candles(market: Market, query: dict[str, str], recent: bool) -> list:
    """/candles (up to 1000 rows, reaching back only so far: 15m about 52 days) or /history-candles (up to 200
    rows, any age)."""
    sym = served_concat(market, query.get("symbol", ""))
    if sym is None:
        raise _NoSymbol(query.get("symbol", ""))
    gran = query.get("granularity", "")
    if gran not in GRAN_MS:
        raise BadParam("granularity")
    ms = GRAN_MS[gran]
    rows = window(market, sym, ms, int_param(query, "startTime"), int_param(query, "endTime"),
                  limit_param(query, "limit", 100, 1000 if recent else 200), oldest_first_from_start=True)
    if recent:
        oldest = market.now_ms() - RECENT_DEPTH_DAYS.get(gran, 52) * 86_400_000
        rows = [c for c in rows if c.open_time >= oldest]
    return [_row(market, sym, c) for c in rows]


def _ticker(market: Market, sym: str, name: str = "") -> dict:
    t = market.ticker(sym)
    p = lambda v: market.fmt_price(sym, v)
    return {"symbol": name or sym, "lastPr": p(t["lastPrice"]), "open24h": p(t["prevPrice24h"]),
            "high24h": p(t["highPrice24h"]), "low24h": p(t["lowPrice24h"]),
            "baseVolume": market.fmt_qty(sym, t["volume24h"]),
            "quoteVolume": market.fmt_turnover(sym, t["turnover24h"]),
            "usdtVolume": market.fmt_turnover(sym, t["turnover24h"]), "ts": str(market.now_ms())}


def _contract(market: Market, sym: str, base: str, trading: bool) -> dict:
    spec = market.spec(sym)
    places = decimals(spec.tick)  # tick = priceEndStep x 10^-pricePlace (0.05 -> 5 and 2)
    q = lambda v: market.fmt_qty(sym, v)
    return {"symbol": f"{base}USDT", "baseCoin": base, "quoteCoin": "USDT", "buyLimitPriceRatio": "0.05",
            "sellLimitPriceRatio": "0.05", "feeRateUpRatio": "0.005", "makerFeeRate": "0.0002",
            "takerFeeRate": "0.0006", "openCostUpRatio": "0.01", "supportMarginCoins": ["USDT"],
            "minTradeNum": q(spec.lot), "priceEndStep": str(round(spec.tick * 10 ** places)),
            "volumePlace": str(decimals(spec.lot)), "pricePlace": str(places), "sizeMultiplier": q(spec.lot),
            "symbolType": "perpetual", "minTradeUSDT": "5", "maxSymbolOrderNum": "200", "maxProductOrderNum": "1000",
            "maxPositionNum": "150", "symbolStatus": "normal" if trading else "off", "offTime": "-1",
            "limitOpenTime": "-1", "deliveryTime": "", "deliveryStartTime": "", "deliveryPeriod": "", "launchTime": "",
            "fundInterval": "8", "minLever": "1", "maxLever": "125", "posLimit": "0.05", "maintainTime": "",
            "openTime": str(market.genesis)}


class BitgetPublicSession:
    IDLE_TIMEOUT_S: float | None = 120.0  # no "ping" for 2 minutes -> disconnected

    def __init__(self, market: Market, rejected: Container[str] = frozenset()) -> None:
        self.market = market
        self.rejected = rejected
        self.conn_id = secrets.token_hex(4)
        self.last_client_message = time.monotonic()
        self.feeds: dict[tuple[str, str], KlineFeed] = {}
        self.tickers: dict[str, str | None] = {}

    def on_message(self, raw: str | bytes) -> list[str]:
        self.last_client_message = time.monotonic()
        if raw == "ping":
            return ["pong"]
        try:
            msg = json.loads(raw)
            op, args = msg["op"], msg["args"]
            assert isinstance(args, list)
        except (ValueError, TypeError, KeyError, AssertionError):
            return [dumps({"event": "error", "code": 30001, "msg": f"Invalid request: {str(raw)[:80]}"})]
        out = []
        for arg in args:
            channel, inst = str(arg.get("channel", "")), str(arg.get("instId", ""))
            key = {"instType": str(arg.get("instType", "")), "channel": channel, "instId": inst}
            sym = served_concat(self.market, inst)  # the market's symbol behind the listed name
            good = (key["instType"] == PRODUCT and f"{channel}:{inst}" not in self.rejected
                    and ((channel.startswith("candle") and channel[6:] in GRAN_MS) or channel == "ticker"))
            if op not in ("subscribe", "unsubscribe") or not good or sym is None:
                out.append(dumps({"event": "error", "arg": key, "code": 30001, "msg": f"instType:{key['instType']},"
                                  f"channel:{channel},instId:{inst} doesn't exist"}))
                continue
            if op == "unsubscribe":
                self.feeds.pop((channel, inst), None)
                self.tickers.pop(inst, None)
            elif channel == "ticker":
                self.tickers.setdefault(inst, None)
            else:
                self.feeds.setdefault((channel, inst), KlineFeed(sym, GRAN_MS[channel[6:]]))
            out.append(dumps({"event": op, "arg": key}))
        return out

    def push(self) -> list[str]:
        frames = []
        for (channel, inst), feed in self.feeds.items():
            first = feed.sent_start is None
            rows, now = feed.due(self.market)
            if not rows:
                continue
            arg = {"instType": PRODUCT, "channel": channel, "instId": inst}
            if first:  # the subscription starts with a snapshot of recent rows
                recent = self.market.candles(feed.symbol, feed.ms, rows[-1].open_time - 99 * feed.ms,
                                             rows[-1].open_time, now)
                frames.append(dumps({"action": "snapshot", "arg": arg,
                                     "data": [_row(self.market, feed.symbol, c, ws=True) for c in recent], "ts": now}))
                continue
            frames.append(dumps({"action": "update", "arg": arg,
                                 "data": [_row(self.market, feed.symbol, c, ws=True) for c in rows], "ts": now}))
        for inst, last in self.tickers.items():
            t = _ticker(self.market, served_concat(self.market, inst) or inst, inst)
            if t["lastPr"] != last:
                self.tickers[inst] = t["lastPr"]
                frames.append(dumps({"action": "snapshot",
                                     "arg": {"instType": PRODUCT, "channel": "ticker", "instId": inst},
                                     "data": [t], "ts": self.market.now_ms()}))
        return frames


WS_SESSIONS = {"/v2/ws/public": BitgetPublicSession}
