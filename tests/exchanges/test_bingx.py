"""BingX perpetual swaps: symbols, REST requests and answers, gzip WS frames, Ping/Pong (exchange-specs/bingx.md)."""
import gzip
import json
import uuid
import zlib
from pathlib import Path

import pandas as pd
import pytest
from ticker_items import assert_item_left_out

from twinstar_gui.core.models import KlineEvent, SubscriptionAck, TickerEvent, TradeEvent
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.exchanges import BadMessage, ExchangeError, get_exchange

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "bingx"
KLINES = "/openApi/swap/v3/quote/klines"
TICKERS = "/openApi/swap/v2/quote/ticker"
MIB4 = 4 * 1024 * 1024


@pytest.fixture()
def bingx():
    return get_exchange("bingx", rest_url="https://open-api.bingx.com")


def fixture(name):
    return json.loads((FIX / name).read_text())


def gz(obj) -> bytes:
    """A frame as BingX sends it: gzip-compressed binary."""
    text = obj if isinstance(obj, str) else json.dumps(obj)
    return gzip.compress(text.encode())


def bad(adapter, raw) -> BadMessage:
    with pytest.raises(BadMessage) as err:
        adapter.parse_ws_message(raw)
    return err.value


# -- symbols ----------------------------------------------------------------------------------------
def test_native_symbol_is_base_hyphen_quote_uppercase(bingx):
    assert bingx.native_symbol(" btc ", "usdt ") == "BTC-USDT"
    assert bingx.native_symbol("1000pepe", "USDT") == "1000PEPE-USDT"


@pytest.mark.parametrize("base, quote", [("", "USDT"), ("BTC", ""), ("  ", "USDT"), ("BTC", " "), ("BT-C", "USDT"),
                                         ("BTC", "US/DT"), ("BTC", "U SDT")])
def test_native_symbol_refuses_bad_parts(bingx, base, quote):
    with pytest.raises(ValueError) as err:
        bingx.native_symbol(base, quote)
    assert str(err.value).startswith("bingx: bad symbol parts") and repr(base.strip().upper()) in str(err.value)


def test_split_symbol(bingx):
    assert bingx.split_symbol(" btc-usdt ") == ("BTC", "USDT")
    assert bingx.split_symbol("1000PEPE-USDT") == ("1000PEPE", "USDT")


@pytest.mark.parametrize("native", ["BTCUSDT", "BTC-USDT-SWAP", "-USDT", "BTC-", ""])
def test_split_symbol_refuses_other_shapes(bingx, native):
    with pytest.raises(ValueError) as err:
        bingx.split_symbol(native)
    assert str(err.value) == f"bingx: {native!r} is not a symbol like BTC-USDT"


# -- REST requests ----------------------------------------------------------------------------------
def test_kline_request_as_documented(bingx):
    req = bingx.kline_request("BTC-USDT", Timeframe.M15, 1736940600000, 1736942399999, 3)
    assert req.url == "https://open-api.bingx.com/openApi/swap/v3/quote/klines"
    assert req.endpoint == KLINES
    assert dict(req.params) == {"symbol": "BTC-USDT", "interval": "15m", "limit": 3, "startTime": 1736940600000,
                                "endTime": 1736942399999}


@pytest.mark.parametrize("tf, interval", [(Timeframe.M1, "1m"), (Timeframe.M15, "15m"), (Timeframe.H1, "1h"),
                                          (Timeframe.H4, "4h"), (Timeframe.D1, "1d")])
def test_kline_request_interval_codes(bingx, tf, interval):
    assert bingx.kline_request("ETH-USDT", tf, None, None).params["interval"] == interval


def test_kline_request_limit_is_capped_at_1440_rows(bingx):
    assert bingx.rest_row_cap == 1440  # the documented maximum
    assert bingx.kline_request("BTC-USDT", Timeframe.M15, None, None).params["limit"] == 1440
    assert bingx.kline_request("BTC-USDT", Timeframe.M15, None, None, 5000).params["limit"] == 1440
    assert bingx.kline_request("BTC-USDT", Timeframe.M15, None, None, 1440).params["limit"] == 1440
    assert bingx.kline_request("BTC-USDT", Timeframe.M15, None, None, 1439).params["limit"] == 1439


def test_kline_request_without_times_sends_no_time_params(bingx):
    assert dict(bingx.kline_request("BTC-USDT", Timeframe.H1, None, None, 10).params) == {
        "symbol": "BTC-USDT", "interval": "1h", "limit": 10}
    only_start = bingx.kline_request("BTC-USDT", Timeframe.H1, 0, None, 10).params
    assert only_start["startTime"] == 0 and "endTime" not in only_start
    only_end = bingx.kline_request("BTC-USDT", Timeframe.H1, None, 0, 10).params
    assert only_end["endTime"] == 0 and "startTime" not in only_end


def test_kline_request_times_are_whole_milliseconds_in_the_query(bingx):
    params = bingx.kline_request("BTC-USDT", Timeframe.M15, 1736940600000.0, 1736942399999.0, 2).params
    assert repr(params["startTime"]) == "1736940600000" and repr(params["endTime"]) == "1736942399999"


def test_rest_url_override_and_tickers_request():
    a = get_exchange("bingx", rest_url="http://127.0.0.1:9/bingx/")
    assert a.kline_request("BTC-USDT", Timeframe.M15, None, None).url == "http://127.0.0.1:9/bingx" + KLINES
    req = a.tickers_request()
    assert req.url == "http://127.0.0.1:9/bingx" + TICKERS and dict(req.params) == {} and req.endpoint == TICKERS
    assert get_exchange("bingx").tickers_request().url == "https://open-api.bingx.com" + TICKERS


# -- REST answers -----------------------------------------------------------------------------------
def test_rest_klines_sample(bingx):
    frame = bingx.parse_rest_klines(fixture("rest_klines.json"))
    assert frame["timestamp"].tolist() == list(pd.to_datetime(
        ["2025-01-15 11:30", "2025-01-15 11:45", "2025-01-15 12:00"], utc=True))
    assert frame.iloc[0].tolist()[1:] == [97012.3, 97188.0, 96950.1, 97120.5, 1523.41]
    assert frame.iloc[2].tolist()[1:] == [97198.7, 97240.4, 97150.0, 97205.3, 312.12]


def test_rest_klines_from_json_text_or_bytes(bingx):
    text = (FIX / "rest_klines.json").read_text()
    want = bingx.parse_rest_klines(json.loads(text))
    for raw in (text, text.encode(), bytearray(text.encode())):
        pd.testing.assert_frame_equal(bingx.parse_rest_klines(raw), want)


def test_rest_klines_newest_first_rows_are_sorted(bingx):
    payload = fixture("rest_klines.json")
    payload["data"].reverse()
    frame = bingx.parse_rest_klines(payload)
    assert frame["close"].tolist() == [97120.5, 97198.7, 97205.3]


def test_rest_klines_single_object_is_one_row(bingx):
    """The latest kline alone may come back as one object instead of a list (v2 doc)."""
    frame = bingx.parse_rest_klines({"code": 0, "msg": "", "data": {
        "open": "10", "close": "11", "high": "12", "low": "9", "volume": "5", "time": 1736942400000}})
    assert len(frame) == 1 and frame.iloc[0].tolist()[1:] == [10.0, 12.0, 9.0, 11.0, 5.0]
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2025-01-15 12:00", tz="UTC")


def test_rest_kline_row_with_high_below_low(bingx):
    payload = {"code": 0, "data": [{"open": "10", "close": "11", "high": "9", "low": "12", "volume": "1", "time": 0}]}
    with pytest.raises(BadMessage) as err:
        bingx.parse_rest_klines(payload)
    assert err.value.reason.startswith("inconsistent kline row") and err.value.excerpt.startswith("{'code': 0")


def test_rest_klines_empty_list(bingx):
    assert bingx.parse_rest_klines({"code": 0, "msg": "", "data": []}).empty


def test_rest_error_envelope_carries_code_and_message(bingx):
    with pytest.raises(ExchangeError) as err:
        bingx.parse_rest_klines({"code": 109400, "msg": "symbol not exist", "data": {}})
    e = err.value
    assert (e.exchange, e.code, e.message, e.endpoint) == ("bingx", 109400, "symbol not exist", KLINES)
    assert str(e) == "bingx /openApi/swap/v3/quote/klines: code=109400 symbol not exist"
    assert bingx.is_unknown_symbol(e)
    with pytest.raises(ExchangeError) as err:
        bingx.parse_rest_klines('{"code": 100500, "data": null}')  # no msg at all
    assert err.value.code == 100500 and err.value.message == "" and not bingx.is_unknown_symbol(err.value)


@pytest.mark.parametrize("payload", [{"msg": "", "data": []}, [], "[1, 2]", None, 42])
def test_rest_klines_without_envelope_is_bad_message(bingx, payload):
    with pytest.raises(BadMessage) as err:
        bingx.parse_rest_klines(payload)
    assert err.value.reason == "/openApi/swap/v3/quote/klines: not a BingX envelope"
    assert err.value.excerpt == str(payload)  # the answer itself is shown


def test_rest_klines_not_json_is_bad_message(bingx):
    with pytest.raises(BadMessage) as err:
        bingx.parse_rest_klines("<html>502 Bad Gateway</html>")
    assert err.value.reason.startswith("not JSON") and "502 Bad Gateway" in str(err.value)


@pytest.mark.parametrize("data", [None, "klines", 7])
def test_rest_klines_data_not_a_list(bingx, data):
    with pytest.raises(BadMessage) as err:
        bingx.parse_rest_klines({"code": 0, "data": data})
    assert err.value.reason == "klines data is not a list" and err.value.excerpt.startswith("{'code': 0, 'data': ")


@pytest.mark.parametrize("missing", ["time", "open", "high", "low", "close", "volume"])
def test_rest_kline_row_missing_a_field(bingx, missing):
    row = {"open": "1", "close": "1", "high": "1", "low": "1", "volume": "1", "time": 1736942400000}
    del row[missing]
    with pytest.raises(BadMessage) as err:
        bingx.parse_rest_klines({"code": 0, "data": [row]})
    assert err.value.reason == "kline row lacks time/open/high/low/close/volume"
    assert err.value.excerpt.startswith("{'code': 0, 'data': [{'")


def test_rest_kline_row_not_an_object(bingx):
    with pytest.raises(BadMessage) as err:
        bingx.parse_rest_klines({"code": 0, "data": [[1736942400000, "1", "1", "1", "1", "1"]]})
    assert err.value.reason == "kline row lacks time/open/high/low/close/volume"


def test_tickers_ranked_by_quote_volume_not_base_volume(bingx):
    payload = {"code": 0, "msg": "", "data": [
        {"symbol": "DOGE-USDT", "lastPrice": "0.35", "volume": "900000000", "quoteVolume": "315000000"},
        {"symbol": "BTC-USDT", "lastPrice": "97205.3", "volume": "30512.441", "quoteVolume": "2951190434.55"},
        {"symbol": "ETH-USDT", "lastPrice": "3300.5", "volume": "400000", "quoteVolume": "1320200000"}]}
    top = bingx.parse_tickers(payload)
    assert top["symbol"].tolist() == ["BTC-USDT", "ETH-USDT", "DOGE-USDT"]
    assert top["last_price"].tolist() == [97205.3, 3300.5, 0.35]
    assert top["quote_volume_24h"].tolist() == [2951190434.55, 1320200000.0, 315000000.0]


def test_tickers_error_envelope(bingx):
    with pytest.raises(ExchangeError) as err:
        bingx.parse_tickers({"code": 100410, "msg": "rate limited", "data": None})
    assert (err.value.code, err.value.message, err.value.endpoint) == (100410, "rate limited", TICKERS)
    with pytest.raises(BadMessage) as err:
        bingx.parse_tickers({"data": []})
    assert err.value.reason == "/openApi/swap/v2/quote/ticker: not a BingX envelope"


@pytest.mark.parametrize("data", [None, {"symbol": "BTC-USDT"}, "x"])
def test_tickers_data_not_a_list_is_bad_message(bingx, data):
    """A successful envelope whose data is no list is a malformed answer, not "no tickers"."""
    with pytest.raises(BadMessage) as err:
        bingx.parse_tickers({"code": 0, "msg": "", "data": data})
    assert err.value.reason == "tickers are not a list"


def test_tickers_item_with_a_bad_price_is_left_out(bingx, caplog):
    assert_item_left_out(caplog, bingx.parse_tickers,
                         {"code": 0, "data": [{"symbol": "BTC-USDT", "lastPrice": None, "quoteVolume": "1"}]},
                         "bingx", "lastPrice is None")


# -- WebSocket: topics and subscribe messages -------------------------------------------------------
def test_topics(bingx):
    assert bingx.kline_topic("BTC-USDT", Timeframe.M15) == "BTC-USDT@kline_15m"
    assert bingx.kline_topic("ETH-USDT", Timeframe.H4) == "ETH-USDT@kline_4h"
    assert bingx.kline_topic("ETH-USDT", Timeframe.M1) == "ETH-USDT@kline_1m"
    assert bingx.ticker_topic("BTC-USDT") == "BTC-USDT@ticker"
    assert bingx.topics_per_subscribe == 1


def test_subscribe_message_one_data_type(bingx):
    assert json.loads(bingx.subscribe_message(["BTC-USDT@kline_15m"], "req-1")) == {
        "id": "req-1", "reqType": "sub", "dataType": "BTC-USDT@kline_15m"}
    assert json.loads(bingx.unsubscribe_message(["BTC-USDT@kline_15m"], "req-2")) == {
        "id": "req-2", "reqType": "unsub", "dataType": "BTC-USDT@kline_15m"}


def test_subscribe_without_request_id_gets_a_fresh_uuid(bingx):
    for make in (bingx.subscribe_message, bingx.unsubscribe_message):
        a, b = json.loads(make(["BTC-USDT@ticker"])), json.loads(make(["BTC-USDT@ticker"]))
        assert uuid.UUID(a["id"]).version == 4 and a["id"] != b["id"]
        assert a["dataType"] == "BTC-USDT@ticker"


@pytest.mark.parametrize("topics", [[], ["BTC-USDT@kline_15m", "BTC-USDT@ticker"]])
def test_subscribe_refuses_other_than_one_topic(bingx, topics):
    with pytest.raises(ValueError, match=r"^bingx: one dataType per subscribe message$"):
        bingx.subscribe_message(topics)
    with pytest.raises(ValueError, match=r"^bingx: one dataType per unsubscribe message$"):
        bingx.unsubscribe_message(topics)


# -- WebSocket: frames ------------------------------------------------------------------------------
def test_kline_sample(bingx):
    ev = bingx.parse_ws_message(gz(fixture("ws_kline_open.json")))
    assert ev == [KlineEvent("bingx", "BTC-USDT", "15m", 1736942400000, 97198.7, 97240.4, 97150.0, 97205.3, 312.12,
                             None)]


def test_kline_data_as_one_object_or_several(bingx):
    msg = fixture("ws_kline_open.json")
    one = dict(msg, data=msg["data"][0])
    assert bingx.parse_ws_message(gz(one)) == bingx.parse_ws_message(gz(msg))
    two = dict(msg, dataType="ETH-USDT@kline_1m", data=[
        {"T": 1736942400000, "o": "3300", "h": "3302", "l": "3299", "c": "3301", "v": "12"},
        {"T": 1736942460000, "o": "3301", "h": "3301", "l": "3298", "c": "3298.5", "v": "0"}])
    assert bingx.parse_ws_message(gz(two)) == [
        KlineEvent("bingx", "ETH-USDT", "1m", 1736942400000, 3300.0, 3302.0, 3299.0, 3301.0, 12.0, None),
        KlineEvent("bingx", "ETH-USDT", "1m", 1736942460000, 3301.0, 3301.0, 3298.0, 3298.5, 0.0, None)]


def test_pushes_without_a_code_are_data(bingx):
    msg = fixture("ws_kline_open.json")
    del msg["code"]
    assert bingx.parse_ws_message(gz(msg))[0].close == 97205.3


def test_text_frames_are_read_as_they_are(bingx):
    assert bingx.parse_ws_message((FIX / "ws_kline_open.json").read_text())[0].close == 97205.3
    assert bingx.parse_ws_message(bytearray(gz(fixture("ws_kline_open.json"))))[0].close == 97205.3


def test_ticker_sample(bingx):
    assert bingx.parse_ws_message(gz(fixture("ws_ticker.json"))) == [
        TickerEvent("bingx", "BTC-USDT", 97205.3, 1736942587520)]


def test_ticker_without_s_takes_the_symbol_from_data_type(bingx):
    msg = fixture("ws_ticker.json")
    del msg["data"]["s"]
    msg["dataType"] = "ETH-USDT@ticker"
    assert bingx.parse_ws_message(gz(msg)) == [TickerEvent("bingx", "ETH-USDT", 97205.3, 1736942587520)]


def test_trades(bingx):
    msg = {"code": 0, "dataType": "BTC-USDT@trade", "data": [
        {"q": "0.0421", "p": "97205.3", "T": 1736942587120, "m": False, "s": "BTC-USDT"},
        {"p": "97205.4", "T": 1736942587121, "m": True, "s": "BTC-USDT"},
        "not a trade"]}
    assert bingx.parse_ws_message(gz(msg)) == [TradeEvent("bingx", "BTC-USDT", 97205.3, 1736942587120, 0.0421),
                                               TradeEvent("bingx", "BTC-USDT", 97205.4, 1736942587121, 0.0)]
    one = dict(msg, data={"q": "2", "p": "1.5", "T": 5})
    assert bingx.parse_ws_message(gz(one)) == [TradeEvent("bingx", "BTC-USDT", 1.5, 5, 2.0)]


@pytest.mark.parametrize("data_type", ["BTC-USDT@depth20", "BTC-USDT@lastPrice", "BTC-USDT"])
def test_streams_we_do_not_use_give_nothing(bingx, data_type):
    assert bingx.parse_ws_message(gz({"code": 0, "dataType": data_type, "data": {"x": 1}})) == []


def test_acks_and_heartbeat_frames_give_nothing(bingx):
    assert bingx.parse_ws_message(gz(fixture("ws_ack.json"))) == []
    assert bingx.parse_ws_message(gz({"id": "x", "code": "0", "msg": ""})) == []
    for beat in ("Ping", "Pong", "ping", "pong"):
        assert bingx.parse_ws_message(gz(beat)) == [] and bingx.parse_ws_message(beat) == []


def test_rejected_subscription_is_reported(bingx):
    ev = bingx.parse_ws_message(gz({"id": "r-7", "code": 100400, "msg": "invalid dataType", "dataType": "",
                                    "data": None}))
    assert ev == [SubscriptionAck("bingx", False, "subscribe", "100400: invalid dataType", "r-7")]
    ev = bingx.parse_ws_message(gz({"code": "80015"}))
    assert ev == [SubscriptionAck("bingx", False, "subscribe", "80015: ", "")]


def test_heartbeat_reply_answers_ping_only(bingx):
    assert bingx.heartbeat_message() is None and bingx.heartbeat_interval == 0
    assert bingx.heartbeat_reply(gz("Ping")) == "Pong"
    assert bingx.heartbeat_reply("Ping") == "Pong"
    assert bingx.heartbeat_reply(gz("Pong")) is None
    assert bingx.heartbeat_reply(gz(fixture("ws_ticker.json"))) is None
    assert bingx.heartbeat_reply(b"\x00 not gzip") is None  # never raises: the frame's parse reports it


def bad_frame(**kw):
    return gz(dict({"code": 0, "dataType": "BTC-USDT@kline_15m", "s": "BTC-USDT"}, **kw))


KLINE = {"T": 1736942400000, "o": "1", "h": "2", "l": "1", "c": "2", "v": "3"}


BAD_FRAMES = [
    (gz("[1, 2]"), "frame is not a JSON object"),
    (gz({"code": 0, "data": {}}), "frame has no dataType"),
    (gz({"code": 0, "dataType": 5, "data": {}}), "dataType is not a string"),
    (bad_frame(dataType="BTC-USDT@kline_7m", data=[KLINE]), "kline interval '7m' not understood"),
    (bad_frame(data="candles"), "kline data is not a list"),
    (bad_frame(data=None), "kline data is not a list"),
    (bad_frame(data=[{k: v for k, v in KLINE.items() if k != "v"}]), "kline item lacks T/o/h/l/c/v"),
    (bad_frame(data=[{k: v for k, v in KLINE.items() if k != "T"}]), "kline item lacks T/o/h/l/c/v"),
    (bad_frame(data=[1]), "kline item lacks T/o/h/l/c/v"),
    (bad_frame(data=[dict(KLINE, h="0.5")]), "inconsistent candle (need low <= open, close <= high and volume >= 0)"),
    (bad_frame(dataType="BTC-USDT@ticker", data=[1]), "ticker data is not an object"),
    (bad_frame(dataType="BTC-USDT@ticker", data={"E": 1}), "ticker c is None, expected a number"),
    (bad_frame(dataType="BTC-USDT@ticker", data={"c": "1", "E": "soon"}), "ticker E is 'soon', expected a number"),
    (bad_frame(dataType="BTC-USDT@trade", data=[{"T": 1}]), "trade p is None, expected a number"),
    (bad_frame(dataType="BTC-USDT@trade", data=[{"p": "1", "T": -5}]), "trade T is -5, expected epoch milliseconds"),
    (bad_frame(dataType="BTC-USDT@trade", data=[{"p": "1", "T": 5, "q": "lots"}]),
     "trade q is 'lots', expected a number"),
]


@pytest.mark.parametrize("raw, reason", BAD_FRAMES, ids=[f"{i}-{r[:24]}" for i, (_, r) in enumerate(BAD_FRAMES)])
def test_bad_frames_name_the_reason_and_show_the_decoded_text(bingx, raw, reason):
    err = bad(bingx, raw)
    assert err.reason == reason
    text = gzip.decompress(raw).decode()
    assert str(err) == f"bingx: {reason}: {err.excerpt}" and err.excerpt.startswith(text[:30])


def test_frame_that_is_not_json(bingx):
    err = bad(bingx, gz("hello"))
    assert err.reason.startswith("not JSON") and err.excerpt == "hello"


def test_binary_frame_that_is_not_gzip(bingx):
    err = bad(bingx, b"\x00\x01 plain bytes")
    assert err.reason.startswith("frame is not gzip (") and err.reason.endswith(")")
    assert err.excerpt == "\x00\x01 plain bytes"


def test_zlib_frame_is_not_taken_for_gzip(bingx):
    """BingX gzips every frame: another compression is refused, not guessed."""
    assert bad(bingx, zlib.compress(b'{"id":"x","code":0}')).reason.startswith("frame is not gzip (")


def test_gzip_frame_that_is_not_utf8(bingx):
    err = bad(bingx, gzip.compress(b"\xff\xfe{}"))
    assert err.reason == "gzip frame is not UTF-8" and err.excerpt.startswith("\x1f\ufffd")  # the gzip bytes


def test_gzip_frames_inflate_to_at_most_4_mib(bingx):
    ack = '{"id":"x","code":0}'
    assert bingx.parse_ws_message(gz(ack + " " * (MIB4 - len(ack)))) == []
    err = bad(bingx, gz(ack + " " * (MIB4 + 1 - len(ack))))
    assert err.reason == "gzip frame inflates past 4 MiB" and err.excerpt.startswith("\x1f\ufffd")
