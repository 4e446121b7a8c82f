"""OKX v5 USDT swaps: symbols, REST candles/tickers, /business WS candle frames, text ping heartbeat."""
from __future__ import annotations

import time
from typing import Any

from ..core.errors import ExchangeError, excerpt
from ..core.instrument import Instrument
from ..core.models import MarketEvent, TickerEvent, TradeEvent
from ..core.timeframe import Timeframe
from .base import ExchangeAdapter, KlineRows, RestBudget, RestRequest, TickerRow
from .op_args_ws import OpArgsWs

# -- constants ------------------------------------------------------------------------------------
REST_URL = "https://www.okx.com"
WS_URL = "wss://ws.okx.com:8443/ws/v5/business"  # candles moved here in 2023; tickers stay on /public
BARS = {Timeframe.M1: "1m", Timeframe.M15: "15m", Timeframe.H1: "1H", Timeframe.H4: "4H", Timeframe.D1: "1Dutc"}
BAR_LABELS = {"1m": "1m", "3m": "3m", "5m": "5m", "15m": "15m", "30m": "30m", "1H": "1h", "2H": "2h", "4H": "4h",
              "1Dutc": "1d", "1D": "1d+8", "6Hutc": "6h", "12Hutc": "12h", "1Wutc": "1w"}
RECENT_BARS = 1440  # /market/candles serves the latest 1,440 rows (the forming one included); older: history-candles
CANDLES_ROWS = 300  # max rows of one /market/candles answer
HISTORY_ROWS = 100  # max rows of one /market/history-candles answer


class OkxAdapter(OpArgsWs, ExchangeAdapter):
    name = "okx"
    default_rest_url = REST_URL
    default_ws_url = WS_URL
    # pages of old candles are smaller (page_rows): history-candles answers with the newest 100 rows of a wider
    # window, so 300-row pages there lost their oldest 200 rows
    rest_row_cap = CANDLES_ROWS
    max_topics_per_connection = 100
    heartbeat_interval = 20.0  # text "ping" well inside the 30 s idle cut
    max_silence = 45.0
    rest_budget = RestBudget(15, 1.0)  # candles: 40 requests / 2 s per IP
    unknown_symbol_codes = frozenset({"51001"})
    rate_limit_codes = frozenset({"50011", "50061"})  # Too many requests; sub-account rate limit
    topics_per_subscribe = 20

    # -- symbols --------------------------------------------------------------------------------
    def native_symbol(self, base: str, quote: str) -> str:
        base, quote = base.strip().upper(), quote.strip().upper()
        if not base or not quote or not (base + quote).isalnum():
            raise ValueError(f"okx: bad symbol parts base={base!r} quote={quote!r}")
        return f"{base}-{quote}-SWAP"

    def split_symbol(self, native: str) -> tuple[str, str]:
        parts = native.strip().upper().split("-")
        if len(parts) != 3 or parts[2] != "SWAP" or not parts[0] or not parts[1]:
            raise ValueError(f"okx: {native!r} is not a swap symbol like BTC-USDT-SWAP")
        return parts[0], parts[1]

    # -- REST -----------------------------------------------------------------------------------
    def kline_request(self, symbol: str, tf: Timeframe, start_ms: int | None, end_ms: int | None,
                      limit: int | None = None) -> RestRequest:
        recent = self._recent(tf, start_ms)
        path = "/api/v5/market/candles" if recent else "/api/v5/market/history-candles"
        cap = CANDLES_ROWS if recent else HISTORY_ROWS
        params: dict[str, Any] = {"instId": symbol, "bar": BARS[tf], "limit": min(limit or cap, cap)}
        if start_ms is not None:
            params["before"] = int(start_ms) - 1  # rows newer than this
        if end_ms is not None:
            params["after"] = int(end_ms) + 1  # rows older than this
        return RestRequest(f"{self.rest_url}{path}", params, path)

    @staticmethod
    def _recent(tf: Timeframe, start_ms: int | None) -> bool:
        """The latest 1,440 rows open after now - 1440 bars (the oldest at now - 1439 bars when now is a bar
        boundary): /candles has them, older ones /history-candles."""
        return start_ms is None or start_ms > time.time() * 1000 - RECENT_BARS * tf.ms

    def page_rows(self, tf: Timeframe, start_ms: int) -> int:
        return CANDLES_ROWS if self._recent(tf, start_ms) else HISTORY_ROWS

    def _data(self, payload: Any, endpoint: str) -> list[Any]:
        if isinstance(payload, (str, bytes, bytearray)):
            payload = self._decode_json(payload)
        if not isinstance(payload, dict) or "code" not in payload:
            raise self._bad(f"{endpoint}: not an OKX envelope", payload)
        if str(payload["code"]) != "0":
            raise ExchangeError(self.name, str(payload.get("msg", "")), code=payload["code"], endpoint=endpoint)
        if not isinstance(payload.get("data"), list):
            raise self._bad(f"{endpoint}: data is not a list", payload)
        data: list[Any] = payload["data"]
        return data

    def parse_kline_rows(self, payload: Any) -> KlineRows:
        rows = self._data(payload, "/api/v5/market/candles")
        # [ts, o, h, l, c, vol(contracts), volCcy(base), volCcyQuote, confirm]: volume in base coin
        norm = []
        for r in rows:
            if not isinstance(r, list) or len(r) < 7:
                raise self._bad("candle row is not [ts, o, h, l, c, vol, volCcy, ...]", payload)
            norm.append([r[0], r[1], r[2], r[3], r[4], r[6]])
        parsed = self._kline_rows(norm, payload)
        forming = [int(r[0]) for r in rows if len(r) >= 9 and r[8] == "0"]
        if forming:  # OKX flags the forming row itself: tell callers where "now" is
            return KlineRows(parsed.rows, min(forming))
        return parsed

    def tickers_request(self) -> RestRequest:
        return RestRequest(f"{self.rest_url}/api/v5/market/tickers", {"instType": "SWAP"}, "/api/v5/market/tickers")

    def parse_ticker_rows(self, payload: Any) -> list[TickerRow]:
        swaps = [it for it in self._data(payload, "/api/v5/market/tickers")
                 if not isinstance(it, dict) or str(it.get("instId", "")).endswith("-USDT-SWAP")]
        return self._ticker_rows(swaps, "instId", "last", "volCcy24h", volume_in_base=True)  # no USDT field

    # Instrument list: GET /api/v5/public/instruments?instType=SWAP, one answer. Checked against
    # https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments : instId, settleCcy, ctType
    # (linear/inverse), ctVal + ctValCcy (the base amount of one contract for a linear swap), tickSz, lotSz and
    # minSz ("the number of contracts" for derivatives: kept in contracts here, with contract_size = ctVal),
    # state (live, suspend, preopen, test). No minimum notional is published (0). "When a product is going to be
    # delisted ... the instrument will not be available": OKX lists no closed swaps. SWAP also holds USDC and
    # coin-margined swaps: left out. Not verified: whether ctMult is ever other than 1 on a swap (like ccxt, the
    # contract size is ctVal alone).
    def instruments_request(self, cursor: str = "") -> RestRequest:
        return RestRequest(f"{self.rest_url}/api/v5/public/instruments", {"instType": "SWAP"},
                           "/api/v5/public/instruments")

    def parse_instruments(self, payload: Any) -> tuple[list[Instrument], str]:
        items = self._data(payload, "/api/v5/public/instruments")

        def build(it: dict[str, Any]) -> Instrument | None:
            if it.get("instType") != "SWAP" or it.get("settleCcy") != "USDT" or it.get("ctType") != "linear":
                return None
            base, quote = self.split_symbol(it["instId"])  # ValueError (not BTC-USDT-SWAP): left out
            if it.get("ctValCcy") != base:  # ctVal would not be an amount of the base asset
                raise self._bad(f"instrument {it['instId']}: ctValCcy {excerpt(it.get('ctValCcy'), 20)!r} is not "
                                f"its base {base}", it)
            return self._instrument(it, it["instId"], base, quote, tick=it["tickSz"], lot=it["lotSz"],
                                    min_qty=it["minSz"], status=self._status(it.get("state"), "live"),
                                    contract_size=it["ctVal"])

        return self._instruments_kept(items, build), ""

    # -- WebSocket ------------------------------------------------------------------------------
    def kline_topic(self, symbol: str, tf: Timeframe) -> str:
        return f"candle{BARS[tf]}:{symbol}"

    def ticker_topic(self, symbol: str) -> str | None:
        return None  # tickers are on /public; candle pushes carry the last price on /business

    def parse_ws_message(self, raw: str | bytes) -> list[MarketEvent]:
        frame = self._channel_frame(raw)
        if isinstance(frame, list):
            return frame
        channel, inst, data, msg = frame
        if channel.startswith("candle"):
            label = BAR_LABELS.get(channel[len("candle"):])
            if label is None or not inst:
                raise self._bad(f"candle channel {channel!r} not understood", raw)
            out: list[MarketEvent] = []
            for row in data:
                if not isinstance(row, list) or len(row) < 7:
                    raise self._bad("candle row is not [ts, o, h, l, c, vol, volCcy, ...]", raw)
                closed = None  # old 7-column rows carry no flag: the close detector decides
                if len(row) >= 9:
                    if row[8] not in ("0", "1"):
                        raise self._bad(f"candle confirm is {row[8]!r}, expected '0' or '1'", raw)
                    closed = row[8] == "1"
                out.append(self._kline(inst, label, row[0], row[1], row[2], row[3], row[4], row[6], closed, raw))
            return out
        if channel == "tickers":
            return [TickerEvent(self.name, str(t.get("instId", inst)), self._number(t.get("last"), "last", raw),
                                self._int_ms(t.get("ts"), "ticker ts", raw)) for t in data if isinstance(t, dict)]
        if channel == "trades":
            return [TradeEvent(self.name, str(t.get("instId", inst)), self._number(t.get("px"), "px", raw),
                               self._int_ms(t.get("ts"), "trade ts", raw), self._number(t.get("sz", 0), "sz", raw))
                    for t in data if isinstance(t, dict)]
        return []  # books and others: valid, unused

    # -- heartbeat ------------------------------------------------------------------------------
    def heartbeat_message(self) -> str | None:
        return "ping"
