"""BingX perpetual swaps: symbols, REST klines/tickers, gzip WS frames, server Ping -> client Pong."""
from __future__ import annotations

import gzip
import json
import uuid
import zlib
from collections.abc import Sequence
from typing import Any

from ..core.errors import ExchangeError, excerpt
from ..core.instrument import TRADING, Instrument
from ..core.models import MarketEvent, SubscriptionAck, TickerEvent, TradeEvent
from ..core.timeframe import Timeframe
from .base import ExchangeAdapter, KlineRows, RestBudget, RestRequest, TickerRow

# -- constants ------------------------------------------------------------------------------------
REST_URL = "https://open-api.bingx.com"
WS_URL = "wss://open-api-swap.bingx.com/swap-market"
INTERVALS = {Timeframe.M1: "1m", Timeframe.M15: "15m", Timeframe.H1: "1h", Timeframe.H4: "4h", Timeframe.D1: "1d"}
KNOWN_INTERVALS = {"1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"}
_WS_KLINE_KEYS = frozenset(("T", "o", "h", "l", "c", "v"))  # a streamed kline's fields we read
MAX_FRAME = 4 * 1024 * 1024  # refuse gzip bombs
CONTRACT_STATUS = {"0": "offline", "5": "pre-online", "25": "no-open"}  # the contract list's codes (1 = online)
_PLACES = frozenset(str(n) for n in range(19))  # decimal places a price or quantity may have


class BingxAdapter(ExchangeAdapter):
    name = "bingx"
    default_rest_url = REST_URL
    default_ws_url = WS_URL
    rest_row_cap = 1440
    max_topics_per_connection = 100  # not documented; community reports ~200
    heartbeat_interval = 0.0  # the server sends "Ping" about every 5 s
    max_silence = 30.0
    rest_budget = RestBudget(10, 1.0)
    unknown_symbol_codes = frozenset({"109400"})
    topics_per_subscribe = 1  # one dataType per message

    # -- symbols --------------------------------------------------------------------------------
    def native_symbol(self, base: str, quote: str) -> str:
        base, quote = base.strip().upper(), quote.strip().upper()
        if not base or not quote or not (base + quote).isalnum():
            raise ValueError(f"bingx: bad symbol parts base={base!r} quote={quote!r}")
        return f"{base}-{quote}"

    def split_symbol(self, native: str) -> tuple[str, str]:
        parts = native.strip().upper().split("-")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"bingx: {native!r} is not a symbol like BTC-USDT")
        return parts[0], parts[1]

    # -- REST -----------------------------------------------------------------------------------
    def kline_request(self, symbol: str, tf: Timeframe, start_ms: int | None, end_ms: int | None,
                      limit: int | None = None) -> RestRequest:
        params: dict[str, Any] = {"symbol": symbol, "interval": INTERVALS[tf],
                                  "limit": min(limit or self.rest_row_cap, self.rest_row_cap)}
        if start_ms is not None:
            params["startTime"] = int(start_ms)
        if end_ms is not None:
            params["endTime"] = int(end_ms)
        return RestRequest(f"{self.rest_url}/openApi/swap/v3/quote/klines", params, "/openApi/swap/v3/quote/klines")

    def _data(self, payload: Any, endpoint: str) -> Any:
        if isinstance(payload, (str, bytes, bytearray)):
            payload = self._decode_json(payload)
        if not isinstance(payload, dict) or "code" not in payload:
            raise self._bad(f"{endpoint}: not a BingX envelope", payload)
        if payload["code"] != 0:
            raise ExchangeError(self.name, str(payload.get("msg", "")), code=payload["code"], endpoint=endpoint)
        return payload.get("data")

    def parse_kline_rows(self, payload: Any) -> KlineRows:
        data = self._data(payload, "/openApi/swap/v3/quote/klines")
        if isinstance(data, dict):
            data = [data]  # the latest kline alone may come back as one object
        if not isinstance(data, list):
            raise self._bad("klines data is not a list", payload)
        rows = []
        for r in data:
            if not isinstance(r, dict) or any(k not in r for k in ("time", "open", "high", "low", "close", "volume")):
                raise self._bad("kline row lacks time/open/high/low/close/volume", payload)
            rows.append([r["time"], r["open"], r["high"], r["low"], r["close"], r["volume"]])
        return self._kline_rows(rows, payload)

    def tickers_request(self) -> RestRequest:
        return RestRequest(f"{self.rest_url}/openApi/swap/v2/quote/ticker", {}, "/openApi/swap/v2/quote/ticker")

    def parse_ticker_rows(self, payload: Any) -> list[TickerRow]:
        # data that is not a list is a malformed answer (BadMessage from _ticker_rows), never "no tickers"
        return self._ticker_rows(self._data(payload, "/openApi/swap/v2/quote/ticker"), "symbol", "lastPrice",
                                  "quoteVolume")

    # Instrument list: GET /openApi/swap/v2/quote/contracts, one answer. Checked against the field table of
    # https://bingx-api.github.io/docs-v3/#/en/swapV2/market-api.html (USDT-M Perp Futures symbols; read through a
    # transcription, the page itself is a script): symbol, currency (settlement), asset (base), pricePrecision and
    # quantityPrecision (decimal places: the tick and the quantity step are 10^-places), tradeMinQuantity (minimum
    # quantity, coin), tradeMinUSDT (minimum notional), status 1 online, 0 offline, 5 pre-online, 25 no-open.
    # Not verified: whether an offline contract stays in the list for long; apiStateOpen ("can the API open
    # positions") is not used.
    def instruments_request(self, cursor: str = "") -> RestRequest:
        return RestRequest(f"{self.rest_url}/openApi/swap/v2/quote/contracts", {}, "/openApi/swap/v2/quote/contracts")

    def parse_instruments(self, payload: Any) -> tuple[list[Instrument], str]:
        items = self._data(payload, "/openApi/swap/v2/quote/contracts")

        def build(it: dict[str, Any]) -> Instrument | None:
            base, quote = self.split_symbol(it["symbol"])  # ValueError (not BASE-QUOTE): left out
            if quote != "USDT" or it.get("currency") != "USDT":
                return None  # USDC-margined contracts share the list
            code = str(it.get("status"))
            status = TRADING if code == "1" else CONTRACT_STATUS.get(code, f"status {excerpt(code, 12)}".strip())
            return self._instrument(it, it["symbol"], base, quote, tick=self._step(it, "pricePrecision"),
                                    lot=self._step(it, "quantityPrecision"), min_qty=it["tradeMinQuantity"],
                                    min_notional=it.get("tradeMinUSDT") or 0, status=status)

        return self._instruments_kept(items, build), ""

    def _step(self, item: dict[str, Any], key: str) -> float:
        places = item[key]
        if isinstance(places, bool) or str(places) not in _PLACES:
            raise self._bad(f"instrument {item.get('symbol')}: {key} {excerpt(places, 20)!r} is not a number of "
                            f"decimal places", item)
        return 10.0 ** -int(places)

    # -- WebSocket ------------------------------------------------------------------------------
    def kline_topic(self, symbol: str, tf: Timeframe) -> str:
        return f"{symbol}@kline_{INTERVALS[tf]}"

    def ticker_topic(self, symbol: str) -> str:
        return f"{symbol}@ticker"

    def subscribe_message(self, topics: Sequence[str], request_id: str = "") -> str:
        if len(topics) != 1:
            raise ValueError("bingx: one dataType per subscribe message")
        return json.dumps({"id": request_id or str(uuid.uuid4()), "reqType": "sub", "dataType": topics[0]})

    def unsubscribe_message(self, topics: Sequence[str], request_id: str = "") -> str:
        if len(topics) != 1:
            raise ValueError("bingx: one dataType per unsubscribe message")
        return json.dumps({"id": request_id or str(uuid.uuid4()), "reqType": "unsub", "dataType": topics[0]})

    def _text(self, raw: str | bytes) -> str:
        """Server frames are gzip-compressed binary; text frames are taken as they are."""
        if isinstance(raw, str):
            return raw
        try:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = d.decompress(bytes(raw), MAX_FRAME)
            if d.unconsumed_tail:
                raise self._bad("gzip frame inflates past 4 MiB", raw)
            return out.decode("utf-8")
        except (zlib.error, gzip.BadGzipFile, EOFError) as exc:
            raise self._bad(f"frame is not gzip ({exc})", raw) from None
        except UnicodeDecodeError:
            raise self._bad("gzip frame is not UTF-8", raw) from None

    def heartbeat_reply(self, raw: str | bytes) -> str | None:
        try:
            return "Pong" if self._text(raw) == "Ping" else None
        except ValueError:
            return None

    def parse_ws_message(self, raw: str | bytes) -> list[MarketEvent]:
        text = self._text(raw)
        if text in ("Ping", "Pong", "ping", "pong"):
            return []
        msg = self._decode_json(text)
        if not isinstance(msg, dict):
            raise self._bad("frame is not a JSON object", text)
        code = msg.get("code", 0)
        data_type = msg.get("dataType")
        if code not in (0, "0"):
            return [SubscriptionAck(self.name, False, "subscribe", f"{code}: {msg.get('msg', '')}",
                                    str(msg.get("id", "")))]
        if not data_type:
            if "id" in msg:
                return []  # subscribe ack
            raise self._bad("frame has no dataType", text)
        if not isinstance(data_type, str):
            raise self._bad("dataType is not a string", text)
        symbol, _, stream = data_type.partition("@")
        data = msg.get("data")
        if stream.startswith("kline_"):
            interval = stream[len("kline_"):]
            if interval not in KNOWN_INTERVALS:
                raise self._bad(f"kline interval {interval!r} not understood", text)
            items = [data] if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise self._bad("kline data is not a list", text)
            out: list[MarketEvent] = []
            for k in items:
                if not isinstance(k, dict) or not k.keys() >= _WS_KLINE_KEYS:
                    raise self._bad("kline item lacks T/o/h/l/c/v", text)
                # T is the candle's open time; no close flag: the close detector decides
                out.append(self._kline(symbol, interval, k["T"], k["o"], k["h"], k["l"], k["c"], k["v"], None, text))
            return out
        if stream == "ticker":
            if not isinstance(data, dict):
                raise self._bad("ticker data is not an object", text)
            return [TickerEvent(self.name, str(data.get("s", symbol)), self._number(data.get("c"), "ticker c", text),
                                self._int_ms(data.get("E"), "ticker E", text))]
        if stream == "trade":
            items = data if isinstance(data, list) else [data]
            return [TradeEvent(self.name, symbol, self._number(t.get("p"), "trade p", text),
                               self._int_ms(t.get("T"), "trade T", text), self._number(t.get("q", 0), "trade q", text))
                    for t in items if isinstance(t, dict)]
        return []

    # -- heartbeat ------------------------------------------------------------------------------
    def heartbeat_message(self) -> str | None:
        return None
