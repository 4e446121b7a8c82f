"""Upbit KRW spot: symbols (quote first), REST candles/tickers, binary WS frames, text PING heartbeat."""
from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from ..core.errors import ExchangeError
from ..core.instrument import SPOT
from ..core.models import MarketEvent, SubscriptionAck, TickerEvent, TradeEvent
from ..core.timeframe import Timeframe
from .base import ExchangeAdapter, RestBudget, RestRequest

# -- constants ------------------------------------------------------------------------------------
REST_URL = "https://api.upbit.com"
WS_URL = "wss://api.upbit.com/websocket/v1"
CANDLE_PATHS = {Timeframe.M1: "/v1/candles/minutes/1", Timeframe.M15: "/v1/candles/minutes/15",
                Timeframe.H1: "/v1/candles/minutes/60", Timeframe.H4: "/v1/candles/minutes/240",
                Timeframe.D1: "/v1/candles/days"}
WS_TYPES = {Timeframe.M1: "candle.1m", Timeframe.M15: "candle.15m", Timeframe.H1: "candle.60m",
            Timeframe.H4: "candle.240m"}
TYPE_LABELS = {"candle.1s": "1s", "candle.1m": "1m", "candle.3m": "3m", "candle.5m": "5m", "candle.10m": "10m",
               "candle.15m": "15m", "candle.30m": "30m", "candle.60m": "1h", "candle.240m": "4h"}
CANDLE_FIELDS = ("candle_date_time_utc", "opening_price", "high_price", "low_price", "trade_price",
                 "candle_acc_trade_volume")


def utc_ms(text: Any) -> int:
    """'2025-01-15T12:00:00' (UTC, no zone) -> epoch ms; ValueError on anything else."""
    if not isinstance(text, str):
        raise ValueError(f"not a date-time string: {text!r}")
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def iso_utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class UpbitStyleCandles:
    """Candle objects shared by Upbit and Bithumb's v1 API (newest first, open time in candle_date_time_utc)."""

    def candle_rows(self: ExchangeAdapter, items: Any, payload: object) -> pd.DataFrame:
        if not isinstance(items, list):
            raise self._bad("candles are not a list", payload)
        rows = []
        for it in items:
            if not isinstance(it, dict) or any(f not in it for f in CANDLE_FIELDS):
                raise self._bad(f"candle object lacks one of {', '.join(CANDLE_FIELDS)}", payload)
            try:
                opened = utc_ms(it["candle_date_time_utc"])
            except ValueError:
                raise self._bad("candle_date_time_utc is not a UTC date-time", payload) from None
            rows.append([opened, it["opening_price"], it["high_price"], it["low_price"], it["trade_price"],
                         it["candle_acc_trade_volume"]])
        return self._rows_to_frame(rows, payload)

    def candle_request(self: ExchangeAdapter, market: str, tf: Timeframe, end_ms: int | None,
                       limit: int | None) -> RestRequest:
        path = CANDLE_PATHS[tf]
        params: dict[str, Any] = {"market": market, "count": min(limit or self.rest_row_cap, self.rest_row_cap)}
        if end_ms is not None:
            params["to"] = iso_utc(tf.bucket_start(int(end_ms)) + tf.ms)  # `to` is exclusive
        return RestRequest(f"{self.rest_url}{path}", params, path)


class UpbitAdapter(UpbitStyleCandles, ExchangeAdapter):
    name = "upbit"
    market_kind = SPOT
    quote_currency = "KRW"
    default_rest_url = REST_URL
    default_ws_url = WS_URL
    rest_row_cap = 200
    max_topics_per_connection = 100
    heartbeat_interval = 60.0  # text PING; the server cuts idle sockets after 120 s
    max_silence = 150.0  # quiet markets push nothing until a trade; pongs ({"status":"UP"}) keep us honest
    rest_budget = RestBudget(8, 1.0)  # ~10 req/s per group
    unknown_symbol_codes = frozenset({"404"})
    rate_limit_codes = frozenset({"too_many_requests"})  # the error object's name
    error_fields = ()
    error_object = True
    replaces_subscriptions = True  # each request replaces the whole set

    # -- symbols --------------------------------------------------------------------------------
    def native_symbol(self, base: str, quote: str) -> str:
        base, quote = base.strip().upper(), quote.strip().upper()
        if not base or not quote or not (base + quote).isalnum():
            raise ValueError(f"upbit: bad symbol parts base={base!r} quote={quote!r}")
        return f"{quote}-{base}"

    def split_symbol(self, native: str) -> tuple[str, str]:
        parts = native.strip().upper().split("-")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"upbit: {native!r} is not a market like KRW-BTC")
        return parts[1], parts[0]

    # -- REST -----------------------------------------------------------------------------------
    def kline_request(self, symbol: str, tf: Timeframe, start_ms: int | None, end_ms: int | None,
                      limit: int | None = None) -> RestRequest:
        return self.candle_request(symbol, tf, end_ms, limit)  # no start: pages go backwards from `to`

    def _payload(self, payload: Any, endpoint: str) -> Any:
        if isinstance(payload, (str, bytes, bytearray)):
            payload = self._decode_json(payload)
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            err = payload["error"]
            raise ExchangeError(self.name, str(err.get("message", "")), code=err.get("name"), endpoint=endpoint)
        return payload

    def parse_rest_klines(self, payload: Any) -> pd.DataFrame:
        return self.candle_rows(self._payload(payload, "/v1/candles"), payload)

    def tickers_request(self) -> RestRequest:
        return RestRequest(f"{self.rest_url}/v1/ticker/all", {"quote_currencies": "KRW"}, "/v1/ticker/all")

    def parse_tickers(self, payload: Any) -> pd.DataFrame:
        return self._ticker_frame(self._payload(payload, "/v1/ticker/all"), "market", "trade_price", "acc_trade_price_24h")

    # -- WebSocket ------------------------------------------------------------------------------
    def kline_topic(self, symbol: str, tf: Timeframe) -> str:
        if tf not in WS_TYPES:
            raise ValueError(f"upbit: no WebSocket candles for {tf.label}")
        return f"{WS_TYPES[tf]}:{symbol}"

    def ticker_topic(self, symbol: str) -> str:
        return f"ticker:{symbol}"

    def subscribe_message(self, topics: Sequence[str], request_id: str = "") -> str:
        """The whole subscription set in one request (Upbit replaces the set on every request)."""
        by_type: dict[str, list[str]] = {}
        for t in topics:
            kind, _, code = t.partition(":")
            by_type.setdefault(kind, []).append(code)
        req: list[dict] = [{"ticket": request_id or f"twinstar-{uuid.uuid4().hex[:12]}"}]
        req += [{"type": kind, "codes": codes} for kind, codes in by_type.items()]
        req.append({"format": "DEFAULT"})
        return json.dumps(req)

    def unsubscribe_message(self, topics: Sequence[str], request_id: str = "") -> str:
        raise NotImplementedError("upbit has no unsubscribe: send subscribe_message(remaining topics)")

    def parse_ws_message(self, raw: str | bytes) -> list[MarketEvent]:
        msg = self._decode_json(raw)  # binary frames carry UTF-8 JSON
        if not isinstance(msg, dict):
            raise self._bad("frame is not a JSON object", raw)
        if "status" in msg:
            return []  # {"status":"UP"}: the answer to PING
        if isinstance(msg.get("error"), dict):
            err = msg["error"]
            return [SubscriptionAck(self.name, False, "subscribe", f"{err.get('name')}: {err.get('message', '')}")]
        kind = msg.get("type", msg.get("ty"))
        code = str(msg.get("code", msg.get("cd", "")))
        if not isinstance(kind, str):
            raise self._bad("frame has no type", raw)
        if kind.startswith("candle."):
            label = TYPE_LABELS.get(kind)
            if label is None or not code or any(f not in msg for f in CANDLE_FIELDS):
                raise self._bad(f"candle frame {kind!r} lacks fields or code", raw)
            try:
                opened = utc_ms(msg["candle_date_time_utc"])
            except ValueError:
                raise self._bad("candle_date_time_utc is not a UTC date-time", raw) from None
            # no close flag: the shared close detector decides (next bucket or deadline)
            return [self._kline(code, label, opened, msg["opening_price"], msg["high_price"], msg["low_price"],
                                msg["trade_price"], msg["candle_acc_trade_volume"], None, raw)]
        if kind == "ticker":
            return [TickerEvent(self.name, code, self._number(msg.get("trade_price", msg.get("tp")), "trade_price", raw),
                                self._int_ms(msg.get("timestamp", msg.get("tms")), "timestamp", raw))]
        if kind == "trade":
            price = msg.get("trade_price", msg.get("tp"))
            when = msg.get("trade_timestamp", msg.get("ttms"))
            size = msg.get("trade_volume", msg.get("tv", 0))
            return [TradeEvent(self.name, code, self._number(price, "trade_price", raw),
                               self._int_ms(when, "trade_timestamp", raw), self._number(size, "trade_volume", raw))]
        return []  # orderbook and others

    # -- heartbeat ------------------------------------------------------------------------------
    def is_pong(self, raw: str | bytes) -> bool:
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")
        return text.replace(" ", "") == '{"status":"UP"}'

    def heartbeat_message(self) -> str | None:
        return "PING"
