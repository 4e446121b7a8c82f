"""The exchange adapter contract: pure translation between an exchange's wire formats and our domain."""
from __future__ import annotations

import functools
import json
import logging
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..core.errors import BadMessage, ExchangeError, TwinStarError, excerpt
from ..core.instrument import SWAP, TRADING, Instrument, is_unified, split_unified, unified_symbol
from ..core.models import Candle, KlineEvent, MarketEvent
from ..core.names import BadName, check_symbol
from ..core.timeframe import Timeframe

if TYPE_CHECKING:  # pandas is imported where a frame is asked for, not on the way to the window or the collector
    import pandas as pd

log = logging.getLogger(__name__)

KLINE_COLUMNS = ["timestamp", "open", "high", "low", "close", "volume"]
MAX_EPOCH_MS = 4_102_444_800_000  # 2100-01-01 UTC: a later "epoch ms" is garbage, not a candle
TICKER_COLUMNS = ["symbol", "last_price", "quote_volume_24h"]
ASSET_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9.]{0,23}")  # BTC, 1000PEPE, KRW; what an asset name may be


@dataclass(frozen=True, slots=True)
class RestRequest:
    """One GET request: full URL, query params, and a short endpoint label for errors and budgets."""

    url: str
    params: Mapping[str, Any] = field(default_factory=dict)
    endpoint: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class KlineRows:
    """REST klines as plain arrays: `rows` is (n, 6) float64 [open time ms, open, high, low, close, volume] with
    ascending unique open times; `server_time` is the exchange's clock (ms) when the answer told it, so callers can
    tell the still-forming last row (open time + tf > server_time) from closed ones."""

    rows: np.ndarray
    server_time: int | None = None

    @classmethod
    def empty(cls, server_time: int | None = None) -> KlineRows:
        return cls(np.empty((0, 6), np.float64), server_time)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def open_times(self) -> np.ndarray:
        return self.rows[:, 0].astype(np.int64)

    def candles(self) -> list[Candle]:
        return [Candle(int(t), o, h, l, c, v) for t, o, h, l, c, v in self.rows.tolist()]

    def frame(self) -> pd.DataFrame:
        """As a frame with KLINE_COLUMNS (timestamp datetime64[ms, UTC]); `attrs["server_time"]` when known."""
        import pandas as pd

        frame = pd.DataFrame({
            "timestamp": pd.DatetimeIndex(self.open_times.view("datetime64[ms]")).tz_localize("UTC"),
            **{c: self.rows[:, i] for i, c in enumerate(KLINE_COLUMNS[1:], start=1)}})
        if self.server_time is not None:
            frame.attrs["server_time"] = self.server_time
        return frame


class TickerRow(NamedTuple):
    """One instrument's ticker, as `parse_ticker_rows` gives them (TICKER_COLUMNS)."""

    symbol: str
    last_price: float
    quote_volume_24h: float


@dataclass(frozen=True, slots=True)
class RestBudget:
    """A request budget: at most `requests` per `per_seconds` (we stay well under the exchange's limit); where the
    exchange weighs requests, `requests` counts weight (see ExchangeAdapter.request_cost)."""

    requests: int
    per_seconds: float


class ExchangeAdapter(ABC):
    """Base class of every exchange adapter. No sockets or files here: everything is testable on frames."""

    name: str = ""
    #: SWAP (USDT-margined perpetuals) or SPOT (the KRW venues)
    market_kind: str = SWAP
    #: the currency its instruments are quoted (and a paper account is kept) in
    quote_currency: str = "USDT"
    default_rest_url: str = ""
    default_ws_url: str = ""
    #: max rows one kline request returns
    rest_row_cap: int = 200
    #: max topics we put on one WebSocket connection
    max_topics_per_connection: int = 100
    #: seconds between client heartbeats (0 = the exchange pings us)
    heartbeat_interval: float = 20.0
    #: seconds of silence after which a subscribed stream counts as dead
    max_silence: float = 60.0
    rest_budget: RestBudget = RestBudget(10, 1.0)
    #: topics one subscribe message may carry (BingX: 1)
    topics_per_subscribe: int = 10
    #: each subscribe request replaces the whole subscription set (Upbit-style): always send all topics
    replaces_subscriptions: bool = False
    #: error codes that mean "no such symbol" (the series is then reported and skipped)
    unknown_symbol_codes: frozenset[str] = frozenset()
    #: envelope codes that mean "too many requests" when the HTTP status does not say it (Bybit answers 200)
    rate_limit_codes: frozenset[str] = frozenset()
    #: where an error body holds the exchange's code and message: (code key, message key) pairs, and whether
    #: it is an {"error": {"name", "message"}} object (Upbit, Bithumb v1)
    error_fields: tuple[tuple[str, str], ...] = (("code", "msg"),)
    error_object: bool = False
    #: no candle stream: the kline topic carries trades and the forming candle is built from them (Bithumb)
    candles_from_trades: bool = False
    #: seconds between WebSocket protocol ping frames we send (None: the exchange pings, or JSON/text pings)
    protocol_ping_interval: float | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in GUARDED_PARSERS:  # also those a mixin brings (Upbit-style candles, the OKX/Bitget dialect)
            fn = getattr(cls, name, None)
            if fn is not None and not getattr(fn, "_guarded", False) and not getattr(fn, "__isabstractmethod__", False):
                setattr(cls, name, _guarded(fn))

    def __init__(self, rest_url: str | None = None, ws_url: str | None = None) -> None:
        self._refused_tickers: list[str] = []  # per parse: odd ticker items left out, said in one log line
        self.rest_url = (rest_url or self.default_rest_url).rstrip("/")
        self.ws_url = ws_url or self.default_ws_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rest_url={self.rest_url!r}, ws_url={self.ws_url!r})"

    # -- symbols --------------------------------------------------------------------------------
    @abstractmethod
    def native_symbol(self, base: str, quote: str) -> str: ...

    @abstractmethod
    def split_symbol(self, native: str) -> tuple[str, str]: ...

    def unified(self, native: str) -> str:
        """The unified symbol of a native id by this exchange's naming rule (`BTC-USDT-SWAP` -> `BTC/USDT:USDT`);
        the catalog is the truth where it is at hand. ValueError for a name that does not follow the rule."""
        base, quote = self.split_symbol(native)
        return unified_symbol(base, quote, quote if self.market_kind == SWAP else "")

    def native(self, symbol: str) -> str:
        """The native id of a unified symbol by the naming rule (a native id is returned as it is)."""
        if not is_unified(symbol):
            return symbol
        base, quote, settle = split_unified(symbol)
        if (settle != "") != (self.market_kind == SWAP):
            raise ValueError(f"{self.name}: {symbol} is not a {self.market_kind} symbol")
        return self.native_symbol(base, quote)

    # -- REST -----------------------------------------------------------------------------------
    def page_rows(self, tf: Timeframe, start_ms: int) -> int:
        """Most rows one kline page starting at `start_ms` may ask for (an exchange whose old candles come from
        another endpoint with a smaller cap says so here)."""
        return self.rest_row_cap

    @abstractmethod
    def kline_request(self, symbol: str, tf: Timeframe, start_ms: int | None, end_ms: int | None,
                      limit: int | None = None) -> RestRequest: ...

    @abstractmethod
    def parse_kline_rows(self, payload: Any) -> KlineRows:
        """Decoded kline JSON -> rows with ascending unique open times, and the exchange's clock when the
        payload carries it (see KlineRows)."""

    def parse_rest_klines(self, payload: Any) -> pd.DataFrame:
        """`parse_kline_rows` as a frame with KLINE_COLUMNS; `frame.attrs["server_time"]` when the payload
        carries the exchange's clock. Imports pandas: the collector and the chart's start use the rows."""
        return self.parse_kline_rows(payload).frame()

    @abstractmethod
    def tickers_request(self) -> RestRequest: ...

    @abstractmethod
    def parse_ticker_rows(self, payload: Any) -> list[TickerRow]:
        """Decoded tickers JSON -> one row per instrument, by 24 h quote volume, largest first (the exchange's
        order among equals)."""

    def parse_tickers(self, payload: Any) -> pd.DataFrame:
        """`parse_ticker_rows` as a frame with TICKER_COLUMNS (imports pandas)."""
        import pandas as pd

        return pd.DataFrame(self.parse_ticker_rows(payload), columns=TICKER_COLUMNS)

    def request_cost(self, req: RestRequest) -> float:
        """What one request costs against `rest_budget` (1 each, unless the exchange weighs them)."""
        return 1.0

    @abstractmethod
    def instruments_request(self, cursor: str = "") -> RestRequest:
        """The exchange's own instrument list (symbols, tick, lot, minimums, status), page `cursor` ("" = first)."""

    @abstractmethod
    def parse_instruments(self, payload: Any) -> tuple[list[Instrument], str]:
        """Decoded instrument list -> (instruments of this adapter's market kind, next page's cursor or "").
        An odd item (a bad name, a step of 0 or NaN) is left out with one log line for all of them (see
        `_instruments_kept`); only an answer that is not a list of instruments at all raises BadMessage."""

    # -- WebSocket ------------------------------------------------------------------------------
    @abstractmethod
    def kline_topic(self, symbol: str, tf: Timeframe) -> str: ...

    @abstractmethod
    def ticker_topic(self, symbol: str) -> str | None:
        """None where last prices do not come on the candle connection (OKX: /public vs /business)."""

    @abstractmethod
    def subscribe_message(self, topics: Sequence[str], request_id: str = "") -> str: ...

    @abstractmethod
    def unsubscribe_message(self, topics: Sequence[str], request_id: str = "") -> str: ...

    @abstractmethod
    def parse_ws_message(self, raw: str | bytes) -> list[MarketEvent]:
        """One frame -> events. Acks and pongs give []; undecodable or odd frames raise BadMessage."""

    # -- heartbeat ------------------------------------------------------------------------------
    @abstractmethod
    def heartbeat_message(self) -> str | None:
        """The client's heartbeat frame, or None where the exchange pings us."""

    def is_pong(self, raw: str | bytes) -> bool:
        """True for the exchange's answer to our heartbeat (for round-trip times and the pong timeout)."""
        return raw in ("pong", b"pong")

    def heartbeat_reply(self, raw: str | bytes) -> str | None:
        """The answer to a server-initiated application ping (BingX `Ping` -> `Pong`), else None."""
        return None

    # -- errors ---------------------------------------------------------------------------------
    def error_of(self, payload: Any) -> tuple[Any, str] | None:
        """(code, message) of an error body in this exchange's own format, or None if it is not one (a
        gateway's or a proxy's error page is not the exchange speaking: its "404" is no verdict on a symbol)."""
        if not isinstance(payload, dict):
            return None
        if self.error_object and isinstance(payload.get("error"), dict):  # Upbit / Bithumb v1
            err = payload["error"]
            return err.get("name"), str(err.get("message", ""))
        for code_key, msg_key in self.error_fields:
            if code_key in payload:
                return payload[code_key], str(payload.get(msg_key, ""))
        return None

    def is_rate_limited(self, exc: BaseException) -> bool:
        """True when the exchange's own error code says we asked too often (whatever the HTTP status)."""
        return (isinstance(exc, ExchangeError) and exc.code is not None and not isinstance(exc.code, bool)
                and str(exc.code) in self.rate_limit_codes)

    def is_unknown_symbol(self, exc: BaseException) -> bool:
        """True only when the exchange itself answered with its error code for "no such symbol". A network
        failure, a timeout or a server error is never one, whatever its text says."""
        return (isinstance(exc, ExchangeError) and exc.code is not None and not isinstance(exc.code, bool)
                and str(exc.code) in self.unknown_symbol_codes)

    # -- shared helpers for subclasses ----------------------------------------------------------
    def _instrument(self, item: object, native: Any, base: Any, quote: Any, *, tick: Any, lot: Any, min_qty: Any,
                    min_notional: Any = 0, status: str = "trading", contract_size: Any = 1,
                    tick_table: tuple[tuple[float, float], ...] = ()) -> Instrument:
        """One checked Instrument of this exchange: names against the strict patterns (they become paths), the
        native id this venue's name for the base and quote, quoted in the venue's currency, steps finite and > 0
        (orders are rounded to them), minimums finite and >= 0; else BadMessage naming the item."""
        try:
            check_symbol(native)
        except BadName as exc:
            raise self._bad(str(exc), item) from None
        assets = []
        for what, value in (("base", base), ("quote", quote)):
            text = value.strip().upper() if isinstance(value, str) else ""
            if not ASSET_PATTERN.fullmatch(text):
                raise self._bad(f"instrument {native}: {what} asset {excerpt(repr(value), 30)} is not allowed", item)
            assets.append(text)
        numbers = {}
        for what, value in (("tick size", tick), ("lot size", lot), ("min qty", min_qty),
                            ("min notional", min_notional), ("contract size", contract_size)):
            numbers[what] = self._number(value, f"instrument {native}: {what}", item)
        if numbers["lot size"] <= 0 or numbers["contract size"] <= 0 or numbers["min qty"] < 0 \
                or numbers["min notional"] < 0 or numbers["tick size"] < 0 \
                or (numbers["tick size"] == 0 and not tick_table):
            raise self._bad(f"instrument {native}: steps must be > 0 and minimums >= 0", item)
        b, q = assets
        # the native id is what goes on the wire and the unified symbol what people pick: they must name one market
        if q != self.quote_currency:
            raise self._bad(f"instrument {native}: its quote {q} is not {self.quote_currency}", item)
        try:
            named = self.native_symbol(b, q)
        except ValueError:
            named = None
        if named != native:
            raise self._bad(f"instrument {native}: its name is not base {b} and quote {q}", item)
        settle = q if self.market_kind == SWAP else ""
        return Instrument(self.name, unified_symbol(b, q, settle), native, b, q, settle, self.market_kind,
                          numbers["tick size"], numbers["lot size"], numbers["min qty"], numbers["min notional"],
                          status, numbers["contract size"], tick_table)

    @staticmethod
    def _status(word: Any, trading_word: Any) -> str:
        """TRADING when the exchange's own status word (or code) says the instrument trades, else that word
        lower-cased and cut short (it is shown to users and kept in the catalog cache)."""
        if word == trading_word and type(word) is type(trading_word):
            return TRADING
        return excerpt(str(word).strip().lower(), 30) if word not in (None, "") else "unknown"

    def _instruments_kept(self, items: Any, build: Callable[[Any], Instrument | None]) -> list[Instrument]:
        """`build(item)` -> Instrument, or None for an item of another market (spot on a swap list, USDC perps).
        An item it refuses (BadMessage) is left out; all of them are said in one log line."""
        if not isinstance(items, list):
            raise self._bad("instrument list is not a list", items)
        out, refused = [], []
        for item in items:
            try:
                if not isinstance(item, dict):
                    raise self._bad("instrument item is not an object", item)
                inst = build(item)
            except BadMessage as exc:
                refused.append(str(exc))
                continue
            except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a field missing or of the wrong type
                refused.append(f"{type(exc).__name__}: {excerpt(exc, 80)} in {excerpt(repr(item), 120)}")
                continue
            if inst is not None:
                out.append(inst)
        if refused:
            log.error("%s: %d instrument(s) left out of the catalog, e.g. %s", self.name, len(refused), refused[0])
        return out

    # (the order of the shared helpers below: numbers, candles, tickers, kline rows)
    def _bad(self, reason: str, payload: object) -> BadMessage:
        return BadMessage(self.name, reason, payload)

    def _decode_json(self, raw: str | bytes | bytearray) -> Any:
        if isinstance(raw, (bytes, bytearray, memoryview)):
            try:
                raw = bytes(raw).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise self._bad(f"frame is not UTF-8 ({exc.reason})", raw) from None
        if not isinstance(raw, str):
            raise self._bad(f"frame of type {type(raw).__name__}", raw)
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as exc:  # ValueError: also an integer past Python's digit limit
            raise self._bad(f"not JSON ({excerpt(exc, 80)})", raw) from None

    def _number(self, value: Any, what: str, payload: object) -> float:
        if isinstance(value, bool) or value is None:
            raise self._bad(f"{what} is {value!r}, expected a number", payload)
        try:
            out = float(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an integer of hundreds of digits
            raise self._bad(f"{what} is {str(value)[:40]!r}, expected a number", payload) from None
        if not math.isfinite(out):
            raise self._bad(f"{what} is not finite ({value!r})", payload)
        return out

    def _int_ms(self, value: Any, what: str, payload: object) -> int:
        out = self._number(value, what, payload)
        if out != int(out) or not 0 <= out <= MAX_EPOCH_MS:
            raise self._bad(f"{what} is {value!r}, expected epoch milliseconds", payload)
        return int(out)

    def _kline(self, symbol: str, label: str, open_time: Any, o: Any, h: Any, l: Any, c: Any, v: Any,
               closed: bool | None, raw: object) -> KlineEvent:
        """A validated kline event: numbers finite, low <= open/close <= high, volume >= 0."""
        # Fast path (this runs for every kline frame): five conversions and one finiteness test on the sum;
        # anything unusual (bools, None, text, inf/nan, a sum overflowing) takes the careful path below,
        # which names the field.
        if type(open_time) is int and 0 <= open_time <= MAX_EPOCH_MS:
            t = open_time
        else:
            t = self._int_ms(open_time, "kline open time", raw)
        try:
            fo, fh, fl, fc, fv = float(o), float(h), float(l), float(c), float(v)
            ok = math.isfinite(fo + fh + fl + fc + fv) and bool not in (type(o), type(h), type(l), type(c), type(v))
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            num = self._number
            fo, fh, fl, fc, fv = (num(o, "open", raw), num(h, "high", raw), num(l, "low", raw), num(c, "close", raw),
                                  num(v, "volume", raw))
        ev = KlineEvent(self.name, symbol, label, t, fo, fh, fl, fc, fv, closed)
        if not (fl <= (fo if fo < fc else fc) and (fo if fo > fc else fc) <= fh) or fv < 0:
            raise self._bad("inconsistent candle (need low <= open, close <= high and volume >= 0)", raw)
        return ev

    def _ticker_rows(self, items: Any, symbol_key: str, price_key: str, volume_key: str,
                     volume_in_base: bool = False) -> list[TickerRow]:
        """Ticker objects -> TICKER_COLUMNS sorted by 24 h quote volume (base volume x last when asked)."""
        if not isinstance(items, list):
            raise self._bad("tickers are not a list", items)
        rows = []
        for it in items:
            try:
                if not isinstance(it, dict) or symbol_key not in it:
                    raise self._bad(f"ticker item without {symbol_key}", it)
                last = self._number(it.get(price_key), price_key, it)
                volume = self._number(it.get(volume_key), volume_key, it)
            except BadMessage as exc:  # one odd item (a "NaN" volume) costs that symbol, not the whole list
                self._refused_tickers.append(str(exc))
                continue
            rows.append((it[symbol_key], last, volume * last if volume_in_base else volume))
        return self._tickers_by_volume(rows)

    def _tickers_by_volume(self, rows: list[tuple[Any, float, float]]) -> list[TickerRow]:
        """(symbol, last, quote volume) rows -> TICKER_COLUMNS, largest volume first. A symbol name that could
        not be a folder name (`../x`, 300 characters) is logged and left out: these names become paths; so is
        an item whose numbers are not numbers (one line for all of them)."""
        refused, self._refused_tickers = self._refused_tickers, []
        if refused:
            log.error("%s: %d ticker item(s) refused, e.g. %s", self.name, len(refused), refused[0])
        good = []
        for row in rows:
            try:
                check_symbol(row[0])
            except BadName as exc:
                log.error("%s: ticker for a symbol refused: %s", self.name, exc)
                continue
            good.append(TickerRow(*row))
        return sorted(good, key=lambda r: -r.quote_volume_24h)  # stable: the exchange's order among equals

    def _kline_rows(self, rows: Sequence[Sequence[Any]], payload: object, server_time: int | None = None) -> KlineRows:
        """Rows of [open_time_ms, o, h, l, c, v, ...] in any order -> normalised ascending rows."""
        if not rows:
            return KlineRows.empty(server_time)
        try:
            arr = np.array([r[:6] for r in rows], dtype=np.float64)
        except (TypeError, ValueError, IndexError, OverflowError):
            raise self._bad("kline rows are not [time, open, high, low, close, volume, ...]", payload) from None
        if arr.ndim != 2 or arr.shape[1] != 6 or not np.isfinite(arr).all():
            raise self._bad("kline rows are not 6+ finite numbers", payload)
        if ((arr[:, 0] < 0) | (arr[:, 0] > MAX_EPOCH_MS)).any():
            raise self._bad("kline open time is not epoch milliseconds", payload)
        ts = arr[:, 0].astype(np.int64)
        if (ts.astype(np.float64) != arr[:, 0]).any():
            raise self._bad("kline open time is not epoch milliseconds", payload)
        o, h, l, c, v = arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4], arr[:, 5]
        if (l > np.minimum(o, c)).any() or (np.maximum(o, c) > h).any() or (v < 0).any():
            raise self._bad("inconsistent kline row (need low <= open, close <= high and volume >= 0)", payload)
        order = np.argsort(ts, kind="stable")
        ts, arr = ts[order], arr[order]
        keep = np.ones(len(ts), dtype=bool)  # a repeated open time: the row sent last wins
        keep[:-1] = ts[1:] != ts[:-1]
        if not keep.all():
            arr = arr[keep]
        return KlineRows(arr, server_time)  # open times are exact ms in the float column (checked above)


# Methods that decode what came from the network: whatever they raise that is not one of our errors (a KeyError,
# a ValueError from a 5,000-digit number, a TypeError from a field of the wrong type) becomes BadMessage.
GUARDED_PARSERS = ("parse_kline_rows", "parse_rest_klines", "parse_ticker_rows", "parse_tickers", "parse_instruments",
                   "parse_ws_message")


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def parse(self: ExchangeAdapter, payload: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, payload, *args, **kwargs)
        except (TwinStarError, NotImplementedError):
            raise
        except (Exception, RecursionError) as exc:  # a parser bug or a payload we did not foresee
            raise BadMessage(self.name, f"{fn.__name__}: {type(exc).__name__}: {excerpt(exc, 80)}", payload) from exc
    parse._guarded = True  # type: ignore[attr-defined]  # a marker attribute (mypy knows none on functions)
    return parse


def empty_klines() -> pd.DataFrame:
    """A frame of no klines with KLINE_COLUMNS and their dtypes."""
    return KlineRows.empty().frame()
