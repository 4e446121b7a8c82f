import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twinstar_gui.core import KlineEvent, SubscriptionAck, Timeframe, TickerEvent, TradeEvent
from twinstar_gui.exchanges import BadMessage, ExchangeError, get_exchange

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "bybit"


@pytest.fixture()
def bybit():
    return get_exchange("bybit")


def lines(name):
    return [l for l in (FIX / name).read_text().splitlines() if l.strip()]


def test_registry_and_unknown_names():
    assert get_exchange("Bybit").name == "bybit"
    with pytest.raises(ValueError, match="valid: .*bybit"):
        get_exchange("mtgox")


def test_url_overrides_from_environment(monkeypatch):
    monkeypatch.setenv("TWINSTAR_BYBIT_REST_URL", "http://127.0.0.1:9/bybit")
    monkeypatch.setenv("TWINSTAR_BYBIT_WS_URL", "ws://127.0.0.1:9/bybit/v5/public/linear")
    a = get_exchange("bybit")
    assert a.rest_url == "http://127.0.0.1:9/bybit" and a.ws_url.endswith("/bybit/v5/public/linear")
    assert a.kline_request("BTCUSDT", Timeframe.M15, 0, 1).url == "http://127.0.0.1:9/bybit/v5/market/kline"
    assert get_exchange("bybit", rest_url="http://x").rest_url == "http://x"  # explicit beats env


def test_symbols(bybit):
    assert bybit.native_symbol("btc", "usdt") == "BTCUSDT"
    assert bybit.split_symbol("1000PEPEUSDT") == ("1000PEPE", "USDT")
    with pytest.raises(ValueError, match="bybit"):
        bybit.split_symbol("BTCKRW")
    with pytest.raises(ValueError):
        bybit.native_symbol("BTC-", "USDT")


def test_rest_request_and_messages(bybit):
    req = bybit.kline_request("BTCUSDT", Timeframe.H4, 1000, 2000, 5000)
    assert dict(req.params) == {"category": "linear", "symbol": "BTCUSDT", "interval": "240", "limit": 1000,
                                "start": 1000, "end": 2000}
    assert bybit.rest_row_cap == 1000
    sub = json.loads(bybit.subscribe_message(["kline.15.BTCUSDT", "tickers.BTCUSDT"]))
    assert sub["op"] == "subscribe" and sub["args"] == ["kline.15.BTCUSDT", "tickers.BTCUSDT"] and sub["req_id"]
    assert json.loads(bybit.unsubscribe_message(["kline.15.BTCUSDT"]))["op"] == "unsubscribe"
    assert json.loads(bybit.heartbeat_message())["op"] == "ping" and bybit.heartbeat_interval == 20
    assert bybit.kline_topic("ETHUSDT", Timeframe.D1) == "kline.D.ETHUSDT"


def test_rest_klines_sample_ascending_typed(bybit):
    frame = bybit.parse_rest_klines(json.loads((FIX / "rest_klines.json").read_text()))
    assert list(frame.columns) == ["timestamp", "open", "high", "low", "close", "volume"]
    assert str(frame["timestamp"].dtype) == "datetime64[ms, UTC]"
    assert all(str(frame[c].dtype) == "float64" for c in frame.columns[1:])
    assert frame["timestamp"].is_monotonic_increasing and frame["timestamp"].is_unique
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2025-01-15 11:30", tz="UTC")
    assert frame.iloc[0][["open", "high", "low", "close", "volume"]].tolist() == [97012.3, 97188.0, 96950.1, 97120.5, 1523.412]
    assert frame.attrs["server_time"] == 1736942587400


def test_rest_klines_duplicates_and_errors(bybit):
    payload = {"retCode": 0, "retMsg": "OK", "result": {"list": [
        ["1736941500000", "2", "3", "1", "2", "5", "0"], ["1736941500000", "2", "4", "1", "3", "6", "0"],
        ["1736940600000", "1", "2", "1", "2", "1", "0"]]}, "time": 1}
    frame = bybit.parse_rest_klines(payload)
    assert len(frame) == 2 and frame["close"].tolist() == [2.0, 3.0]
    with pytest.raises(ExchangeError) as err:
        bybit.parse_rest_klines({"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {}})
    assert err.value.code == 10001 and "symbol invalid" in str(err.value) and "bybit" in str(err.value)
    with pytest.raises(BadMessage, match="bybit"):
        bybit.parse_rest_klines({"retCode": 0, "result": {"list": [["x", "1"]]}})
    assert bybit.parse_rest_klines({"retCode": 0, "result": {"list": []}}).empty
    far = {"retCode": 0, "result": {"list": [["100000000000000000", "1", "1", "1", "1", "1", "0"]]}}
    with pytest.raises(BadMessage, match="epoch milliseconds"):  # year ~3,000,000: garbage, not a candle
        bybit.parse_rest_klines(far)
    with pytest.raises(BadMessage, match="not \\[time, open"):  # an integer of 400 digits
        bybit.parse_rest_klines({"retCode": 0, "result": {"list": [[1, 10 ** 400, 1, 1, 1, 1]]}})


def test_real_kline_frames(bybit):
    frames = lines("ws_kline.jsonl")
    events = [e for f in frames for e in bybit.parse_ws_message(f)]
    assert len(frames) == 71
    assert all(isinstance(e, KlineEvent) and e.timeframe == "1m" and e.exchange == "bybit" for e in events)
    closed = [e for e in events if e.closed]
    assert len(closed) == 4 and {e.symbol for e in closed} == {"BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"}
    btc = next(e for e in closed if e.symbol == "BTCUSDT")
    assert (btc.open_time, btc.open, btc.high, btc.low, btc.close, btc.volume) == (
        1786310760000, 65119.9, 65119.9, 65114.2, 65114.2, 3.712)
    # a boundary frame carries the finished candle and the new one, in that order
    two = bybit.parse_ws_message(next(f for f in frames if '"confirm":true' in f))
    assert [e.closed for e in two] == [True, False] and two[1].open_time == two[0].open_time + 60_000
    first = bybit.parse_ws_message(frames[0])[0]
    assert first.closed is False and first.close == 65114.3 and first.volume == 1.576


def test_real_other_frames(bybit):
    out = [bybit.parse_ws_message(f) for f in lines("ws_other.jsonl")]
    kinds = [type(e).__name__ for evs in out for e in evs]
    assert out[0] == [TickerEvent("bybit", "BTCUSDT", 65114.3, out[0][0].time)]
    assert "TradeEvent" in kinds and "KlineEvent" not in kinds
    assert all(isinstance(e, (TickerEvent, TradeEvent)) for evs in out for e in evs)


def test_documented_samples(bybit):
    assert bybit.parse_ws_message((FIX / "ws_ack.json").read_text()) == []
    opened = bybit.parse_ws_message((FIX / "ws_kline_open.json").read_text())
    closed = bybit.parse_ws_message((FIX / "ws_kline_closed.json").read_text().encode())
    assert opened[0].closed is False and opened[0].timeframe == "15m" and opened[0].open_time == 1736942400000
    assert closed[0].closed is True and closed[0].close == 97198.7 and closed[0].volume == 1180.905
    assert bybit.parse_ws_message((FIX / "ws_ticker.json").read_text())[0].price == 97205.3
    pong = '{"success":true,"ret_msg":"pong","conn_id":"x","req_id":"","op":"ping"}'
    assert bybit.parse_ws_message(pong) == []


def test_rejected_subscription_is_reported(bybit):
    ev = bybit.parse_ws_message('{"success":false,"ret_msg":"Invalid symbol :[kline.15.FOO]","conn_id":"c",'
                                '"req_id":"r1","op":"subscribe"}')
    assert ev == [SubscriptionAck("bybit", False, "subscribe", "Invalid symbol :[kline.15.FOO]", "r1")]


@pytest.mark.parametrize("raw, why", [
    ("not json at all", "not JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    ("[1, 2, 3]", "not a JSON object"),
    ('{"hello": 1}', "neither topic nor op"),
    ('{"topic":"kline.15.BTCUSDT","data":{"start":1}}', "not a list"),
    ('{"topic":"kline.15.BTCUSDT","data":[{"start":1,"open":"1"}]}', "lacks"),
    ('{"topic":"kline.15.BTCUSDT","data":[{"start":1,"open":"x","high":"1","low":"1","close":"1","volume":"1","confirm":true}]}', "open"),
    ('{"topic":"kline.15.BTCUSDT","data":[{"start":1,"open":"1","high":"1","low":"1","close":"1","volume":"1","confirm":"yes"}]}', "confirm"),
    ('{"topic":"kline.15.BTCUSDT","data":[{"start":1,"open":"NaN","high":"1","low":"1","close":"1","volume":"1","confirm":true}]}', "finite"),
    ('{"topic":"kline.15.BTCUSDT","data":[{"start":1,"open":"1","high":true,"low":"1","close":"1","volume":"1","confirm":true}]}', "high is True"),
    ('{"topic":"kline.15.BTCUSDT","data":[{"start":1,"open":"1","high":"1","low":"1","close":null,"volume":"1","confirm":true}]}', "close is None"),
    ('{"topic":"kline.15.BTCUSDT","data":[{"start":1,"open":"1","high":"1","low":"1","close":"1","volume":"-Infinity","confirm":true}]}', "volume is not finite"),
    ('{"topic":"kline.15.BTCUSDT","data":[{"start":-900000,"open":"1","high":"1","low":"1","close":"1","volume":"1","confirm":true}]}', "epoch milliseconds"),
    ('{"topic":"kline.15.BTCUSDT","data":[{"start":true,"open":"1","high":"1","low":"1","close":"1","volume":"1","confirm":true}]}', "open time is True"),
    ('{"topic":"kline.15.BTCUSDT","data":[{"start":100000000000000000,"open":"1","high":"1","low":"1","close":"1","volume":"1","confirm":true}]}', "epoch milliseconds"),
    ('{"topic":"kline.15.BTCUSDT","data":[{"start":1,"open":"1","high":"1","low":"1","close":' + "9" * 400 + ',"volume":"1","confirm":true}]}', "close is '9999"),
    ('{"topic":"kline.15.BTCUSDT","data":[{"start":"x","open":"y","high":"1","low":"1","close":"1","volume":"1","confirm":true}]}', "open time is 'x'"),
    ('{"topic":"kline.15.BTCUSDT","data":[{"start":1,"open":"2","high":"1.5","low":"1","close":"1","volume":"1","confirm":true}]}', "inconsistent"),
    ('{"topic":"kline.7x.BTCUSDT","data":[]}', "not understood"),
    ('{"topic":"tickers.BTCUSDT","data":[1]}', "not an object"),
])
def test_bad_frames_raise_badmessage_with_excerpt(bybit, raw, why):
    with pytest.raises(BadMessage) as err:
        bybit.parse_ws_message(raw)
    assert isinstance(err.value, ValueError)
    text = str(err.value)
    assert text.startswith("bybit:") and why in text
    shown = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    assert shown[:12] in text  # an excerpt of the payload


def test_huge_but_finite_values_are_accepted(bybit):
    """The fast path tests finiteness on the sum of the five values; a sum that overflows is checked value by
    value and accepted when each one is finite."""
    (ev,) = bybit.parse_ws_message('{"topic":"kline.15.BTCUSDT","data":[{"start":0,"open":"1e308","high":"1.5e308",'
                                   '"low":"1e308","close":"1.2e308","volume":"1e308","confirm":true}]}')
    assert ev.high == 1.5e308 and ev.volume == 1e308 and ev.open_time == 0


def test_long_payload_excerpt_is_bounded(bybit):
    with pytest.raises(BadMessage) as err:
        bybit.parse_ws_message("x" * 100_000)
    assert len(str(err.value)) < 400


def test_tickers_top_by_quote_volume(bybit):
    payload = {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [
        {"symbol": "ETHUSDT", "lastPrice": "1900.5", "turnover24h": "500"},
        {"symbol": "BTCUSDT", "lastPrice": "65000.1", "turnover24h": "9000"}]}, "time": 1}
    top = bybit.parse_tickers(payload)
    assert top["symbol"].tolist() == ["BTCUSDT", "ETHUSDT"] and top["last_price"].iloc[0] == 65000.1
    assert np.issubdtype(top["quote_volume_24h"].dtype, np.floating)
