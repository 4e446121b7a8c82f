"""Bybit v5 linear in its wire formats: REST market endpoints and the public WebSocket (per connection)."""
from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from .market import DAY_MS, Market, decimals

log = logging.getLogger(__name__)

PREFIX = "/bybit"
WS_PATH = "/bybit/v5/public/linear"
INTERVAL_MS = {"1": 60_000, "3": 180_000, "5": 300_000, "15": 900_000, "30": 1_800_000, "60": 3_600_000,
               "120": 7_200_000, "240": 14_400_000, "360": 21_600_000, "720": 43_200_000, "D": DAY_MS}
MAX_LIMIT = 1000


def envelope(result: Any, now_ms: int, code: int = 0, msg: str = "OK") -> dict:
    return {"retCode": code, "retMsg": msg, "result": result if result is not None else {}, "retExtInfo": {},
            "time": now_ms}


def _int_param(query: dict, name: str) -> int | None:
    if name not in query or query[name] == "":
        return None
    return int(query[name])  # ValueError -> params error


# -- REST ------------------------------------------------------------------------------------------------
def handle_rest(market: Market, path: str, query: dict[str, str]) -> tuple[int, dict]:
    """(HTTP status, JSON body) for a GET under /bybit. Parameter errors are HTTP 200 with retCode 10001."""
    now = market.now_ms()
    route = path[len(PREFIX):] if path.startswith(PREFIX) else path
    handler = _ROUTES.get(route)
    if handler is None:
        return 404, {"retCode": 404, "retMsg": f"path not found: {route}", "result": {}, "retExtInfo": {}, "time": now}
    category = query.get("category", "linear")
    if category != "linear":
        return 200, envelope(None, now, 10001, f"params error: category {category!r} not served by this simulator")
    try:
        return 200, handler(market, query, now)
    except _ParamsError as exc:
        return 200, envelope(None, now, 10001, f"params error: {exc}")
    except ValueError as exc:
        return 200, envelope(None, now, 10001, f"params error: {exc}")


class _ParamsError(Exception):
    pass


def _symbol(market: Market, query: dict, required: bool = True) -> str | None:
    sym = query.get("symbol")
    if not sym:
        if required:
            raise _ParamsError("symbol is required")
        return None
    if sym != sym.upper() or not market.has_symbol(sym):
        raise _ParamsError("symbol invalid")
    return sym


def _kline(market: Market, query: dict, now: int) -> dict:
    sym = _symbol(market, query)
    interval = query.get("interval", "")
    if interval not in INTERVAL_MS:
        raise _ParamsError(f"interval invalid: {interval!r}")
    limit = _int_param(query, "limit") or 200
    if not 1 <= limit <= MAX_LIMIT:
        raise _ParamsError(f"limit must be 1..{MAX_LIMIT}")
    ms = INTERVAL_MS[interval]
    start = _int_param(query, "start")
    end = _int_param(query, "end")
    end = now if end is None else min(end, now)
    # the newest `limit` buckets within [start, end], newest first
    lo = end - end % ms - (limit - 1) * ms
    if start is not None:
        lo = max(lo, start)
    rows = market.candles(sym, ms, lo, end, now) if lo <= end else []
    rows = rows[-limit:]
    fp, fq = (lambda v: market.fmt_price(sym, v)), (lambda v: market.fmt_qty(sym, v))
    listed = [[str(r[0]), fp(r[1]), fp(r[2]), fp(r[3]), fp(r[4]), fq(r[5]), f"{r[6]:.4f}"] for r in reversed(rows)]
    return envelope({"category": "linear", "symbol": sym, "list": listed}, now)


def ticker_fields(market: Market, sym: str) -> dict:
    t = market.ticker(sym)
    fp = lambda v: market.fmt_price(sym, v)  # noqa: E731
    tick = market.tick_size(sym)
    return {
        "symbol": sym, "tickDirection": "PlusTick", "price24hPcnt": f"{t['change']:.6f}", "lastPrice": fp(t["last"]),
        "prevPrice24h": fp(t["prev24h"]), "highPrice24h": fp(t["high24h"]), "lowPrice24h": fp(t["low24h"]),
        "prevPrice1h": fp(t["last"]), "markPrice": fp(t["last"]), "indexPrice": fp(t["last"]),
        "openInterest": "0", "openInterestValue": "0", "turnover24h": f"{t['turnover24h']:.4f}",
        "volume24h": market.fmt_qty(sym, t["volume24h"]), "fundingIntervalHour": "8", "fundingCap": "0.005",
        "nextFundingTime": str(market.now_ms() - market.now_ms() % 28_800_000 + 28_800_000),
        "fundingRate": "0.0001", "bid1Price": fp(t["last"] - tick), "bid1Size": "1", "ask1Price": fp(t["last"]),
        "ask1Size": "1", "preOpenPrice": "", "preQty": "", "curPreListingPhase": "",
    }


def _tickers(market: Market, query: dict, now: int) -> dict:
    sym = _symbol(market, query, required=False)
    syms = [sym] if sym else market.symbols
    return envelope({"category": "linear", "list": [ticker_fields(market, s) for s in syms]}, now)


def _time(market: Market, query: dict, now: int) -> dict:
    return envelope({"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}, now)


def _instruments(market: Market, query: dict, now: int) -> dict:
    sym = _symbol(market, query, required=False)
    items = []
    for s in ([sym] if sym else market.symbols):
        spec = market.spec(s)
        base = s[:-4]
        items.append({
            "symbol": s, "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": base,
            "quoteCoin": "USDT", "settleCoin": "USDT", "launchTime": str(market.genesis), "priceScale": str(decimals(spec.tick)),
            "priceFilter": {"minPrice": market.fmt_price(s, spec.tick), "maxPrice": market.fmt_price(s, spec.price * 100),
                            "tickSize": market.fmt_price(s, spec.tick)},
            "lotSizeFilter": {"maxOrderQty": market.fmt_qty(s, spec.volume_per_step * 1000),
                              "minOrderQty": market.fmt_qty(s, spec.lot), "qtyStep": market.fmt_qty(s, spec.lot),
                              "minNotionalValue": "5"},
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "fundingInterval": 480, "copyTrading": "both",
        })
    return envelope({"category": "linear", "list": items, "nextPageCursor": ""}, now)


_ROUTES = {"/v5/market/kline": _kline, "/v5/market/tickers": _tickers, "/v5/market/time": _time,
           "/v5/market/instruments-info": _instruments}


# -- WebSocket ---------------------------------------------------------------------------------------------
class BybitWsSession:
    """State of one public-linear connection: subscriptions and what was already pushed."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.conn_id = uuid.uuid4().hex[:20]
        self.klines: dict[str, tuple[str, int, int | None]] = {}  # topic -> (symbol, interval_ms, last bucket sent)
        self.tickers: dict[str, str | None] = {}  # topic -> last price text sent
        self.last_client_message = time.monotonic()

    def _reply(self, op: str, req_id: str, success: bool, ret_msg: str) -> str:
        return json.dumps({"success": success, "ret_msg": ret_msg, "conn_id": self.conn_id, "req_id": req_id, "op": op})

    def on_message(self, raw: str | bytes) -> list[str]:
        """Frames to send back for one client message."""
        self.last_client_message = time.monotonic()
        try:
            msg = json.loads(raw)
            op = msg["op"]
        except (ValueError, TypeError, KeyError):
            return [self._reply("", "", False, f"error:request not supported: {str(raw)[:60]}")]
        req_id = str(msg.get("req_id", ""))
        if op == "ping":
            return [self._reply("ping", req_id, True, "pong")]
        if op not in ("subscribe", "unsubscribe") or not isinstance(msg.get("args"), list):
            return [self._reply(str(op), req_id, False, f"error:unsupported op {op!r}")]
        bad = []
        for topic in msg["args"]:
            if op == "unsubscribe":
                if self.klines.pop(topic, None) is None and self.tickers.pop(topic, 0) == 0:
                    bad.append(topic)
            elif not self._subscribe(str(topic)):
                bad.append(topic)
        if bad:  # valid topics of the same request stay subscribed
            return [self._reply(op, req_id, False, f"error:handler not found,topic:{','.join(map(str, bad))}")]
        return [self._reply(op, req_id, True, "")]

    def _subscribe(self, topic: str) -> bool:
        parts = topic.split(".")
        if len(parts) == 3 and parts[0] == "kline" and parts[1] in INTERVAL_MS and self.market.has_symbol(parts[2]):
            self.klines.setdefault(topic, (parts[2], INTERVAL_MS[parts[1]], None))
            return True
        if len(parts) == 2 and parts[0] == "tickers" and self.market.has_symbol(parts[1]):
            self.tickers.setdefault(topic, None)
            return True
        return False

    def push(self) -> list[str]:
        """Frames due now: every kline topic's forming candle, each bucket closed since the last push
        (confirm:true, in order, none skipped), and ticker snapshot/deltas."""
        now = self.market.now_ms()
        frames = []
        for topic, (sym, ms, last_sent) in list(self.klines.items()):
            current = now - now % ms
            first = current if last_sent is None else last_sent
            rows = self.market.candles(sym, ms, first, current, now)
            data = [self._kline_item(sym, ms, r, now) for r in rows]
            self.klines[topic] = (sym, ms, current)
            if data:
                frames.append(json.dumps({"topic": topic, "data": data, "ts": now, "type": "snapshot"}))
        for topic, last_text in list(self.tickers.items()):
            sym = topic.split(".", 1)[1]
            price = self.market.fmt_price(sym, self.market.last_price(sym))
            if last_text is None:
                fields = ticker_fields(self.market, sym)
                frames.append(json.dumps({"topic": topic, "type": "snapshot", "data": fields, "cs": now, "ts": now}))
            elif price != last_text:
                frames.append(json.dumps({"topic": topic, "type": "delta", "cs": now, "ts": now, "data": {
                    "symbol": sym, "lastPrice": price, "markPrice": price, "indexPrice": price}}))
            self.tickers[topic] = price
        return frames

    def _kline_item(self, sym: str, ms: int, r: tuple, now: int) -> dict:
        fp, fq = (lambda v: self.market.fmt_price(sym, v)), (lambda v: self.market.fmt_qty(sym, v))
        interval = next(k for k, v in INTERVAL_MS.items() if v == ms)
        return {"start": r[0], "end": r[0] + ms - 1, "interval": interval, "open": fp(r[1]), "close": fp(r[4]),
                "high": fp(r[2]), "low": fp(r[3]), "volume": fq(r[5]), "turnover": f"{r[6]:.4f}",
                "confirm": bool(r[7]), "timestamp": min(now, r[0] + ms - 1)}
