"""REST client on requests: session reuse, per-exchange budget, retries on 429/5xx, paged kline fetches.

Blocking by design: call it from a worker thread (asyncio.to_thread / QThread), never the GUI thread.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.exceptions

from ..core.errors import (
    BadMessage,
    ConnectFailed,
    DnsFailed,
    ExchangeError,
    HttpStatusError,
    RateLimited,
    RequestTimedOut,
    RestClosed,
    TlsFailed,
    TransportError,
    excerpt,
)
from ..core.instrument import Instrument
from ..core.timeframe import Timeframe
from ..exchanges.base import ExchangeAdapter, KlineRows, RestRequest, TickerRow
from .ratelimit import TokenBucket

if TYPE_CHECKING:  # frames are for the bots and tests; the engine and the collector take the rows (no pandas)
    import pandas as pd

log = logging.getLogger(__name__)

# Throttling: Binance 429 then 418 (IP ban), Bybit 403 (IP limit); 5xx are retried as HttpStatusError
RATE_LIMIT_STATUSES = {429, 418, 403}
MAX_RETRY_AFTER_S = 120.0  # the longest Retry-After we honour (Binance's 418 bans say minutes to days: we retry)
MAX_BODY_BYTES = 64 * 1024 * 1024  # the largest answer we read (tickers and instrument lists are ~1 MB)
BODY_CHUNK = 256 * 1024
BODY_DEADLINE_FACTOR = 3.0  # the whole answer within 3 x the per-read timeout
HORIZON_SLOTS = 2  # a kline page reaches this many candles past our idea of now (clocks differ a little)
# A connection refused or timed out is retried once here; an outage is the caller's to wait out (a series retries
# with the reconnect backoff and says why meanwhile), not something to hide behind seconds of silent retries.
TRANSPORT_RETRIES = 1
USER_AGENT = "TwinStar/0.1"
POOL_SIZE = 32  # keep-alive connections per host


class RestClient:
    def __init__(self, adapter: ExchangeAdapter, *, session: requests.Session | None = None,
                 timeout: float = 10.0, retries: int = 4, backoff: float = 0.5,
                 bucket: TokenBucket | None = None, sleep: Callable[[float], None] | None = None) -> None:
        self.adapter = adapter
        self._in_flight = InFlight()
        if session is None:
            session = requests.Session()
            # bots fetch with up to 16 worker threads: keep a connection per worker (the default 10 made
            # urllib3 discard connections and warn on every burst)
            pooled = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
            pooled.poolmanager.pool_classes_by_scheme = self._in_flight.pool_classes()
            session.mount("http://", pooled)
            session.mount("https://", pooled)
        self.session = session
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._closed = threading.Event()
        # waits between retries and for the budget end at once when the client is closed
        self._sleep = sleep if sleep is not None else self._closed.wait
        self.bucket = bucket or TokenBucket(adapter.rest_budget.requests, adapter.rest_budget.per_seconds,
                                            sleep=self._closed.wait)
        self.requests_made = 0

    def __repr__(self) -> str:
        return f"RestClient({self.adapter.name}, {self.adapter.rest_url!r})"

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self) -> None:
        """No request starts after this, waits end at once, and reads in flight are cut short (their sockets
        shut down), so a thread blocked on a server that never answers returns now, not at its timeout."""
        self._closed.set()
        self._in_flight.abort()
        self.session.close()

    def get_json(self, req: RestRequest) -> object:
        """GET with budget and retries. Failures are typed: TransportError (no answer: connect, timeout, TLS,
        DNS), RateLimited / HttpStatusError (an HTTP error status, with the exchange's code when the body has
        one), BadMessage (an answer that is not JSON); RestClosed once the client is closed. Transport
        errors, throttling and 5xx are retried `retries` times here; callers decide what to do after that."""
        name = self.adapter.name
        last_exc: Exception | None = None
        cost = self.adapter.request_cost(req)
        for attempt in range(self.retries + 1):
            self.bucket.acquire(cost)
            if self._closed.is_set():
                raise RestClosed(f"{name}: REST client closed")
            self.requests_made += 1
            try:
                resp = self.session.get(req.url, params=dict(req.params), timeout=self.timeout, stream=True)
                body = _read_body(resp, name, req.endpoint, time.monotonic() + self.timeout * BODY_DEADLINE_FACTOR)
            except (requests.RequestException, TransportError) as exc:
                if self._closed.is_set():
                    raise RestClosed(f"{name}: REST client closed") from None
                last_exc = exc if isinstance(exc, TransportError) else transport_error(name, exc, req.endpoint)
                if not isinstance(last_exc, TransportError):
                    raise last_exc from None  # a bad URL: retrying cannot help
                if attempt >= TRANSPORT_RETRIES:  # no answer twice: the caller's longer backoff takes over
                    raise last_exc from None
                self._wait(attempt, None, last_exc)
                continue
            if resp.status_code >= 400:
                code, message = self._error_body(resp, body)
                if resp.status_code in RATE_LIMIT_STATUSES:
                    retry_after = _retry_after(resp)
                    last_exc = RateLimited(name, message, code=code, status=resp.status_code, endpoint=req.endpoint,
                                           retry_after=retry_after)
                    if retry_after:
                        self.bucket.pause(retry_after)
                    self._wait(attempt, retry_after, last_exc)
                    continue
                error = HttpStatusError(name, message, code=code, status=resp.status_code, endpoint=req.endpoint)
                if not error.server_side:
                    raise error
                last_exc = error
                self._wait(attempt, None, last_exc)
                continue
            try:
                return json.loads(body)
            except ValueError:  # not JSON, or JSON Python cannot hold (an integer of thousands of digits)
                raise BadMessage(name, f"{req.endpoint}: response is not JSON", body) from None
            except RecursionError:
                raise BadMessage(name, f"{req.endpoint}: response nests too deep", body) from None
        assert last_exc is not None
        raise last_exc

    def _error_body(self, resp: requests.Response, body: bytes) -> tuple[int | str | None, str]:
        """The exchange's own error code and message from an HTTP error body, else the body's excerpt."""
        try:
            parsed = self.adapter.error_of(json.loads(body))
        except (ValueError, RecursionError):
            parsed = None
        if parsed is not None:
            return parsed
        return None, excerpt(body) or resp.reason

    def _wait(self, attempt: int, retry_after: float | None, exc: Exception) -> None:
        if attempt >= self.retries:
            return
        delay = retry_after if retry_after else self.backoff * 2 ** attempt
        log.warning("%s; retry %d/%d in %.1fs", exc, attempt + 1, self.retries, delay)
        self._sleep(delay)
        if self._closed.is_set():
            raise RestClosed(f"{self.adapter.name}: REST client closed")

    # -- klines -----------------------------------------------------------------------------------
    def fetch_klines(self, symbol: str, tf: Timeframe, start_ms: int, end_ms: int | None = None,
                     *, closed_only: bool = True, max_pages: int = 1000, now_ms: int | None = None,
                     on_page: Callable[[int, int], None] | None = None) -> pd.DataFrame:
        """`fetch_kline_rows` as a frame (KLINE_COLUMNS, `attrs["server_time"]`: None when not known); imports
        pandas."""
        rows = self.fetch_kline_rows(symbol, tf, start_ms, end_ms, closed_only=closed_only, max_pages=max_pages,
                                     now_ms=now_ms, on_page=on_page)
        frame = rows.frame()
        frame.attrs["server_time"] = rows.server_time
        return frame

    def fetch_kline_rows(self, symbol: str, tf: Timeframe, start_ms: int, end_ms: int | None = None,
                         *, closed_only: bool = True, max_pages: int = 1000, now_ms: int | None = None,
                         on_page: Callable[[int, int], None] | None = None) -> KlineRows:
        """Candles with open time in [start_ms, end_ms], paged oldest to newest past the row cap.

        Each page asks for an explicit [start, start + cap*tf) window, so it works whichever end of the
        range the exchange fills first. With closed_only, the still-forming candle (by the exchange's
        clock when it reports one, else `now_ms`, else ours) is dropped. `on_page(done, total)` is called
        after each page with candle-slot counts (for progress bars; called from this thread).
        """
        fallback_now = now_ms if now_ms is not None else int(time.time() * 1000)
        adapter = self.adapter
        start_ms = tf.bucket_start(start_ms) if start_ms % tf.ms else start_ms
        pages: list[np.ndarray] = []
        server_time: int | None = None
        cursor = start_ms
        for _ in range(max_pages):
            # a page asks for no more rows than its window holds up to about now: where the exchange weighs a
            # request by its limit (Binance), a catch-up of a few candles costs 1, not 10
            now_guess = (server_time if server_time is not None else fallback_now) + HORIZON_SLOTS * tf.ms
            cap = adapter.page_rows(tf, cursor)
            rows = max(1, min(cap, (min(now_guess, end_ms if end_ms is not None else now_guess) - cursor) // tf.ms + 1))
            page_end = cursor + rows * tf.ms - 1
            if end_ms is not None:
                page_end = min(page_end, end_ms)
            try:
                payload = self.get_json(adapter.kline_request(symbol, tf, cursor, page_end, rows))
            except (ExchangeError, TransportError) as exc:
                raise exc.with_symbol(symbol) from None
            try:
                page = adapter.parse_kline_rows(payload)
            except ExchangeError as exc:
                raise self._typed(exc).with_symbol(symbol) from None
            if page.server_time is not None:
                server_time = page.server_time
            if len(page):
                pages.append(page.rows)
            now = server_time if server_time is not None else fallback_now
            cursor = page_end + 1
            if on_page is not None:
                last = min(now, end_ms) if end_ms is not None else now
                total = max(1, (last - start_ms) // tf.ms + 1)
                on_page(min(total, -(-(cursor - start_ms) // tf.ms)), total)
            if cursor > now or (end_ms is not None and cursor > end_ms):
                break
        if not pages:
            return KlineRows.empty(server_time)
        out = pages[0] if len(pages) == 1 else np.concatenate(pages)
        ts = out[:, 0].astype(np.int64)
        if len(pages) > 1 and not (ts[1:] > ts[:-1]).all():  # pages overlap: the later page's row wins
            final = len(ts) - 1 - np.unique(ts[::-1], return_index=True)[1]  # sorted by time, each its last row
            out, ts = out[final], ts[final]
        keep = ts >= start_ms  # each page is sorted and unique already (adapter contract)
        if end_ms is not None:
            keep &= ts <= end_ms
        if closed_only:
            keep &= ts + tf.ms <= (server_time if server_time is not None else fallback_now)
        if not keep.all():
            out = out[keep]
        return KlineRows(out, server_time)

    def fetch_tickers(self) -> pd.DataFrame:
        """`fetch_ticker_rows` as a frame (TICKER_COLUMNS); imports pandas."""
        try:
            return self.adapter.parse_tickers(self.get_json(self.adapter.tickers_request()))
        except ExchangeError as exc:
            raise self._typed(exc) from None

    def fetch_ticker_rows(self) -> list[TickerRow]:
        """Every instrument's ticker, by 24 h quote volume, largest first."""
        try:
            return self.adapter.parse_ticker_rows(self.get_json(self.adapter.tickers_request()))
        except ExchangeError as exc:
            raise self._typed(exc) from None

    def _typed(self, exc: ExchangeError) -> ExchangeError:
        """An error envelope whose code says "too many requests" (Bybit answers it with HTTP 200) as RateLimited,
        so callers wait and retry as for a 429."""
        if isinstance(exc, RateLimited) or not self.adapter.is_rate_limited(exc):
            return exc
        return RateLimited(exc.exchange, exc.message, code=exc.code, endpoint=exc.endpoint, symbol=exc.symbol,
                           status=exc.status)

    def fetch_instruments(self, max_pages: int = 100) -> list[Instrument]:
        """Every instrument the exchange lists (of the adapter's market kind), over all pages."""
        out: list[Instrument] = []
        cursor, seen = "", set()
        for _ in range(max_pages):
            req = self.adapter.instruments_request(cursor)
            try:
                page, cursor = self.adapter.parse_instruments(self.get_json(req))
            except ExchangeError as exc:
                raise self._typed(exc) from None
            out.extend(page)
            if not cursor or cursor in seen:  # a cursor that comes back would loop for ever
                break
            seen.add(cursor)
        return out


def _retry_after(resp: requests.Response) -> float | None:
    """Seconds the exchange asks us to wait, bounded: a header of "inf" or 1e9 must not park a series for good."""
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_S) if math.isfinite(seconds) else MAX_RETRY_AFTER_S


def transport_error(exchange: str, exc: requests.RequestException, endpoint: str) -> Exception:
    """A requests exception as our typed error, by its type and the types it wraps (never by its text)."""
    detail = f"{type(exc).__name__}: {excerpt(exc)}"
    if isinstance(exc, requests.exceptions.SSLError) or _caused_by(exc, ssl.SSLError):
        return TlsFailed(exchange, detail, endpoint=endpoint)
    if isinstance(exc, requests.exceptions.Timeout):  # ConnectTimeout and ReadTimeout
        return RequestTimedOut(exchange, detail, endpoint=endpoint)
    if _caused_by(exc, socket.gaierror) or _caused_by(exc, urllib3.exceptions.NameResolutionError):
        return DnsFailed(exchange, detail, endpoint=endpoint)
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ContentDecodingError)):
        return ConnectFailed(exchange, detail, endpoint=endpoint)
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema, requests.exceptions.URLRequired)):
        return ValueError(f"{exchange} {endpoint}: the REST URL is not usable: {detail}")
    return TransportError(exchange, detail, endpoint=endpoint)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is among what `exc` wraps: urllib3's MaxRetryError.reason, args, causes and contexts."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, kind):
            return True
        todo += [getattr(e, "reason", None), e.__cause__, e.__context__, *e.args]
    return False


def _read_body(resp: requests.Response, exchange: str, endpoint: str, deadline: float) -> bytes:
    """The whole body, within a deadline and a size cap: a server that sends a byte every few seconds (each
    read inside the read timeout) or gigabytes would otherwise hold a fetch, and a REST slot, for ever. Reads
    return what has arrived (read1), so the deadline is checked however slowly the bytes come."""
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            try:
                # gzip decoded: the cap counts what it inflates to
                chunk = resp.raw.read1(BODY_CHUNK, decode_content=True)
            except urllib3.exceptions.ReadTimeoutError as exc:
                raise RequestTimedOut(exchange, f"reading the answer: {excerpt(exc, 80)}", endpoint=endpoint) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise ConnectFailed(exchange, f"reading the answer: {type(exc).__name__}: {excerpt(exc, 80)}",
                                    endpoint=endpoint) from None
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BadMessage(exchange, f"{endpoint}: response larger than {MAX_BODY_BYTES:,} bytes",
                                 b"".join(chunks))
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise RequestTimedOut(exchange, f"the answer took longer than {BODY_DEADLINE_FACTOR:g}x the timeout "
                                                f"({size:,} bytes so far)", endpoint=endpoint)
        body = b"".join(chunks)
        # read through: the connection goes back to the pool (private fields of requests, not in its stubs)
        resp._content, resp._content_consumed = body, True  # type: ignore[attr-defined]
        return body
    finally:
        resp.close()  # not read through: the connection is closed, never reused half-read


class InFlight:
    """The connections this client's requests are using right now (checked out of their pools), so that
    closing the client can shut their sockets down under a blocked read. A connection that finishes its
    connect after the close is shut at once (it was being set up while the close looked for sockets)."""

    def __init__(self) -> None:
        self._conns: weakref.WeakSet = weakref.WeakSet()
        self._lock = threading.Lock()
        self.closed = False

    def pool_classes(self) -> dict[str, type]:
        """urllib3 pool classes that report the connections they hand out and take back."""
        http = type("TrackedHTTPConnection", (_TrackedConnection, urllib3.connection.HTTPConnection),
                    {"registry": self})
        https = type("TrackedHTTPSConnection", (_TrackedConnection, urllib3.connection.HTTPSConnection),
                     {"registry": self})
        return {"http": type("TrackedHTTPConnectionPool", (_TrackedPool, urllib3.HTTPConnectionPool),
                             {"registry": self, "ConnectionCls": http}),
                "https": type("TrackedHTTPSConnectionPool", (_TrackedPool, urllib3.HTTPSConnectionPool),
                              {"registry": self, "ConnectionCls": https})}

    def add(self, conn: object) -> None:
        with self._lock:
            self._conns.add(conn)

    def discard(self, conn: object) -> None:
        with self._lock:
            self._conns.discard(conn)

    def abort(self) -> None:
        with self._lock:
            self.closed = True
            conns = list(self._conns)
        for conn in conns:
            _shut(conn)


def _shut(conn: object) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError, ValueError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's: TLS ones too


if TYPE_CHECKING:  # what the two mixins below are mixed into (pool_classes)
    _PoolBase = urllib3.HTTPConnectionPool
    _ConnectionBase = urllib3.connection.HTTPConnection
else:
    _PoolBase = _ConnectionBase = object


class _TrackedPool(_PoolBase):
    registry: InFlight

    def _get_conn(self, timeout=None):
        conn = super()._get_conn(timeout)
        self.registry.add(conn)
        return conn

    def _put_conn(self, conn) -> None:
        if conn is not None:
            self.registry.discard(conn)
        super()._put_conn(conn)


class _TrackedConnection(_ConnectionBase):
    registry: InFlight

    def connect(self) -> None:
        super().connect()
        if self.registry.closed:  # the client closed while this connect was under way
            _shut(self)
