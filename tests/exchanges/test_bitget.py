"""Bitget v2 USDT futures adapter: requests as the docs spell them, recorded (v1) and documented (v2) frames parsed to
the values they hold, errors typed (the exchange's own error -> ExchangeError, anything unreadable -> BadMessage)."""
import json
import time
from pathlib import Path

import pandas as pd
import pytest
from ticker_items import assert_item_left_out

from twinstar_gui.core.models import KlineEvent, SubscriptionAck, TickerEvent, TradeEvent
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.exchanges import BadMessage, ExchangeError
from twinstar_gui.exchanges.bitget import BitgetAdapter

NAME = "bitget"
FIX = Path(__file__).resolve().parents[1] / "fixtures" / "bitget"
T1130, T1145, T1200 = 1736940600000, 1736941500000, 1736942400000  # the documented sample candles (2025-01-15 UTC)
ARG = {"instType": "USDT-FUTURES", "channel": "candle15m", "instId": "BTCUSDT"}


@pytest.fixture()
def bg():
    return BitgetAdapter()


def fixture_text(name):
    return (FIX / name).read_text()


def lines(name):
    return [l for l in fixture_text(name).splitlines() if l.strip()]


def refused(parse, payload, why, quoted=None):
    """parse(payload) raises BadMessage naming the exchange, why, and an excerpt of what came in (or `quoted`)."""
    with pytest.raises(BadMessage) as err:
        parse(payload)
    e = err.value
    assert e.exchange == NAME and e.reason.startswith(why), e.reason
    assert str(e) == f"{NAME}: {e.reason}: {e.excerpt}"
    if quoted is None:
        quoted = payload if isinstance(payload, str) else str(payload)
    assert e.excerpt.startswith(quoted[:160]), e.excerpt
    return e


def push(channel, data, inst="BTCUSDT", **extra):
    return json.dumps({"action": "update", "arg": {"instType": "USDT-FUTURES", "channel": channel, "instId": inst},
                       "data": data, **extra})


def envelope(data, code="00000", msg="success"):
    return {"code": code, "msg": msg, "requestTime": 1736942587450, "data": data}


# -- constants the rest of the app relies on -------------------------------------------------------
def test_default_endpoints_and_limits():
    a = BitgetAdapter()
    assert a.rest_url == "https://api.bitget.com" and a.ws_url == "wss://ws.bitget.com/v2/ws/public"
    assert a.rest_row_cap == 1000
    assert a.heartbeat_interval < 30 and a.heartbeat_message() == "ping"  # text ping every 30 s, or dropped
    assert a.max_topics_per_connection <= 50  # Bitget recommends fewer than 50 channels a connection
    assert a.rest_budget.requests / a.rest_budget.per_seconds < 20  # 20 requests/s per IP
    assert a.unknown_symbol_codes == {"40034"}


def test_url_overrides_keep_the_paths():
    a = BitgetAdapter(rest_url="http://127.0.0.1:9/bitget/", ws_url="ws://127.0.0.1:9/bitget/v2/ws/public")
    assert a.kline_request("BTCUSDT", Timeframe.M15, None, None).url == (
        "http://127.0.0.1:9/bitget/api/v2/mix/market/candles")
    assert a.tickers_request().url == "http://127.0.0.1:9/bitget/api/v2/mix/market/tickers"
    assert a.ws_url == "ws://127.0.0.1:9/bitget/v2/ws/public"


# -- symbols -----------------------------------------------------------------------------------------
def test_native_symbol_is_base_plus_quote_uppercase(bg):
    assert bg.native_symbol("btc", "usdt") == "BTCUSDT"
    assert bg.native_symbol(" 1000sats ", "usdt ") == "1000SATSUSDT"


@pytest.mark.parametrize("base, quote", [("", "USDT"), (" ", "USDT"), ("BTC", ""), ("BTC", "  "), ("BTC_", "USDT"),
                                         ("BTC", "USD T")])
def test_native_symbol_refuses_bad_parts(bg, base, quote):
    with pytest.raises(ValueError) as err:
        bg.native_symbol(base, quote)
    assert "bitget: bad symbol parts" in str(err.value)
    assert f"base={base.strip().upper()!r}" in str(err.value) and f"quote={quote.strip().upper()!r}" in str(err.value)


@pytest.mark.parametrize("native, parts", [("BTCUSDT", ("BTC", "USDT")), (" ethusdc", ("ETH", "USDC")),
                                           ("1000SATSUSDT", ("1000SATS", "USDT"))])
def test_split_symbol(bg, native, parts):
    assert bg.split_symbol(native) == parts


@pytest.mark.parametrize("native", ["USDT", "USDC", "BTCUSD", "BTCUSDT_UMCBL", ""])
def test_split_symbol_refuses_what_is_no_usdt_or_usdc_pair(bg, native):
    with pytest.raises(ValueError) as err:
        bg.split_symbol(native)
    assert "bitget: cannot split symbol" in str(err.value) and repr(native) in str(err.value)


# -- REST requests -------------------------------------------------------------------------------------
@pytest.mark.parametrize("tf, granularity", [(Timeframe.M1, "1m"), (Timeframe.M15, "15m"), (Timeframe.H1, "1H"),
                                             (Timeframe.H4, "4H"), (Timeframe.D1, "1Dutc")])
def test_kline_request_as_documented(bg, tf, granularity):
    req = bg.kline_request("BTCUSDT", tf, T1130, T1200 - 1, 200)  # 2025: older than /candles reaches
    assert req.url == "https://api.bitget.com/api/v2/mix/market/history-candles"
    assert req.endpoint == "/api/v2/mix/market/history-candles"
    assert dict(req.params) == {"symbol": "BTCUSDT", "productType": "USDT-FUTURES", "granularity": granularity,
                                "limit": 200, "startTime": T1130, "endTime": T1200 - 1}


def test_old_candles_come_from_history_candles_in_pages_of_200_and_recent_ones_from_candles(bg):
    now = int(time.time() * 1000)
    for days, endpoint, cap in ((400, "history-candles", 200), (60, "history-candles", 200), (30, "candles", 1000),
                                (0, "candles", 1000)):
        start = Timeframe.M15.bucket_start(now - days * 86_400_000)
        assert bg.page_rows(Timeframe.M15, start) == cap
        req = bg.kline_request("BTCUSDT", Timeframe.M15, start, None, 1000)
        assert req.endpoint == f"/api/v2/mix/market/{endpoint}" and req.params["limit"] == cap


def test_kline_request_limit_defaults_to_and_is_capped_at_1000(bg):
    assert bg.kline_request("BTCUSDT", Timeframe.M15, None, None).params["limit"] == 1000
    assert bg.kline_request("BTCUSDT", Timeframe.M15, None, None, 1500).params["limit"] == 1000
    assert bg.kline_request("BTCUSDT", Timeframe.M15, None, None, 1000).params["limit"] == 1000
    assert bg.kline_request("BTCUSDT", Timeframe.M15, None, None, 7).params["limit"] == 7


def test_kline_request_times_are_optional_whole_milliseconds(bg):
    latest = bg.kline_request("BTCUSDT", Timeframe.H4, None, None)
    assert "startTime" not in latest.params and "endTime" not in latest.params
    only_start = bg.kline_request("BTCUSDT", Timeframe.H4, 0, None)
    assert only_start.params["startTime"] == 0 and "endTime" not in only_start.params
    only_end = bg.kline_request("BTCUSDT", Timeframe.H4, None, float(T1200))
    assert "startTime" not in only_end.params
    assert only_end.params["endTime"] == T1200 and type(only_end.params["endTime"]) is int
    assert type(bg.kline_request("BTCUSDT", Timeframe.H4, float(T1130), None).params["startTime"]) is int


def test_tickers_request(bg):
    req = bg.tickers_request()
    assert req.url == "https://api.bitget.com/api/v2/mix/market/tickers"
    assert req.endpoint == "/api/v2/mix/market/tickers" and dict(req.params) == {"productType": "USDT-FUTURES"}


# -- REST responses ------------------------------------------------------------------------------------
def test_rest_klines_documented_sample(bg):
    frame = bg.parse_rest_klines(json.loads(fixture_text("rest_klines.json")))
    assert frame["timestamp"].tolist() == [pd.Timestamp(t, unit="ms", tz="UTC") for t in (T1130, T1145, T1200)]
    assert frame.iloc[1][["open", "high", "low", "close", "volume"]].tolist() == [
        97120.5, 97250.0, 97055.2, 97198.7, 1180.905]  # volume in base coin (row[5]), not USDT (row[6])
    assert frame.attrs["server_time"] == 1736942587450  # requestTime: where "now" is for the forming row


def test_rest_klines_newest_first_are_sorted(bg):
    rows = [["1736942400000", "3", "4", "2", "3", "1", "3"], ["1736940600000", "1", "2", "1", "2", "1", "2"],
            ["1736941500000", "2", "3", "1", "3", "1", "3"]]
    frame = bg.parse_rest_klines(envelope(rows))
    assert frame["open"].tolist() == [1.0, 2.0, 3.0] and frame["timestamp"].is_monotonic_increasing


def test_rest_klines_from_text_and_without_request_time(bg):
    assert bg.parse_rest_klines(fixture_text("rest_klines.json"))["close"].tolist() == [97120.5, 97198.7, 97205.3]
    payload = {"code": "00000", "msg": "success", "data": [["1736940600000", "1", "2", "1", "2", "1", "2"]]}
    frame = bg.parse_rest_klines(payload)
    assert len(frame) == 1 and "server_time" not in frame.attrs
    payload["requestTime"] = "1736942587450"  # not a number of ms: no clock rather than a wrong one
    assert "server_time" not in bg.parse_rest_klines(payload).attrs
    assert bg.parse_rest_klines(envelope([])).empty


def test_bad_rest_rows_quote_the_answer(bg):
    payload = envelope([["1736940600000", "97012.3", "high", "96950.1", "97120.5", "1523.412", "147900454.02"]])
    refused(bg.parse_rest_klines, payload, "kline rows are not [time, open, high, low, close, volume, ...]")
    payload = envelope([["1736940600000", "97012.3", "96000", "96950.1", "97120.5", "1523.412", "147900454.02"]])
    refused(bg.parse_rest_klines, payload, "inconsistent kline row")  # high under the open


@pytest.mark.parametrize("code", ["40034", 40034])
def test_rest_error_envelope_is_the_exchanges_error(bg, code):
    with pytest.raises(ExchangeError) as err:
        bg.parse_rest_klines({"code": code, "msg": "Parameter does not exist", "requestTime": 1, "data": None})
    e = err.value
    assert not isinstance(e, BadMessage)
    assert (e.exchange, e.code, e.message, e.endpoint) == ("bitget", code, "Parameter does not exist",
                                                           "/api/v2/mix/market/candles")
    assert "bitget /api/v2/mix/market/candles" in str(e) and bg.is_unknown_symbol(e)


def test_error_without_a_message_and_on_tickers(bg):
    with pytest.raises(ExchangeError) as err:
        bg.parse_tickers({"code": "429", "data": None})
    assert (err.value.code, err.value.message, err.value.endpoint) == ("429", "", "/api/v2/mix/market/tickers")
    assert not bg.is_unknown_symbol(err.value)


@pytest.mark.parametrize("payload, why", [
    ([], "not a Bitget envelope"),
    ({"msg": "success", "data": []}, "not a Bitget envelope"),
    ("[[1, 2]]", "not a Bitget envelope"),
    ({"code": "00000", "msg": "success", "data": None}, "data is not a list"),
    ({"code": "00000", "msg": "success"}, "data is not a list"),
    ({"code": "00000", "data": {"list": []}}, "data is not a list"),
])
def test_unreadable_answers_are_bad_messages(bg, payload, why):
    refused(bg.parse_rest_klines, payload, "/api/v2/mix/market/candles: " + why)
    refused(bg.parse_tickers, payload, "/api/v2/mix/market/tickers: " + why)


def test_tickers_ranked_by_usdt_volume(bg):
    items = [  # fields as /api/v2/mix/market/tickers sends them
        {"symbol": "PEPEUSDT", "lastPr": "0.00001712", "baseVolume": "90000000000000", "quoteVolume": "1540800000",
         "usdtVolume": "1540800000"},
        {"symbol": "BTCUSDT", "lastPr": "97205.3", "baseVolume": "61002.411", "quoteVolume": "5900211345.22",
         "usdtVolume": "5900211345.22"},
        {"symbol": "ETHUSDT", "lastPr": "3301.1", "baseVolume": "1200000", "quoteVolume": "3961320000",
         "usdtVolume": "3961320000"},
    ]
    frame = bg.parse_tickers(envelope(items))
    assert frame.values.tolist() == [["BTCUSDT", 97205.3, 5900211345.22], ["ETHUSDT", 3301.1, 3961320000.0],
                                     ["PEPEUSDT", 0.00001712, 1540800000.0]]


def test_tickers_need_the_last_price_and_usdt_volume(bg, caplog):
    for item, why in (({"symbol": "BTCUSDT", "lastPr": "1", "quoteVolume": "5"},
                       "usdtVolume is None, expected a number"),
                      ({"symbol": "BTCUSDT", "last": "1", "usdtVolume": "5"}, "lastPr is None, expected a number"),
                      ({"lastPr": "1", "usdtVolume": "5"}, "ticker item without symbol")):
        # the offending item is quoted in the log, and left out (one odd item no longer fails the list)
        assert_item_left_out(caplog, bg.parse_tickers, envelope([item]), "bitget", why, quoted=str(item))


# -- WebSocket requests ----------------------------------------------------------------------------------
@pytest.mark.parametrize("tf, channel", [(Timeframe.M1, "candle1m"), (Timeframe.M15, "candle15m"),
                                         (Timeframe.H1, "candle1H"), (Timeframe.H4, "candle4H"),
                                         (Timeframe.D1, "candle1Dutc")])
def test_topics(bg, tf, channel):
    assert bg.kline_topic("BTCUSDT", tf) == f"{channel}:BTCUSDT"
    assert bg.ticker_topic("ETHUSDT") == "ticker:ETHUSDT"


def test_subscribe_and_unsubscribe_messages(bg):
    assert json.loads(bg.subscribe_message(["candle15m:BTCUSDT", "ticker:BTCUSDT"])) == json.loads(
        fixture_text("ws_subscribe.json"))
    assert json.loads(bg.unsubscribe_message(["candle1H:ETHUSDT"])) == {
        "op": "unsubscribe", "args": [{"instType": "USDT-FUTURES", "channel": "candle1H", "instId": "ETHUSDT"}]}


# -- WebSocket frames ------------------------------------------------------------------------------------
def test_documented_candle_push_has_no_close_flag(bg):
    assert bg.parse_ws_message(fixture_text("ws_kline_open.json")) == [
        KlineEvent("bitget", "BTCUSDT", "15m", T1200, 97198.7, 97240.4, 97150.0, 97205.3, 312.118, None)]


def test_recorded_v1_snapshot_holds_every_row(bg):
    frames = lines("ws_kline.jsonl")
    snapshot = bg.parse_ws_message(frames[0])
    assert len(snapshot) == len(json.loads(frames[0])["data"]) > 100
    assert snapshot[0] == KlineEvent("bitget", "UNIUSDT", "1m", 1649230080000, 10.963, 10.972, 10.959, 10.972,
                                     179.0, None)
    assert bg.parse_ws_message(frames[1].encode())[0] == KlineEvent(
        "bitget", "DASHUSDT", "1m", 1649230080000, 125.77, 125.8, 125.69, 125.8, 27.57, None)


@pytest.mark.parametrize("channel, label", [("candle1m", "1m"), ("candle5m", "5m"), ("candle15m", "15m"),
                                            ("candle30m", "30m"), ("candle1H", "1h"), ("candle4H", "4h"),
                                            ("candle1Dutc", "1d"), ("candle1D", "1d+8"), ("candle6Hutc", "6h"),
                                            ("candle12Hutc", "12h"), ("candle1Wutc", "1w")])
def test_candle_channels_and_their_labels(bg, channel, label):
    # 1D (without utc) opens at 00:00 Hong Kong time: it is not our UTC day, so it gets a label of its own
    row = [str(T1200), "1", "2", "0.5", "1.5", "10", "15", "15"]
    assert bg.parse_ws_message(push(channel, [row]))[0].timeframe == label


@pytest.mark.parametrize("channel, inst", [("candle7m", "BTCUSDT"), ("candle1h", "BTCUSDT"), ("candle", "BTCUSDT"),
                                           ("candle15m", "")])
def test_unknown_candle_channels_are_bad_messages(bg, channel, inst):
    refused(bg.parse_ws_message, push(channel, [], inst), f"candle channel {channel!r} not understood")


@pytest.mark.parametrize("row, why", [
    ({"ts": "1"}, "candle row is not [ts, o, h, l, c, baseVol, ...]"),
    ([str(T1200), "1", "2", "0.5", "1.5"], "candle row is not [ts, o, h, l, c, baseVol, ...]"),
    ([str(T1200), "1", "2", "0.5", "1.5", "-1"], "inconsistent candle"),
    ([str(T1200), "1", "2", "0.5", "x", "1"], "close is 'x', expected a number"),
    (["soon", "1", "2", "0.5", "1.5", "1"], "kline open time is 'soon', expected a number"),
])
def test_bad_candle_rows_are_named(bg, row, why):
    refused(bg.parse_ws_message, push("candle15m", [row]), why)


def test_six_column_rows_are_enough(bg):
    ev = bg.parse_ws_message(push("candle1H", [[str(T1200), "1", "2", "0.5", "1.5", "10"]]))
    assert ev == [KlineEvent("bitget", "BTCUSDT", "1h", T1200, 1.0, 2.0, 0.5, 1.5, 10.0, None)]


def test_documented_ticker(bg):
    assert bg.parse_ws_message(fixture_text("ws_ticker.json")) == [
        TickerEvent("bitget", "BTCUSDT", 97205.3, 1736942587401)]  # the item's own ts, not the push's


def test_recorded_v1_tickers_use_last_and_system_time(bg):
    out = [bg.parse_ws_message(f) for f in lines("ws_other.jsonl")]
    tickers = [e for evs in out for e in evs]
    assert tickers[0] == TickerEvent("bitget", "CULTUSDT", 0.00003511, 1649290076193)
    assert tickers[1] == TickerEvent("bitget", "DASHUSDT", 113.37, 1649290077309)  # no ts: systemTime
    assert len(tickers) == 3 and all(isinstance(e, TickerEvent) for e in tickers)


def test_ticker_fallbacks(bg):
    # no instId in the item: the channel's; no time in the item: the push's ts
    raw = push("ticker", [{"lastPr": "97205.3"}], ts=1736942587405)
    assert bg.parse_ws_message(raw) == [TickerEvent("bitget", "BTCUSDT", 97205.3, 1736942587405)]
    raw = push("ticker", [{"instId": "ETHUSDT", "lastPr": "3301.1", "ts": "1736942587400", "systemTime": 1},
                          "junk"], ts=1736942587405)
    assert bg.parse_ws_message(raw) == [TickerEvent("bitget", "ETHUSDT", 3301.1, 1736942587400)]
    refused(bg.parse_ws_message, push("ticker", [{"instId": "BTCUSDT", "ts": "1"}]), "lastPr is None")
    refused(bg.parse_ws_message, push("ticker", [{"instId": "BTCUSDT", "lastPr": "1"}]), "ticker ts is None")


def test_v2_trades(bg):
    data = [{"ts": "1736942587100", "price": "97205.3", "size": "0.012", "side": "buy", "tradeId": "1"},
            {"ts": "1736942587200", "price": "97205.4", "side": "sell", "tradeId": "2"}]
    assert bg.parse_ws_message(push("trade", data, ts=1736942587300)) == [
        TradeEvent("bitget", "BTCUSDT", 97205.3, 1736942587100, 0.012),
        TradeEvent("bitget", "BTCUSDT", 97205.4, 1736942587200, 0.0)]
    assert bg.parse_ws_message(push("trade", [["1649290078916", "9.977", "1", "sell"]])) == []  # v1 rows: not ours
    refused(bg.parse_ws_message, push("trade", [{"price": "1", "size": "1"}]), "trade ts is None")
    refused(bg.parse_ws_message, push("trade", [{"ts": "1", "price": "x", "size": "1"}]), "price is 'x'")
    refused(bg.parse_ws_message, push("trade", [{"ts": "1", "price": "1", "size": "x"}]), "size is 'x'")


def test_other_channels_give_nothing(bg):
    assert bg.parse_ws_message(push("books", [{"asks": [], "bids": []}])) == []
    assert bg.parse_ws_message(push("tickers", [{"lastPr": "1"}])) == []  # OKX's name, not Bitget's


def test_acks_pongs_and_rejections(bg):
    assert bg.parse_ws_message(fixture_text("ws_ack.json")) == []
    assert bg.parse_ws_message(json.dumps({"event": "unsubscribe", "arg": ARG})) == []
    assert bg.parse_ws_message("pong") == [] and bg.parse_ws_message(b"pong") == []
    raw = json.dumps({"event": "error", "arg": ARG, "code": 30001,
                      "msg": "instType:USDT-FUTURES,channel:candle15m,instId:FOOUSDT doesn't exist"})
    assert bg.parse_ws_message(raw) == [SubscriptionAck(
        "bitget", False, "subscribe", "30001: instType:USDT-FUTURES,channel:candle15m,instId:FOOUSDT doesn't exist")]


@pytest.mark.parametrize("raw, why", [
    ("ping", "not JSON ("),
    ("[]", "frame is not a JSON object"),
    ('{"action":"update","data":[]}', "frame has neither event nor arg/data"),
    ('{"arg":{"channel":"ticker","instId":"BTCUSDT"}}', "frame has neither event nor arg/data"),
    ('{"arg":{"instId":"BTCUSDT"},"data":[]}', "frame has neither event nor arg/data"),
])
def test_frames_we_cannot_read_are_bad_messages(bg, raw, why):
    refused(bg.parse_ws_message, raw, why)
