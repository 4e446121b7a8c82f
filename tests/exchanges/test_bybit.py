import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ticker_items import assert_item_left_out

from twinstar_gui.core.instrument import Instrument
from twinstar_gui.core.models import KlineEvent, SubscriptionAck, TickerEvent, TradeEvent
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.exchanges import BadMessage, ExchangeError, get_exchange
from twinstar_gui.exchanges.base import MAX_EPOCH_MS

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
    first = frame.iloc[0][["open", "high", "low", "close", "volume"]].tolist()
    assert first == [97012.3, 97188.0, 96950.1, 97120.5, 1523.412]
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


# -- symbols ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("base, quote", [("", "USDT"), ("BTC", ""), ("  ", "USDT"), ("BTC", "US DT")])
def test_native_symbol_refuses_empty_or_odd_parts(bybit, base, quote):
    with pytest.raises(ValueError) as err:
        bybit.native_symbol(base, quote)
    assert f"bybit: bad symbol parts base={base.strip().upper()!r}" in str(err.value)


def test_a_bare_quote_is_not_a_symbol(bybit):
    with pytest.raises(ValueError) as err:
        bybit.split_symbol("USDT")
    assert "cannot split symbol 'USDT'" in str(err.value) and "(linear quotes: USDT, USDC)" in str(err.value)
    assert bybit.split_symbol(" ethusdc ") == ("ETH", "USDC")


# -- REST requests ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("tf, code", [(Timeframe.M1, "1"), (Timeframe.M15, "15"), (Timeframe.H1, "60"),
                                      (Timeframe.H4, "240"), (Timeframe.D1, "D")])
def test_kline_request_interval_codes(bybit, tf, code):
    """Bybit's documented interval codes: 1m=1, 15m=15, 1h=60, 4h=240, 1d=D."""
    req = bybit.kline_request("ETHUSDT", tf, None, None)
    assert req.params["interval"] == code and req.params["category"] == "linear"


def test_kline_request_window_and_limit(bybit):
    req = bybit.kline_request("BTCUSDT", Timeframe.M15, None, None)
    assert req.url == "https://api.bybit.com/v5/market/kline" and req.endpoint == "/v5/market/kline"
    # no window: Bybit answers the newest candles; no limit: as many as one request may return (1000)
    assert dict(req.params) == {"category": "linear", "symbol": "BTCUSDT", "interval": "15", "limit": 1000}
    assert bybit.kline_request("BTCUSDT", Timeframe.M15, 0, None).params["start"] == 0  # epoch 0 is a start
    assert "end" not in bybit.kline_request("BTCUSDT", Timeframe.M15, 0, None).params
    only_end = bybit.kline_request("BTCUSDT", Timeframe.M15, None, 1736942400000).params
    assert only_end["end"] == 1736942400000 and "start" not in only_end
    # milliseconds go out as integers, whatever number type the caller had
    both = bybit.kline_request("BTCUSDT", Timeframe.M15, 1736940600000.0, 1736942400000.0).params
    assert (both["start"], both["end"]) == (1736940600000, 1736942400000)
    assert type(both["start"]) is int and type(both["end"]) is int
    assert [bybit.kline_request("BTCUSDT", Timeframe.M15, None, None, n).params["limit"]
            for n in (1, 200, 999, 1000, 1001)] == [1, 200, 999, 1000, 1000]


def test_tickers_and_instruments_requests(bybit):
    tick = bybit.tickers_request()
    assert (tick.url, dict(tick.params), tick.endpoint) == (
        "https://api.bybit.com/v5/market/tickers", {"category": "linear"}, "/v5/market/tickers")
    first = bybit.instruments_request()
    assert (first.url, first.endpoint) == ("https://api.bybit.com/v5/market/instruments-info",
                                           "/v5/market/instruments-info")
    # the default page is 500 and there are more linear symbols than that: ask for the documented maximum
    assert dict(first.params) == {"category": "linear", "limit": 1000}
    nxt = bybit.instruments_request("first%3DBIOUSDT%26last%3DBIOUSDT")
    assert dict(nxt.params) == {"category": "linear", "limit": 1000, "cursor": "first%3DBIOUSDT%26last%3DBIOUSDT"}
    assert get_exchange("bybit", rest_url="http://127.0.0.1:9/").instruments_request().url == (
        "http://127.0.0.1:9/v5/market/instruments-info")


# -- REST envelopes ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("payload", [
    {"retMsg": "OK", "result": {"list": []}},  # no retCode
    [["1736940600000", "1", "2", "1", "2", "1"]],  # rows without the envelope
    None,
])
def test_payload_without_ret_code_is_bad_message(bybit, payload):
    for parse, endpoint in ((bybit.parse_rest_klines, "/v5/market/kline"),
                            (bybit.parse_tickers, "/v5/market/tickers"),
                            (bybit.parse_instruments, "/v5/market/instruments-info")):
        with pytest.raises(BadMessage) as err:
            parse(payload)
        assert f"bybit: {endpoint}: not a Bybit envelope: {str(payload)[:10]}" in str(err.value)


@pytest.mark.parametrize("result", [None, {}, {"list": None}, {"list": {"0": []}}, "list"])
def test_envelope_without_result_list_is_bad_message(bybit, result):
    payload = {"retCode": 0, "retMsg": "OK", "result": result, "time": 1736942587400}
    for parse, endpoint in ((bybit.parse_rest_klines, "/v5/market/kline"),
                            (bybit.parse_tickers, "/v5/market/tickers"),
                            (bybit.parse_instruments, "/v5/market/instruments-info")):
        with pytest.raises(BadMessage) as err:
            parse(payload)
        assert f"bybit: {endpoint}: result.list missing: {{'retCode': 0" in str(err.value)


def test_error_envelope_names_endpoint_and_code(bybit):
    with pytest.raises(ExchangeError) as err:
        bybit.parse_tickers({"retCode": 10006, "result": {}})  # no retMsg at all
    e = err.value
    assert not isinstance(e, BadMessage)
    assert (e.exchange, e.code, e.endpoint, e.message) == ("bybit", 10006, "/v5/market/tickers", "")
    assert str(e) == "bybit /v5/market/tickers: code=10006"
    with pytest.raises(ExchangeError) as err:
        bybit.parse_rest_klines({"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {}})
    assert err.value.endpoint == "/v5/market/kline" and err.value.message == "params error: symbol invalid"
    with pytest.raises(ExchangeError) as err:
        bybit.parse_instruments({"retCode": 10001, "retMsg": "params error", "result": {}})
    assert err.value.endpoint == "/v5/market/instruments-info"


def test_rest_body_as_text_or_bytes(bybit):
    text = (FIX / "rest_klines.json").read_text()
    for body in (text, text.encode()):
        frame = bybit.parse_rest_klines(body)
        assert frame["close"].tolist() == [97120.5, 97198.7, 97205.3]  # oldest first
        assert frame.attrs["server_time"] == 1736942587400
    with pytest.raises(BadMessage, match="bybit: not JSON"):
        bybit.parse_rest_klines("<html>502 Bad Gateway</html>")
    tickers = b'{"retCode":0,"result":{"list":[{"symbol":"BTCUSDT","lastPrice":"97205.3","turnover24h":"8.1e9"}]}}'
    assert bybit.parse_tickers(tickers)["last_price"].tolist() == [97205.3]
    instruments, cursor = bybit.parse_instruments((FIX / "rest_instruments_prelisting.json").read_text())
    assert [i.native for i in instruments] == ["BIOUSDT"] and cursor == "first%3DBIOUSDT%26last%3DBIOUSDT"


def test_rest_klines_server_time_only_when_sent(bybit):
    payload = json.loads((FIX / "rest_klines.json").read_text())
    del payload["time"]
    assert "server_time" not in bybit.parse_rest_klines(payload).attrs
    # not epoch milliseconds: not trusted as the exchange's clock (it decides which row is still forming)
    for garbage in ("1736942587400", True, 0, -1, MAX_EPOCH_MS + 1, 10 ** 17, 1736942587400.5):
        payload["time"] = garbage
        assert "server_time" not in bybit.parse_rest_klines(payload).attrs, garbage
    payload["time"] = MAX_EPOCH_MS  # the last instant we take for a time (2100-01-01)
    assert bybit.parse_rest_klines(payload).attrs["server_time"] == MAX_EPOCH_MS


def test_bad_kline_row_error_shows_the_payload(bybit):
    with pytest.raises(BadMessage) as err:
        bybit.parse_rest_klines({"retCode": 0, "result": {"list": [["1736940600000", "1", "0.5", "1", "1", "1"]]}})
    assert "inconsistent kline row" in str(err.value) and "{'retCode': 0, 'result'" in str(err.value)


def test_tickers_volume_is_quote_turnover(bybit):
    payload = {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [
        {"symbol": "SOLUSDT", "lastPrice": "150", "turnover24h": "3000000", "volume24h": "20000"},
        {"symbol": "BTCUSDT", "lastPrice": "97205.3", "turnover24h": "8123456789.1234", "volume24h": "84012.551"}]}}
    top = bybit.parse_tickers(payload)
    assert top.to_dict("list") == {"symbol": ["BTCUSDT", "SOLUSDT"], "last_price": [97205.3, 150.0],
                                   "quote_volume_24h": [8123456789.1234, 3000000.0]}



def test_a_ticker_without_its_turnover_is_left_out(bybit, caplog):
    assert_item_left_out(caplog, bybit.parse_tickers,
                         {"retCode": 0, "result": {"list": [{"symbol": "BTCUSDT", "lastPrice": "1"}]}}, "bybit",
                         "turnover24h is None, expected a number")


# -- instruments ------------------------------------------------------------------------------------------------------
# (the documented page, the filters, odd items and envelopes of every perpetual venue: test_instruments.py)
def test_instruments_page_with_cursor_and_a_pre_launch_symbol(bybit):
    instruments, cursor = bybit.parse_instruments(json.loads((FIX / "rest_instruments_prelisting.json").read_text()))
    assert instruments == [Instrument("bybit", "BIO/USDT:USDT", "BIOUSDT", "BIO", "USDT", "USDT", "swap", 0.0001, 1.0,
                                      1.0, 5.0, "prelaunch")]
    assert cursor == "first%3DBIOUSDT%26last%3DBIOUSDT" and not instruments[0].trading


def _instrument(symbol="ETHUSDT", tick="0.01", step="0.01", min_qty="0.01", notional="20"):
    lot = {"minOrderQty": min_qty, "qtyStep": step}
    if notional is not None:
        lot["minNotionalValue"] = notional
    return {"symbol": symbol, "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": symbol[:-4],
            "quoteCoin": "USDT", "settleCoin": "USDT", "priceFilter": {"tickSize": tick}, "lotSizeFilter": lot}


def test_instruments_several_and_missing_minimum_notional(bybit):
    payload = {"retCode": 0, "result": {"list": [_instrument(), _instrument("XRPUSDT", "0.0001", "1", "1", None),
                                                 _instrument("DOGEUSDT", "0.00001", "1", "5", "")],
                                        "nextPageCursor": None}}
    instruments, cursor = bybit.parse_instruments(payload)
    assert [(i.symbol, i.tick_size, i.lot_size, i.min_qty, i.min_notional) for i in instruments] == [
        ("ETH/USDT:USDT", 0.01, 0.01, 0.01, 20.0), ("XRP/USDT:USDT", 0.0001, 1.0, 1.0, 0.0),
        ("DOGE/USDT:USDT", 0.00001, 1.0, 5.0, 0.0)]
    assert cursor == ""
    assert bybit.parse_instruments({"retCode": 0, "result": {"list": [], "nextPageCursor": "abc"}}) == ([], "abc")


@pytest.mark.parametrize("item, why", [
    ("BTCUSDT", "bybit: instrument item is not an object"),
    ({"contractType": "LinearPerpetual", "settleCoin": "USDT", "priceFilter": {"tickSize": "0.1"},
      "lotSizeFilter": {"qtyStep": "1", "minOrderQty": "1"}}, "KeyError: 'symbol'"),
    ({**_instrument(), "priceFilter": "0.1"}, "TypeError"),
    ({**_instrument(), "lotSizeFilter": None}, "TypeError"),
    (_instrument(tick=None), "bybit: instrument ETHUSDT: tick size is None, expected a number"),
    (_instrument(tick="abc"), "bybit: instrument ETHUSDT: tick size is 'abc', expected a number"),
    (_instrument(step="NaN"), "bybit: instrument ETHUSDT: lot size is not finite ('NaN')"),
    (_instrument(min_qty=[]), "bybit: instrument ETHUSDT: min qty is '[]', expected a number"),
    (_instrument(notional="x"), "bybit: instrument ETHUSDT: min notional is 'x', expected a number"),
    (_instrument(tick="0"), "bybit: instrument ETHUSDT: steps must be > 0 and minimums >= 0"),
    (_instrument(step="0"), "bybit: instrument ETHUSDT: steps must be > 0 and minimums >= 0"),
    (_instrument(step="-1"), "bybit: instrument ETHUSDT: steps must be > 0 and minimums >= 0"),
    (_instrument(min_qty="-0.01"), "bybit: instrument ETHUSDT: steps must be > 0 and minimums >= 0"),
    (_instrument(notional="-5"), "bybit: instrument ETHUSDT: steps must be > 0 and minimums >= 0"),
    (_instrument("../x"), "bybit: symbol name '../x' is not allowed"),
])
def test_instruments_bad_item_is_left_out_and_said(bybit, item, why, caplog):
    """Orders are rounded to these steps: a zero or NaN step must never enter the catalog; the other items do."""
    payload = {"retCode": 0, "result": {"list": [_instrument("SOLUSDT"), item], "nextPageCursor": ""}}
    with caplog.at_level(logging.ERROR, logger="twinstar_gui.exchanges.base"):
        instruments, _ = bybit.parse_instruments(payload)
    assert [i.native for i in instruments] == ["SOLUSDT"]
    (line,) = [r.getMessage() for r in caplog.records if "left out of the catalog" in r.getMessage()]
    assert line.startswith("bybit: 1 instrument(s) left out of the catalog, e.g. ") and why in line, line


def test_instruments_zero_minimums_are_fine(bybit):
    (eth,), _ = bybit.parse_instruments({"retCode": 0, "result": {"list": [_instrument(min_qty="0", notional="0")]}})
    assert eth.min_qty == 0.0 and eth.min_notional == 0.0


# -- WebSocket messages -----------------------------------------------------------------------------------------------
def test_subscribe_message_matches_documented_sample(bybit):
    documented = json.loads((FIX / "ws_subscribe.json").read_text())
    assert json.loads(bybit.subscribe_message(["kline.15.BTCUSDT", "tickers.BTCUSDT"], "sub-1")) == documented
    assert json.loads(bybit.unsubscribe_message(("kline.15.BTCUSDT",), "u-9")) == {
        "req_id": "u-9", "op": "unsubscribe", "args": ["kline.15.BTCUSDT"]}


def test_generated_request_ids_are_distinct(bybit):
    """Acks carry the req_id back: each request without an id of its own gets a fresh one."""
    ids = [json.loads(bybit.subscribe_message(["tickers.BTCUSDT"]))["req_id"],
           json.loads(bybit.subscribe_message(["tickers.ETHUSDT"]))["req_id"],
           json.loads(bybit.unsubscribe_message(["tickers.BTCUSDT"]))["req_id"],
           json.loads(bybit.heartbeat_message())["req_id"]]
    assert len(set(ids)) == 4 and all(isinstance(i, str) and i for i in ids)
    assert ids[0].startswith("subscribe-") and ids[2].startswith("unsubscribe-") and ids[3].startswith("ping-")


def test_heartbeat_is_documented_ping(bybit):
    ping = json.loads(bybit.heartbeat_message())
    assert set(ping) == {"req_id", "op"} and ping["op"] == "ping"
    assert bybit.ticker_topic("BTCUSDT") == "tickers.BTCUSDT" and bybit.kline_topic("BTCUSDT", Timeframe.M15) == (
        "kline.15.BTCUSDT")


def test_real_trade_frames_values(bybit):
    frames = [f for f in lines("ws_other.jsonl") if f.startswith('{"topic":"publicTrade')]
    btc = bybit.parse_ws_message(frames[0])
    assert btc == [TradeEvent("bybit", "BTCUSDT", 65114.2, 1786310819680, 0.004)]
    eth = bybit.parse_ws_message(frames[1])
    assert [(e.symbol, e.price, e.time) for e in eth] == [("ETHUSDT", 1922.5, 1786310820346)] * 5
    assert [e.size for e in eth] == [0.01, 1.3, 0.1, 0.1, 0.16]


def test_trade_symbol_and_size_fallbacks(bybit):
    """A trade item without `s` belongs to the topic's symbol; one without `v` has size 0 (unknown)."""
    raw = '{"topic":"publicTrade.SOLUSDT","ts":1,"data":[{"T":1786310819680,"p":"150.25"}]}'
    assert bybit.parse_ws_message(raw) == [TradeEvent("bybit", "SOLUSDT", 150.25, 1786310819680, 0.0)]


def test_ticker_symbol_fallback_and_delta_without_price(bybit):
    raw = '{"topic":"tickers.SOLUSDT","type":"delta","data":{"lastPrice":"150.5"},"cs":1,"ts":1786310817883}'
    assert bybit.parse_ws_message(raw) == [TickerEvent("bybit", "SOLUSDT", 150.5, 1786310817883)]
    for no_price in ('{"bid1Price":"1"}', '{"lastPrice":""}', '{"lastPrice":null}'):
        assert bybit.parse_ws_message('{"topic":"tickers.SOLUSDT","type":"delta","data":' + no_price + ',"ts":1}') == []


def test_rejected_unsubscribe_and_defaults(bybit):
    assert bybit.parse_ws_message('{"success":false,"op":"unsubscribe"}') == [
        SubscriptionAck("bybit", False, "unsubscribe", "", "")]
    assert bybit.parse_ws_message('{"success":true,"ret_msg":"","op":"unsubscribe","req_id":"u1"}') == []
    assert bybit.parse_ws_message('{"success":false,"ret_msg":"denied","op":"auth"}') == []  # not a subscription


def test_valid_frames_of_unused_topics_give_nothing(bybit):
    assert bybit.parse_ws_message('{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT"}}') == []
    assert bybit.parse_ws_message('{"topic":"liquidation.BTCUSDT","ts":1,"data":null}') == []


@pytest.mark.parametrize("raw, message", [
    ("[1, 2, 3]", "bybit: frame is not a JSON object: [1, 2, 3]"),
    ('{"hello": 1}', "bybit: frame has neither topic nor op: {\"hello\""),
    ('{"topic":"orderbook.50.BTCUSDT","ts":1}', "bybit: topic 'orderbook.50.BTCUSDT' without data: {\"topic\""),
    ('{"topic":"kline.15.BTCUSDT","data":{"start":1}}', "bybit: kline data is not a list: {\"topic\""),
    ('{"topic":"kline.15.","data":[]}', "bybit: kline topic 'kline.15.' not understood: {\"topic\""),
    ('{"topic":"kline.15.BTCUSDT","data":[{"start":1}]}',
     "bybit: kline item lacks one of start, open, high, low, close, volume, confirm: {\"topic\""),
    ('{"topic":"kline.15.BTCUSDT","data":[{"start":1,"open":"1","high":"1","low":"1","close":"1","volume":"1",'
     '"confirm":1}]}', "bybit: kline confirm is 1, expected true/false: {\"topic\""),
    ('{"topic":"tickers.BTCUSDT","data":"x","ts":1}', "bybit: tickers data is not an object: {\"topic\""),
    ('{"topic":"tickers.BTCUSDT","data":{"lastPrice":"abc"},"ts":1}',
     "bybit: lastPrice is 'abc', expected a number: {\"topic\""),
    ('{"topic":"tickers.BTCUSDT","data":{"lastPrice":"1"}}', "bybit: ticker ts is None, expected a number: {\"topic\""),
    ('{"topic":"tickers.BTCUSDT","data":{"lastPrice":"1"},"ts":1.5}',
     "bybit: ticker ts is 1.5, expected epoch milliseconds: {\"topic\""),
    ('{"topic":"publicTrade.BTCUSDT","data":{"p":"1"}}', "bybit: publicTrade data is not a list: {\"topic\""),
    ('{"topic":"publicTrade.BTCUSDT","data":[{"T":1}]}', "bybit: publicTrade item lacks p/T: {\"topic\""),
    ('{"topic":"publicTrade.BTCUSDT","data":[{"p":"1"}]}', "bybit: publicTrade item lacks p/T: {\"topic\""),
    ('{"topic":"publicTrade.BTCUSDT","data":["pT"]}', "bybit: publicTrade item lacks p/T: {\"topic\""),
    ('{"topic":"publicTrade.BTCUSDT","data":[{"p":"x","T":1}]}', "bybit: trade price is 'x', expected a number: {"),
    ('{"topic":"publicTrade.BTCUSDT","data":[{"p":"1","T":-1}]}',
     "bybit: trade time is -1, expected epoch milliseconds: {"),
    ('{"topic":"publicTrade.BTCUSDT","data":[{"p":"1","T":1,"v":"?"}]}',
     "bybit: trade size is '?', expected a number: {"),
])
def test_bad_frame_messages_name_the_field(bybit, raw, message):
    """What the user reads in the log: the exchange, what is wrong with which field, and the frame."""
    with pytest.raises(BadMessage) as err:
        bybit.parse_ws_message(raw)
    assert message in str(err.value)


# -- pong -------------------------------------------------------------------------------------------------------------
PONG = '{"success":true,"ret_msg":"pong","conn_id":"d8bu1olkndm7crnfs1e0-j6akw","req_id":"ping-3","op":"ping"}'


def test_is_pong_documented_answer(bybit):
    assert bybit.is_pong(PONG) and bybit.is_pong(PONG.encode()) and bybit.is_pong(bytearray(PONG.encode()))
    assert bybit.is_pong('{"op":"pong","ret_msg":"pong"}')


@pytest.mark.parametrize("raw", [
    "pong",  # the plain-text pong of other exchanges is not Bybit's
    '{"success":true,"ret_msg":"","op":"ping"}',
    '{"success":true,"ret_msg":"pong","op":"subscribe"}',
    '{"success":true,"ret_msg":"pong"}',
    '["pong", {"op": "ping", "ret_msg": "pong"}]',
    '{"topic":"tickers.PONGUSDT","ts":1,"data":{"symbol":"PONGUSDT","lastPrice":"1"}}',
    '{"ret_msg":"pong","op":"ping"',  # cut off
    b'\xff{"ret_msg":"pong","op":"ping"}',
    "",
])
def test_is_pong_refuses_other_frames(bybit, raw):
    assert bybit.is_pong(raw) is False


def test_is_pong_does_not_decode_data_frames(bybit):
    """A pong is short; anything over 512 characters is a data frame and is not decoded here."""
    padded = PONG[:-1] + " " * (512 - len(PONG)) + "}"
    assert len(padded) == 512 and bybit.is_pong(padded)
    assert not bybit.is_pong(PONG[:-1] + " " * (513 - len(PONG)) + "}")
