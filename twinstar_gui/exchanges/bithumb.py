"""Bithumb KRW spot: symbols (BTC_KRW), v1 REST candles (legacy has no 15m) and markets, legacy WS trades/tickers."""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from ..core.errors import ExchangeError
from ..core.instrument import SPOT, Instrument
from ..core.models import MarketEvent, SubscriptionAck, TickerEvent, TradeEvent
from ..core.timeframe import Timeframe
from .base import ExchangeAdapter, KlineRows, RestBudget, RestRequest, TickerRow
from .upbit import KRW_TICKS as UPBIT_KRW_TICKS, MARKET_LIST, UpbitStyleV1

# -- constants ------------------------------------------------------------------------------------
REST_URL = "https://api.bithumb.com"
WS_URL = "wss://pubwss.bithumb.com/pub/ws"
KST = timezone(timedelta(hours=9))
# The v1 market list (https://apidocs.bithumb.com/reference/마켓코드-조회: market, korean_name, english_name and,
# with isDetails=true, market_warning: a string, "NONE"/"CAUTION" as on Upbit; the page does not list the values)
# names markets KRW-BTC; ours are BTC_KRW. It gives no trading rules, and Bithumb's own KRW price-unit table could
# not be found in its API docs: Upbit's current table stands in for it (unverified for Bithumb; a coarser step
# than the real one would still be valid, a finer one would not). Volume to 8 decimals and a 5,000 KRW minimum
# order are unverified too (ccxt's older table says a 500 KRW minimum); the exchange's per-market answer is the
# private GET /v1/orders/chance.
KRW_TICKS = UPBIT_KRW_TICKS
VOLUME_STEP = 1e-8
MIN_ORDER_KRW = 5_000.0


def kst_ms(text: str, fmt: str) -> int:
    """A KST wall time without a zone -> UTC ms. The two formats of the stream are read without strptime (a
    tenth of the engine's time with 50 Bithumb symbols streaming); anything else, or a text that does not fit
    them, goes through strptime (which refuses it with ValueError)."""
    if fmt == "%Y%m%d%H%M%S" and len(text) == 14 and text.isascii() and text.isdigit():
        when = datetime(int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]),
                        int(text[12:14]), tzinfo=KST)
    elif fmt == "%Y-%m-%d %H:%M:%S.%f" and len(text) == 26 and text.isascii() and text[10] == " ":
        when = datetime.fromisoformat(text)
        if when.tzinfo is not None:  # fromisoformat takes an offset; the format has none
            raise ValueError(f"time data {text!r} does not match format {fmt!r}")
        when = when.replace(tzinfo=KST)
    else:
        when = datetime.strptime(text, fmt).replace(tzinfo=KST)
    return int(when.timestamp() * 1000)


class BithumbAdapter(UpbitStyleV1, ExchangeAdapter):
    name = "bithumb"
    market_kind = SPOT
    quote_currency = "KRW"
    default_rest_url = REST_URL
    default_ws_url = WS_URL
    rest_row_cap = 200
    max_topics_per_connection = 50
    heartbeat_interval = 0.0
    protocol_ping_interval = 30.0  # heartbeat undocumented: WebSocket ping frames
    max_silence = 150.0  # quiet KRW markets may trade rarely
    # the public API allows 150 requests/s per IP per category (candles, tickers, ...): apidocs.bithumb.com,
    # "API 요청 수 제한 안내" (updated 2026-10); 2/s (ccxt's 500 ms pacing) made 50 symbols' history take 150 s
    rest_budget = RestBudget(20, 1.0)
    unknown_symbol_codes = frozenset({"404", "5500"})
    error_fields = (("status", "message"),)  # legacy: {"status": "5500", "message": ...}
    error_object = True  # v1: {"error": {"name": "404", "message": ...}}
    topics_per_subscribe = 1  # one filter per message
    candles_from_trades = True

    # -- symbols --------------------------------------------------------------------------------
    def native_symbol(self, base: str, quote: str) -> str:
        base, quote = base.strip().upper(), quote.strip().upper()
        if not base or not quote or not (base + quote).isalnum():
            raise ValueError(f"bithumb: bad symbol parts base={base!r} quote={quote!r}")
        return f"{base}_{quote}"

    def split_symbol(self, native: str) -> tuple[str, str]:
        parts = native.strip().upper().split("_")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"bithumb: {native!r} is not a symbol like BTC_KRW")
        return parts[0], parts[1]

    def v1_market(self, native: str) -> str:
        base, quote = self.split_symbol(native)
        return f"{quote}-{base}"

    # -- REST -----------------------------------------------------------------------------------
    def error_of(self, payload: Any) -> tuple[Any, str] | None:
        """Bithumb's statuses are strings of digits ("5500"); a number there is another server's (a gateway's 404)."""
        found = super().error_of(payload)
        from_status = found is not None and not isinstance(payload.get("error"), dict)
        return None if from_status and not isinstance(payload["status"], str) else found

    def _check_status(self, payload: dict[str, Any], endpoint: str) -> None:
        """A legacy answer's status: "0000" is success, another is the exchange's error (code and message);
        an answer with no status is not one of Bithumb's, so no error the exchange reported: BadMessage."""
        if "status" not in payload:
            raise self._bad("not a Bithumb answer (no status, no error)", payload)
        if payload["status"] != "0000":
            raise ExchangeError(self.name, str(payload.get("message", "")), code=payload["status"], endpoint=endpoint)

    def kline_request(self, symbol: str, tf: Timeframe, start_ms: int | None, end_ms: int | None,
                      limit: int | None = None) -> RestRequest:
        # legacy /public/candlestick has no 15m or 4h: the v1 (Upbit-style) endpoints do
        return self.candle_request(self.v1_market(symbol), tf, end_ms, limit)

    def parse_kline_rows(self, payload: Any) -> KlineRows:
        if isinstance(payload, (str, bytes, bytearray)):
            payload = self._decode_json(payload)
        if isinstance(payload, dict):
            if isinstance(payload.get("error"), dict):
                err = payload["error"]
                raise ExchangeError(self.name, str(err.get("message", "")), code=err.get("name"),
                                    endpoint="/v1/candles")
            self._check_status(payload, "/public/candlestick")
            rows = payload.get("data")
            if not isinstance(rows, list):
                raise self._bad("legacy candlestick data is not a list", payload)
            # legacy row order is [time, open, CLOSE, high, low, volume]
            try:
                reordered = [[r[0], r[1], r[3], r[4], r[2], r[5]] for r in rows]
            except (TypeError, IndexError, KeyError):
                raise self._bad("legacy candlestick row is not [time, open, close, high, low, volume]",
                                payload) from None
            return self._kline_rows(reordered, payload)
        return self.candle_rows(payload, payload)

    def tickers_request(self) -> RestRequest:
        return RestRequest(f"{self.rest_url}/public/ticker/ALL_KRW", {}, "/public/ticker/ALL_KRW")

    def parse_ticker_rows(self, payload: Any) -> list[TickerRow]:
        answer = payload
        if isinstance(payload, (str, bytes, bytearray)):
            payload = self._decode_json(payload)
        if not isinstance(payload, dict):
            raise self._bad("tickers answer is not an object", answer)
        self._check_status(payload, "/public/ticker/ALL_KRW")
        if not isinstance(payload.get("data"), dict):
            raise self._bad("tickers data is not an object", payload)
        rows = []
        for coin, it in payload["data"].items():
            if coin == "date" or not isinstance(it, dict):
                continue
            rows.append((f"{coin}_KRW", self._number(it.get("closing_price"), "closing_price", it),
                         self._number(it.get("acc_trade_value_24H"), "acc_trade_value_24H", it)))
        return self._tickers_by_volume(rows)

    def instruments_request(self, cursor: str = "") -> RestRequest:
        return RestRequest(f"{self.rest_url}{MARKET_LIST}", {"isDetails": "true"}, MARKET_LIST)  # one page

    def parse_instruments(self, payload: Any) -> tuple[list[Instrument], str]:
        return self.v1_instruments(payload, KRW_TICKS, VOLUME_STEP, MIN_ORDER_KRW), ""

    # -- WebSocket ------------------------------------------------------------------------------
    def kline_topic(self, symbol: str, tf: Timeframe) -> str:
        return f"transaction:{symbol}"  # no WS candles: 15m candles are built from trades

    def ticker_topic(self, symbol: str) -> str:
        return f"ticker:{symbol}"

    def _filter(self, topics: Sequence[str]) -> dict[str, Any]:
        kinds = {t.partition(":")[0] for t in topics}
        if len(kinds) != 1:
            raise ValueError("bithumb: one filter type per message")
        kind = kinds.pop()
        msg: dict[str, Any] = {"type": kind, "symbols": [t.partition(":")[2] for t in topics]}
        if kind == "ticker":
            msg["tickTypes"] = ["30M"]
        return msg

    def subscribe_message(self, topics: Sequence[str], request_id: str = "") -> str:
        return json.dumps(self._filter(topics))

    def unsubscribe_message(self, topics: Sequence[str], request_id: str = "") -> str:
        raise NotImplementedError("bithumb's public WS has no unsubscribe: reconnect with the remaining filters")

    def parse_ws_message(self, raw: str | bytes) -> list[MarketEvent]:
        msg = self._decode_json(raw)
        if not isinstance(msg, dict):
            raise self._bad("frame is not a JSON object", raw)
        if "status" in msg:
            if msg["status"] == "0000":
                return []  # connected / filter registered
            return [SubscriptionAck(self.name, False, "subscribe", f"{msg['status']}: {msg.get('resmsg', '')}")]
        kind, content = msg.get("type"), msg.get("content")
        if not isinstance(kind, str) or not isinstance(content, dict):
            raise self._bad("frame has neither status nor type/content", raw)
        if kind == "transaction":
            trades = content.get("list")
            if not isinstance(trades, list):
                raise self._bad("transaction content.list is not a list", raw)
            out: list[MarketEvent] = []
            for t in trades:
                if not isinstance(t, dict) or any(k not in t for k in ("symbol", "contPrice", "contDtm")):
                    raise self._bad("transaction lacks symbol/contPrice/contDtm", raw)
                try:
                    when = kst_ms(t["contDtm"], "%Y-%m-%d %H:%M:%S.%f")  # KST wall time, no zone
                except (TypeError, ValueError):
                    raise self._bad(f"contDtm {t['contDtm']!r} is not 'YYYY-MM-DD HH:MM:SS.ffffff'", raw) from None
                out.append(TradeEvent(self.name, str(t["symbol"]), self._number(t["contPrice"], "contPrice", raw),
                                      when, self._number(t.get("contQty", 0), "contQty", raw)))
            return out
        if kind == "ticker":
            try:
                when = kst_ms(f"{content['date']}{content['time']}", "%Y%m%d%H%M%S")
            except (KeyError, TypeError, ValueError):
                raise self._bad("ticker date/time is not YYYYMMDD/HHMMSS", raw) from None
            return [TickerEvent(self.name, str(content.get("symbol", "")),
                                self._number(content.get("closePrice"), "closePrice", raw), when)]
        return []  # orderbookdepth and others

    # -- heartbeat ------------------------------------------------------------------------------
    def heartbeat_message(self) -> str | None:
        return None
