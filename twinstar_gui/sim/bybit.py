"""Bybit v5 (linear perpetuals) wire formats: REST market endpoints and one public WebSocket connection.

Served under the path prefix /bybit; every path below is relative to it. Prices are strings with the tick's
decimals, times are integer epoch ms, REST answers use the envelope
{"retCode", "retMsg", "result", "retExtInfo", "time"} and parameter errors are HTTP 200 with retCode 10001.

Documented simplifications:
* categories other than `linear` and the W/M kline intervals are answered with retCode 10001 (except
  instruments-info, which lists nothing for spot/inverse/option so multi-category market loaders work);
* a subscribe naming bad topics is answered with success:false listing them, but the good topics of the same
  request ARE subscribed; subscribing to an already subscribed topic succeeds (idempotent);
* publicTrade pushes at most 1000 trades per push (older ones of a very fast clock are skipped);
* instruments-info lists the market as `sim/listing.py` says: the renamed symbol under its new name (whose candles,
  tickers and trades are the old symbol's, which still answers too) and the delisted one as `Closed`, shown only
  when asked for with status=Closed (linear lists only Trading symbols by default).
"""
from __future__ import annotations

import itertools
import json
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Container
from typing import Any, Literal, overload

from .kline_endpoints import BadParam, KlineFeed, int_param
from .listing import listed_usdt, served_concat
from .market import DAY_MS, Candle, Market, decimals

log = logging.getLogger(__name__)

NAME = "bybit"
WS_PUBLIC_LINEAR = "/v5/public/linear"
DEFAULT_WS_PATH = WS_PUBLIC_LINEAR
INTERVAL_MS = {"1": 60_000, "3": 180_000, "5": 300_000, "15": 900_000, "30": 1_800_000, "60": 3_600_000,
               "120": 7_200_000, "240": 14_400_000, "360": 21_600_000, "720": 43_200_000, "D": DAY_MS}
MAX_LIMIT = 1000
DEFAULT_LIMIT = 200
MAX_ARGS_CHARS = 21_000  # total length of a linear connection's topics
FRAME_ITEMS = 200  # kline items per pushed frame when many buckets closed between pushes
_TICK_DIRECTION = {1: "PlusTick", -1: "MinusTick", 0: "ZeroPlusTick"}
_TRADE_NS = uuid.UUID("6c1b0f3e-7a51-4d8a-9b7e-2f4c8d1a5e90")


def envelope(result: Any, now_ms: int, code: int = 0, msg: str = "OK") -> dict:
    return {"retCode": code, "retMsg": msg, "result": {} if result is None else result, "retExtInfo": {},
            "time": now_ms}


class ParamsError(ValueError):
    """A request parameter Bybit would reject with retCode 10001."""


# -- REST -------------------------------------------------------------------------------------------------
def handle_rest(market: Market, path: str, query: dict[str, str]) -> tuple[int, dict]:
    """(HTTP status, JSON body) for a GET of `path` (relative to /bybit) with `query`."""
    now = market.now_ms()
    handler = _ROUTES.get(path.rstrip("/") or "/")
    if handler is None:
        return 404, {"retCode": 404, "retMsg": f"path not found: {path}", "result": {}, "retExtInfo": {},
                     "time": now}
    category = query.get("category") or "linear"
    if category != "linear" and handler is not _time:
        if handler is _instruments and category in ("spot", "inverse", "option"):  # lets market loaders run
            return 200, envelope({"category": category, "list": [], "nextPageCursor": ""}, now)
        return 200, envelope(None, now, 10001, f"params error: category {category} is not served (linear only)")
    try:
        return 200, envelope(handler(market, query, now), now)
    except ParamsError as exc:
        return 200, envelope(None, now, 10001, f"params error: {exc}")


def fault_response(status: int, now_ms: int) -> tuple[dict, dict[str, str]]:
    """Body and extra headers of an injected HTTP failure, as Bybit sends them."""
    if status == 429:
        body = envelope(None, now_ms, 10006, "Too many visits!")
        return body, {"X-Bapi-Limit": "600", "X-Bapi-Limit-Status": "0",
                      "X-Bapi-Limit-Reset-Timestamp": str(now_ms + 1000)}
    if status == 403:
        return envelope(None, now_ms, 10009, "access too frequent"), {}
    return envelope(None, now_ms, 10016, "Internal system error."), {}


def _int(query: dict[str, str], name: str) -> int | None:
    try:
        return int_param(query, name)
    except BadParam:
        raise ParamsError(f"{name} invalid") from None


@overload
def _symbol(market: Market, query: dict[str, str], required: Literal[True] = True) -> tuple[str, str]: ...
@overload
def _symbol(market: Market, query: dict[str, str], required: bool) -> tuple[str, str] | None: ...
def _symbol(market: Market, query: dict[str, str], required: bool = True) -> tuple[str, str] | None:
    """(the symbol asked for, the market's symbol serving it: RENDERUSDT -> RNDRUSDT)."""
    sym = query.get("symbol")
    if not sym:
        if required:
            raise ParamsError("symbol is required")
        return None
    served = served_concat(market, sym)  # case-sensitive: Bybit wants uppercase
    if served is None:
        raise ParamsError("symbol invalid")
    return sym, served


def _kline(market: Market, query: dict[str, str], now: int) -> dict:
    name, sym = _symbol(market, query)
    interval = query.get("interval", "")
    if interval not in INTERVAL_MS:
        raise ParamsError("interval invalid")
    limit = _int(query, "limit")
    limit = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= limit <= MAX_LIMIT:
        raise ParamsError(f"limit must be in [1, {MAX_LIMIT}]")
    ms = INTERVAL_MS[interval]
    start, end = _int(query, "start"), _int(query, "end")
    end = now if end is None else min(end, now)
    lo = end - end % ms - (limit - 1) * ms  # the newest `limit` buckets up to end...
    if start is not None:
        lo = max(lo, start)  # ...that open at or after start
    rows = market.candles(sym, ms, lo, end, now) if lo <= end else []
    return {"category": "linear", "symbol": name, "list": [kline_row(market, sym, c) for c in reversed(rows[-limit:])]}


def kline_row(market: Market, sym: str, c: Candle) -> list[str]:
    p, q, t = market.formats(sym)
    return [str(c.open_time), format(c.open, p), format(c.high, p), format(c.low, p), format(c.close, p),
            format(c.volume, q), format(c.turnover, t)]


def ticker_fields(market: Market, sym: str, now_ms: int | None = None, name: str = "") -> dict[str, str]:
    """A linear ticker object with every value a string, in Bybit's field order (named `name`, default `sym`)."""
    return _format_ticker(market, sym, market.ticker(sym, now_ms), name)


def _format_ticker(market: Market, sym: str, t: dict, name: str = "") -> dict[str, str]:
    p, q = (lambda k: market.fmt_price(sym, t[k])), (lambda k: market.fmt_qty(sym, t[k]))
    return {
        "symbol": name or sym, "tickDirection": _TICK_DIRECTION[t["direction"]],
        "price24hPcnt": f"{t['price24hPcnt']:.6f}",
        "lastPrice": p("lastPrice"), "prevPrice24h": p("prevPrice24h"), "highPrice24h": p("highPrice24h"),
        "lowPrice24h": p("lowPrice24h"), "prevPrice1h": p("prevPrice1h"), "markPrice": p("markPrice"),
        "indexPrice": p("indexPrice"), "openInterest": q("openInterest"),
        "openInterestValue": f"{t['openInterestValue']:.2f}", "turnover24h": market.fmt_turnover(sym, t["turnover24h"]),
        "volume24h": q("volume24h"), "fundingIntervalHour": "8", "fundingCap": "0.005",
        "nextFundingTime": str(t["nextFundingTime"]), "fundingRate": f"{t['fundingRate']:g}",
        "bid1Price": p("bid1Price"), "bid1Size": q("bid1Size"), "ask1Price": p("ask1Price"), "ask1Size": q("ask1Size"),
        "preOpenPrice": "", "preQty": "", "curPreListingPhase": "",
    }


def _tickers(market: Market, query: dict[str, str], now: int) -> dict:
    asked = _symbol(market, query, required=False)
    if asked:
        return {"category": "linear", "list": [ticker_fields(market, asked[1], now, asked[0])]}
    return {"category": "linear", "list": [ticker_fields(market, s, now) for s in market.symbols]}


def _time(market: Market, query: dict[str, str], now: int) -> dict:
    return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}


def _instruments(market: Market, query: dict[str, str], now: int) -> dict:
    sym = query.get("symbol") or None  # an unknown symbol gives an empty list, as on Bybit
    status, base = query.get("status") or "Trading", query.get("baseCoin")
    items = [instrument(market, s, f"{b}USDT", "Trading" if trading else "Closed")
             for b, s, trading in listed_usdt(market)]
    items = [i for i in items
             if sym in (None, i["symbol"]) and status == i["status"] and base in (None, "", i["baseCoin"])]
    return {"category": "linear", "list": items, "nextPageCursor": ""}


def instrument(market: Market, sym: str, name: str = "", status: str = "Trading") -> dict:
    """The linear instrument object of the market's `sym`, listed as `name` (default `sym`) with `status`."""
    spec, name = market.spec(sym), name or sym
    p, q = (lambda v: market.fmt_price(sym, v)), (lambda v: market.fmt_qty(sym, v))
    lots = max(1000, round(1_000_000 / (spec.price * spec.lot)))
    max_qty, max_mkt = spec.lot * lots, spec.lot * (lots // 10)
    return {
        "symbol": name, "contractType": "LinearPerpetual", "status": status, "baseCoin": name[:-4],
        "quoteCoin": "USDT", "launchTime": str(market.genesis), "deliveryTime": "0", "deliveryFeeRate": "",
        "priceScale": str(decimals(spec.tick)),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": p(spec.tick), "maxPrice": p(spec.tick * round(spec.price * 100 / spec.tick)),
                        "tickSize": p(spec.tick)},
        "lotSizeFilter": {"maxOrderQty": q(max_qty), "minOrderQty": q(spec.lot), "qtyStep": q(spec.lot),
                          "postOnlyMaxOrderQty": q(max_qty * 10), "maxMktOrderQty": q(max_mkt),
                          "minNotionalValue": "5"},
        "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": "USDT", "copyTrading": "both",
        "upperFundingRate": "0.005", "lowerFundingRate": "-0.005", "isPreListing": False, "preListingInfo": None,
        "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.1"}, "displayName": "",
    }


_ROUTES: dict[str, Callable[[Market, dict[str, str], int], dict]] = {
    "/v5/market/kline": _kline, "/v5/market/tickers": _tickers, "/v5/market/time": _time,
    "/v5/market/instruments-info": _instruments}


# -- WebSocket ----------------------------------------------------------------------------------------------
class _Kline(KlineFeed):
    __slots__ = ("interval",)

    def __init__(self, symbol: str, interval: str) -> None:
        super().__init__(symbol, INTERVAL_MS[interval])
        self.interval = interval


class BybitPublicSession:
    """One /v5/public/linear connection: replies to client messages and produces the data pushes.

    Both methods are synchronous and return text frames; the server sends them in order.
    """

    IDLE_TIMEOUT_S: float | None = 600.0  # "no ping-pong and no stream data ... cut off after 10 minutes"

    _conn_counter = itertools.count(1)

    def __init__(self, market: Market, rejected: Container[str] = frozenset()) -> None:
        self.market = market
        self.rejected = rejected
        self.conn_id = f"{secrets.token_hex(10)}-{next(self._conn_counter):05x}"
        self.last_client_message = time.monotonic()
        self.klines: dict[str, _Kline] = {}
        self.tickers: dict[str, dict[str, str] | None] = {}  # topic -> last ticker sent
        self.trades: dict[str, int] = {}  # topic -> sim time of the newest trade sent
        self.served: dict[str, str] = {}  # ticker/trade topic -> the market's symbol behind it

    @property
    def topics(self) -> list[str]:
        return [*self.klines, *self.tickers, *self.trades]

    def _reply(self, op: str, req_id: str, success: bool, ret_msg: str) -> str:
        return json.dumps({"success": success, "ret_msg": ret_msg, "conn_id": self.conn_id, "req_id": req_id,
                           "op": op}, separators=(",", ":"))

    def on_message(self, raw: str | bytes) -> list[str]:
        """Frames answering one client message (the ack, then the first push of newly subscribed topics)."""
        self.last_client_message = time.monotonic()
        try:
            msg = json.loads(raw)
        except (ValueError, TypeError):
            log.info("bybit sim %s: not JSON: %.80r", self.conn_id, raw)
            return [self._reply("", "", False, "error:request not supported")]
        if not isinstance(msg, dict) or not isinstance(msg.get("op"), str):
            log.info("bybit sim %s: no op in %.80r", self.conn_id, raw)
            return [self._reply("", "", False, "error:request not supported")]
        op, req_id = msg["op"], msg.get("req_id")
        req_id = "" if req_id is None else str(req_id)
        if op == "ping":
            return [self._reply("ping", req_id, True, "pong")]
        if op not in ("subscribe", "unsubscribe"):
            log.info("bybit sim %s: unsupported op %r", self.conn_id, op)
            return [self._reply(op, req_id, False, f"error:op {op} not supported")]
        args = msg.get("args")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            return [self._reply(op, req_id, False, "error:args must be a list of topic strings")]
        if op == "unsubscribe":
            bad = [a for a in args if not self._drop(a)]
            return [self._reply(op, req_id, not bad,
                                f"error:topic not subscribed,topic:{','.join(bad)}" if bad else "")]
        current = set(self.topics)
        new = [a for a in dict.fromkeys(args) if a not in current]
        if sum(map(len, current)) + sum(map(len, new)) > MAX_ARGS_CHARS:
            return [self._reply(op, req_id, False, f"error:args size exceeds {MAX_ARGS_CHARS} characters")]
        bad = [a for a in new if not self._add(a)]
        reply = self._reply(op, req_id, not bad, f"error:handler not found,topic:{','.join(bad)}" if bad else "")
        return [reply, *self.push([a for a in new if a not in bad])]

    def _add(self, topic: str) -> bool:
        if topic in self.rejected:
            return False
        kind, _, rest = topic.partition(".")
        if kind == "kline":
            interval, _, sym = rest.partition(".")
            served = served_concat(self.market, sym)
            if interval in INTERVAL_MS and served is not None:
                self.klines[topic] = _Kline(served, interval)
                return True
            return False
        served = served_concat(self.market, rest)
        if served is not None and kind in ("tickers", "publicTrade"):
            self.served[topic] = served  # the topic names the listed symbol; prices come from `served`
            if kind == "tickers":
                self.tickers[topic] = None
            else:
                self.trades[topic] = self.market.now_ms()
            return True
        return False

    def _drop(self, topic: str) -> bool:
        for table in (self.klines, self.tickers, self.trades):
            if topic in table:
                del table[topic]
                self.served.pop(topic, None)
                return True
        return False

    def push(self, topics: list[str] | None = None) -> list[str]:
        """Data frames due now for `topics` (default: all subscribed ones)."""
        now = self.market.now_ms()
        chosen = self.topics if topics is None else topics
        frames: list[str] = []
        for topic in chosen:
            if topic in self.klines:
                frames += self._push_kline(topic, self.klines[topic], now)
            elif topic in self.tickers:
                frames += self._push_ticker(topic, now)
            elif topic in self.trades:
                frames += self._push_trades(topic, now)
        return frames

    def _push_kline(self, topic: str, st: _Kline, now: int) -> list[str]:
        """The forming candle, preceded by every bucket that closed since the last push (confirm:true, once,
        in order): at a boundary one frame carries the finished candle and the new one, as Bybit does."""
        rows, _ = st.due(self.market, now)
        if not rows:
            return []
        items = [self._kline_item(st, c, now) for c in rows]
        return [json.dumps({"topic": topic, "data": items[i:i + FRAME_ITEMS], "ts": now, "type": "snapshot"},
                           separators=(",", ":")) for i in range(0, len(items), FRAME_ITEMS)]

    def _kline_item(self, st: _Kline, c: Candle, now: int) -> dict:
        sym, p = st.symbol, self.market.fmt_price
        end = c.open_time + st.ms - 1
        return {"start": c.open_time, "end": end, "interval": st.interval, "open": p(sym, c.open),
                "close": p(sym, c.close), "high": p(sym, c.high), "low": p(sym, c.low),
                "volume": self.market.fmt_qty(sym, c.volume), "turnover": self.market.fmt_turnover(sym, c.turnover),
                "confirm": c.closed, "timestamp": min(now, end)}

    def _push_ticker(self, topic: str, now: int) -> list[str]:
        name, sym = topic.split(".", 1)[1], self.served[topic]
        stats = self.market.ticker(sym, now)
        fields, cs = _format_ticker(self.market, sym, stats, name), stats["seq"]
        previous = self.tickers[topic]
        self.tickers[topic] = fields
        if previous is None:
            frame = {"topic": topic, "type": "snapshot", "data": fields, "cs": cs, "ts": now}
        else:
            changed = {k: v for k, v in fields.items() if previous.get(k) != v}
            if not changed:
                return []
            frame = {"topic": topic, "type": "delta", "data": {"symbol": name, **changed}, "cs": cs, "ts": now}
        return [json.dumps(frame, separators=(",", ":"))]

    def _push_trades(self, topic: str, now: int) -> list[str]:
        name, sym = topic.split(".", 1)[1], self.served[topic]
        trades = self.market.trades(sym, self.trades[topic], now)
        self.trades[topic] = now
        if not trades:
            return []
        data = [{"T": t.time_ms, "s": name, "S": "Sell" if t.direction < 0 else "Buy",
                 "v": self.market.fmt_qty(sym, t.qty), "p": self.market.fmt_price(sym, t.price),
                 "L": _TICK_DIRECTION[t.direction], "i": str(uuid.uuid5(_TRADE_NS, f"{sym}:{t.seq}")),
                 "BT": False, "RPI": False, "seq": t.seq} for t in trades]
        return [json.dumps({"topic": topic, "type": "snapshot", "ts": now, "data": data}, separators=(",", ":"))]


WS_SESSIONS: dict[str, type[BybitPublicSession]] = {WS_PUBLIC_LINEAR: BybitPublicSession}
