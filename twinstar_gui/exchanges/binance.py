"""Binance USD-M futures: symbols, REST klines/tickers, /market WS frames (raw and combined), heartbeat."""
from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

from ..core.errors import ExchangeError
from ..core.instrument import Instrument
from ..core.models import MarketEvent, SubscriptionAck, TickerEvent, TradeEvent
from ..core.timeframe import Timeframe
from .base import ExchangeAdapter, KlineRows, RestBudget, RestRequest, TickerRow

# -- constants ------------------------------------------------------------------------------------
REST_URL = "https://fapi.binance.com"
WS_URL = "wss://fstream.binance.com/market/ws"  # klines/tickers live on /market since the 2026 split
QUOTES = ("USDT", "USDC")
INTERVALS = {Timeframe.M1: "1m", Timeframe.M15: "15m", Timeframe.H1: "1h", Timeframe.H4: "4h", Timeframe.D1: "1d"}
KNOWN_INTERVALS = {"1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"}
_KLINE_KEYS = frozenset(("t", "o", "h", "l", "c", "v", "x", "i"))  # a kline object's fields we read


class BinanceAdapter(ExchangeAdapter):
    name = "binance"
    default_rest_url = REST_URL
    default_ws_url = WS_URL
    rest_row_cap = 1500
    max_topics_per_connection = 200  # 1024 allowed; 10 incoming msgs/s per connection limits bursts
    heartbeat_interval = 0.0  # the server sends ping frames every 3 min; websockets answers them
    max_silence = 60.0
    # 2400 weight/min per IP (429, then a 418 ban): we spend at most 20/s = 1200/min, each request at its weight
    rest_budget = RestBudget(20, 1.0)
    unknown_symbol_codes = frozenset({"-1121"})
    rate_limit_codes = frozenset({"-1003"})  # TOO_MANY_REQUESTS
    topics_per_subscribe = 50

    def __init__(self, rest_url: str | None = None, ws_url: str | None = None) -> None:
        super().__init__(rest_url, ws_url)
        self._ids = itertools.count(1)

    # -- symbols --------------------------------------------------------------------------------
    def native_symbol(self, base: str, quote: str) -> str:
        base, quote = base.strip().upper(), quote.strip().upper()
        if not base or not quote or not (base + quote).isalnum():
            raise ValueError(f"binance: bad symbol parts base={base!r} quote={quote!r}")
        return base + quote

    def split_symbol(self, native: str) -> tuple[str, str]:
        sym = native.strip().upper()
        for quote in QUOTES:
            if sym.endswith(quote) and len(sym) > len(quote):
                return sym[: -len(quote)], quote
        raise ValueError(f"binance: cannot split symbol {native!r} (quotes: {', '.join(QUOTES)})")

    # -- REST -----------------------------------------------------------------------------------
    def kline_request(self, symbol: str, tf: Timeframe, start_ms: int | None, end_ms: int | None,
                      limit: int | None = None) -> RestRequest:
        params: dict[str, Any] = {"symbol": symbol, "interval": INTERVALS[tf],
                                  "limit": min(limit or self.rest_row_cap, self.rest_row_cap)}
        if start_ms is not None:
            params["startTime"] = int(start_ms)
        if end_ms is not None:
            params["endTime"] = int(end_ms)
        return RestRequest(f"{self.rest_url}/fapi/v1/klines", params, "/fapi/v1/klines")

    def request_cost(self, req: RestRequest) -> float:
        """Binance's request weight: klines by their limit ([1,100) 1, [100,500) 2, [500,1000] 5, more 10), the
        24 h tickers of every symbol 40."""
        if req.endpoint == "/fapi/v1/klines":
            limit = int(req.params.get("limit", 500))
            return 1.0 if limit < 100 else 2.0 if limit < 500 else 5.0 if limit <= 1000 else 10.0
        if req.endpoint == "/fapi/v1/ticker/24hr":
            return 1.0 if "symbol" in req.params else 40.0
        return 1.0

    def _check(self, payload: Any, endpoint: str) -> Any:
        if isinstance(payload, (str, bytes, bytearray)):
            payload = self._decode_json(payload)
        if isinstance(payload, dict) and "code" in payload and "msg" in payload:
            raise ExchangeError(self.name, str(payload["msg"]), code=payload["code"], endpoint=endpoint)
        if not isinstance(payload, list):
            raise self._bad(f"{endpoint}: expected a JSON array", payload)
        return payload

    def parse_kline_rows(self, payload: Any) -> KlineRows:
        rows = self._check(payload, "/fapi/v1/klines")  # oldest first; the last row may be forming
        return self._kline_rows(rows, payload)

    def tickers_request(self) -> RestRequest:
        return RestRequest(f"{self.rest_url}/fapi/v1/ticker/24hr", {}, "/fapi/v1/ticker/24hr")

    def parse_ticker_rows(self, payload: Any) -> list[TickerRow]:
        return self._ticker_rows(self._check(payload, "/fapi/v1/ticker/24hr"), "symbol", "lastPrice", "quoteVolume")

    # Instrument list: GET /fapi/v1/exchangeInfo, one answer for every symbol (weight 1). Checked against
    # https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Exchange-Information
    # and .../common-definition: symbols[] carry symbol, contractType (PERPETUAL, CURRENT_QUARTER, ...), status
    # (TRADING, PENDING_TRADING, PRE_SETTLE, SETTLING, CLOSE, ...), baseAsset, quoteAsset, marginAsset and filters:
    # PRICE_FILTER.tickSize, LOT_SIZE.stepSize/minQty, MIN_NOTIONAL.notional (pricePrecision/quantityPrecision
    # are "not the tick size / step size", says the page). USD-M also lists USDC perpetuals and dated
    # futures: left out. Not verified: the word a long-delisted perpetual keeps (clients report SETTLING).
    def instruments_request(self, cursor: str = "") -> RestRequest:
        return RestRequest(f"{self.rest_url}/fapi/v1/exchangeInfo", {}, "/fapi/v1/exchangeInfo")

    def parse_instruments(self, payload: Any) -> tuple[list[Instrument], str]:
        if isinstance(payload, (str, bytes, bytearray)):
            payload = self._decode_json(payload)
        if isinstance(payload, dict) and "code" in payload and "msg" in payload:
            raise ExchangeError(self.name, str(payload["msg"]), code=payload["code"], endpoint="/fapi/v1/exchangeInfo")
        if not isinstance(payload, dict) or not isinstance(payload.get("symbols"), list):
            raise self._bad("/fapi/v1/exchangeInfo: no symbols list", payload)

        def build(it: dict[str, Any]) -> Instrument | None:
            if (it.get("contractType"), it.get("quoteAsset"), it.get("marginAsset")) != ("PERPETUAL", "USDT", "USDT"):
                return None
            filters = {f.get("filterType"): f for f in it["filters"] if isinstance(f, dict)}
            price, lot = filters["PRICE_FILTER"], filters["LOT_SIZE"]
            return self._instrument(it, it["symbol"], it["baseAsset"], it["quoteAsset"], tick=price["tickSize"],
                                    lot=lot["stepSize"], min_qty=lot["minQty"],
                                    min_notional=filters.get("MIN_NOTIONAL", {}).get("notional", 0),
                                    status=self._status(it.get("status"), "TRADING"))

        return self._instruments_kept(payload["symbols"], build), ""

    # -- WebSocket ------------------------------------------------------------------------------
    def kline_topic(self, symbol: str, tf: Timeframe) -> str:
        return f"{symbol.lower()}@kline_{INTERVALS[tf]}"

    def ticker_topic(self, symbol: str) -> str:
        return f"{symbol.lower()}@ticker"

    def subscribe_message(self, topics: Sequence[str], request_id: str = "") -> str:
        return json.dumps({"method": "SUBSCRIBE", "params": list(topics), "id": int(request_id or next(self._ids))})

    def unsubscribe_message(self, topics: Sequence[str], request_id: str = "") -> str:
        return json.dumps({"method": "UNSUBSCRIBE", "params": list(topics), "id": int(request_id or next(self._ids))})

    def parse_ws_message(self, raw: str | bytes) -> list[MarketEvent]:
        msg = self._decode_json(raw)
        if not isinstance(msg, dict):
            raise self._bad("frame is not a JSON object", raw)
        if "stream" in msg and "data" in msg:  # combined-stream wrapper
            msg = msg["data"]
            if not isinstance(msg, dict):
                raise self._bad("combined-stream data is not an object", raw)
        if "id" in msg and "result" in msg:
            return []  # subscribe/unsubscribe ack
        if "id" in msg and "error" in msg:
            err = msg["error"] if isinstance(msg["error"], dict) else {"msg": msg["error"]}
            return [SubscriptionAck(self.name, False, "subscribe", str(err.get("msg", err)), str(msg["id"]))]
        kind = msg.get("e")
        if kind == "kline":
            return self._parse_kline(msg, raw)
        if kind in ("24hrTicker", "24hrMiniTicker"):
            return [TickerEvent(self.name, str(msg.get("s", "")), self._number(msg.get("c"), "ticker c", raw),
                                self._int_ms(msg.get("E"), "ticker E", raw))]
        if kind in ("aggTrade", "trade"):
            return [TradeEvent(self.name, str(msg.get("s", "")), self._number(msg.get("p"), "trade p", raw),
                               self._int_ms(msg.get("T"), "trade T", raw),
                               self._number(msg.get("q", 0), "trade q", raw))]
        if isinstance(kind, str):
            return []  # depthUpdate, bookTicker, markPriceUpdate...: valid, unused
        raise self._bad("frame has no event type", raw)

    def _parse_kline(self, msg: dict[str, Any], raw: str | bytes) -> list[MarketEvent]:
        k = msg.get("k")
        if not isinstance(k, dict) or not k.keys() >= _KLINE_KEYS:
            raise self._bad("kline without k.t/o/h/l/c/v/x/i", raw)
        if not isinstance(k["x"], bool):
            raise self._bad(f"kline x is {k['x']!r}, expected true/false", raw)
        if not isinstance(k["i"], str) or k["i"] not in KNOWN_INTERVALS:
            raise self._bad(f"kline interval {k['i']!r} not understood", raw)
        symbol = str(k.get("s") or msg.get("s") or "")
        if not symbol:
            raise self._bad("kline without symbol", raw)
        return [self._kline(symbol, k["i"], k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["x"], raw)]

    # -- heartbeat ------------------------------------------------------------------------------
    def heartbeat_message(self) -> str | None:
        return None
