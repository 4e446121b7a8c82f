"""REST client on requests: session reuse, per-exchange budget, retries on 429/5xx, paged kline fetches.

Blocking by design: call it from a worker thread (asyncio.to_thread / QThread), never the GUI thread.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pandas as pd
import requests
import requests.adapters

from ..core.errors import BadMessage, ExchangeError, RateLimited, excerpt
from ..core.timeframe import Timeframe
from ..exchanges.base import ExchangeAdapter, RestRequest, empty_klines
from .ratelimit import TokenBucket

log = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504, 418, 403}
USER_AGENT = "TwinStar/0.1"
POOL_SIZE = 32  # keep-alive connections per host


class RestClient:
    def __init__(self, adapter: ExchangeAdapter, *, session: requests.Session | None = None,
                 timeout: float = 10.0, retries: int = 4, backoff: float = 0.5,
                 bucket: TokenBucket | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.adapter = adapter
        if session is None:
            session = requests.Session()
            # bots fetch with up to 16 worker threads: keep a connection per worker (the default 10 made
            # urllib3 discard connections and warn on every burst)
            pooled = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
            session.mount("http://", pooled)
            session.mount("https://", pooled)
        self.session = session
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.bucket = bucket or TokenBucket(adapter.rest_budget.requests, adapter.rest_budget.per_seconds)
        self._sleep = sleep
        self.requests_made = 0

    def close(self) -> None:
        self.session.close()

    def get_json(self, req: RestRequest) -> object:
        """GET with budget and retries; HTTP errors become ExchangeError/RateLimited naming the endpoint."""
        name = self.adapter.name
        last_exc: Exception | None = None
        for attempt in range(self.retries + 1):
            self.bucket.acquire()
            self.requests_made += 1
            try:
                resp = self.session.get(req.url, params=dict(req.params), timeout=self.timeout)
            except requests.RequestException as exc:
                last_exc = ExchangeError(name, f"network error: {exc.__class__.__name__}: {exc}", endpoint=req.endpoint)
                self._wait(attempt, None, last_exc)
                continue
            if resp.status_code in RETRY_STATUSES:
                retry_after = _retry_after(resp)
                cls = RateLimited if resp.status_code in (429, 418, 403) else ExchangeError
                kwargs = {"retry_after": retry_after} if cls is RateLimited else {}
                code, message = self._error_body(resp)
                last_exc = cls(name, message, code=code, status=resp.status_code, endpoint=req.endpoint, **kwargs)
                if retry_after:
                    self.bucket.pause(retry_after)
                self._wait(attempt, retry_after, last_exc)
                continue
            if resp.status_code >= 400:
                code, message = self._error_body(resp)
                raise ExchangeError(name, message, code=code, status=resp.status_code, endpoint=req.endpoint)
            try:
                return resp.json()
            except ValueError:
                raise BadMessage(name, f"{req.endpoint}: response is not JSON", resp.text) from None
        assert last_exc is not None
        raise last_exc

    def _error_body(self, resp: requests.Response) -> tuple[object, str]:
        """The exchange's own error code and message from an HTTP error body, else the body's excerpt."""
        try:
            parsed = self.adapter.error_of(resp.json())
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed
        return None, excerpt(resp.text) or resp.reason

    def _wait(self, attempt: int, retry_after: float | None, exc: Exception) -> None:
        if attempt >= self.retries:
            return
        delay = retry_after if retry_after else self.backoff * 2 ** attempt
        log.warning("%s; retry %d/%d in %.1fs", exc, attempt + 1, self.retries, delay)
        self._sleep(delay)

    # -- klines -----------------------------------------------------------------------------------
    def fetch_klines(self, symbol: str, tf: Timeframe, start_ms: int, end_ms: int | None = None,
                     *, closed_only: bool = True, max_pages: int = 1000, now_ms: int | None = None,
                     on_page: Callable[[int, int], None] | None = None) -> pd.DataFrame:
        """Candles with open time in [start_ms, end_ms], paged oldest to newest past the row cap.

        Each page asks for an explicit [start, start + cap*tf) window, so it works whichever end of the
        range the exchange fills first. With closed_only, the still-forming candle (by the exchange's
        clock when it reports one, else `now_ms`, else ours) is dropped. `on_page(done, total)` is called
        after each page with candle-slot counts (for progress bars; called from this thread).
        """
        fallback_now = now_ms if now_ms is not None else int(time.time() * 1000)
        adapter, cap = self.adapter, self.adapter.rest_row_cap
        start_ms = tf.bucket_start(start_ms) if start_ms % tf.ms else start_ms
        pages: list[pd.DataFrame] = []
        server_time: int | None = None
        cursor = start_ms
        for _ in range(max_pages):
            page_end = cursor + cap * tf.ms - 1
            if end_ms is not None:
                page_end = min(page_end, end_ms)
            payload = self.get_json(adapter.kline_request(symbol, tf, cursor, page_end, cap))
            try:
                frame = adapter.parse_rest_klines(payload)
            except ExchangeError as exc:
                raise ExchangeError(exc.exchange, exc.message, code=exc.code, endpoint=exc.endpoint,
                                    symbol=symbol) from None
            server_time = frame.attrs.get("server_time", server_time)
            if not frame.empty:
                pages.append(frame)
            now = server_time if server_time is not None else fallback_now
            cursor = page_end + 1
            if on_page is not None:
                last = min(now, end_ms) if end_ms is not None else now
                total = max(1, (last - start_ms) // tf.ms + 1)
                on_page(min(total, -(-(cursor - start_ms) // tf.ms)), total)
            if cursor > now or (end_ms is not None and cursor > end_ms):
                break
        if not pages:
            return empty_klines()
        out = pages[0] if len(pages) == 1 else pd.concat(pages, ignore_index=True)
        ts = out["timestamp"].astype("int64").to_numpy()
        if len(pages) > 1 and not (ts[1:] > ts[:-1]).all():  # pages overlap: the later page's row wins
            out = out.drop_duplicates("timestamp", keep="last").sort_values("timestamp", kind="stable")
            ts = out["timestamp"].astype("int64").to_numpy()
        keep = ts >= start_ms  # each page is sorted and unique already (adapter contract)
        if end_ms is not None:
            keep &= ts <= end_ms
        if closed_only:
            keep &= ts + tf.ms <= (server_time if server_time is not None else fallback_now)
        if not keep.all():
            out = out[keep]
        out = out.reset_index(drop=True)
        out.attrs["server_time"] = server_time
        return out

    def fetch_tickers(self) -> pd.DataFrame:
        return self.adapter.parse_tickers(self.get_json(self.adapter.tickers_request()))

    def fetch_instruments(self) -> dict[str, dict[str, float]]:
        """{symbol: {tick_size, lot_size, min_qty, min_notional}} over every page; {} where unsupported."""
        out: dict[str, dict[str, float]] = {}
        cursor = ""
        for _ in range(100):
            req = self.adapter.instruments_request(cursor)
            if req is None:
                return out
            page, cursor = self.adapter.parse_instruments(self.get_json(req))
            out.update(page)
            if not cursor:
                break
        return out


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
