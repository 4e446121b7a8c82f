"""Binance USD-M futures adapter: requests as the docs spell them, recorded and documented frames parsed to the
values they hold, errors typed (the exchange's own error -> ExchangeError, anything unreadable -> BadMessage)."""
import json
from pathlib import Path

import pandas as pd
import pytest
from ticker_items import assert_item_left_out

from twinstar_gui.core.models import KlineEvent, SubscriptionAck, TickerEvent, TradeEvent
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.exchanges import BadMessage, ExchangeError
from twinstar_gui.exchanges.base import RestRequest
from twinstar_gui.exchanges.binance import BinanceAdapter

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "binance"
# the documented sample candles: 2025-01-15 11:30, 11:45 and 12:00 UTC (the last one still forming)
T1130, T1145, T1200 = 1736940600000, 1736941500000, 1736942400000


@pytest.fixture()
def bn():
    return BinanceAdapter()


def fixture_text(name):
    return (FIX / name).read_text()


def lines(name):
    return [l for l in fixture_text(name).splitlines() if l.strip()]


def kline_frame(**k_changes):
    """A raw /market/ws kline push (no combined-stream wrapper) with some k fields changed or removed."""
    k = {"t": T1200, "T": T1200 + 899_999, "s": "BTCUSDT", "i": "15m", "o": "100.5", "c": "101.25", "h": "102",
         "l": "99.75", "v": "12.5", "n": 7, "x": False, "q": "1262.5"}
    for key, value in k_changes.items():
        if value is None:
            k.pop(key)
        else:
            k[key] = value
    return json.dumps({"e": "kline", "E": T1200 + 1000, "s": "BTCUSDT", "k": k})


# -- constants the rest of the app relies on -------------------------------------------------------
def test_default_endpoints_and_limits():
    a = BinanceAdapter()
    assert a.rest_url == "https://fapi.binance.com"
    assert a.ws_url == "wss://fstream.binance.com/market/ws"  # klines live on /market since the 2026 split
    assert a.rest_row_cap == 1500  # documented max of /fapi/v1/klines
    assert a.max_topics_per_connection <= 1024  # streams per connection
    assert a.heartbeat_interval == 0 and a.heartbeat_message() is None  # the server pings; websockets answers
    assert a.unknown_symbol_codes == {"-1121"}


def test_the_budget_counts_binances_request_weight():
    # the IP limit is 2400 weight a minute, over it -> 429, then a 418 ban of minutes to days; the budget counts
    # weight, each request at its own (klines by their limit, all 24 h tickers 40)
    budget = BinanceAdapter.rest_budget
    assert budget.requests / budget.per_seconds * 60 <= 2400 * 0.6
    a = BinanceAdapter()
    costs = {limit: a.request_cost(a.kline_request("BTCUSDT", Timeframe.M15, 0, None, limit))
             for limit in (1, 99, 100, 499, 500, 1000, 1001, 1500)}
    assert costs == {1: 1, 99: 1, 100: 2, 499: 2, 500: 5, 1000: 5, 1001: 10, 1500: 10}
    assert a.request_cost(a.tickers_request()) == 40
    one = RestRequest("http://x/fapi/v1/ticker/24hr", {"symbol": "BTCUSDT"}, "/fapi/v1/ticker/24hr")
    assert a.request_cost(one) == 1
    assert a.request_cost(RestRequest("http://x/fapi/v1/exchangeInfo", {}, "/fapi/v1/exchangeInfo")) == 1


def test_url_overrides_keep_the_paths():
    a = BinanceAdapter(rest_url="http://127.0.0.1:9/binance/", ws_url="ws://127.0.0.1:9/binance/market/ws")
    assert a.kline_request("BTCUSDT", Timeframe.M15, None, None).url == "http://127.0.0.1:9/binance/fapi/v1/klines"
    assert a.tickers_request().url == "http://127.0.0.1:9/binance/fapi/v1/ticker/24hr"
    assert a.ws_url == "ws://127.0.0.1:9/binance/market/ws"


# -- symbols -----------------------------------------------------------------------------------------
def test_native_symbol_is_base_plus_quote_uppercase(bn):
    assert bn.native_symbol("btc", "usdt") == "BTCUSDT"
    assert bn.native_symbol(" 1000pepe ", " usdc") == "1000PEPEUSDC"


@pytest.mark.parametrize("base, quote", [("", "USDT"), ("  ", "USDT"), ("BTC", ""), ("BTC", " "), ("BTC-", "USDT"),
                                         ("BTC", "US/DT"), ("B TC", "USDT")])
def test_native_symbol_refuses_bad_parts(bn, base, quote):
    with pytest.raises(ValueError) as err:
        bn.native_symbol(base, quote)
    assert "binance" in str(err.value) and "bad symbol parts" in str(err.value)
    assert f"base={base.strip().upper()!r}" in str(err.value) and f"quote={quote.strip().upper()!r}" in str(err.value)


@pytest.mark.parametrize("native, parts", [("BTCUSDT", ("BTC", "USDT")), (" ethusdc ", ("ETH", "USDC")),
                                           ("1000PEPEUSDT", ("1000PEPE", "USDT")), ("USDCUSDT", ("USDC", "USDT"))])
def test_split_symbol(bn, native, parts):
    assert bn.split_symbol(native) == parts


@pytest.mark.parametrize("native", ["USDT", "USDC", "BTCBUSD", "BTC-USDT-SWAP", ""])
def test_split_symbol_refuses_what_is_no_usdt_or_usdc_pair(bn, native):
    with pytest.raises(ValueError) as err:
        bn.split_symbol(native)
    assert "binance" in str(err.value) and "cannot split" in str(err.value) and repr(native) in str(err.value)
    assert "USDT, USDC" in str(err.value)


# -- REST requests -------------------------------------------------------------------------------------
@pytest.mark.parametrize("tf, interval", [(Timeframe.M1, "1m"), (Timeframe.M15, "15m"), (Timeframe.H1, "1h"),
                                          (Timeframe.H4, "4h"), (Timeframe.D1, "1d")])
def test_kline_request_as_documented(bn, tf, interval):
    req = bn.kline_request("BTCUSDT", tf, T1130, T1200 - 1, 500)
    assert req.url == "https://fapi.binance.com/fapi/v1/klines" and req.endpoint == "/fapi/v1/klines"
    assert dict(req.params) == {"symbol": "BTCUSDT", "interval": interval, "limit": 500, "startTime": T1130,
                                "endTime": T1200 - 1}


def test_kline_request_limit_defaults_to_and_is_capped_at_1500(bn):
    assert bn.kline_request("BTCUSDT", Timeframe.M15, None, None).params["limit"] == 1500
    assert bn.kline_request("BTCUSDT", Timeframe.M15, None, None, 5000).params["limit"] == 1500
    assert bn.kline_request("BTCUSDT", Timeframe.M15, None, None, 1500).params["limit"] == 1500
    assert bn.kline_request("BTCUSDT", Timeframe.M15, None, None, 1).params["limit"] == 1


def test_kline_request_times_are_optional_whole_milliseconds(bn):
    latest = bn.kline_request("BTCUSDT", Timeframe.H1, None, None)
    assert "startTime" not in latest.params and "endTime" not in latest.params  # no times: the latest klines
    only_start = bn.kline_request("BTCUSDT", Timeframe.H1, 0, None)  # 1970 is a time, not "no time"
    assert only_start.params["startTime"] == 0 and "endTime" not in only_start.params
    only_end = bn.kline_request("BTCUSDT", Timeframe.H1, None, float(T1200))
    assert "startTime" not in only_end.params
    assert only_end.params["endTime"] == T1200 and type(only_end.params["endTime"]) is int  # not "1736942400000.0"
    assert type(bn.kline_request("BTCUSDT", Timeframe.H1, float(T1130), None).params["startTime"]) is int


def test_tickers_request(bn):
    req = bn.tickers_request()
    assert req.url == "https://fapi.binance.com/fapi/v1/ticker/24hr" and req.endpoint == "/fapi/v1/ticker/24hr"
    assert dict(req.params) == {}  # no symbol: every symbol at once


# -- REST responses ------------------------------------------------------------------------------------
def test_rest_klines_documented_sample(bn):
    frame = bn.parse_rest_klines(json.loads(fixture_text("rest_klines.json")))
    assert frame["timestamp"].tolist() == [pd.Timestamp(t, unit="ms", tz="UTC") for t in (T1130, T1145, T1200)]
    assert frame.iloc[0][["open", "high", "low", "close", "volume"]].tolist() == [
        97012.3, 97188.0, 96950.1, 97120.5, 1523.412]
    assert frame.iloc[2][["open", "high", "low", "close", "volume"]].tolist() == [
        97198.7, 97240.4, 97150.0, 97205.3, 312.118]  # volume is the base volume (row[5]), not the quote's


def test_rest_klines_from_text_or_bytes(bn):
    text = fixture_text("rest_klines.json")
    assert bn.parse_rest_klines(text)["close"].tolist() == [97120.5, 97198.7, 97205.3]
    assert bn.parse_rest_klines(text.encode())["close"].tolist() == [97120.5, 97198.7, 97205.3]
    assert bn.parse_rest_klines([]).empty


@pytest.mark.parametrize("payload", [{"code": -1121, "msg": "Invalid symbol."},
                                     '{"code": -1121, "msg": "Invalid symbol."}'])
def test_rest_error_envelope_is_the_exchanges_error(bn, payload):
    with pytest.raises(ExchangeError) as err:
        bn.parse_rest_klines(payload)
    e = err.value
    assert not isinstance(e, BadMessage)
    assert (e.exchange, e.code, e.message, e.endpoint) == ("binance", -1121, "Invalid symbol.", "/fapi/v1/klines")
    assert bn.is_unknown_symbol(e)


def test_other_error_codes_are_not_an_unknown_symbol(bn):
    with pytest.raises(ExchangeError) as err:
        bn.parse_rest_klines({"code": -1100, "msg": "Illegal characters found in parameter 'symbol'."})
    assert err.value.code == -1100 and "Illegal characters" in str(err.value)
    assert not bn.is_unknown_symbol(err.value)


def test_tickers_error_names_the_tickers_endpoint(bn):
    with pytest.raises(ExchangeError) as err:
        bn.parse_tickers({"code": -1003, "msg": "Too many requests."})
    assert err.value.endpoint == "/fapi/v1/ticker/24hr" and err.value.code == -1003
    assert "binance /fapi/v1/ticker/24hr" in str(err.value) and "Too many requests." in str(err.value)


@pytest.mark.parametrize("payload", [{"code": 200}, {"msg": "hello"}, {"rows": []}, "null", 42])
def test_anything_but_an_array_or_an_error_envelope_is_a_bad_message(bn, payload):
    with pytest.raises(BadMessage) as err:
        bn.parse_rest_klines(payload)
    assert err.value.exchange == "binance" and err.value.reason == "/fapi/v1/klines: expected a JSON array"
    if isinstance(payload, dict):
        assert err.value.excerpt == str(payload)
    with pytest.raises(BadMessage, match="/fapi/v1/ticker/24hr: expected a JSON array"):
        bn.parse_tickers(payload)


def test_undecodable_rest_text_is_a_bad_message(bn):
    with pytest.raises(BadMessage, match="binance: not JSON"):
        bn.parse_rest_klines("<html>502 Bad Gateway</html>")


def test_bad_kline_rows_quote_the_answer(bn):
    with pytest.raises(BadMessage) as err:
        bn.parse_rest_klines([[T1130, "97012.30", "x", "96950.10", "97120.50", "1523.412", T1145 - 1]])
    assert err.value.reason == "kline rows are not [time, open, high, low, close, volume, ...]"
    assert err.value.excerpt.startswith("[[1736940600000, '97012.30', 'x'")


def test_tickers_ranked_by_quote_volume(bn):
    payload = [  # fields as /fapi/v1/ticker/24hr sends them; PEPE trades the most coins, BTC the most USDT
        {"symbol": "1000PEPEUSDT", "lastPrice": "0.0171000", "volume": "90000000000", "quoteVolume": "1539000000.00",
         "openTime": 1736856180000, "closeTime": 1736942587498, "count": 1},
        {"symbol": "BTCUSDT", "lastPrice": "97205.30", "volume": "84012.551", "quoteVolume": "8125811234.77",
         "openTime": 1736856180000, "closeTime": 1736942587498, "count": 22240788},
        {"symbol": "ETHUSDT", "lastPrice": "3301.10", "volume": "2101000.5", "quoteVolume": "6935210000.00",
         "openTime": 1736856180000, "closeTime": 1736942587498, "count": 9001},
    ]
    frame = bn.parse_tickers(payload)
    assert list(frame.columns) == ["symbol", "last_price", "quote_volume_24h"]
    assert frame.values.tolist() == [["BTCUSDT", 97205.3, 8125811234.77], ["ETHUSDT", 3301.1, 6935210000.0],
                                     ["1000PEPEUSDT", 0.0171, 1539000000.0]]
    assert bn.parse_tickers(json.dumps(payload))["symbol"].tolist() == ["BTCUSDT", "ETHUSDT", "1000PEPEUSDT"]


def test_a_ticker_without_a_number_is_left_out(bn, caplog):
    assert_item_left_out(caplog, bn.parse_tickers, [{"symbol": "BTCUSDT", "quoteVolume": "1"}], "binance",
                         "lastPrice is None, expected a number")
    assert_item_left_out(caplog, bn.parse_tickers, [{"symbol": "BTCUSDT", "lastPrice": "1", "volume": "5"}],
                         "binance", "quoteVolume is None, expected a number")


# -- WebSocket requests ----------------------------------------------------------------------------------
@pytest.mark.parametrize("tf, stream", [(Timeframe.M1, "btcusdt@kline_1m"), (Timeframe.M15, "btcusdt@kline_15m"),
                                        (Timeframe.H1, "btcusdt@kline_1h"), (Timeframe.H4, "btcusdt@kline_4h"),
                                        (Timeframe.D1, "btcusdt@kline_1d")])
def test_stream_names_are_lowercase(bn, tf, stream):
    assert bn.kline_topic("BTCUSDT", tf) == stream
    assert bn.ticker_topic("BTCUSDT") == "btcusdt@ticker"


def test_subscribe_message_is_the_documented_one(bn):
    assert json.loads(bn.subscribe_message(["btcusdt@kline_15m", "btcusdt@ticker"])) == json.loads(
        fixture_text("ws_subscribe.json"))


def test_each_request_has_its_own_numeric_id(bn):
    sub = json.loads(bn.subscribe_message(("btcusdt@kline_15m",)))
    unsub = json.loads(bn.unsubscribe_message(["btcusdt@kline_15m"]))
    again = json.loads(bn.subscribe_message(["ethusdt@kline_15m"]))
    assert unsub == {"method": "UNSUBSCRIBE", "params": ["btcusdt@kline_15m"], "id": sub["id"] + 1}
    assert again["method"] == "SUBSCRIBE" and again["id"] == sub["id"] + 2  # acks are matched by id
    assert json.loads(bn.subscribe_message(["x"], request_id="77"))["id"] == 77  # an unsigned INT, as required
    assert json.loads(bn.unsubscribe_message(["x"], request_id="78")) == {
        "method": "UNSUBSCRIBE", "params": ["x"], "id": 78}


# -- WebSocket frames ------------------------------------------------------------------------------------
def test_documented_kline_frames(bn):
    opened = bn.parse_ws_message(fixture_text("ws_kline_open.json"))
    assert opened == [KlineEvent("binance", "BTCUSDT", "15m", T1200, 97198.7, 97240.4, 97150.0, 97205.3, 312.118,
                                 False)]
    closed = bn.parse_ws_message(fixture_text("ws_kline_closed.json").encode())
    assert closed == [KlineEvent("binance", "BTCUSDT", "15m", T1145, 97120.5, 97250.0, 97055.2, 97198.7, 1180.905,
                                 True)]


def test_recorded_kline_frames_carry_the_close_flag():
    bn = BinanceAdapter()
    events = [e for f in lines("ws_kline.jsonl") for e in bn.parse_ws_message(f)]
    assert len(events) == 67 and {e.symbol for e in events} == {"SUSHIUSDT", "AKROUSDT", "KEEPUSDT", "CTKUSDT"}
    closed = [e for e in events if e.closed]
    assert len(closed) == 4 and all(e.closed is True for e in closed)
    assert all(e.closed is False for e in events if not e.closed)  # never None: Binance always says


def test_raw_stream_kline_without_the_combined_wrapper(bn):
    assert bn.parse_ws_message(kline_frame()) == [
        KlineEvent("binance", "BTCUSDT", "15m", T1200, 100.5, 102.0, 99.75, 101.25, 12.5, False)]
    assert bn.parse_ws_message(kline_frame(x=True))[0].closed is True


def test_kline_symbol_from_the_kline_or_the_event(bn):
    frame = json.loads(kline_frame(s=None))
    frame["s"] = "ETHUSDT"
    assert bn.parse_ws_message(json.dumps(frame))[0].symbol == "ETHUSDT"
    frame = json.loads(kline_frame(s="SOLUSDT"))
    frame.pop("s")
    assert bn.parse_ws_message(json.dumps(frame))[0].symbol == "SOLUSDT"
    frame["k"].pop("s")
    raw = json.dumps(frame)
    with pytest.raises(BadMessage) as err:
        bn.parse_ws_message(raw)
    assert err.value.reason == "kline without symbol" and err.value.excerpt.startswith(raw[:150])


def test_a_kline_with_only_the_fields_we_read(bn):
    k = {"t": T1200, "o": "1", "h": "2", "l": "0.5", "c": "1.5", "v": "10", "x": True, "i": "1h"}
    raw = json.dumps({"e": "kline", "E": T1200 + 5, "s": "BTCUSDT", "k": k})
    assert bn.parse_ws_message(raw) == [KlineEvent("binance", "BTCUSDT", "1h", T1200, 1.0, 2.0, 0.5, 1.5, 10.0, True)]


@pytest.mark.parametrize("interval", ["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d",
                                      "1w", "1M"])
def test_every_documented_interval_is_understood(bn, interval):
    assert bn.parse_ws_message(kline_frame(i=interval))[0].timeframe == interval


@pytest.mark.parametrize("changes, why", [
    ({"t": None}, "kline without k.t/o/h/l/c/v/x/i"),
    ({"s": None, "T": None, "n": None, "q": None, "t": None}, "kline without k.t/o/h/l/c/v/x/i"),
    ({"o": None}, "kline without k.t/o/h/l/c/v/x/i"),
    ({"h": None}, "kline without k.t/o/h/l/c/v/x/i"),
    ({"l": None}, "kline without k.t/o/h/l/c/v/x/i"),
    ({"c": None}, "kline without k.t/o/h/l/c/v/x/i"),
    ({"v": None}, "kline without k.t/o/h/l/c/v/x/i"),
    ({"x": None}, "kline without k.t/o/h/l/c/v/x/i"),
    ({"i": None}, "kline without k.t/o/h/l/c/v/x/i"),
    ({"x": "true"}, "kline x is 'true', expected true/false"),
    ({"x": 1}, "kline x is 1, expected true/false"),
    ({"i": "7m"}, "kline interval '7m' not understood"),
    ({"i": "15M"}, "kline interval '15M' not understood"),
    ({"i": 15}, "kline interval 15 not understood"),
    ({"o": "abc"}, "open is 'abc', expected a number"),
    ({"l": "103"}, "inconsistent candle (need low <= open, close <= high and volume >= 0)"),
])
def test_bad_kline_fields_are_named(bn, changes, why):
    raw = kline_frame(**changes)
    with pytest.raises(BadMessage) as err:
        bn.parse_ws_message(raw)
    assert (err.value.exchange, err.value.reason) == ("binance", why)
    assert str(err.value) == f"binance: {why}: {err.value.excerpt}" and err.value.excerpt.startswith(raw[:100])


def test_kline_without_k_object(bn):
    for k in ("[]", '"k"', "null"):
        with pytest.raises(BadMessage, match="kline without k"):
            bn.parse_ws_message('{"e":"kline","E":1,"s":"BTCUSDT","k":' + k + '}')


def test_documented_ticker_frame(bn):
    assert bn.parse_ws_message(fixture_text("ws_ticker.json")) == [
        TickerEvent("binance", "BTCUSDT", 97205.3, 1736942587500)]  # last price c at event time E


def test_mini_ticker_frame(bn):
    raw = ('{"e":"24hrMiniTicker","E":1736942587600,"s":"ETHUSDT","c":"3301.10","o":"3200.00","h":"3310.00",'
           '"l":"3190.00","v":"2101000.5","q":"6935210000.00"}')
    assert bn.parse_ws_message(raw) == [TickerEvent("binance", "ETHUSDT", 3301.1, 1736942587600)]


@pytest.mark.parametrize("raw, why", [
    ('{"e":"24hrTicker","E":1736942587500,"s":"BTCUSDT"}', "ticker c is None"),
    ('{"e":"24hrTicker","E":"soon","s":"BTCUSDT","c":"1"}', "ticker E is 'soon'"),
    ('{"e":"24hrTicker","E":-5,"s":"BTCUSDT","c":"1"}', "ticker E is -5, expected epoch milliseconds"),
    ('{"e":"aggTrade","T":1626992741421,"s":"CTKUSDT","q":"1"}', "trade p is None"),
    ('{"e":"aggTrade","T":"x","s":"CTKUSDT","p":"1","q":"1"}', "trade T is 'x'"),
    ('{"e":"trade","T":1626992741421,"s":"CTKUSDT","p":"1","q":"lots"}', "trade q is 'lots'"),
])
def test_bad_ticker_and_trade_fields_are_named(bn, raw, why):
    with pytest.raises(BadMessage) as err:
        bn.parse_ws_message(raw)
    assert err.value.reason.startswith(why) and str(err.value) == f"binance: {err.value.reason}: {raw}"


def test_recorded_agg_trades(bn):
    out = [bn.parse_ws_message(f) for f in lines("ws_other.jsonl")]
    trades = [e for evs in out for e in evs]
    assert trades[0] == TradeEvent("binance", "CTKUSDT", 1.011, 1626992741421, 10.0)  # trade time T, not event E
    assert trades[1] == TradeEvent("binance", "AKROUSDT", 0.01731, 1626992742134, 312.0)
    assert len(trades) == 3 and all(isinstance(e, TradeEvent) for e in trades)
    assert sum(evs == [] for evs in out) == 5  # bookTicker and depthUpdate: valid, unused


def test_ticker_or_trade_without_a_symbol_names_none(bn):
    # never a made-up name ("None"): an empty symbol matches no series
    assert bn.parse_ws_message('{"e":"24hrTicker","E":1736942587500,"c":"97205.30"}') == [
        TickerEvent("binance", "", 97205.3, 1736942587500)]
    assert bn.parse_ws_message('{"e":"aggTrade","T":1626992741421,"p":"1.011","q":"10"}') == [
        TradeEvent("binance", "", 1.011, 1626992741421, 10.0)]


def test_plain_trade_frame_and_missing_size(bn):
    raw = '{"e":"trade","E":1626992741600,"T":1626992741599,"s":"CTKUSDT","t":1,"p":"1.0120","q":"3"}'
    assert bn.parse_ws_message(raw) == [TradeEvent("binance", "CTKUSDT", 1.012, 1626992741599, 3.0)]
    raw = '{"e":"aggTrade","E":1626992741600,"T":1626992741599,"s":"CTKUSDT","p":"1.0120"}'
    assert bn.parse_ws_message(raw) == [TradeEvent("binance", "CTKUSDT", 1.012, 1626992741599, 0.0)]


def test_acks_give_nothing(bn):
    assert bn.parse_ws_message(fixture_text("ws_ack.json")) == []
    assert bn.parse_ws_message('{"result":null,"id":2}') == []
    assert bn.parse_ws_message('{"result":["btcusdt@kline_15m"],"id":3}') == []  # LIST_SUBSCRIPTIONS


def test_rejected_request_is_reported_with_its_id(bn):
    raw = '{"error":{"code":2,"msg":"Invalid request: unknown variant SUBSCRIB"},"id":5}'
    assert bn.parse_ws_message(raw) == [
        SubscriptionAck("binance", False, "subscribe", "Invalid request: unknown variant SUBSCRIB", "5")]
    assert bn.parse_ws_message('{"error":"Invalid JSON","id":6}') == [
        SubscriptionAck("binance", False, "subscribe", "Invalid JSON", "6")]
    ack = bn.parse_ws_message('{"error":{"code":3},"id":7}')[0]
    assert (ack.ok, ack.request_id) == (False, "7") and "'code': 3" in ack.message  # no text: the whole error


def test_combined_stream_wrapper_is_unwrapped(bn):
    inner = json.loads(kline_frame())
    wrapped = json.dumps({"stream": "btcusdt@kline_15m", "data": inner})
    assert bn.parse_ws_message(wrapped) == bn.parse_ws_message(json.dumps(inner))


def test_only_stream_plus_data_is_a_wrapper(bn):
    # an event that happens to carry a "data" or "stream" field is still read as the event itself
    raw = '{"e":"aggTrade","T":1626992741421,"s":"CTKUSDT","p":"1.011","q":"10","data":"x"}'
    assert bn.parse_ws_message(raw) == [TradeEvent("binance", "CTKUSDT", 1.011, 1626992741421, 10.0)]
    raw = '{"e":"aggTrade","T":1626992741421,"s":"CTKUSDT","p":"1.011","q":"10","stream":"ctkusdt@aggTrade"}'
    assert bn.parse_ws_message(raw) == [TradeEvent("binance", "CTKUSDT", 1.011, 1626992741421, 10.0)]


def test_unused_event_types_give_nothing(bn):
    assert bn.parse_ws_message('{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"1"}') == []
    assert bn.parse_ws_message('{"e":"forceOrder","E":1,"o":{}}') == []


@pytest.mark.parametrize("raw, why", [
    ("not json", "not JSON (Expecting value"),
    (b"\xff\xfe", "frame is not UTF-8 (invalid start byte)"),
    ("[1, 2]", "frame is not a JSON object"),
    ('{"stream":"btcusdt@kline_15m","data":[1,2]}', "combined-stream data is not an object"),
    ('"pong"', "frame is not a JSON object"),
    ('{"E": 1, "s": "BTCUSDT"}', "frame has no event type"),
    ('{"e": 5, "E": 1}', "frame has no event type"),
    ('{"e": null}', "frame has no event type"),
    ('{"id": 1}', "frame has no event type"),  # neither result nor error: not an answer we know
    ('{"result": null}', "frame has no event type"),  # an answer without the request's id
])
def test_frames_we_cannot_read_are_bad_messages(bn, raw, why):
    with pytest.raises(BadMessage) as err:
        bn.parse_ws_message(raw)
    assert err.value.exchange == "binance" and err.value.reason.startswith(why)
    if isinstance(raw, str):  # the frame itself is quoted for the log
        assert str(err.value) == f"binance: {err.value.reason}: {raw}"
