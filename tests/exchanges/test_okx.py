"""OKX v5 swap adapter: requests as the docs spell them (recent vs history candles, before/after paging), recorded
and documented frames parsed to the values they hold, errors typed (the exchange's own error -> ExchangeError,
anything unreadable -> BadMessage)."""
import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from ticker_items import assert_item_left_out

from twinstar_gui.core.models import KlineEvent, SubscriptionAck, TickerEvent, TradeEvent
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.exchanges import BadMessage, ExchangeError, okx as okx_module
from twinstar_gui.exchanges.okx import OkxAdapter

NAME = "okx"
FIX = Path(__file__).resolve().parents[1] / "fixtures" / "okx"
T1130, T1145, T1200 = 1736940600000, 1736941500000, 1736942400000  # the documented sample candles (2025-01-15 UTC)
NOW = T1200 + 187_500  # 12:03:07.5 UTC, while the 12:00 candle forms
M15 = Timeframe.M15.ms


@pytest.fixture()
def okx(monkeypatch):
    """The adapter with its clock pinned at NOW (it picks the candles endpoint by the age of the start)."""
    monkeypatch.setattr(okx_module, "time", SimpleNamespace(time=lambda: NOW / 1000))
    return OkxAdapter()


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


def push(channel, data, inst="BTC-USDT-SWAP"):
    return json.dumps({"arg": {"channel": channel, "instId": inst}, "data": data})


def row(ts=T1200, confirm="1", vol_ccy="2.5"):
    return [str(ts), "100", "102", "99", "101", "250", vol_ccy, "252.5", confirm]


# -- constants the rest of the app relies on -------------------------------------------------------
def test_default_endpoints_and_limits():
    a = OkxAdapter()
    assert a.rest_url == "https://www.okx.com"
    assert a.ws_url == "wss://ws.okx.com:8443/ws/v5/business"  # candles are only on /business since 2023
    assert a.heartbeat_interval < 30 and a.heartbeat_message() == "ping"  # cut after 30 s of silence
    assert a.max_silence > a.heartbeat_interval
    assert a.rest_budget.requests / a.rest_budget.per_seconds <= 20  # candles: 40 requests / 2 s per IP
    assert a.unknown_symbol_codes == {"51001"}
    assert a.ticker_topic("BTC-USDT-SWAP") is None  # tickers are on /public, not on the candle connection


def test_url_overrides_keep_the_paths(okx):
    a = OkxAdapter(rest_url="http://127.0.0.1:9/okx/", ws_url="ws://127.0.0.1:9/okx/ws/v5/business")
    assert a.kline_request("BTC-USDT-SWAP", Timeframe.M15, None, None).url == (
        "http://127.0.0.1:9/okx/api/v5/market/candles")
    assert a.tickers_request().url == "http://127.0.0.1:9/okx/api/v5/market/tickers"
    assert a.ws_url == "ws://127.0.0.1:9/okx/ws/v5/business"


# -- symbols -----------------------------------------------------------------------------------------
def test_native_symbol_is_the_swap_instrument(okx):
    assert okx.native_symbol("btc", "usdt") == "BTC-USDT-SWAP"
    assert okx.native_symbol(" 1inch ", " usdt") == "1INCH-USDT-SWAP"


@pytest.mark.parametrize("base, quote", [("", "USDT"), (" ", "USDT"), ("BTC", ""), ("BTC", " "), ("BTC-", "USDT"),
                                         ("BTC", "USDT-SWAP")])
def test_native_symbol_refuses_bad_parts(okx, base, quote):
    with pytest.raises(ValueError) as err:
        okx.native_symbol(base, quote)
    assert "okx: bad symbol parts" in str(err.value)
    assert f"base={base.strip().upper()!r}" in str(err.value) and f"quote={quote.strip().upper()!r}" in str(err.value)


@pytest.mark.parametrize("native, parts", [("BTC-USDT-SWAP", ("BTC", "USDT")), (" eth-usdc-swap ", ("ETH", "USDC")),
                                           ("1INCH-USDT-SWAP", ("1INCH", "USDT"))])
def test_split_symbol(okx, native, parts):
    assert okx.split_symbol(native) == parts


@pytest.mark.parametrize("native", ["BTC-USDT", "BTC-USDT-250328", "BTC-USD-220624-50000-C", "-USDT-SWAP",
                                    "BTC--SWAP", "BTC-USDT-SWAP-X", "BTCUSDT", ""])
def test_split_symbol_refuses_what_is_no_swap(okx, native):
    with pytest.raises(ValueError) as err:
        okx.split_symbol(native)
    assert f"okx: {native!r} is not a swap symbol like BTC-USDT-SWAP" in str(err.value)


# -- REST requests -------------------------------------------------------------------------------------
@pytest.mark.parametrize("tf, bar", [(Timeframe.M1, "1m"), (Timeframe.M15, "15m"), (Timeframe.H1, "1H"),
                                     (Timeframe.H4, "4H"), (Timeframe.D1, "1Dutc")])
def test_recent_kline_request(okx, tf, bar):
    # a window inside the latest 1,440 rows; before/after are exclusive, so they sit 1 ms outside it
    start = tf.bucket_start(NOW) - 10 * tf.ms
    req = okx.kline_request("BTC-USDT-SWAP", tf, start, start + 5 * tf.ms - 1, 50)
    assert req.url == "https://www.okx.com/api/v5/market/candles" and req.endpoint == "/api/v5/market/candles"
    assert dict(req.params) == {"instId": "BTC-USDT-SWAP", "bar": bar, "limit": 50, "before": start - 1,
                                "after": start + 5 * tf.ms}


@pytest.mark.parametrize("tf, bar", [(Timeframe.M1, "1m"), (Timeframe.M15, "15m"), (Timeframe.H1, "1H"),
                                     (Timeframe.H4, "4H"), (Timeframe.D1, "1Dutc")])
def test_history_kline_request(okx, tf, bar):
    start = tf.bucket_start(NOW) - 2000 * tf.ms
    req = okx.kline_request("BTC-USDT-SWAP", tf, start, start + 100 * tf.ms - 1, 100)
    assert req.url == "https://www.okx.com/api/v5/market/history-candles"
    assert req.endpoint == "/api/v5/market/history-candles"
    assert dict(req.params) == {"instId": "BTC-USDT-SWAP", "bar": bar, "limit": 100, "before": start - 1,
                                "after": start + 100 * tf.ms}


def test_the_endpoint_switches_where_the_latest_1440_rows_end(okx, monkeypatch):
    # at a bar boundary the latest 1,440 rows open at now - 1439 bars ... now (the forming one)
    boundary = Timeframe.M15.bucket_start(NOW)
    monkeypatch.setattr(okx_module, "time", SimpleNamespace(time=lambda: boundary / 1000))
    assert okx.kline_request("X-USDT-SWAP", Timeframe.M15, boundary - 1439 * M15, None).endpoint == (
        "/api/v5/market/candles")
    assert okx.kline_request("X-USDT-SWAP", Timeframe.M15, boundary - 1440 * M15, None).endpoint == (
        "/api/v5/market/history-candles")
    # inside a bar, every start after now - 1440 bars is still served by /market/candles
    monkeypatch.setattr(okx_module, "time", SimpleNamespace(time=lambda: (boundary + 1000) / 1000))
    assert okx.kline_request("X-USDT-SWAP", Timeframe.M15, boundary - 1440 * M15 + 1001, None).endpoint == (
        "/api/v5/market/candles")
    assert okx.kline_request("X-USDT-SWAP", Timeframe.M15, boundary - 1440 * M15, None).endpoint == (
        "/api/v5/market/history-candles")
    # 1,440 rows of the timeframe asked: 4h rows reach back 240 days
    assert okx.kline_request("X", Timeframe.H4, boundary - 1000 * Timeframe.H4.ms, None).endpoint == (
        "/api/v5/market/candles")


def test_limits_per_endpoint(okx):
    recent, old = NOW - 10 * M15, NOW - 3000 * M15
    assert okx.kline_request("X", Timeframe.M15, recent, None).params["limit"] == 300  # candles: max 300
    assert okx.kline_request("X", Timeframe.M15, recent, None, 1000).params["limit"] == 300
    assert okx.kline_request("X", Timeframe.M15, recent, None, 300).params["limit"] == 300
    assert okx.kline_request("X", Timeframe.M15, None, None).params["limit"] == 300
    assert okx.kline_request("X", Timeframe.M15, old, None).params["limit"] == 100  # history-candles: max 100
    assert okx.kline_request("X", Timeframe.M15, old, None, 300).params["limit"] == 100
    assert okx.kline_request("X", Timeframe.M15, old, None, 100).params["limit"] == 100
    assert okx.kline_request("X", Timeframe.M15, old, None, 20).params["limit"] == 20


def test_a_page_of_the_row_cap_comes_back_whole_from_either_endpoint(okx):
    # the REST client pages by page_rows rows; OKX answers with the newest `limit` rows of the window, so a
    # wider window than one answer holds would lose its oldest rows
    caps = []
    for start in (NOW - 3000 * M15, Timeframe.M15.bucket_start(NOW) - 20 * M15):
        cap = okx.page_rows(Timeframe.M15, start)
        req = okx.kline_request("BTC-USDT-SWAP", Timeframe.M15, start, start + cap * M15 - 1, cap)
        assert req.params["limit"] == cap, req.endpoint
        caps.append((req.endpoint, cap))
    assert caps == [("/api/v5/market/history-candles", 100), ("/api/v5/market/candles", 300)]


def test_kline_request_times_are_optional_whole_milliseconds(okx):
    latest = okx.kline_request("BTC-USDT-SWAP", Timeframe.H1, None, None)
    assert latest.endpoint == "/api/v5/market/candles"  # no start: the latest rows
    assert "before" not in latest.params and "after" not in latest.params
    only_end = okx.kline_request("BTC-USDT-SWAP", Timeframe.H1, None, float(T1200))
    assert only_end.params["after"] == T1200 + 1 and type(only_end.params["after"]) is int
    assert "before" not in only_end.params
    only_start = okx.kline_request("BTC-USDT-SWAP", Timeframe.H1, float(T1130), None)
    assert only_start.params["before"] == T1130 - 1 and type(only_start.params["before"]) is int
    assert "after" not in only_start.params
    assert okx.kline_request("BTC-USDT-SWAP", Timeframe.H1, 0, None).params["before"] == -1  # 1970: a time too


def test_tickers_request(okx):
    req = okx.tickers_request()
    assert req.url == "https://www.okx.com/api/v5/market/tickers" and req.endpoint == "/api/v5/market/tickers"
    assert dict(req.params) == {"instType": "SWAP"}


# -- REST responses ------------------------------------------------------------------------------------
def test_rest_klines_documented_sample(okx):
    frame = okx.parse_rest_klines(json.loads(fixture_text("rest_klines.json")))  # newest first on the wire
    assert frame["timestamp"].tolist() == [pd.Timestamp(t, unit="ms", tz="UTC") for t in (T1130, T1145, T1200)]
    assert frame.iloc[0][["open", "high", "low", "close", "volume"]].tolist() == [
        97012.3, 97188.0, 96950.1, 97120.5, 1523.412]  # volume: volCcy (BTC), not vol (contracts) nor USDT
    assert frame.attrs["server_time"] == T1200  # the row flagged confirm "0" is forming: "now" is in it


def test_rest_klines_without_a_forming_row_or_flag(okx):
    closed = {"code": "0", "msg": "", "data": [row(T1145, "1"), row(T1130, "1")]}
    frame = okx.parse_rest_klines(closed)
    assert frame["volume"].tolist() == [2.5, 2.5] and "server_time" not in frame.attrs
    old = {"code": "0", "msg": "", "data": [row(T1145)[:7], row(T1130)[:8]]}  # 7/8-column rows: no flag
    frame = okx.parse_rest_klines(old)
    assert len(frame) == 2 and "server_time" not in frame.attrs
    two = {"code": "0", "msg": "", "data": [row(T1200, "0"), row(T1145, "0")]}
    assert okx.parse_rest_klines(two).attrs["server_time"] == T1145
    assert okx.parse_rest_klines({"code": "0", "msg": "", "data": []}).empty


def test_rest_klines_from_text(okx):
    assert okx.parse_rest_klines(fixture_text("rest_klines.json"))["close"].tolist() == [97120.5, 97198.7, 97205.3]
    assert okx.parse_rest_klines(fixture_text("rest_klines.json").encode())["open"].iloc[0] == 97012.3


@pytest.mark.parametrize("bad", [["1736942400000", "1", "2", "0.5", "1.5", "10"], {"ts": "1"}, "1736942400000"])
def test_rest_rows_without_the_base_volume_are_bad_messages(okx, bad):
    payload = {"code": "0", "msg": "", "data": [row(), bad]}
    refused(okx.parse_rest_klines, payload, "candle row is not [ts, o, h, l, c, vol, volCcy, ...]")


def test_bad_rest_numbers_quote_the_answer(okx):
    payload = {"code": "0", "msg": "", "data": [row(T1145), row(T1130, vol_ccy="lots")]}
    refused(okx.parse_rest_klines, payload, "kline rows are not [time, open, high, low, close, volume, ...]")
    payload = {"code": "0", "msg": "", "data": [row(T1145, vol_ccy="-2.5")]}
    refused(okx.parse_rest_klines, payload, "inconsistent kline row")  # a negative base volume


@pytest.mark.parametrize("code", ["51001", 51001])
def test_rest_error_envelope_is_the_exchanges_error(okx, code):
    with pytest.raises(ExchangeError) as err:
        okx.parse_rest_klines({"code": code, "msg": "Instrument ID does not exist", "data": []})
    e = err.value
    assert not isinstance(e, BadMessage)
    assert (e.exchange, e.code, e.message, e.endpoint) == ("okx", code, "Instrument ID does not exist",
                                                           "/api/v5/market/candles")
    assert "okx /api/v5/market/candles" in str(e) and okx.is_unknown_symbol(e)


def test_tickers_error_and_an_error_without_message(okx):
    with pytest.raises(ExchangeError) as err:
        okx.parse_tickers({"code": "50011", "data": []})
    assert (err.value.code, err.value.message, err.value.endpoint) == ("50011", "", "/api/v5/market/tickers")
    assert not okx.is_unknown_symbol(err.value)


@pytest.mark.parametrize("payload, why", [
    ([], "not an OKX envelope"),
    ({"msg": "", "data": []}, "not an OKX envelope"),
    ("[]", "not an OKX envelope"),
    ({"code": "0", "msg": ""}, "data is not a list"),
    ({"code": "0", "msg": "", "data": {"rows": []}}, "data is not a list"),
])
def test_unreadable_answers_are_bad_messages(okx, payload, why):
    refused(okx.parse_rest_klines, payload, "/api/v5/market/candles: " + why)
    refused(okx.parse_tickers, payload, "/api/v5/market/tickers: " + why)


def test_tickers_rank_usdt_swaps_by_base_volume_times_last(okx):
    items = [  # fields as /api/v5/market/tickers?instType=SWAP sends them; volCcy24h is in the base coin
        {"instType": "SWAP", "instId": "DOGE-USDT-SWAP", "last": "0.4", "volCcy24h": "2000000000", "vol24h": "2e8"},
        {"instType": "SWAP", "instId": "BTC-USDT-SWAP", "last": "97205.3", "volCcy24h": "102334.51",
         "vol24h": "10233451"},
        {"instType": "SWAP", "instId": "BTC-USD-SWAP", "last": "97210", "volCcy24h": "99999999", "vol24h": "1"},
        {"instType": "SWAP", "instId": "ETH-USDT-SWAP", "last": "3300", "volCcy24h": "1000000", "vol24h": "1e8"},
        {"instType": "SWAP", "instId": "ETH-USDC-SWAP", "last": "3300", "volCcy24h": "99999999", "vol24h": "1"},
    ]
    frame = okx.parse_tickers({"code": "0", "msg": "", "data": items})
    assert frame["symbol"].tolist() == ["BTC-USDT-SWAP", "ETH-USDT-SWAP", "DOGE-USDT-SWAP"]
    assert frame["last_price"].tolist() == [97205.3, 3300.0, 0.4]
    assert frame["quote_volume_24h"].tolist() == pytest.approx([102334.51 * 97205.3, 3.3e9, 8e8])


def test_tickers_items_must_be_tickers(okx, caplog):
    for item, why in ((["BTC-USDT-SWAP", "1"], "ticker item without instId"),
                      ({"instId": "BTC-USDT-SWAP", "last": "1"}, "volCcy24h is None, expected a number"),
                      ({"instId": "BTC-USDT-SWAP", "volCcy24h": "1"}, "last is None, expected a number")):
        assert_item_left_out(caplog, okx.parse_tickers, {"code": "0", "msg": "", "data": [item]}, "okx", why,
                             quoted=str(item))


# -- WebSocket requests ----------------------------------------------------------------------------------
@pytest.mark.parametrize("tf, channel", [(Timeframe.M1, "candle1m"), (Timeframe.M15, "candle15m"),
                                         (Timeframe.H1, "candle1H"), (Timeframe.H4, "candle4H"),
                                         (Timeframe.D1, "candle1Dutc")])
def test_kline_topics(okx, tf, channel):
    assert okx.kline_topic("BTC-USDT-SWAP", tf) == f"{channel}:BTC-USDT-SWAP"


def test_subscribe_and_unsubscribe_messages(okx):
    assert json.loads(okx.subscribe_message(["candle15m:BTC-USDT-SWAP"])) == json.loads(
        fixture_text("ws_subscribe.json"))
    assert json.loads(okx.unsubscribe_message(["candle1H:ETH-USDT-SWAP", "candle4H:BTC-USDT-SWAP"])) == {
        "op": "unsubscribe", "args": [{"channel": "candle1H", "instId": "ETH-USDT-SWAP"},
                                      {"channel": "candle4H", "instId": "BTC-USDT-SWAP"}]}


# -- WebSocket frames ------------------------------------------------------------------------------------
def test_documented_candle_frames_carry_the_confirm_flag(okx):
    assert okx.parse_ws_message(fixture_text("ws_kline_open.json")) == [
        KlineEvent("okx", "BTC-USDT-SWAP", "15m", T1200, 97198.7, 97240.4, 97150.0, 97205.3, 312.118, False)]
    assert okx.parse_ws_message(fixture_text("ws_kline_closed.json").encode()) == [
        KlineEvent("okx", "BTC-USDT-SWAP", "15m", T1145, 97120.5, 97250.0, 97055.2, 97198.7, 1180.905, True)]


def test_recorded_seven_column_rows_have_no_flag(okx):
    events = [okx.parse_ws_message(f)[0] for f in lines("ws_kline.jsonl")]
    assert events[4] == KlineEvent("okx", "BTC-USDT-SWAP", "1m", 1662716640000, 20702.4, 20710.0, 20702.3, 20703.8,
                                   40.7, None)
    assert events[0] == KlineEvent("okx", "BTC-USDT", "1m", 1654154580000, 29930.7, 29936.3, 29930.7, 29936.3,
                                   333.86246417, None)
    assert all(e.closed is None for e in events)


@pytest.mark.parametrize("channel, label", [("candle1m", "1m"), ("candle3m", "3m"), ("candle5m", "5m"),
                                            ("candle15m", "15m"), ("candle30m", "30m"), ("candle1H", "1h"),
                                            ("candle2H", "2h"), ("candle4H", "4h"), ("candle1Dutc", "1d"),
                                            ("candle1D", "1d+8"), ("candle6Hutc", "6h"), ("candle12Hutc", "12h"),
                                            ("candle1Wutc", "1w")])
def test_candle_channels_and_their_labels(okx, channel, label):
    # 1D (without utc) opens at 00:00 Hong Kong time: not our UTC day, so it gets a label of its own
    assert okx.parse_ws_message(push(channel, [row()]))[0].timeframe == label


@pytest.mark.parametrize("channel, inst", [("candle7m", "BTC-USDT-SWAP"), ("candle1h", "BTC-USDT-SWAP"),
                                           ("candle", "BTC-USDT-SWAP"), ("candle15m", "")])
def test_unknown_candle_channels_are_bad_messages(okx, channel, inst):
    refused(okx.parse_ws_message, push(channel, [], inst), f"candle channel {channel!r} not understood")


def test_several_rows_in_one_push(okx):
    ev = okx.parse_ws_message(push("candle15m", [row(T1145, "1", "3"), row(T1200, "0", "0.5")]))
    assert [(e.open_time, e.closed, e.volume) for e in ev] == [(T1145, True, 3.0), (T1200, False, 0.5)]


@pytest.mark.parametrize("bad, why", [
    (row(confirm="yes"), "candle confirm is 'yes', expected '0' or '1'"),
    (row(confirm=1), "candle confirm is 1, expected '0' or '1'"),
    (row(confirm=""), "candle confirm is '', expected '0' or '1'"),
    (row()[:6], "candle row is not [ts, o, h, l, c, vol, volCcy, ...]"),
    ({"ts": "1"}, "candle row is not [ts, o, h, l, c, vol, volCcy, ...]"),
    (row(vol_ccy="-1"), "inconsistent candle"),
    (row(vol_ccy="x"), "volume is 'x', expected a number"),
    (["later"] + row()[1:], "kline open time is 'later', expected a number"),
])
def test_bad_candle_rows_are_named(okx, bad, why):
    refused(okx.parse_ws_message, push("candle15m", [bad]), why)


def test_documented_ticker(okx):
    assert okx.parse_ws_message(fixture_text("ws_ticker.json")) == [
        TickerEvent("okx", "BTC-USDT-SWAP", 97205.3, 1736942587512)]


def test_recorded_tickers_and_trades(okx):
    events = [e for f in lines("ws_other.jsonl") for e in okx.parse_ws_message(f)]
    tickers = [e for e in events if isinstance(e, TickerEvent)]
    trades = [e for e in events if isinstance(e, TradeEvent)]
    assert tickers == [TickerEvent("okx", "BTC-USD-220527", 30218.8, 1652459223003),
                       TickerEvent("okx", "UNI-USD-SWAP", 5.123, 1652459223143),
                       TickerEvent("okx", "BTC-USDT", 30236.0, 1652459224956)]
    assert trades[0] == TradeEvent("okx", "BTC-USD-220527", 30218.8, 1652459199958, 1.0)
    assert len(trades) == 3 and len(events) == 6


def test_ticker_and_trade_fallbacks(okx):
    assert okx.parse_ws_message(push("tickers", [{"last": "97205.3", "ts": "1736942587512"}, "junk"])) == [
        TickerEvent("okx", "BTC-USDT-SWAP", 97205.3, 1736942587512)]  # no instId in the item: the channel's
    assert okx.parse_ws_message(push("tickers", [{"instId": "ETH-USDT-SWAP", "last": "3300.5", "ts": "1"}])) == [
        TickerEvent("okx", "ETH-USDT-SWAP", 3300.5, 1)]  # the item's own instId first
    assert okx.parse_ws_message(push("trades", [{"px": "97205.3", "ts": "1736942587512"}])) == [
        TradeEvent("okx", "BTC-USDT-SWAP", 97205.3, 1736942587512, 0.0)]
    assert okx.parse_ws_message(push("trades", [{"instId": "ETH-USDT-SWAP", "px": "3300.5", "sz": "12",
                                                  "ts": "1736942587600"}, ["x"]])) == [
        TradeEvent("okx", "ETH-USDT-SWAP", 3300.5, 1736942587600, 12.0)]


@pytest.mark.parametrize("channel, item, why", [
    ("tickers", {"ts": "1"}, "last is None"),
    ("tickers", {"last": "1", "ts": "x"}, "ticker ts is 'x'"),
    ("trades", {"ts": "1", "sz": "1"}, "px is None"),
    ("trades", {"px": "1", "sz": "1"}, "trade ts is None"),
    ("trades", {"px": "1", "sz": "many", "ts": "1"}, "sz is 'many'"),
])
def test_bad_ticker_and_trade_fields_are_named(okx, channel, item, why):
    refused(okx.parse_ws_message, push(channel, [item]), why)


def test_other_channels_give_nothing(okx):
    assert okx.parse_ws_message(push("books", [{"asks": [], "bids": []}])) == []
    assert okx.parse_ws_message(push("ticker", [{"last": "1"}])) == []  # Bitget's name, not OKX's


def test_acks_pongs_and_rejections(okx):
    assert okx.parse_ws_message(fixture_text("ws_ack.json")) == []
    assert okx.parse_ws_message("pong") == [] and okx.parse_ws_message(b"pong") == []
    assert okx.is_pong("pong") and not okx.is_pong('{"event":"subscribe"}')
    raw = '{"event":"error","code":"60018","msg":"Wrong URL or channel:candle15m,instId:BTC-USDT-SWAP","connId":"a"}'
    assert okx.parse_ws_message(raw) == [SubscriptionAck(
        "okx", False, "subscribe", "60018: Wrong URL or channel:candle15m,instId:BTC-USDT-SWAP")]


@pytest.mark.parametrize("raw, why", [
    ("ping", "not JSON ("),
    ('"pong"', "frame is not a JSON object"),
    ('{"data":[]}', "frame has neither event nor arg/data"),
    ('{"arg":{"channel":"candle15m","instId":"BTC-USDT-SWAP"},"data":{}}', "frame has neither event nor arg/data"),
])
def test_frames_we_cannot_read_are_bad_messages(okx, raw, why):
    refused(okx.parse_ws_message, raw, why)
