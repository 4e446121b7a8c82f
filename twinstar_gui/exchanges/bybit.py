"""Bybit v5 linear perpetuals: symbols, REST klines/tickers, public WS frames, heartbeat."""
from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

from ..core.errors import ExchangeError
from ..core.instrument import Instrument
from ..core.models import MarketEvent, SubscriptionAck, TickerEvent, TradeEvent
from ..core.timeframe import Timeframe
from .base import MAX_EPOCH_MS, ExchangeAdapter, KlineRows, RestBudget, RestRequest, TickerRow

# -- constants ------------------------------------------------------------------------------------
REST_URL = "https://api.bybit.com"
WS_URL = "wss://stream.bybit.com/v5/public/linear"
CATEGORY = "linear"
QUOTES = ("USDT", "USDC")
INTERVALS = {Timeframe.M1: "1", Timeframe.M15: "15", Timeframe.H1: "60", Timeframe.H4: "240", Timeframe.D1: "D"}
# Every interval Bybit can push, mapped to our labels (1m appears in recorded frames).
INTERVAL_LABELS = {"1": "1m", "3": "3m", "5": "5m", "15": "15m", "30": "30m", "60": "1h", "120": "2h",
                   "240": "4h", "360": "6h", "720": "12h", "D": "1d", "W": "1w", "M": "1M"}
KLINE_FIELDS = ("start", "open", "high", "low", "close", "volume", "confirm")
_KLINE_KEYS = frozenset(KLINE_FIELDS)


class BybitAdapter(ExchangeAdapter):
    name = "bybit"
    default_rest_url = REST_URL
    default_ws_url = WS_URL
    rest_row_cap = 1000
    # Linear has no topic count limit, but args per connection must stay <= 21,000 characters;
    # 200 topics of ~20 chars is far inside that.
    max_topics_per_connection = 200
    heartbeat_interval = 20.0
    max_silence = 60.0
    # The IP limit is 600 requests / 5 s; we use a small slice of it.
    rest_budget = RestBudget(50, 1.0)  # IP limit 600 / 5 s (403 + 10 min ban): at most 300 / 5 s here
    unknown_symbol_codes = frozenset({"10001"})
    rate_limit_codes = frozenset({"10006", "10018"})  # Too many visits; IP rate limit exceeded
    error_fields = (("retCode", "retMsg"),)

    def __init__(self, rest_url: str | None = None, ws_url: str | None = None) -> None:
        super().__init__(rest_url, ws_url)
        self._req_ids = itertools.count(1)

    # -- symbols --------------------------------------------------------------------------------
    def native_symbol(self, base: str, quote: str) -> str:
        base, quote = base.strip().upper(), quote.strip().upper()
        if not base or not quote or not (base + quote).isalnum():
            raise ValueError(f"bybit: bad symbol parts base={base!r} quote={quote!r}")
        return f"{base}{quote}"

    def split_symbol(self, native: str) -> tuple[str, str]:
        sym = native.strip().upper()
        for quote in QUOTES:
            if sym.endswith(quote) and len(sym) > len(quote):
                return sym[: -len(quote)], quote
        raise ValueError(f"bybit: cannot split symbol {native!r} (linear quotes: {', '.join(QUOTES)})")

    # -- REST -----------------------------------------------------------------------------------
    def kline_request(self, symbol: str, tf: Timeframe, start_ms: int | None, end_ms: int | None,
                      limit: int | None = None) -> RestRequest:
        params: dict[str, Any] = {"category": CATEGORY, "symbol": symbol, "interval": INTERVALS[tf],
                                  "limit": min(limit or self.rest_row_cap, self.rest_row_cap)}
        if start_ms is not None:
            params["start"] = int(start_ms)
        if end_ms is not None:
            params["end"] = int(end_ms)
        return RestRequest(f"{self.rest_url}/v5/market/kline", params, "/v5/market/kline")

    def _result(self, payload: Any, endpoint: str) -> dict[str, Any]:
        if isinstance(payload, (str, bytes, bytearray)):
            payload = self._decode_json(payload)
        if not isinstance(payload, dict) or "retCode" not in payload:
            raise self._bad(f"{endpoint}: not a Bybit envelope", payload)
        if payload["retCode"] != 0:
            raise ExchangeError(self.name, str(payload.get("retMsg", "")), code=payload["retCode"], endpoint=endpoint)
        result = payload.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("list"), list):
            raise self._bad(f"{endpoint}: result.list missing", payload)
        return result

    def parse_kline_rows(self, payload: Any) -> KlineRows:
        if isinstance(payload, (str, bytes, bytearray)):
            payload = self._decode_json(payload)  # here, not only in _result: the server time is read from it too
        result = self._result(payload, "/v5/market/kline")
        server_time = payload.get("time")
        if not (type(server_time) is int and 0 < server_time <= MAX_EPOCH_MS):  # not a bool, not garbage
            server_time = None
        return self._kline_rows(result["list"], payload, server_time)  # rows arrive newest-first

    def tickers_request(self) -> RestRequest:
        return RestRequest(f"{self.rest_url}/v5/market/tickers", {"category": CATEGORY}, "/v5/market/tickers")

    def parse_ticker_rows(self, payload: Any) -> list[TickerRow]:
        return self._ticker_rows(self._result(payload, "/v5/market/tickers")["list"], "symbol", "lastPrice",
                                  "turnover24h")

    def instruments_request(self, cursor: str = "") -> RestRequest:
        params = {"category": CATEGORY, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        return RestRequest(f"{self.rest_url}/v5/market/instruments-info", params, "/v5/market/instruments-info")

    def parse_instruments(self, payload: Any) -> tuple[list[Instrument], str]:
        result = self._result(payload, "/v5/market/instruments-info")

        def build(it: dict[str, Any]) -> Instrument | None:
            # linear also lists USDC perpetuals and dated USDT futures: only USDT perpetuals are ours
            if it.get("contractType") != "LinearPerpetual" or it.get("settleCoin") != "USDT":
                return None
            price, lot = it["priceFilter"], it["lotSizeFilter"]
            return self._instrument(it, it["symbol"], it["baseCoin"], it["quoteCoin"], tick=price["tickSize"],
                                    lot=lot["qtyStep"], min_qty=lot["minOrderQty"],
                                    min_notional=lot.get("minNotionalValue") or 0,
                                    status=self._status(it.get("status"), "Trading"))

        if not isinstance(result.get("list"), list):
            raise self._bad("/v5/market/instruments-info: list is not a list", payload)
        return self._instruments_kept(result["list"], build), str(result.get("nextPageCursor") or "")

    # -- WebSocket ------------------------------------------------------------------------------
    def kline_topic(self, symbol: str, tf: Timeframe) -> str:
        return f"kline.{INTERVALS[tf]}.{symbol}"

    def ticker_topic(self, symbol: str) -> str:
        return f"tickers.{symbol}"

    def _op_message(self, op: str, topics: Sequence[str], request_id: str) -> str:
        return json.dumps({"req_id": request_id or f"{op}-{next(self._req_ids)}", "op": op, "args": list(topics)})

    def subscribe_message(self, topics: Sequence[str], request_id: str = "") -> str:
        return self._op_message("subscribe", topics, request_id)

    def unsubscribe_message(self, topics: Sequence[str], request_id: str = "") -> str:
        return self._op_message("unsubscribe", topics, request_id)

    def parse_ws_message(self, raw: str | bytes) -> list[MarketEvent]:
        msg = self._decode_json(raw)
        if not isinstance(msg, dict):
            raise self._bad("frame is not a JSON object", raw)
        topic = msg.get("topic")
        if isinstance(topic, str):
            kind, _, rest = topic.partition(".")
            if kind == "kline":
                return self._parse_kline(msg, rest, raw)
            if kind == "tickers":
                return self._parse_ticker(msg, rest, raw)
            if kind == "publicTrade":
                return self._parse_trades(msg, rest, raw)
            if "data" in msg:
                return []  # order books, liquidations, ...: valid frames we have no use for
            raise self._bad(f"topic {topic!r} without data", raw)
        op = msg.get("op")
        if isinstance(op, str):
            if op in ("subscribe", "unsubscribe") and msg.get("success") is False:
                return [SubscriptionAck(self.name, False, op, str(msg.get("ret_msg", "")), str(msg.get("req_id", "")))]
            return []  # successful acks, pongs, auth replies
        raise self._bad("frame has neither topic nor op", raw)

    def _parse_kline(self, msg: dict[str, Any], rest: str, raw: str | bytes) -> list[MarketEvent]:
        interval, _, symbol = rest.partition(".")
        label = INTERVAL_LABELS.get(interval)
        data = msg.get("data")
        if label is None or not symbol:
            raise self._bad(f"kline topic {msg['topic']!r} not understood", raw)
        if not isinstance(data, list):
            raise self._bad("kline data is not a list", raw)
        events: list[MarketEvent] = []
        for item in data:
            if not isinstance(item, dict) or not item.keys() >= _KLINE_KEYS:
                raise self._bad(f"kline item lacks one of {', '.join(KLINE_FIELDS)}", raw)
            confirm = item["confirm"]
            if not isinstance(confirm, bool):
                raise self._bad(f"kline confirm is {confirm!r}, expected true/false", raw)
            events.append(self._kline(symbol, label, item["start"], item["open"], item["high"], item["low"],
                                      item["close"], item["volume"], confirm, raw))
        return events

    def _parse_ticker(self, msg: dict[str, Any], symbol: str, raw: str | bytes) -> list[MarketEvent]:
        data = msg.get("data")
        if not isinstance(data, dict):
            raise self._bad("tickers data is not an object", raw)
        if data.get("lastPrice") in (None, ""):
            return []  # a delta without a new last price (book or funding fields only)
        when = self._int_ms(msg.get("ts"), "ticker ts", raw)
        return [TickerEvent(self.name, data.get("symbol") or symbol, self._number(data["lastPrice"], "lastPrice", raw),
                            when)]

    def _parse_trades(self, msg: dict[str, Any], symbol: str, raw: str | bytes) -> list[MarketEvent]:
        data = msg.get("data")
        if not isinstance(data, list):
            raise self._bad("publicTrade data is not a list", raw)
        out: list[MarketEvent] = []
        for t in data:
            if not isinstance(t, dict) or "p" not in t or "T" not in t:
                raise self._bad("publicTrade item lacks p/T", raw)
            out.append(TradeEvent(self.name, t.get("s") or symbol, self._number(t["p"], "trade price", raw),
                                  self._int_ms(t["T"], "trade time", raw),
                                  self._number(t.get("v", 0), "trade size", raw)))
        return out

    # -- heartbeat ------------------------------------------------------------------------------
    def is_pong(self, raw: str | bytes) -> bool:
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
        if "pong" not in text or len(text) > 512:
            return False  # cheap test first: data frames never get to json.loads here
        try:
            msg = json.loads(text)
        except ValueError:
            return False
        return isinstance(msg, dict) and msg.get("op") in ("ping", "pong") and msg.get("ret_msg") == "pong"

    def heartbeat_message(self) -> str | None:
        return json.dumps({"req_id": f"ping-{next(self._req_ids)}", "op": "ping"})
