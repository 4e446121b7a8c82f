"""Upbit KRW spot: symbols (quote first), REST candles/tickers/market list, binary WS frames, text PING heartbeat."""
from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..core.errors import ExchangeError, excerpt
from ..core.instrument import SPOT, TRADING, Instrument
from ..core.models import MarketEvent, SubscriptionAck, TickerEvent, TradeEvent
from ..core.timeframe import Timeframe
from .base import ExchangeAdapter, KlineRows, RestBudget, RestRequest, TickerRow

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
MARKET_LIST = "/v1/market/all"
# The market list gives names and warnings only; the trading rules are Upbit's published KRW policy.
# - Price units since 2025-07-31, (lowest price of the band, step), highest first. Read on
#   https://docs.upbit.com/kr/docs/krw-market-info (announced in .../kr/changelog/krw_tick_unit_change_250731):
#   the bands from 100 KRW up. The bands under 100 KRW (0.1 for 10..100, a tenth per decade down to 1e-8 under
#   0.00001 KRW) were cut off in what could be read of that page; they are as quoted from it in public client
#   code: unverified here. USDT/KRW and USDC/KRW had a finer 0.5 step between 1,000 and 10,000 KRW from
#   2025-03-21 (.../changelog/usdtkrw_tick_unit_change): not applied; the coarser step is still a valid one.
#   The exchange's own per-market answer is GET /v1/orderbook/instruments (since 2025-07-31).
# - Volume to 8 decimals of the base; minimum order 5,000 KRW (the same page's second section; not readable
#   here, the long-standing figure in client code: unverified).
KRW_TICKS = ((2_000_000.0, 1000.0), (1_000_000.0, 1000.0), (500_000.0, 500.0), (100_000.0, 100.0),
             (50_000.0, 50.0), (10_000.0, 10.0), (5_000.0, 5.0), (1_000.0, 1.0), (100.0, 1.0), (10.0, 0.1),
             (1.0, 0.01), (0.1, 0.001), (0.01, 0.0001), (0.001, 0.00001), (0.0001, 0.000001), (0.00001, 0.0000001),
             (0.0, 0.00000001))
VOLUME_STEP = 1e-8
MIN_ORDER_KRW = 5_000.0


def utc_ms(text: Any) -> int:
    """'2025-01-15T12:00:00' (UTC, no zone) -> epoch ms; ValueError on anything else."""
    if not isinstance(text, str):
        raise ValueError(f"not a date-time string: {text!r}")
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def iso_utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


if TYPE_CHECKING:
    _Adapter = ExchangeAdapter  # what the mixin below is mixed into
else:
    _Adapter = object


class UpbitStyleV1(_Adapter):
    """What Upbit and Bithumb's v1 API share: error objects, candle objects (newest first, open time in
    candle_date_time_utc) and the market list."""

    def v1_answer(self, payload: Any, endpoint: str) -> Any:
        """The decoded answer, or ExchangeError for an {"error": {"name", "message"}} object."""
        if isinstance(payload, (str, bytes, bytearray)):
            payload = self._decode_json(payload)
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            err = payload["error"]
            raise ExchangeError(self.name, str(err.get("message", "")), code=err.get("name"), endpoint=endpoint)
        return payload

    def v1_instruments(self, payload: Any, tick_table: tuple[tuple[float, float], ...],
                       lot: float, min_notional: float) -> list[Instrument]:
        """The KRW markets of a /v1/market/all answer (`[{"market": "KRW-BTC", ...}]`) under this adapter's own
        native names; the other quote markets (BTC-ETH, USDT-BTC) are not ours. An item whose name is not
        QUOTE-BASE (or could not be a path) is left out and logged.

        Both venues list only what can be traded. Their warning flags (Upbit `market_event.warning`, Bithumb
        `market_warning: CAUTION` = "investment caution", a delisting review; Upbit's `caution` price/volume
        alerts) mark markets that still trade, so they stay TRADING; neither list defines a delisting-pending
        state."""
        items = self.v1_answer(payload, MARKET_LIST)
        if not isinstance(items, list):
            raise self._bad(f"{MARKET_LIST}: answer is not a list of markets", payload)

        def build(item: dict[str, Any]) -> Instrument | None:
            market = item["market"]
            parts = market.split("-") if isinstance(market, str) else []
            if len(parts) != 2 or not all(parts):
                raise self._bad(f"market {excerpt(repr(market), 40)} is not QUOTE-BASE", item)
            quote, base = parts
            if quote != self.quote_currency:
                return None
            return self._instrument(item, self.native_symbol(base, quote), base, quote, tick=0, lot=lot,
                                    min_qty=lot, min_notional=min_notional, status=TRADING, tick_table=tick_table)

        return self._instruments_kept(items, build)

    def candle_rows(self, items: Any, payload: object) -> KlineRows:
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
        return self._kline_rows(rows, payload)

    def candle_request(self, market: str, tf: Timeframe, end_ms: int | None,
                       limit: int | None) -> RestRequest:
        path = CANDLE_PATHS[tf]
        params: dict[str, Any] = {"market": market, "count": min(limit or self.rest_row_cap, self.rest_row_cap)}
        if end_ms is not None:
            params["to"] = iso_utc(tf.bucket_start(int(end_ms)) + tf.ms)  # `to` is exclusive
        return RestRequest(f"{self.rest_url}{path}", params, path)


class UpbitAdapter(UpbitStyleV1, ExchangeAdapter):
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

    def parse_kline_rows(self, payload: Any) -> KlineRows:
        return self.candle_rows(self.v1_answer(payload, "/v1/candles"), payload)

    def tickers_request(self) -> RestRequest:
        return RestRequest(f"{self.rest_url}/v1/ticker/all", {"quote_currencies": "KRW"}, "/v1/ticker/all")

    def parse_ticker_rows(self, payload: Any) -> list[TickerRow]:
        return self._ticker_rows(self.v1_answer(payload, "/v1/ticker/all"), "market", "trade_price",
                                  "acc_trade_price_24h")

    def instruments_request(self, cursor: str = "") -> RestRequest:
        # One page, every market. isDetails=true adds market_event {warning, caution{...}}
        # (https://docs.upbit.com/reference/마켓-코드-조회, https://docs.upbit.com/kr/changelog/market_event); the
        # parameter is spelt isDetails (https://docs.upbit.com/changelog/open-api-개선사항-안내-투자-유의-종목-필드-추가).
        return RestRequest(f"{self.rest_url}{MARKET_LIST}", {"isDetails": "true"}, MARKET_LIST)

    def parse_instruments(self, payload: Any) -> tuple[list[Instrument], str]:
        return self.v1_instruments(payload, KRW_TICKS, VOLUME_STEP, MIN_ORDER_KRW), ""

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
        req: list[dict[str, Any]] = [{"ticket": request_id or f"twinstar-{uuid.uuid4().hex[:12]}"}]
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
            return [TickerEvent(self.name, code,
                                self._number(msg.get("trade_price", msg.get("tp")), "trade_price", raw),
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
