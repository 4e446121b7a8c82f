"""Upbit KRW spot: symbols (quote first), candle requests (`to` exclusive, UTC), candle/ticker answers, binary WS
frames in DEFAULT and SIMPLE format, the ticket-style subscribe, PING / {"status":"UP"} (exchange-specs/upbit.md)."""
import json
import time
from pathlib import Path

import pandas as pd
import pytest
from ticker_items import assert_item_left_out

from twinstar_gui.core.models import KlineEvent, SubscriptionAck, TickerEvent, TradeEvent
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.exchanges import BadMessage, ExchangeError, get_exchange
from twinstar_gui.exchanges.upbit import iso_utc, utc_ms

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "upbit"
T1200 = 1736942400000  # 2025-01-15 12:00:00 UTC = 21:00 KST
T1145 = T1200 - 15 * 60_000
T1130 = T1200 - 30 * 60_000
CANDLE_FIELDS = ["candle_date_time_utc", "opening_price", "high_price", "low_price", "trade_price",
                 "candle_acc_trade_volume"]
LACKS = ("candle object lacks one of candle_date_time_utc, opening_price, high_price, low_price, trade_price, "
         "candle_acc_trade_volume")


@pytest.fixture()
def upbit():
    return get_exchange("upbit", rest_url="https://api.upbit.com")


def fixture(name):
    return json.loads((FIX / name).read_text())


def wire(obj) -> bytes:
    """Upbit answers in binary frames holding UTF-8 JSON."""
    return (obj if isinstance(obj, str) else json.dumps(obj)).encode()


def bad(adapter, raw) -> BadMessage:
    with pytest.raises(BadMessage) as err:
        adapter.parse_ws_message(raw)
    return err.value


# -- times ------------------------------------------------------------------------------------------
def test_utc_date_times_without_zone_are_utc():
    assert utc_ms("2025-01-15T12:00:00") == T1200
    assert utc_ms("2025-01-15T21:00:00+09:00") == T1200  # a zone, where given, is honoured
    assert utc_ms("1970-01-01T00:00:01") == 1000
    assert iso_utc(T1200) == "2025-01-15T12:00:00Z"
    assert iso_utc(T1145 + 1000) == "2025-01-15T11:45:01Z"


@pytest.fixture()
def seoul_clock(monkeypatch):
    """The machine's zone is Korea's, as on many of our users' PCs."""
    monkeypatch.setenv("TZ", "Asia/Seoul")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_times_do_not_depend_on_the_machines_zone(seoul_clock, upbit):
    assert time.localtime(0).tm_hour == 9  # the zone is in effect
    assert utc_ms("2025-01-15T12:00:00") == T1200
    assert iso_utc(T1200) == "2025-01-15T12:00:00Z"
    assert upbit.kline_request("KRW-BTC", Timeframe.M15, None, T1200 - 1, 3).params["to"] == "2025-01-15T12:00:00Z"
    assert upbit.parse_ws_message(wire(fixture("ws_kline_open.json")))[0].open_time == T1200


@pytest.mark.parametrize("text", ["yesterday", ""])
def test_utc_ms_refuses_what_is_not_a_date_time(text):
    with pytest.raises(ValueError):
        utc_ms(text)


@pytest.mark.parametrize("value", [None, 1736942400000])
def test_utc_ms_refuses_what_is_not_text(value):
    with pytest.raises(ValueError) as err:
        utc_ms(value)
    assert str(err.value) == f"not a date-time string: {value!r}"


# -- symbols ----------------------------------------------------------------------------------------
def test_native_symbol_is_quote_first(upbit):
    assert upbit.native_symbol(" btc", "krw ") == "KRW-BTC"
    assert upbit.split_symbol(" krw-eth ") == ("ETH", "KRW")
    assert upbit.split_symbol("USDT-BTC") == ("BTC", "USDT")


@pytest.mark.parametrize("base, quote", [("", "KRW"), ("BTC", ""), (" ", "KRW"), ("B-TC", "KRW"), ("BTC", "K.RW")])
def test_native_symbol_refuses_bad_parts(upbit, base, quote):
    with pytest.raises(ValueError) as err:
        upbit.native_symbol(base, quote)
    assert str(err.value) == f"upbit: bad symbol parts base={base.strip().upper()!r} quote={quote.strip().upper()!r}"


@pytest.mark.parametrize("native", ["KRWBTC", "KRW-BTC-X", "-BTC", "KRW-", ""])
def test_split_symbol_refuses_other_shapes(upbit, native):
    with pytest.raises(ValueError) as err:
        upbit.split_symbol(native)
    assert str(err.value) == f"upbit: {native!r} is not a market like KRW-BTC"


# -- REST requests ----------------------------------------------------------------------------------
def test_candle_request_as_documented(upbit):
    """No start parameter: pages go backwards from `to`, an exclusive end in UTC with an explicit zone."""
    req = upbit.kline_request("KRW-BTC", Timeframe.M15, T1130, T1200 - 1, 3)
    assert req.url == "https://api.upbit.com/v1/candles/minutes/15" and req.endpoint == "/v1/candles/minutes/15"
    assert dict(req.params) == {"market": "KRW-BTC", "count": 3, "to": "2025-01-15T12:00:00Z"}


def test_candle_request_to_includes_the_candle_holding_end(upbit):
    # end = 12:00:00.000 is inside the 12:00 candle: `to` (exclusive) must be past it
    assert upbit.kline_request("KRW-BTC", Timeframe.M15, None, T1200, 3).params["to"] == "2025-01-15T12:15:00Z"
    last_ms_of_bucket = upbit.kline_request("KRW-BTC", Timeframe.M15, None, T1200 + 899_999, 3)
    assert last_ms_of_bucket.params["to"] == "2025-01-15T12:15:00Z"


@pytest.mark.parametrize("tf, path, to", [
    (Timeframe.M1, "/v1/candles/minutes/1", "2025-01-15T12:00:00Z"),
    (Timeframe.H1, "/v1/candles/minutes/60", "2025-01-15T12:00:00Z"),
    (Timeframe.H4, "/v1/candles/minutes/240", "2025-01-15T12:00:00Z"),
    (Timeframe.D1, "/v1/candles/days", "2025-01-16T00:00:00Z"),
])
def test_candle_request_paths_per_timeframe(upbit, tf, path, to):
    req = upbit.kline_request("KRW-ETH", tf, None, T1200 - 1, 10)
    assert req.url == "https://api.upbit.com" + path and req.endpoint == path
    assert dict(req.params) == {"market": "KRW-ETH", "count": 10, "to": to}


def test_candle_request_count_is_at_most_200(upbit):
    assert [upbit.kline_request("KRW-BTC", Timeframe.M15, None, None, n).params["count"]
            for n in (None, 5000, 201, 200, 199, 1)] == [200, 200, 200, 200, 199, 1]


def test_candle_request_without_end_has_no_to(upbit):
    assert dict(upbit.kline_request("KRW-BTC", Timeframe.M15, T1130, None).params) == {"market": "KRW-BTC",
                                                                                        "count": 200}


def test_tickers_request_and_url_override():
    a = get_exchange("upbit", rest_url="http://127.0.0.1:9/upbit/")
    req = a.tickers_request()
    assert req.url == "http://127.0.0.1:9/upbit/v1/ticker/all" and req.endpoint == "/v1/ticker/all"
    assert dict(req.params) == {"quote_currencies": "KRW"}
    assert a.kline_request("KRW-BTC", Timeframe.M15, None, None).url == "http://127.0.0.1:9/upbit/v1/candles/minutes/15"


# -- REST answers -----------------------------------------------------------------------------------
def test_candles_newest_first_become_ascending_utc(upbit):
    frame = upbit.parse_rest_klines(fixture("rest_klines.json"))
    assert frame["timestamp"].tolist() == [pd.Timestamp(t, unit="ms", tz="UTC") for t in (T1130, T1145, T1200)]
    assert frame.iloc[0].tolist()[1:] == [143250000.0, 143600000.0, 143100000.0, 143480000.0, 18.52314]
    assert frame.iloc[2].tolist()[1:] == [143700000.0, 143750000.0, 143610000.0, 143655000.0, 3.40192]


def test_candles_from_json_text_or_bytes(upbit):
    text = (FIX / "rest_klines.json").read_text()
    want = upbit.parse_rest_klines(json.loads(text))
    for raw in (text, text.encode(), bytearray(text.encode())):
        pd.testing.assert_frame_equal(upbit.parse_rest_klines(raw), want)


def test_ccxt_recorded_candle_with_string_numbers(upbit):
    frame = upbit.parse_rest_klines(fixture("rest_klines.ccxt-fixture.json"))
    assert frame["timestamp"].tolist() == [pd.Timestamp("2024-03-13 11:00", tz="UTC")]  # utc, not the kst 20:00
    assert frame.iloc[0].tolist()[1:] == [72738.58583492, 73578.657, 72738.58583492, 73578.655, 0.02284923]


def test_empty_candle_list(upbit):
    assert upbit.parse_rest_klines([]).empty


def test_error_envelope_carries_name_and_message(upbit):
    with pytest.raises(ExchangeError) as err:
        upbit.parse_rest_klines({"error": {"name": "404", "message": "Code not found"}})
    e = err.value
    assert (e.exchange, e.code, e.message, e.endpoint) == ("upbit", "404", "Code not found", "/v1/candles")
    assert str(e) == "upbit /v1/candles: code=404 Code not found" and upbit.is_unknown_symbol(e)
    with pytest.raises(ExchangeError) as err:
        upbit.parse_rest_klines('{"error": {"name": "too_many_requests"}}')
    assert err.value.code == "too_many_requests" and err.value.message == ""


@pytest.mark.parametrize("payload", [{"market": "KRW-BTC"}, {"error": "not an object"}, None, "7"])
def test_candles_that_are_not_a_list(upbit, payload):
    with pytest.raises(BadMessage) as err:
        upbit.parse_rest_klines(payload)
    assert err.value.reason == "candles are not a list" and err.value.excerpt == str(payload)


@pytest.mark.parametrize("missing", CANDLE_FIELDS)
def test_candle_object_missing_a_field(upbit, missing):
    rows = fixture("rest_klines.json")
    del rows[1][missing]
    with pytest.raises(BadMessage) as err:
        upbit.parse_rest_klines(rows)
    assert err.value.reason == LACKS and err.value.excerpt.startswith("[{'market': 'KRW-BTC'")


def test_candle_that_is_not_an_object(upbit):
    with pytest.raises(BadMessage) as err:
        upbit.parse_rest_klines([["2025-01-15T12:00:00", 1, 1, 1, 1, 1]])
    assert err.value.reason == LACKS


@pytest.mark.parametrize("when", ["15/01/2025 12:00", None, 1736942400000])
def test_candle_with_a_bad_date_time(upbit, when):
    rows = fixture("rest_klines.json")
    rows[0]["candle_date_time_utc"] = when
    with pytest.raises(BadMessage) as err:
        upbit.parse_rest_klines(rows)
    assert err.value.reason == "candle_date_time_utc is not a UTC date-time"
    assert err.value.excerpt.startswith("[{'market': 'KRW-BTC'")


def test_inconsistent_candle_names_the_payload(upbit):
    rows = fixture("rest_klines.json")
    rows[0]["low_price"] = 150000000.0  # above the high
    with pytest.raises(BadMessage) as err:
        upbit.parse_rest_klines(rows)
    assert err.value.reason.startswith("inconsistent kline row") and err.value.excerpt.startswith("[{'market'")


def test_tickers_ranked_by_krw_traded_in_24h(upbit):
    payload = [
        {"market": "KRW-XRP", "trade_price": 3500.0, "acc_trade_volume_24h": 9.0e8, "acc_trade_price_24h": 3.1e12},
        {"market": "KRW-BTC", "trade_price": 143655000.0, "acc_trade_volume_24h": 2431.9,
         "acc_trade_price_24h": 3.484e11},
        {"market": "KRW-ETH", "trade_price": 4800000.0, "acc_trade_volume_24h": 50000.0, "acc_trade_price_24h": 2.4e11}]
    top = upbit.parse_tickers(payload)
    assert top["symbol"].tolist() == ["KRW-XRP", "KRW-BTC", "KRW-ETH"]
    assert top["last_price"].tolist() == [3500.0, 143655000.0, 4800000.0]
    assert top["quote_volume_24h"].tolist() == [3.1e12, 3.484e11, 2.4e11]
    pd.testing.assert_frame_equal(upbit.parse_tickers(json.dumps(payload)), top)


def test_tickers_errors(upbit, caplog):
    with pytest.raises(ExchangeError) as err:
        upbit.parse_tickers({"error": {"name": "invalid_parameter", "message": "quote_currencies"}})
    assert (err.value.code, err.value.message, err.value.endpoint) == ("invalid_parameter", "quote_currencies",
                                                                        "/v1/ticker/all")
    with pytest.raises(BadMessage) as err:
        upbit.parse_tickers({"market": "KRW-BTC"})
    assert err.value.reason == "tickers are not a list"
    assert_item_left_out(caplog, upbit.parse_tickers, [{"trade_price": 1.0, "acc_trade_price_24h": 1.0}], "upbit",
                         "ticker item without market")


# -- WebSocket: topics and the subscription request ----------------------------------------------------
@pytest.mark.parametrize("tf, topic", [(Timeframe.M1, "candle.1m:KRW-BTC"), (Timeframe.M15, "candle.15m:KRW-BTC"),
                                       (Timeframe.H1, "candle.60m:KRW-BTC"), (Timeframe.H4, "candle.240m:KRW-BTC")])
def test_kline_topics(upbit, tf, topic):
    assert upbit.kline_topic("KRW-BTC", tf) == topic


def test_no_websocket_day_candles(upbit):
    with pytest.raises(ValueError) as err:
        upbit.kline_topic("KRW-BTC", Timeframe.D1)
    assert str(err.value) == "upbit: no WebSocket candles for 1d"
    assert upbit.ticker_topic("KRW-ETH") == "ticker:KRW-ETH"


def test_subscribe_request_carries_the_whole_set_grouped_by_type(upbit):
    msg = json.loads(upbit.subscribe_message(["candle.15m:KRW-BTC", "ticker:KRW-BTC", "candle.15m:KRW-ETH"], "t-1"))
    assert msg == [{"ticket": "t-1"}, {"type": "candle.15m", "codes": ["KRW-BTC", "KRW-ETH"]},
                   {"type": "ticker", "codes": ["KRW-BTC"]}, {"format": "DEFAULT"}]
    assert upbit.replaces_subscriptions


def test_subscribe_without_request_id_gets_a_unique_ticket(upbit):
    a = json.loads(upbit.subscribe_message(["ticker:KRW-BTC"]))[0]["ticket"]
    b = json.loads(upbit.subscribe_message(["ticker:KRW-BTC"]))[0]["ticket"]
    assert a != b and a.startswith("twinstar-") and len(a) == len("twinstar-") + 12
    int(a.removeprefix("twinstar-"), 16)


def test_there_is_no_unsubscribe(upbit):
    with pytest.raises(NotImplementedError,
                       match=r"^upbit has no unsubscribe: send subscribe_message\(remaining topics\)$"):
        upbit.unsubscribe_message(["ticker:KRW-BTC"])


# -- WebSocket: frames ------------------------------------------------------------------------------
def test_candle_sample(upbit):
    assert upbit.parse_ws_message(wire(fixture("ws_kline_open.json"))) == [
        KlineEvent("upbit", "KRW-BTC", "15m", T1200, 143700000.0, 143750000.0, 143610000.0, 143655000.0, 3.40192, None)]


@pytest.mark.parametrize("kind, label", [("candle.1s", "1s"), ("candle.1m", "1m"), ("candle.60m", "1h"),
                                         ("candle.240m", "4h")])
def test_candle_type_labels(upbit, kind, label):
    msg = dict(fixture("ws_kline_open.json"), type=kind)
    assert upbit.parse_ws_message(wire(msg))[0].timeframe == label


def test_text_frames_too(upbit):
    assert upbit.parse_ws_message((FIX / "ws_kline_open.json").read_text())[0].open_time == T1200


def test_ticker_default_and_simple_format(upbit):
    assert upbit.parse_ws_message(wire(fixture("ws_ticker.json"))) == [
        TickerEvent("upbit", "KRW-BTC", 143655000.0, 1736942587166)]
    simple = {"ty": "ticker", "cd": "KRW-ETH", "tp": 4800000.0, "ttms": 1, "tms": 1736942587166}
    assert upbit.parse_ws_message(wire(simple)) == [TickerEvent("upbit", "KRW-ETH", 4800000.0, 1736942587166)]


def test_trade_default_format(upbit):
    msg = {"type": "trade", "code": "KRW-BTC", "timestamp": 1736942587166, "trade_price": 143655000.0,
           "trade_volume": 0.00211, "trade_timestamp": 1736942587120, "ask_bid": "BID"}
    assert upbit.parse_ws_message(wire(msg)) == [TradeEvent("upbit", "KRW-BTC", 143655000.0, 1736942587120, 0.00211)]
    del msg["trade_volume"]
    assert upbit.parse_ws_message(wire(msg))[0].size == 0.0


def test_recorded_simple_trade_frames(upbit):
    frames = [l for l in (FIX / "ws_other.jsonl").read_text().splitlines() if l.strip()]
    trades = [e for f in frames for e in upbit.parse_ws_message(f.encode())]
    assert trades[0] == TradeEvent("upbit", "KRW-LAMB", 127.0, 1618678262000, 46.48838371)  # ttms, not tms
    assert trades[1] == TradeEvent("upbit", "KRW-LAMB", 126.0, 1618678262000, 47.97601199)


def test_orderbook_and_pong_give_nothing(upbit):
    assert upbit.parse_ws_message(wire({"type": "orderbook", "code": "KRW-BTC", "orderbook_units": []})) == []
    assert upbit.parse_ws_message(wire(fixture("ws_status_up.json"))) == []


def test_error_answer_is_a_refused_subscription(upbit):
    ev = upbit.parse_ws_message(wire({"error": {"name": "WRONG_FORMAT", "message": "Not a JSON array"}}))
    assert ev == [SubscriptionAck("upbit", False, "subscribe", "WRONG_FORMAT: Not a JSON array", "")]
    assert upbit.parse_ws_message(wire({"error": {"name": "NO_TICKET"}})) == [
        SubscriptionAck("upbit", False, "subscribe", "NO_TICKET: ")]


CANDLE = {"type": "candle.15m", "code": "KRW-BTC", "candle_date_time_utc": "2025-01-15T12:00:00", "opening_price": 1,
          "high_price": 2, "low_price": 1, "trade_price": 2, "candle_acc_trade_volume": 3}


def without(d, key):
    return {k: v for k, v in d.items() if k != key}


BAD_FRAMES = [
    ("[1, 2]", "frame is not a JSON object"),
    ('"UP"', "frame is not a JSON object"),
    ({"code": "KRW-BTC", "trade_price": 1}, "frame has no type"),
    ({"type": 5, "code": "KRW-BTC"}, "frame has no type"),
    (dict(CANDLE, type="candle.7m"), "candle frame 'candle.7m' lacks fields or code"),
    (without(CANDLE, "code"), "candle frame 'candle.15m' lacks fields or code"),
    (dict(CANDLE, code=""), "candle frame 'candle.15m' lacks fields or code"),
    *[(without(CANDLE, f), "candle frame 'candle.15m' lacks fields or code") for f in CANDLE_FIELDS],
    (dict(CANDLE, candle_date_time_utc="15.01.2025 12:00"), "candle_date_time_utc is not a UTC date-time"),
    (dict(CANDLE, candle_date_time_utc=None), "candle_date_time_utc is not a UTC date-time"),
    (dict(CANDLE, high_price=0.5), "inconsistent candle (need low <= open, close <= high and volume >= 0)"),
    ({"type": "ticker", "code": "KRW-BTC", "timestamp": 1}, "trade_price is None, expected a number"),
    ({"type": "ticker", "code": "KRW-BTC", "trade_price": 1}, "timestamp is None, expected a number"),
    ({"type": "ticker", "code": "KRW-BTC", "trade_price": 1, "timestamp": 1.5},
     "timestamp is 1.5, expected epoch milliseconds"),
    ({"type": "trade", "code": "KRW-BTC", "trade_timestamp": 1}, "trade_price is None, expected a number"),
    ({"type": "trade", "code": "KRW-BTC", "trade_price": 1}, "trade_timestamp is None, expected a number"),
    ({"type": "trade", "code": "KRW-BTC", "trade_price": 1, "trade_timestamp": 1, "trade_volume": "x"},
     "trade_volume is 'x', expected a number"),
]


@pytest.mark.parametrize("msg, reason", BAD_FRAMES, ids=[f"{i}-{r[:24]}" for i, (_, r) in enumerate(BAD_FRAMES)])
def test_bad_frames_name_the_reason_and_show_the_frame(upbit, msg, reason):
    raw = wire(msg)
    err = bad(upbit, raw)
    assert err.reason == reason
    assert str(err) == f"upbit: {reason}: {err.excerpt}" and err.excerpt.startswith(raw.decode()[:100])


def test_frame_not_utf8_or_not_json(upbit):
    assert bad(upbit, b"\xff\xfe{}").reason.startswith("frame is not UTF-8")
    assert bad(upbit, b"PONG").reason.startswith("not JSON")


# -- heartbeat --------------------------------------------------------------------------------------
def test_text_ping_and_status_up_answer(upbit):
    assert upbit.heartbeat_message() == "PING"
    assert upbit.heartbeat_interval < 120  # the server cuts sockets idle for 120 s
    assert upbit.is_pong('{"status":"UP"}') and upbit.is_pong(b'{"status": "UP"}')
    assert upbit.is_pong(bytearray(b'{"status":"UP"}'))
    assert not upbit.is_pong('{"status":"DOWN"}') and not upbit.is_pong("pong") and not upbit.is_pong(b"\xff\xfe")
