"""Bithumb KRW spot: BTC_KRW names, v1 (Upbit-style) candle requests, legacy candlestick rows (close at index 2),
the ALL_KRW tickers, legacy WS filters, trades and tickers in KST turned to UTC (see exchange-specs/bithumb.md)."""
import json
from pathlib import Path

import pandas as pd
import pytest

from twinstar_gui.core.models import SubscriptionAck, TickerEvent, TradeEvent
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.exchanges import BadMessage, ExchangeError, get_exchange

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "bithumb"
T1200 = 1736942400000  # 2025-01-15 12:00:00 UTC = 21:00:00 KST
T1130 = T1200 - 30 * 60_000
ALL_KRW = "/public/ticker/ALL_KRW"


@pytest.fixture()
def bithumb():
    return get_exchange("bithumb", rest_url="https://api.bithumb.com")


def fixture(name):
    return json.loads((FIX / name).read_text())


def bad(adapter, raw) -> BadMessage:
    with pytest.raises(BadMessage) as err:
        adapter.parse_ws_message(raw)
    return err.value


# -- symbols ----------------------------------------------------------------------------------------
def test_symbols_are_base_underscore_quote(bithumb):
    assert bithumb.native_symbol(" btc", "krw ") == "BTC_KRW"
    assert bithumb.split_symbol(" eth_krw ") == ("ETH", "KRW")
    assert bithumb.v1_market("xrp_krw") == "KRW-XRP"  # the v1 API's name of the same market


@pytest.mark.parametrize("base, quote", [("", "KRW"), ("BTC", ""), (" ", "KRW"), ("B_TC", "KRW"), ("BTC", "K-RW")])
def test_native_symbol_refuses_bad_parts(bithumb, base, quote):
    with pytest.raises(ValueError) as err:
        bithumb.native_symbol(base, quote)
    assert str(err.value) == (f"bithumb: bad symbol parts base={base.strip().upper()!r} "
                              f"quote={quote.strip().upper()!r}")


@pytest.mark.parametrize("native", ["KRW-BTC", "BTCKRW", "BTC_KRW_X", "_KRW", "BTC_", ""])
def test_split_symbol_refuses_other_shapes(bithumb, native):
    with pytest.raises(ValueError) as err:
        bithumb.split_symbol(native)
    assert str(err.value) == f"bithumb: {native!r} is not a symbol like BTC_KRW"
    with pytest.raises(ValueError):
        bithumb.kline_request(native, Timeframe.M15, None, None)


# -- REST requests ----------------------------------------------------------------------------------
def test_candle_request_uses_the_v1_endpoints(bithumb):
    """The legacy candlestick has no 15m or 4h: requests go to v1 with the KRW-BTC market name and an explicit
    UTC `to` (exclusive), since Bithumb may read a zone-less time as KST."""
    req = bithumb.kline_request("BTC_KRW", Timeframe.M15, T1130, T1200 - 1, 3)
    assert req.url == "https://api.bithumb.com/v1/candles/minutes/15" and req.endpoint == "/v1/candles/minutes/15"
    assert dict(req.params) == {"market": "KRW-BTC", "count": 3, "to": "2025-01-15T12:00:00Z"}


@pytest.mark.parametrize("tf, path, to", [
    (Timeframe.M1, "/v1/candles/minutes/1", "2025-01-15T12:00:00Z"),
    (Timeframe.H1, "/v1/candles/minutes/60", "2025-01-15T12:00:00Z"),
    (Timeframe.H4, "/v1/candles/minutes/240", "2025-01-15T12:00:00Z"),
    (Timeframe.D1, "/v1/candles/days", "2025-01-16T00:00:00Z"),
])
def test_candle_request_per_timeframe(bithumb, tf, path, to):
    req = bithumb.kline_request("ETH_KRW", tf, None, T1200 - 1, 10)
    assert req.url == "https://api.bithumb.com" + path
    assert dict(req.params) == {"market": "KRW-ETH", "count": 10, "to": to}


def test_candle_request_count_and_open_end(bithumb):
    assert [bithumb.kline_request("BTC_KRW", Timeframe.M15, None, None, n).params["count"]
            for n in (None, 1000, 200, 199)] == [200, 200, 200, 199]
    assert "to" not in bithumb.kline_request("BTC_KRW", Timeframe.M15, T1130, None).params


def test_tickers_request(bithumb):
    req = get_exchange("bithumb", rest_url="http://127.0.0.1:9/bithumb/").tickers_request()
    assert req.url == "http://127.0.0.1:9/bithumb/public/ticker/ALL_KRW" and req.endpoint == ALL_KRW
    assert dict(req.params) == {}


# -- REST candles -----------------------------------------------------------------------------------
def test_v1_candles_newest_first_become_ascending(bithumb):
    frame = bithumb.parse_rest_klines(fixture("rest_klines.json"))
    assert frame["timestamp"].tolist() == [pd.Timestamp("2025-01-15 11:30", tz="UTC"),
                                           pd.Timestamp("2025-01-15 11:45", tz="UTC"),
                                           pd.Timestamp("2025-01-15 12:00", tz="UTC")]
    assert frame.iloc[2].tolist()[1:] == [143700000.0, 143750000.0, 143610000.0, 143655000.0, 3.40192]
    text = (FIX / "rest_klines.json").read_text()
    pd.testing.assert_frame_equal(bithumb.parse_rest_klines(text), frame)
    pd.testing.assert_frame_equal(bithumb.parse_rest_klines(text.encode()), frame)


def test_legacy_rows_are_time_open_close_high_low_volume(bithumb):
    frame = bithumb.parse_rest_klines(fixture("rest_klines_legacy_30m.json"))
    assert frame["timestamp"].tolist() == [pd.Timestamp("2025-01-15 11:00", tz="UTC"),
                                           pd.Timestamp("2025-01-15 11:30", tz="UTC"),
                                           pd.Timestamp("2025-01-15 12:00", tz="UTC")]
    assert frame.iloc[0].tolist()[1:] == [143050000.0, 143380000.0, 142980000.0, 143250000.0, 41.2291]
    assert frame.iloc[2].tolist()[1:] == [143700000.0, 143750000.0, 143610000.0, 143655000.0, 3.40192]
    text = (FIX / "rest_klines_legacy_30m.json").read_text()
    pd.testing.assert_frame_equal(bithumb.parse_rest_klines(bytearray(text.encode())), frame)


def test_legacy_empty_data(bithumb):
    assert bithumb.parse_rest_klines({"status": "0000", "data": []}).empty


def test_v1_error_envelope(bithumb):
    with pytest.raises(ExchangeError) as err:
        bithumb.parse_rest_klines({"error": {"name": "404", "message": "Code not found"}})
    e = err.value
    assert (e.exchange, e.code, e.message, e.endpoint) == ("bithumb", "404", "Code not found", "/v1/candles")
    assert str(e) == "bithumb /v1/candles: code=404 Code not found" and bithumb.is_unknown_symbol(e)
    with pytest.raises(ExchangeError) as err:
        bithumb.parse_rest_klines({"error": {"name": "invalid_parameter"}})
    assert err.value.message == "" and not bithumb.is_unknown_symbol(err.value)


def test_legacy_error_status(bithumb):
    with pytest.raises(ExchangeError) as err:
        bithumb.parse_rest_klines('{"status": "5500", "message": "Invalid Parameter"}')
    e = err.value
    assert (e.code, e.message, e.endpoint) == ("5500", "Invalid Parameter", "/public/candlestick")
    assert bithumb.is_unknown_symbol(e)
    with pytest.raises(ExchangeError) as err:
        bithumb.parse_rest_klines({"status": "5600"})
    assert err.value.code == "5600" and err.value.message == ""


@pytest.mark.parametrize("payload", [{"data": []}, {"message": "hello"}, {"error": "text"}])
def test_answer_without_an_envelope_is_bad_message(bithumb, payload):
    """Neither a v1 error nor a legacy status: the exchange said nothing we can read, it reported no error."""
    with pytest.raises(BadMessage) as err:
        bithumb.parse_rest_klines(payload)
    assert err.value.reason == "not a Bithumb answer (no status, no error)" and err.value.excerpt == str(payload)


@pytest.mark.parametrize("data", [None, {"BTC": []}, "rows"])
def test_legacy_data_not_a_list(bithumb, data):
    payload = {"status": "0000", "data": data}
    with pytest.raises(BadMessage) as err:
        bithumb.parse_rest_klines(payload)
    assert err.value.reason == "legacy candlestick data is not a list" and err.value.excerpt == str(payload)


@pytest.mark.parametrize("row", [[1736942400000, "1", "1", "1", "1"], 5, None, {"a": 1}])
def test_legacy_row_too_short_or_not_a_row(bithumb, row):
    payload = {"status": "0000", "data": [row]}
    with pytest.raises(BadMessage) as err:
        bithumb.parse_rest_klines(payload)
    assert err.value.reason == "legacy candlestick row is not [time, open, close, high, low, volume]"
    assert err.value.excerpt == str(payload)


def test_legacy_row_with_close_above_high(bithumb):
    payload = {"status": "0000", "data": [[T1200, "100", "130", "120", "90", "1"]]}  # close 130 > high 120
    with pytest.raises(BadMessage) as err:
        bithumb.parse_rest_klines(payload)
    assert err.value.reason.startswith("inconsistent kline row") and err.value.excerpt == str(payload)


def test_v1_candle_missing_a_field(bithumb):
    rows = fixture("rest_klines.json")
    del rows[0]["trade_price"]
    with pytest.raises(BadMessage) as err:
        bithumb.parse_rest_klines(rows)
    assert err.value.reason.startswith("candle object lacks one of candle_date_time_utc, opening_price")
    assert err.value.excerpt.startswith("[{'market': 'KRW-BTC', 'candle_date_time_utc': '2025-01-15T12:00:00'")


# -- REST tickers -----------------------------------------------------------------------------------
def test_all_krw_tickers_ranked_by_krw_traded_in_24h(bithumb):
    payload = {"status": "0000", "data": {
        "BTC": {"opening_price": "142000000", "closing_price": "143655000", "units_traded_24H": "2431.9",
                "acc_trade_value_24H": "348412345678.98"},
        "XRP": {"closing_price": "3500", "units_traded_24H": "900000000", "acc_trade_value_24H": "3100000000000"},
        "ETH": {"closing_price": "4800000", "units_traded_24H": "50000", "acc_trade_value_24H": "240000000000"},
        "date": "1736942587166"}}
    top = bithumb.parse_tickers(payload)
    assert top["symbol"].tolist() == ["XRP_KRW", "BTC_KRW", "ETH_KRW"]
    assert top["last_price"].tolist() == [3500.0, 143655000.0, 4800000.0]
    assert top["quote_volume_24h"].tolist() == [3.1e12, 348412345678.98, 2.4e11]
    pd.testing.assert_frame_equal(bithumb.parse_tickers(json.dumps(payload)), top)


def test_tickers_skip_entries_that_are_not_coins(bithumb):
    payload = {"status": "0000", "data": {"date": {"closing_price": "1", "acc_trade_value_24H": "9"},
                                          "BTC": {"closing_price": "2", "acc_trade_value_24H": "5"},
                                          "NOTE": "maintenance",
                                          "ETH": {"closing_price": "3", "acc_trade_value_24H": "4"}}}
    top = bithumb.parse_tickers(payload)
    assert top["symbol"].tolist() == ["BTC_KRW", "ETH_KRW"]


def test_tickers_error_status(bithumb):
    with pytest.raises(ExchangeError) as err:
        bithumb.parse_tickers({"status": "5600", "message": "Please try again"})
    e = err.value
    assert (e.exchange, e.code, e.message, e.endpoint) == ("bithumb", "5600", "Please try again", ALL_KRW)
    with pytest.raises(ExchangeError) as err:
        bithumb.parse_tickers({"status": "5300"})
    assert err.value.code == "5300" and err.value.message == ""


@pytest.mark.parametrize("payload, reason", [
    ([1, 2], "tickers answer is not an object"),
    ("null", "tickers answer is not an object"),
    ({"data": {}}, "not a Bithumb answer (no status, no error)"),
    ({"status": "0000", "data": [1]}, "tickers data is not an object"),
    ({"status": "0000"}, "tickers data is not an object"),
])
def test_tickers_malformed_answer_is_bad_message(bithumb, payload, reason):
    with pytest.raises(BadMessage) as err:
        bithumb.parse_tickers(payload)
    assert err.value.reason == reason and err.value.excerpt == str(payload)


@pytest.mark.parametrize("item, reason", [({"acc_trade_value_24H": "5"}, "closing_price is None, expected a number"),
                                          ({"closing_price": "1"}, "acc_trade_value_24H is None, expected a number")])
def test_ticker_with_a_missing_number(bithumb, item, reason):
    with pytest.raises(BadMessage) as err:
        bithumb.parse_tickers({"status": "0000", "data": {"BTC": item}})
    assert err.value.reason == reason and err.value.excerpt == str(item)


# -- WebSocket: topics and filters ------------------------------------------------------------------
def test_topics_trades_stand_in_for_candles(bithumb):
    assert bithumb.kline_topic("BTC_KRW", Timeframe.M15) == "transaction:BTC_KRW"
    assert bithumb.kline_topic("ETH_KRW", Timeframe.H1) == "transaction:ETH_KRW"
    assert bithumb.ticker_topic("BTC_KRW") == "ticker:BTC_KRW"
    assert bithumb.candles_from_trades


def test_subscribe_messages_as_documented(bithumb):
    assert json.loads(bithumb.subscribe_message(["ticker:BTC_KRW"])) == fixture("ws_subscribe.json")
    assert json.loads(bithumb.subscribe_message(["transaction:BTC_KRW"])) == fixture("ws_subscribe_transaction.json")
    assert json.loads(bithumb.subscribe_message(["transaction:BTC_KRW", "transaction:ETH_KRW"], "ignored")) == {
        "type": "transaction", "symbols": ["BTC_KRW", "ETH_KRW"]}


@pytest.mark.parametrize("topics", [[], ["ticker:BTC_KRW", "transaction:BTC_KRW"]])
def test_one_filter_type_per_message(bithumb, topics):
    with pytest.raises(ValueError) as err:
        bithumb.subscribe_message(topics)
    assert str(err.value) == "bithumb: one filter type per message"


def test_there_is_no_unsubscribe(bithumb):
    with pytest.raises(NotImplementedError,
                       match="^bithumb's public WS has no unsubscribe: reconnect with the remaining filters$"):
        bithumb.unsubscribe_message(["ticker:BTC_KRW"])


# -- WebSocket: frames ------------------------------------------------------------------------------
def test_status_frames(bithumb):
    assert bithumb.parse_ws_message((FIX / "ws_connected.json").read_text()) == []
    assert bithumb.parse_ws_message((FIX / "ws_ack.json").read_text().encode()) == []
    assert bithumb.parse_ws_message('{"status":"5100","resmsg":"Invalid Filter Syntax"}') == [
        SubscriptionAck("bithumb", False, "subscribe", "5100: Invalid Filter Syntax")]
    assert bithumb.parse_ws_message('{"status":"5100"}') == [SubscriptionAck("bithumb", False, "subscribe", "5100: ")]


def test_trade_in_kst_becomes_utc(bithumb):
    # contDtm 2025-01-15 21:03:07.120482 KST = 12:03:07.120 UTC
    assert bithumb.parse_ws_message((FIX / "ws_transaction.json").read_text()) == [
        TradeEvent("bithumb", "BTC_KRW", 143655000.0, T1200 + 187_120, 0.0021)]


def test_recorded_trades(bithumb):
    frames = [l for l in (FIX / "ws_other.jsonl").read_text().splitlines() if l.strip()]
    four = bithumb.parse_ws_message(frames[5])
    # 2021-06-02 08:43:42.240601 KST = 2021-06-01 23:43:42.240 UTC
    assert four[0] == TradeEvent("bithumb", "GOM2_KRW", 7.524, 1622591022240, 76999.569)
    assert [t.time for t in four] == [1622591022240, 1622591022241, 1622591022241, 1622591023188]
    assert [t.price for t in four] == [7.524, 7.525, 7.525, 7.525]


def test_trade_without_quantity(bithumb):
    msg = {"type": "transaction", "content": {"list": [
        {"symbol": "ETH_KRW", "contPrice": "4800000", "contDtm": "2025-01-15 09:00:00.000000"}]}}
    midnight_utc = T1200 - 12 * 3_600_000  # 09:00 KST
    assert bithumb.parse_ws_message(json.dumps(msg)) == [TradeEvent("bithumb", "ETH_KRW", 4800000.0, midnight_utc, 0.0)]


def test_ticker_in_kst_becomes_utc(bithumb):
    # date 20250115, time 210307 KST = 12:03:07 UTC
    assert bithumb.parse_ws_message((FIX / "ws_ticker.json").read_text()) == [
        TickerEvent("bithumb", "BTC_KRW", 143655000.0, T1200 + 187_000)]


def test_ticker_without_a_symbol_gets_no_made_up_name(bithumb):
    ev = bithumb.parse_ws_message(json.dumps({"type": "ticker", "content": {k: v for k, v in TICKER.items()
                                                                             if k != "symbol"}}))
    assert ev == [TickerEvent("bithumb", "", 1.0, T1200 + 187_000)]  # routed to no series


def test_orderbook_gives_nothing(bithumb):
    msg = {"type": "orderbookdepth", "content": {"list": [], "datetime": "1622591014555058"}}
    assert bithumb.parse_ws_message(json.dumps(msg)) == []


TRADE = {"symbol": "BTC_KRW", "contPrice": "1", "contQty": "1", "contDtm": "2025-01-15 21:03:07.120482"}
TICKER = {"symbol": "BTC_KRW", "date": "20250115", "time": "210307", "closePrice": "1"}


def trade_frame(**kw):
    return json.dumps({"type": "transaction", "content": {"list": [dict(TRADE, **kw)]}})


def ticker_frame(**kw):
    return json.dumps({"type": "ticker", "content": {k: v for k, v in dict(TICKER, **kw).items() if v is not None}})


BAD_FRAMES = [
    ("[1]", "frame is not a JSON object"),
    ('{"content": {}}', "frame has neither status nor type/content"),
    ('{"type": "ticker"}', "frame has neither status nor type/content"),
    ('{"type": "ticker", "content": [1]}', "frame has neither status nor type/content"),
    ('{"type": 7, "content": {}}', "frame has neither status nor type/content"),
    ('{"type": "transaction", "content": {"list": {}}}', "transaction content.list is not a list"),
    ('{"type": "transaction", "content": {}}', "transaction content.list is not a list"),
    ('{"type": "transaction", "content": {"list": ["x"]}}', "transaction lacks symbol/contPrice/contDtm"),
    *[(json.dumps({"type": "transaction", "content": {"list": [{k: v for k, v in TRADE.items() if k != key}]}}),
       "transaction lacks symbol/contPrice/contDtm") for key in ("symbol", "contPrice", "contDtm")],
    (trade_frame(contDtm="2025-01-15T21:03:07"), "contDtm '2025-01-15T21:03:07' is not 'YYYY-MM-DD HH:MM:SS.ffffff'"),
    (trade_frame(contDtm=None), "contDtm None is not 'YYYY-MM-DD HH:MM:SS.ffffff'"),
    (trade_frame(contPrice="n/a"), "contPrice is 'n/a', expected a number"),
    (trade_frame(contQty=[]), "contQty is '[]', expected a number"),
    (ticker_frame(time=None), "ticker date/time is not YYYYMMDD/HHMMSS"),
    (ticker_frame(date=None), "ticker date/time is not YYYYMMDD/HHMMSS"),
    (ticker_frame(time="21:03"), "ticker date/time is not YYYYMMDD/HHMMSS"),
    (ticker_frame(closePrice=None), "closePrice is None, expected a number"),
]


@pytest.mark.parametrize("raw, reason", BAD_FRAMES, ids=[f"{i}-{r[:24]}" for i, (_, r) in enumerate(BAD_FRAMES)])
def test_bad_frames_name_the_reason_and_show_the_frame(bithumb, raw, reason):
    err = bad(bithumb, raw)
    assert err.reason == reason
    assert str(err) == f"bithumb: {reason}: {err.excerpt}" and err.excerpt.startswith(raw[:100])


def test_heartbeat_is_websocket_ping_frames(bithumb):
    assert bithumb.heartbeat_message() is None and bithumb.heartbeat_interval == 0
    assert bithumb.protocol_ping_interval == 30.0
