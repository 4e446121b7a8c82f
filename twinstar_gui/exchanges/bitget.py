"""Bitget v2 USDT futures: symbols, REST candles/tickers, v2 public WS frames, text ping heartbeat."""
from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from ..core.errors import ExchangeError, excerpt
from ..core.instrument import Instrument
from ..core.models import MarketEvent, TickerEvent, TradeEvent
from ..core.timeframe import Timeframe
from .base import ExchangeAdapter, KlineRows, RestBudget, RestRequest, TickerRow
from .op_args_ws import OpArgsWs

# -- constants ------------------------------------------------------------------------------------
REST_URL = "https://api.bitget.com"
WS_URL = "wss://ws.bitget.com/v2/ws/public"
PRODUCT = "USDT-FUTURES"
GRANULARITY = {Timeframe.M1: "1m", Timeframe.M15: "15m", Timeframe.H1: "1H", Timeframe.H4: "4H", Timeframe.D1: "1Dutc"}
_PLACES = frozenset(str(n) for n in range(19))  # decimal places a price may have
# how far back /market/candles reaches (older rows: /market/history-candles), with a margin
RECENT_DAYS = {Timeframe.M1: 25, Timeframe.M15: 45, Timeframe.H1: 75, Timeframe.H4: 220, Timeframe.D1: 220}
HISTORY_ROWS = 200  # max rows of one /market/history-candles answer (unverified: the docs seen say 200)
CHANNEL_LABELS = {"1m": "1m", "5m": "5m", "15m": "15m", "30m": "30m", "1H": "1h", "4H": "4h", "1D": "1d+8",
                  "1Dutc": "1d", "6Hutc": "6h", "12Hutc": "12h", "1Wutc": "1w"}


class BitgetAdapter(OpArgsWs, ExchangeAdapter):
    name = "bitget"
    default_rest_url = REST_URL
    default_ws_url = WS_URL
    rest_row_cap = 1000  # /candles; /history-candles: HISTORY_ROWS
    max_topics_per_connection = 50  # 1000 allowed; Bitget recommends < 50 per connection
    heartbeat_interval = 25.0  # text "ping" every < 30 s; dropped after 2 min without
    max_silence = 60.0
    rest_budget = RestBudget(10, 1.0)  # 20 req/s per IP
    unknown_symbol_codes = frozenset({"40034"})
    topics_per_subscribe = 20
    arg_extra = {"instType": PRODUCT}

    # -- symbols --------------------------------------------------------------------------------
    def native_symbol(self, base: str, quote: str) -> str:
        base, quote = base.strip().upper(), quote.strip().upper()
        if not base or not quote or not (base + quote).isalnum():
            raise ValueError(f"bitget: bad symbol parts base={base!r} quote={quote!r}")
        return base + quote

    def split_symbol(self, native: str) -> tuple[str, str]:
        sym = native.strip().upper()
        for quote in ("USDT", "USDC"):
            if sym.endswith(quote) and len(sym) > len(quote):
                return sym[: -len(quote)], quote
        raise ValueError(f"bitget: cannot split symbol {native!r}")

    # -- REST -----------------------------------------------------------------------------------
    def kline_request(self, symbol: str, tf: Timeframe, start_ms: int | None, end_ms: int | None,
                      limit: int | None = None) -> RestRequest:
        cap = self.rest_row_cap if self._recent(tf, start_ms) else HISTORY_ROWS
        params: dict[str, Any] = {"symbol": symbol, "productType": PRODUCT, "granularity": GRANULARITY[tf],
                                  "limit": min(limit or cap, cap)}
        if start_ms is not None:
            params["startTime"] = int(start_ms)
        if end_ms is not None:
            params["endTime"] = int(end_ms)
        path = "/api/v2/mix/market/candles" if self._recent(tf, start_ms) else "/api/v2/mix/market/history-candles"
        return RestRequest(f"{self.rest_url}{path}", params, path)

    @staticmethod
    def _recent(tf: Timeframe, start_ms: int | None) -> bool:
        """/candles reaches back only weeks (15m: about 52 days); older pages come from /history-candles."""
        return start_ms is None or start_ms > time.time() * 1000 - RECENT_DAYS[tf] * 86_400_000

    def page_rows(self, tf: Timeframe, start_ms: int) -> int:
        return self.rest_row_cap if self._recent(tf, start_ms) else HISTORY_ROWS

    def _data(self, payload: Any, endpoint: str) -> Any:
        if isinstance(payload, (str, bytes, bytearray)):
            payload = self._decode_json(payload)
        if not isinstance(payload, dict) or "code" not in payload:
            raise self._bad(f"{endpoint}: not a Bitget envelope", payload)
        if str(payload["code"]) != "00000":
            raise ExchangeError(self.name, str(payload.get("msg", "")), code=payload["code"], endpoint=endpoint)
        if not isinstance(payload.get("data"), list):
            raise self._bad(f"{endpoint}: data is not a list", payload)
        return payload["data"]

    def parse_kline_rows(self, payload: Any) -> KlineRows:
        rows = self._data(payload, "/api/v2/mix/market/candles")
        server_time = payload.get("requestTime") if isinstance(payload, dict) else None
        return self._kline_rows(rows, payload, server_time if isinstance(server_time, int) else None)  # sorted

    def tickers_request(self) -> RestRequest:
        return RestRequest(f"{self.rest_url}/api/v2/mix/market/tickers", {"productType": PRODUCT},
                           "/api/v2/mix/market/tickers")

    def parse_ticker_rows(self, payload: Any) -> list[TickerRow]:
        return self._ticker_rows(self._data(payload, "/api/v2/mix/market/tickers"), "symbol", "lastPr", "usdtVolume")

    # Instrument list: GET /api/v2/mix/market/contracts?productType=USDT-FUTURES, one answer. Checked against
    # https://www.bitget.com/api-doc/contract/market/Get-All-Symbols-Contracts : symbol, baseCoin, quoteCoin,
    # symbolType (perpetual/delivery), symbolStatus ("normal" trades), pricePlace (price decimals) with
    # priceEndStep (the step of the last decimal: tick = priceEndStep x 10^-pricePlace, e.g. 5 and 2 -> 0.05),
    # sizeMultiplier (quantity step), minTradeNum (minimum quantity, base coin), minTradeUSDT (minimum notional).
    # Not verified in the page text we could read: the full list of non-trading words (listed, maintain,
    # limit_open, restrictedAPI, off, as clients use them) and whether delisted contracts stay listed as "off".
    def instruments_request(self, cursor: str = "") -> RestRequest:
        return RestRequest(f"{self.rest_url}/api/v2/mix/market/contracts", {"productType": PRODUCT},
                           "/api/v2/mix/market/contracts")

    def parse_instruments(self, payload: Any) -> tuple[list[Instrument], str]:
        items = self._data(payload, "/api/v2/mix/market/contracts")

        def build(it: dict[str, Any]) -> Instrument | None:
            if it.get("symbolType") != "perpetual" or it.get("quoteCoin") != "USDT":
                return None  # delivery contracts (BTCUSDT250627) share the USDT-FUTURES list
            place, step = it["pricePlace"], self._number(it["priceEndStep"], "priceEndStep", it)
            if isinstance(place, bool) or str(place) not in _PLACES or step != int(step):
                raise self._bad(f"instrument {it['symbol']}: pricePlace {excerpt(place, 20)!r} / priceEndStep "
                                f"{excerpt(it['priceEndStep'], 20)!r} are not decimals and a whole step", it)
            return self._instrument(it, it["symbol"], it["baseCoin"], it["quoteCoin"],
                                    tick=float(Decimal(int(step)).scaleb(-int(place))), lot=it["sizeMultiplier"],
                                    min_qty=it["minTradeNum"], min_notional=it.get("minTradeUSDT") or 0,
                                    status=self._status(it.get("symbolStatus"), "normal"))

        return self._instruments_kept(items, build), ""

    # -- WebSocket ------------------------------------------------------------------------------
    def kline_topic(self, symbol: str, tf: Timeframe) -> str:
        return f"candle{GRANULARITY[tf]}:{symbol}"

    def ticker_topic(self, symbol: str) -> str:
        return f"ticker:{symbol}"

    def parse_ws_message(self, raw: str | bytes) -> list[MarketEvent]:
        frame = self._channel_frame(raw)
        if isinstance(frame, list):
            return frame
        channel, inst, data, msg = frame
        if channel.startswith("candle"):
            label = CHANNEL_LABELS.get(channel[len("candle"):])
            if label is None or not inst:
                raise self._bad(f"candle channel {channel!r} not understood", raw)
            out: list[MarketEvent] = []
            for row in data:  # a snapshot carries many historical rows, an update the live one(s)
                if not isinstance(row, list) or len(row) < 6:
                    raise self._bad("candle row is not [ts, o, h, l, c, baseVol, ...]", raw)
                # no close flag on Bitget: the shared close detector decides (closed=None)
                out.append(self._kline(inst, label, row[0], row[1], row[2], row[3], row[4], row[5], None, raw))
            return out
        if channel == "ticker":
            when = msg.get("ts")
            return [TickerEvent(self.name, str(t.get("instId", inst)),
                                self._number(t.get("lastPr", t.get("last")), "lastPr", raw),
                                self._int_ms(t.get("ts", t.get("systemTime", when)), "ticker ts", raw))
                    for t in data if isinstance(t, dict)]
        if channel == "trade":
            return [TradeEvent(self.name, inst, self._number(t.get("price"), "price", raw),
                               self._int_ms(t.get("ts"), "trade ts", raw), self._number(t.get("size", 0), "size", raw))
                    for t in data if isinstance(t, dict)]
        return []

    # -- heartbeat ------------------------------------------------------------------------------
    def heartbeat_message(self) -> str | None:
        return "ping"
