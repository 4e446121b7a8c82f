"""RestClient against the simulator over loopback: paging, forming-candle rule, retries, errors."""
import json
import socket
import threading
import time

import numpy as np
import pytest
import requests
import urllib3
from support.proxy import FlakyProxy

from twinstar_gui.core.errors import ConnectFailed, DnsFailed, HttpStatusError, RequestTimedOut, TlsFailed, is_transient
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.exchanges import BadMessage, ExchangeError, RateLimited, get_exchange
from twinstar_gui.exchanges.base import RestRequest
from twinstar_gui.net.ratelimit import TokenBucket
from twinstar_gui.net.rest import RestClient, RestClosed, transport_error
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimThread

Q = Timeframe.M15.ms


@pytest.fixture(scope="module")
def sim():
    s = SimThread(Market(SimClock(speed=1.0), seed=3, history_days=40)).start()
    yield s
    s.stop()


def client(sim, sleeps=None):
    adapter = get_exchange("bybit", rest_url=sim.rest_url("bybit"))
    return RestClient(adapter, sleep=(sleeps.append if sleeps is not None else lambda s: None), backoff=0.01)


def test_pages_past_the_row_cap_oldest_first_closed_only(sim):
    c = client(sim)
    now = sim.server.market.now_ms()
    start = now - now % Q - 2500 * Q
    frame = c.fetch_klines("BTCUSDT", Timeframe.M15, start)
    ts = frame["timestamp"].astype("int64").to_numpy()
    assert len(frame) == 2500 and ts[0] == start and (np.diff(ts) == Q).all()
    assert ts[-1] + Q <= frame.attrs["server_time"]  # the forming candle is not in a closed-only fetch
    assert c.requests_made == 3  # 1000-row pages
    truth = sim.server.market.closed_candles("BTCUSDT", Q, start, int(ts[-1]))
    np.testing.assert_array_equal(frame["close"].to_numpy(), [r[4] for r in truth])


def test_retries_429_honouring_retry_after_then_succeeds(sim):
    sleeps = []
    c = client(sim, sleeps)
    sim.server.fail_rest(429, times=2, retry_after=0.3)
    frame = c.fetch_klines("ETHUSDT", Timeframe.H1, sim.server.market.now_ms() - 10 * 3_600_000)
    assert len(frame) >= 9 and sleeps[:2] == [0.3, 0.3]


def test_persistent_5xx_becomes_exchange_error_naming_endpoint(sim):
    c = client(sim)
    sim.server.fail_rest(503, times=c.retries + 1)
    with pytest.raises(ExchangeError) as err:
        c.fetch_klines("BTCUSDT", Timeframe.M15, sim.server.market.now_ms() - 5 * Q)
    text = str(err.value)
    assert "bybit" in text and "/v5/market/kline" in text and "HTTP 503" in text


def test_rate_limit_error_type(sim):
    c = client(sim)
    sim.server.fail_rest(429, times=c.retries + 1, retry_after=0)
    with pytest.raises(RateLimited):
        c.get_json(c.adapter.tickers_request())


def test_error_envelope_names_symbol(sim):
    with pytest.raises(ExchangeError) as err:
        client(sim).fetch_klines("NOPEUSDT", Timeframe.M15, sim.server.market.now_ms() - 5 * Q)
    assert err.value.code == 10001 and "NOPEUSDT" in str(err.value) and "symbol invalid" in str(err.value)


def test_connection_refused_is_a_typed_transport_error_never_an_unknown_symbol():
    adapter = get_exchange("bybit", rest_url="http://127.0.0.1:9")  # nothing listens on port 9
    sleeps = []
    c = RestClient(adapter, sleep=sleeps.append, retries=4, timeout=2)
    with pytest.raises(ConnectFailed) as err:
        c.fetch_klines("BTCUSDT", Timeframe.M15, 0, 10 * Q)
    assert err.value.symbol == "BTCUSDT" and "?category=linear&symbol=BTCUSDT" in str(err.value)  # the URL's text
    assert not adapter.is_unknown_symbol(err.value) and is_transient(err.value)
    assert len(sleeps) == 1  # one quick retry; waiting out an outage is the caller's job


def test_a_silent_server_is_a_timeout():
    proxy = FlakyProxy(9).silent()  # accepts, never answers
    try:
        adapter = get_exchange("okx", rest_url=proxy.url("http"))
        c = RestClient(adapter, sleep=lambda s: None, timeout=0.3)
        with pytest.raises(RequestTimedOut):
            c.fetch_tickers()
    finally:
        proxy.close()


def test_tls_to_a_plain_http_server_is_a_tls_error(sim):
    url = sim.rest_url("bybit").replace("http://", "https://")
    c = RestClient(get_exchange("bybit", rest_url=url), sleep=lambda s: None, timeout=2)
    with pytest.raises(TlsFailed):
        c.fetch_tickers()


def test_a_name_that_does_not_resolve_is_a_dns_error():
    # the exception requests raises for a failed lookup, built here: no test may ask a real DNS server
    pool = urllib3.HTTPConnectionPool("exchange.invalid")
    cause = urllib3.exceptions.NameResolutionError("exchange.invalid", None,
                                                   socket.gaierror(-2, "Name or service not known"))
    exc = requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(pool, "/v5/market/kline", cause))
    err = transport_error("bybit", exc, "/v5/market/kline")
    assert isinstance(err, DnsFailed) and err.kind == "dns" and "/v5/market/kline" in str(err)
    plain = requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(pool, "/x", ConnectionRefusedError(111)))
    assert type(transport_error("bybit", plain, "/x")) is ConnectFailed


def test_an_http_error_status_is_typed_with_the_exchanges_code(sim):
    c = client(sim)
    sim.server.fail_rest(503, times=1)
    assert c.get_json(c.adapter.tickers_request())  # a 5xx is retried
    with pytest.raises(HttpStatusError) as err:  # an unknown path: a 404, not retried, not transient
        c.get_json(RestRequest(f"{sim.rest_url('bybit')}/v5/nope", {}, "/v5/nope"))
    assert err.value.status == 404 and err.value.code == 404 and not is_transient(err.value)


def test_tickers_top_by_volume(sim):
    top = client(sim).fetch_tickers()
    assert len(top) == len(sim.server.market.symbols)
    assert top["quote_volume_24h"].is_monotonic_decreasing


def test_budget_is_shared_across_threads(sim):
    c = client(sim)
    errors = []

    def worker():
        try:
            for _ in range(5):
                c.get_json(c.adapter.tickers_request())
        except Exception as exc:  # noqa: BLE001 - collected for the assertion  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and c.requests_made == 20


def test_closing_the_client_cuts_a_blocked_read_short():
    proxy = FlakyProxy(9).silent()  # accepts, never answers: the read would wait for its 60 s timeout
    c = RestClient(get_exchange("bybit", rest_url=proxy.url("http")), timeout=60)
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(_raised(c.fetch_tickers)))
    try:
        worker.start()
        deadline = time.monotonic() + 10
        while proxy.accepted == 0 and time.monotonic() < deadline:  # the request is on the wire
            time.sleep(0.01)
        assert proxy.accepted == 1
        c.close()
        worker.join(timeout=10)
        assert not worker.is_alive() and outcome == [RestClosed]
        with pytest.raises(RestClosed):  # and nothing starts after
            c.fetch_tickers()
    finally:
        proxy.close()


def _raised(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the test looks at its type
        return type(exc)
    return None


def test_a_short_catch_up_asks_for_few_rows_and_costs_binance_little_weight(sim):
    """Binance weighs a klines request by its limit: a page asks for no more rows than reach (about) now."""
    class Recording(TokenBucket):
        def acquire(self, cost=1.0):
            costs.append(cost)
            return super().acquire(cost)

    costs = []
    adapter = get_exchange("binance", rest_url=sim.rest_url("binance"))
    c = RestClient(adapter, bucket=Recording(20, 1.0), sleep=lambda s: None)
    now = sim.server.market.now_ms()
    five = c.fetch_klines("BTCUSDT", Timeframe.M15, now - now % Q - 5 * Q, now_ms=now)
    assert len(five) == 5 and costs == [1.0]  # limit 7 (5 + 2 of clock margin): weight 1, not 10
    costs.clear()
    long = c.fetch_klines("BTCUSDT", Timeframe.M15, now - now % Q - 2000 * Q, now_ms=now)
    assert len(long) == 2000 and costs == [10.0, 5.0]  # 1500 rows (weight 10), then the 500 left (+2): weight 5
    ts = long["timestamp"].astype("int64").to_numpy()
    assert (np.diff(ts) == Q).all() and ts[-1] == now - now % Q - Q


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class _Hostile:
    """A one-route HTTP server on 127.0.0.1 whose answer the test sets: headers and a body function."""

    def __init__(self, respond):
        import http.server

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # http.server's name
                outer.hits += 1
                respond(self)

            def log_message(self, *args):
                pass

        self.hits = 0
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("header", ["inf", "1e9", "nan", "-5"])
def test_a_retry_after_header_is_bounded(header):
    def respond(h):
        h.send_response(429)
        h.send_header("Retry-After", header)
        h.send_header("Content-Length", "2")
        h.end_headers()
        h.wfile.write(b"{}")

    server = _Hostile(respond)
    sleeps = []
    try:
        clock = FakeTime()  # the budget's pauses pass on a clock the test moves, not in real time
        bucket = TokenBucket(50, 1.0, clock=clock, sleep=clock.sleep)
        c = RestClient(get_exchange("bybit", rest_url=server.url), sleep=sleeps.append, retries=2, timeout=5,
                       bucket=bucket)
        with pytest.raises(RateLimited) as err:
            c.get_json(c.adapter.tickers_request())
        assert err.value.retry_after is None or 0 <= err.value.retry_after <= 120
        assert sleeps and all(0 <= s <= 120 for s in sleeps), sleeps
        assert clock.now <= 3 * 120  # each pause the header asked for was cut to 2 minutes at most
    finally:
        server.close()


def test_an_answer_dribbled_a_byte_at_a_time_is_cut_at_its_deadline():
    def respond(h):
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        try:
            for _ in range(1000):
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(0.05)  # every read returns well within the read timeout
        except OSError:
            pass

    server = _Hostile(respond)
    try:
        c = RestClient(get_exchange("bybit", rest_url=server.url), sleep=lambda s: None, timeout=0.3)
        t0 = time.monotonic()
        with pytest.raises(RequestTimedOut, match="took longer than 3x the timeout"):
            c.get_json(c.adapter.tickers_request())
        assert server.hits == 2  # retried once, like any request that got no answer in time
        assert time.monotonic() - t0 < 45  # a bound on a hang, not a timing: the body alone takes 50 s
    finally:
        server.close()


def test_an_answer_larger_than_the_cap_is_refused(monkeypatch):
    import twinstar_gui.net.rest as rest_module

    monkeypatch.setattr(rest_module, "MAX_BODY_BYTES", 100_000)  # the real cap is 64 MB: the same rule, smaller

    def respond(h):
        h.send_response(200)
        h.send_header("Content-Length", "300000")
        h.end_headers()
        h.wfile.write(b"[" + b"1," * 149_999 + b"1]")

    server = _Hostile(respond)
    try:
        c = RestClient(get_exchange("binance", rest_url=server.url), sleep=lambda s: None, timeout=5)
        with pytest.raises(BadMessage, match="larger than 100,000 bytes"):
            c.get_json(c.adapter.tickers_request())
    finally:
        server.close()


def test_a_gzip_answer_is_decoded_and_a_gzip_bomb_is_refused(monkeypatch):
    import gzip as gz

    import twinstar_gui.net.rest as rest_module

    payload = {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [
        {"symbol": "BTCUSDT", "lastPrice": "100", "turnover24h": "5"}]}, "time": 1}
    bodies = [gz.compress(json.dumps(payload).encode()), gz.compress(b" " * 5_000_000)]

    def respond(h):
        body = bodies[min(h.server.hits, 1)] if hasattr(h.server, "hits") else bodies[0]
        h.send_response(200)
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    server = _Hostile(respond)
    try:
        c = RestClient(get_exchange("bybit", rest_url=server.url), sleep=lambda s: None, timeout=5)
        assert c.fetch_tickers()["symbol"].tolist() == ["BTCUSDT"]
        monkeypatch.setattr(rest_module, "MAX_BODY_BYTES", 1_000_000)
        server.server.hits = 1  # from now on: 5 MB of spaces in 5 KB of gzip
        with pytest.raises(BadMessage, match="larger than 1,000,000 bytes"):
            c.get_json(c.adapter.tickers_request())
    finally:
        server.close()


def test_an_envelope_saying_too_many_requests_is_rate_limited_whatever_the_http_status():
    """Bybit answers its rate limit with HTTP 200 and retCode 10006: the same as a 429 for whoever waits and retries
    (a bot used to stop for good on it, as on a bug)."""
    def respond(h):
        body = json.dumps({"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "time": 1}).encode()
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    server = _Hostile(respond)
    try:
        c = RestClient(get_exchange("bybit", rest_url=server.url), sleep=lambda s: None, timeout=5)
        with pytest.raises(RateLimited) as err:
            c.fetch_klines("BTCUSDT", Timeframe.M15, 0, 10 * Q)
        assert err.value.code == 10006 and err.value.symbol == "BTCUSDT" and is_transient(err.value)
        with pytest.raises(RateLimited):
            c.fetch_tickers()
    finally:
        server.close()
