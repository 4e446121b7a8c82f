"""OKX v5 wire formats: /api/v5/market candles (+ history-candles) and tickers, the /ws/v5/business WebSocket.

Served under /okx with instIds like BTC-USDT-SWAP (the market's BTCUSDT). Candle volumes: vol in contracts
(ctVal 0.01 for every symbol here), volCcy in base coin, volCcyQuote in USDT. /public/instruments lists the market
as `sim/listing.py` says, with sizes in contracts: the renamed symbol under its new name only (its candles are the
old symbol's, which still answers too); the delisted one not at all (OKX drops delisted instruments).
"""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Container
from decimal import Decimal

from .kline_endpoints import BadParam, KlineFeed, dumps, int_param, limit_param
from .listing import listed_usdt, served_symbol
from .market import Market

NAME = "okx"
DEFAULT_WS_PATH = "/ws/v5/business"
BAR_MS = {"1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1H": 3_600_000,
          "2H": 7_200_000, "4H": 14_400_000, "1Dutc": 86_400_000}
CT_VAL = 0.01


def market_symbol(market: Market, inst_id: str) -> str | None:
    """The market's symbol serving a swap instId (RENDER-USDT-SWAP -> RNDRUSDT), None for none."""
    parts = inst_id.split("-")
    return served_symbol(market, parts[0], parts[1]) if len(parts) == 3 and parts[2] == "SWAP" else None


def _env(data: list, code: str = "0", msg: str = "") -> dict:
    return {"code": code, "msg": msg, "data": data}


def handle_rest(market: Market, path: str, query: dict[str, str]) -> tuple[int, dict]:
    try:
        if path in ("/api/v5/market/candles", "/api/v5/market/history-candles"):
            return 200, _env(_candles(market, query, 300 if path.endswith("/candles") else 100))
        if path == "/api/v5/market/tickers":
            return 200, _env([_ticker(market, s) for s in market.symbols])
        if path == "/api/v5/public/time":
            return 200, _env([{"ts": str(market.now_ms())}])
        if path == "/api/v5/public/instruments":
            return _instruments(market, query)
    except _NoInstrument:
        return 200, _env([], "51001", "Instrument ID does not exist")
    except BadParam as exc:
        return 200, _env([], "51000", f"Parameter {exc} error")
    return 404, _env([], "404", f"{path} not found")


def fault_response(status: int, now_ms: int) -> tuple[dict, dict[str, str]]:
    if status == 429:
        return _env([], "50011", "Too Many Requests"), {}
    return _env([], "50001", "Service temporarily unavailable, please try again later."), {}


class _NoInstrument(BadParam):
    pass


def _candles(market: Market, query: dict[str, str], cap: int) -> list:
    inst = query.get("instId", "")
    sym = market_symbol(market, inst)
    if sym is None:
        raise _NoInstrument(inst)
    bar = query.get("bar", "1m")
    if bar not in BAR_MS:
        raise BadParam("bar")
    ms, limit, now = BAR_MS[bar], limit_param(query, "limit", 100, cap), market.now_ms()
    before, after = int_param(query, "before"), int_param(query, "after")  # newer than / older than
    hi = now if after is None else min(after - 1, now)
    lo = hi - hi % ms - (limit - 1) * ms
    if before is not None:
        lo = max(lo, before + 1)
    rows = market.candles(sym, ms, lo, hi, now)[-limit:] if lo <= hi else []
    if cap == 300:  # /candles keeps only the latest 1,440 rows (the forming one included); older: history-candles
        oldest = now - now % ms - 1439 * ms
        rows = [c for c in rows if c.open_time >= oldest]
    return [_row(market, sym, c) for c in reversed(rows)]  # newest first


def _row(market: Market, sym: str, c) -> list[str]:
    p = lambda v: market.fmt_price(sym, v)
    return [str(c.open_time), p(c.open), p(c.high), p(c.low), p(c.close), f"{c.volume / CT_VAL:g}",
            market.fmt_qty(sym, c.volume), market.fmt_turnover(sym, c.turnover), "1" if c.closed else "0"]


def _ticker(market: Market, sym: str) -> dict:
    t = market.ticker(sym)
    p = lambda v: market.fmt_price(sym, v)
    return {"instType": "SWAP", "instId": f"{sym[:-4]}-USDT-SWAP", "last": p(t["lastPrice"]),
            "open24h": p(t["prevPrice24h"]), "high24h": p(t["highPrice24h"]), "low24h": p(t["lowPrice24h"]),
            "volCcy24h": market.fmt_qty(sym, t["volume24h"]), "vol24h": f"{t['volume24h'] / CT_VAL:g}",
            "ts": str(market.now_ms())}


def _instruments(market: Market, query: dict[str, str]) -> tuple[int, dict]:
    inst_type = query.get("instType", "")
    if not inst_type:
        return 200, _env([], "50014", "Parameter instType can not be empty.")
    if inst_type != "SWAP":  # SPOT/MARGIN/FUTURES/OPTION are not simulated: an empty, well-formed answer
        return 200, _env([])
    items = [_instrument(market, sym, base) for base, sym, trading in listed_usdt(market) if trading]
    return 200, _env([i for i in items if query.get("instId") in (None, "", i["instId"])])


def _contracts(market: Market, sym: str, base_qty: float) -> str:
    """A base quantity in contracts of CT_VAL, as OKX prints sizes ("0.1", "100")."""
    return format((Decimal(market.fmt_qty(sym, base_qty)) / Decimal(str(CT_VAL))).normalize(), "f")


def _instrument(market: Market, sym: str, base: str) -> dict:
    spec = market.spec(sym)
    lots = max(1000, round(1_000_000 / (spec.price * spec.lot)))
    return {"alias": "", "auctionEndTime": "", "baseCcy": "", "category": "1", "contTdSwTime": "", "ctMult": "1",
            "ctType": "linear", "ctVal": str(CT_VAL), "ctValCcy": base, "expTime": "", "futureSettlement": False,
            "groupId": "1", "instFamily": f"{base}-USDT", "instId": f"{base}-USDT-SWAP", "instType": "SWAP",
            "lever": "100", "listTime": str(market.genesis), "lotSz": _contracts(market, sym, spec.lot),
            "maxIcebergSz": "100000000", "maxLmtAmt": "20000000", "maxLmtSz": _contracts(market, sym, spec.lot * lots),
            "maxMktAmt": "", "maxMktSz": _contracts(market, sym, spec.lot * (lots // 10)), "maxStopSz": "12000",
            "maxTriggerSz": "100000000", "maxTwapSz": "100000000", "minSz": _contracts(market, sym, spec.lot),
            "openType": "", "optType": "", "quoteCcy": "", "ruleType": "normal", "settleCcy": "USDT", "state": "live",
            "stk": "", "tickSz": market.fmt_price(sym, spec.tick), "tradeQuoteCcyList": [], "uly": f"{base}-USDT",
            "upcChg": []}


class OkxBusinessSession:
    IDLE_TIMEOUT_S: float | None = 30.0  # dropped after 30 s without data from the client

    def __init__(self, market: Market, rejected: Container[str] = frozenset()) -> None:
        self.market = market
        self.rejected = rejected
        self.conn_id = secrets.token_hex(4)
        self.last_client_message = time.monotonic()
        self.feeds: dict[tuple[str, str], KlineFeed] = {}

    def on_message(self, raw: str | bytes) -> list[str]:
        self.last_client_message = time.monotonic()
        if raw == "ping":
            return ["pong"]
        try:
            msg = json.loads(raw)
            op, args = msg["op"], msg["args"]
            assert isinstance(args, list)
        except (ValueError, TypeError, KeyError, AssertionError):
            return [dumps({"event": "error", "code": "60012", "msg": f"Invalid request: {str(raw)[:80]}",
                           "connId": self.conn_id})]
        out = []
        for arg in args:
            channel, inst = str(arg.get("channel", "")), str(arg.get("instId", ""))
            sym = market_symbol(self.market, inst)
            ok = channel.startswith("candle") and channel[6:] in BAR_MS and f"{channel}:{inst}" not in self.rejected
            if op not in ("subscribe", "unsubscribe") or not ok or sym is None:
                out.append(dumps({"event": "error", "code": "60018",
                                  "msg": f"Wrong URL or channel:{channel},instId:{inst} doesn't exist",
                                  "connId": self.conn_id}))
                continue
            if op == "subscribe":
                self.feeds.setdefault((channel, inst), KlineFeed(sym, BAR_MS[channel[6:]]))
            else:
                self.feeds.pop((channel, inst), None)
            out.append(dumps({"event": op, "arg": {"channel": channel, "instId": inst}, "connId": self.conn_id}))
        return out

    def push(self) -> list[str]:
        frames = []
        for (channel, inst), feed in self.feeds.items():
            rows, _ = feed.due(self.market)
            for c in rows:  # one row per push frame, as OKX does
                frames.append(dumps({"arg": {"channel": channel, "instId": inst},
                                     "data": [_row(self.market, feed.symbol, c)]}))
        return frames


WS_SESSIONS = {"/ws/v5/business": OkxBusinessSession}
