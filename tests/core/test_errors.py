"""Domain errors: what the user reads (exchange, endpoint, symbol, code, excerpt) and how callers classify them."""
import pytest

from twinstar_gui.core.errors import (
    EXCERPT_CHARS,
    BadMessage,
    ConnectFailed,
    DnsFailed,
    ExchangeError,
    HttpStatusError,
    RateLimited,
    RequestTimedOut,
    TlsFailed,
    TransportError,
    TwinStarError,
    excerpt,
    is_transient,
    short_reason,
)

# --- excerpt -------------------------------------------------------------------------------------------------------

def test_short_text_is_shown_whole_on_one_line():
    assert excerpt("bad\nframe\r!") == "bad frame !"
    assert excerpt(12.5) == "12.5"


def test_text_of_exactly_the_limit_is_not_cut_one_more_is():
    assert excerpt("abcde", 5) == "abcde"
    assert excerpt("abcdef", 5) == "abcde...(+1 chars)"
    assert excerpt("x" * 1000) == "x" * 160 + "...(+840 chars)"  # default limit: 160 characters
    assert EXCERPT_CHARS == 160


def test_bytes_are_decoded_and_undecodable_bytes_shown_as_replacement():
    assert excerpt(b'{"op":\n"pong"}') == '{"op": "pong"}'
    assert excerpt(bytearray(b"ok")) == "ok" and excerpt(memoryview(b"mv")) == "mv"
    assert excerpt(b"a\xffb") == "a\ufffdb"
    assert excerpt("é€".encode() * 2, 4) == "é€é€"  # 10 bytes, 4 characters: not cut


def test_long_bytes_are_cut_and_say_their_whole_size():
    # a 1 MB frame: only the head is decoded, but the message tells how big the frame really was
    assert excerpt(b"y" * 1_000_000, 10) == "y" * 10 + "...(1000000 bytes in all)"
    assert excerpt("€".encode() * 50, 8) == "€" * 8 + "...(150 bytes in all)"
    # 4-byte characters: the decoded head holds exactly `limit` of them, and the rest is still said to be cut
    assert excerpt("😀".encode() * 11, 10) == "😀" * 10 + "...(44 bytes in all)"
    assert excerpt("😀".encode() * 10, 10) == "😀" * 10


# --- transport errors ----------------------------------------------------------------------------------------------

def test_transport_error_names_exchange_endpoint_symbol_and_kind():
    err = ConnectFailed("okx", "connection reset", endpoint="/api/v5/market/candles", symbol="BTC-USDT-SWAP")
    assert str(err) == "okx /api/v5/market/candles [BTC-USDT-SWAP]: connect error: connection reset"
    assert (err.exchange, err.detail, err.endpoint, err.symbol) == ("okx", "connection reset",
                                                                    "/api/v5/market/candles", "BTC-USDT-SWAP")
    assert str(TransportError("bybit", "boom")) == "bybit: network error: boom"
    assert isinstance(err, TwinStarError)


@pytest.mark.parametrize("cls,kind", [(ConnectFailed, "connect"), (RequestTimedOut, "timeout"), (TlsFailed, "tls"),
                                      (DnsFailed, "dns")])
def test_each_transport_failure_says_its_kind(cls, kind):
    assert str(cls("upbit", "x")) == f"upbit: {kind} error: x"


def test_transport_error_with_symbol_keeps_everything_else():
    err = RequestTimedOut("binance", "read timed out", endpoint="/fapi/v1/klines")
    named = err.with_symbol("BTCUSDT")
    assert type(named) is RequestTimedOut
    assert (named.exchange, named.detail, named.endpoint, named.symbol) == ("binance", "read timed out",
                                                                            "/fapi/v1/klines", "BTCUSDT")
    assert str(named) == "binance /fapi/v1/klines [BTCUSDT]: timeout error: read timed out"
    assert err.symbol == ""  # the original is untouched


# --- exchange errors -----------------------------------------------------------------------------------------------

def test_exchange_error_message_holds_each_part_given():
    err = HttpStatusError("bybit", "params error", code=10001, endpoint="/v5/market/kline", symbol="BTCUSDT",
                          status=400)
    assert str(err) == "bybit /v5/market/kline [BTCUSDT]: HTTP 400 code=10001 params error"
    assert (err.exchange, err.message, err.code, err.endpoint, err.symbol, err.status) == (
        "bybit", "params error", 10001, "/v5/market/kline", "BTCUSDT", 400)
    assert str(ExchangeError("okx", "Instrument ID does not exist")) == "okx: Instrument ID does not exist"
    assert str(ExchangeError("okx", "bad", code=0)) == "okx: code=0 bad"  # code 0 is a code, not "none"
    assert str(ExchangeError("okx", "", status=503)) == "okx: HTTP 503"
    bare = ExchangeError("okx", "x")
    assert bare.code is None and bare.status is None and bare.endpoint == "" and bare.symbol == ""


def test_exchange_error_with_symbol_keeps_type_and_subclass_fields():
    err = RateLimited("binance", "too many requests", retry_after=2.5, code=-1003, endpoint="/fapi/v1/klines",
                      status=429)
    named = err.with_symbol("ETHUSDT")
    assert type(named) is RateLimited and named.retry_after == 2.5
    assert (named.exchange, named.message, named.code, named.endpoint, named.status, named.symbol) == (
        "binance", "too many requests", -1003, "/fapi/v1/klines", 429, "ETHUSDT")
    assert str(named) == "binance /fapi/v1/klines [ETHUSDT]: HTTP 429 code=-1003 too many requests"
    assert err.symbol == "" and "[ETHUSDT]" not in str(err)
    assert RateLimited("okx", "slow down").retry_after is None


@pytest.mark.parametrize("status,server", [(500, True), (503, True), (499, False), (404, False), (None, False)])
def test_http_status_error_is_server_side_from_500(status, server):
    assert HttpStatusError("okx", "x", status=status).server_side is server


def test_bad_message_is_a_value_error_naming_the_reason_and_payload():
    err = BadMessage("bitget", "frame is not a JSON object", b"[1,\n2]")
    assert isinstance(err, ValueError) and isinstance(err, TwinStarError)
    assert str(err) == "bitget: frame is not a JSON object: [1, 2]"
    assert (err.exchange, err.reason, err.excerpt) == ("bitget", "frame is not a JSON object", "[1, 2]")
    assert len(BadMessage("bitget", "huge", "z" * 10_000).excerpt) < 200


# --- classification ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("exc,transient", [
    (TransportError("okx", "x"), True),
    (ConnectFailed("okx", "x"), True),
    (DnsFailed("okx", "x"), True),
    (RateLimited("okx", "x"), True),
    (RateLimited("okx", "x", status=429), True),
    (HttpStatusError("okx", "x", status=502), True),
    (HttpStatusError("okx", "x", status=400), False),
    (HttpStatusError("okx", "x"), False),
    (ExchangeError("okx", "x", code=51001), False),
    (ExchangeError("okx", "x", status=503), False),  # an envelope error, not an HTTP status error
    (BadMessage("okx", "x", "y"), False),
    (ValueError("x"), False),
])
def test_is_transient_by_type_and_status(exc, transient):
    assert is_transient(exc) is transient


@pytest.mark.parametrize("exc,words", [
    (ConnectFailed("okx", "x"), "cannot connect"),
    (RequestTimedOut("okx", "x"), "no answer in time"),
    (TlsFailed("okx", "x"), "TLS failed"),
    (DnsFailed("okx", "x"), "host name not found"),
    (TransportError("okx", "x"), "network error"),
    (RateLimited("okx", "x", status=429), "rate limited"),
    (HttpStatusError("okx", "x", status=503), "HTTP 503"),
    (ExchangeError("okx", "x", code=51001), "error 51001"),
    (ExchangeError("okx", "x", code=0), "error 0"),
    (ExchangeError("okx", "x"), "exchange error"),
    (BadMessage("okx", "x", "y"), "unreadable answer"),
    (KeyError("k"), "KeyError"),
])
def test_short_reason_for_a_status_line(exc, words):
    assert short_reason(exc) == words
