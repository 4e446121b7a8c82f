"""The adapter contract's shared helpers (exchanges/base.py): JSON decoding, number and epoch checks, candle
validation, ticker frames, kline row normalisation, the parser guard, error bodies. Tested through real adapters,
and through a toy adapter where the helper is clearer on its own."""
import json
import logging

import numpy as np
import pandas as pd
import pytest

from twinstar_gui.core.models import KlineEvent
from twinstar_gui.exchanges import BadMessage, ExchangeAdapter, ExchangeError, RateLimited, empty_klines, get_exchange
from twinstar_gui.exchanges.base import KLINE_COLUMNS, MAX_EPOCH_MS, TICKER_COLUMNS

T0 = 1736940600000  # 2025-01-15 11:30 UTC
M15 = 900_000


@pytest.fixture()
def bybit():
    return get_exchange("bybit")


def make_toy():
    """A minimal adapter, defined at run time (adapters get their parsers guarded when the class is made).

    REST klines are bare rows, tickers are {s, p, v} with v in base units, WS frames are
    [symbol, open_time, o, h, l, c, v]."""

    class Toy(ExchangeAdapter):
        name = "toy"

        def native_symbol(self, base, quote):
            return base + quote

        def split_symbol(self, native):
            return native[:-4], native[-4:]

        def kline_request(self, symbol, tf, start_ms, end_ms, limit=None):
            raise NotImplementedError

        def parse_kline_rows(self, payload):
            return self._kline_rows(payload, payload)

        def tickers_request(self):
            raise NotImplementedError

        def parse_ticker_rows(self, payload):
            return self._ticker_rows(payload, "s", "p", "v", volume_in_base=True)

        def instruments_request(self, cursor=""):
            raise NotImplementedError

        def parse_instruments(self, payload):
            raise NotImplementedError

        def kline_topic(self, symbol, tf):
            return symbol

        def ticker_topic(self, symbol):
            return None

        def subscribe_message(self, topics, request_id=""):
            return ""

        def unsubscribe_message(self, topics, request_id=""):
            return ""

        def parse_ws_message(self, raw):
            msg = self._decode_json(raw)
            return [self._kline(msg[0], "15m", msg[1], msg[2], msg[3], msg[4], msg[5], msg[6], None, raw)]

        def heartbeat_message(self):
            return None

    return Toy


def toy_frame(symbol="BTCUSDT", t=T0, o="1", h="2", l="0.5", c="1.5", v="10"):
    return json.dumps([symbol, t, o, h, l, c, v])


# -- construction -----------------------------------------------------------------------------------------------------
def test_urls_and_repr():
    a = get_exchange("bybit", rest_url="http://127.0.0.1:9/sim/BYBIT-X//", ws_url="ws://127.0.0.1:9/ws/")
    assert a.rest_url == "http://127.0.0.1:9/sim/BYBIT-X"  # trailing slashes go, the path stays
    assert a.ws_url == "ws://127.0.0.1:9/ws/"
    assert repr(a) == "BybitAdapter(rest_url='http://127.0.0.1:9/sim/BYBIT-X', ws_url='ws://127.0.0.1:9/ws/')"
    assert repr(make_toy()()) == "Toy(rest_url='', ws_url='')"


# -- the parser guard -------------------------------------------------------------------------------------------------
def test_a_parser_bug_becomes_bad_message_naming_the_exchange():
    toy = make_toy()()
    with pytest.raises(BadMessage) as err:
        toy.parse_ws_message('["BTCUSDT"]')  # too short: an IndexError inside the parser
    assert isinstance(err.value.__cause__, IndexError)
    assert str(err.value).startswith("toy: parse_ws_message: IndexError: ")
    assert err.value.exchange == "toy" and '["BTCUSDT"]' in str(err.value)


def test_the_guard_covers_every_parser_and_what_a_mixin_brings():
    class Broken:
        def parse_tickers(self, payload):
            return payload["no such key"]

        def parse_instruments(self, payload):
            raise RecursionError("too deep")

    class Mixed(Broken, make_toy()):
        pass

    m = Mixed()
    with pytest.raises(BadMessage, match="^toy: parse_tickers: KeyError: 'no such key'"):
        m.parse_tickers({})
    with pytest.raises(BadMessage, match="^toy: parse_instruments: RecursionError: too deep"):
        m.parse_instruments({})


def test_our_own_errors_pass_the_guard_unchanged():
    raised = [BadMessage("toy", "odd", "x"), ExchangeError("toy", "no", code=7),
              RateLimited("toy", "slow down", status=429), NotImplementedError("toy: no instrument info")]

    def parse(self, raw):
        raise raised[raw]

    class Guarded(make_toy()):
        parse_ws_message = parse  # defined in the class body: guarded

    g = Guarded()
    for i, exc in enumerate(raised):
        with pytest.raises(type(exc)) as err:
            g.parse_ws_message(i)
        assert err.value is exc


def test_an_adapter_must_read_its_instrument_list():
    """The catalog is every adapter's duty: a class without it cannot be made (not a surprise at run time)."""
    assert {"instruments_request", "parse_instruments"} <= ExchangeAdapter.__abstractmethods__


def test_parsers_still_return_what_they_parse():
    toy = make_toy()()
    (ev,) = toy.parse_ws_message(toy_frame())
    assert ev == KlineEvent("toy", "BTCUSDT", "15m", T0, 1.0, 2.0, 0.5, 1.5, 10.0, None)


# -- JSON decoding ----------------------------------------------------------------------------------------------------
def test_frames_as_text_bytes_bytearray_or_memoryview(bybit):
    raw = '{"topic":"tickers.BTCUSDT","data":{"symbol":"BTCUSDT","lastPrice":"97205.3"},"ts":1736942587410}'
    for frame in (raw, raw.encode(), bytearray(raw.encode()), memoryview(raw.encode())):
        assert bybit.parse_ws_message(frame)[0].price == 97205.3


@pytest.mark.parametrize("frame, reason", [(None, "frame of type NoneType"), (12345, "frame of type int"),
                                           (["x"], "frame of type list")])
def test_a_frame_that_is_not_text_is_bad_message(bybit, frame, reason):
    with pytest.raises(BadMessage) as err:
        bybit.parse_ws_message(frame)
    assert str(err.value) == f"bybit: {reason}: {frame}"


def test_not_utf8_and_not_json_messages(bybit):
    with pytest.raises(BadMessage) as err:
        bybit.parse_ws_message(b'{"op":"\xff"}')
    assert str(err.value).startswith("bybit: frame is not UTF-8 (invalid start byte): {")
    with pytest.raises(BadMessage) as err:
        bybit.parse_ws_message('{"op": ')
    assert str(err.value) == 'bybit: not JSON (Expecting value: line 1 column 8 (char 7)): {"op": '


def test_the_reason_of_a_huge_number_is_cut_short(bybit):
    """Python's own message for a 5,000-digit integer is long; the reason shows 80 characters of it."""
    with pytest.raises(BadMessage) as err:
        bybit.parse_ws_message('{"op":"ping","x":' + "7" * 5000 + "}")
    reason = err.value.reason
    assert reason.startswith("not JSON (") and reason.endswith(" chars))")
    detail = reason[len("not JSON ("):-1]
    assert len(detail.partition("...(+")[0]) == 80 and "digit" in detail


# -- numbers and epoch milliseconds -----------------------------------------------------------------------------------
def kline_frame(**fields):
    item = {"start": T0, "open": "1", "high": "2", "low": "0.5", "close": "1.5", "volume": "10", "confirm": False}
    item.update(fields)
    return json.dumps({"topic": "kline.15.BTCUSDT", "data": [item]})


@pytest.mark.parametrize("field", ["open", "high", "low", "close", "volume"])
def test_a_boolean_is_not_a_price(bybit, field):
    with pytest.raises(BadMessage) as err:
        bybit.parse_ws_message(kline_frame(**{field: True}))
    assert f"bybit: {field} is True, expected a number: {{" in str(err.value)


@pytest.mark.parametrize("field", ["open", "high", "low", "close", "volume"])
def test_text_that_is_not_a_number_names_the_field(bybit, field):
    with pytest.raises(BadMessage) as err:
        bybit.parse_ws_message(kline_frame(**{field: "n/a"}))
    assert f"bybit: {field} is 'n/a', expected a number: {{" in str(err.value)


def test_a_huge_value_is_shown_cut_short(bybit):
    with pytest.raises(BadMessage) as err:
        bybit.parse_ws_message(kline_frame(close=int("9" * 400)))
    assert f"bybit: close is '{'9' * 40}', expected a number" in str(err.value)


@pytest.mark.parametrize("start", [0, "0", 0.0, MAX_EPOCH_MS, str(MAX_EPOCH_MS), "1736940600000"])
def test_open_times_from_1970_to_2100_are_accepted(bybit, start):
    (ev,) = bybit.parse_ws_message(kline_frame(start=start))
    assert ev.open_time == int(float(start)) and type(ev.open_time) is int


@pytest.mark.parametrize("start", [-1, "-1", MAX_EPOCH_MS + 1, str(MAX_EPOCH_MS + 1), T0 + 0.5, "1e400"])
def test_open_times_outside_epoch_ms_are_refused(bybit, start):
    with pytest.raises(BadMessage, match="^bybit: kline open time is "):
        bybit.parse_ws_message(kline_frame(start=start))


def test_event_times_at_the_edges(bybit):
    def ticker(ts):
        return bybit.parse_ws_message(json.dumps({"topic": "tickers.BTCUSDT", "data": {"lastPrice": "1"}, "ts": ts}))

    assert ticker(0)[0].time == 0 and ticker(MAX_EPOCH_MS)[0].time == MAX_EPOCH_MS
    for bad in (-1, MAX_EPOCH_MS + 1):
        with pytest.raises(BadMessage, match=f"^bybit: ticker ts is {bad}, expected epoch milliseconds: "):
            ticker(bad)


# -- candle validation ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("o, h, l, c, v", [
    ("1", "2", "0.5", "1.5", "0"),  # no trades in the candle: volume 0
    ("1.5", "1.5", "1.5", "1.5", "0.25"),  # flat candle
    ("2", "2", "1", "1", "3"),  # opened at the high, closed at the low
    ("1", "2", "1", "2", "3"),
])
def test_consistent_candles_are_accepted(bybit, o, h, l, c, v):
    (ev,) = bybit.parse_ws_message(kline_frame(open=o, high=h, low=l, close=c, volume=v))
    assert (ev.open, ev.high, ev.low, ev.close, ev.volume) == (float(o), float(h), float(l), float(c), float(v))


@pytest.mark.parametrize("o, h, l, c, v", [
    ("0.4", "2", "0.5", "1.5", "1"),  # open below the low
    ("1", "2", "0.5", "0.4", "1"),  # close below the low
    ("2.1", "2", "0.5", "1.5", "1"),  # open above the high
    ("1", "2", "0.5", "2.1", "1"),  # close above the high
    ("1", "2", "0.5", "1.5", "-0.001"),  # negative volume
])
def test_inconsistent_candles_are_refused(bybit, o, h, l, c, v):
    with pytest.raises(BadMessage) as err:
        bybit.parse_ws_message(kline_frame(open=o, high=h, low=l, close=c, volume=v))
    assert str(err.value).startswith(
        'bybit: inconsistent candle (need low <= open, close <= high and volume >= 0): {"topic"')


# -- REST kline rows --------------------------------------------------------------------------------------------------
def test_empty_klines_frame():
    frame = empty_klines()
    assert list(frame.columns) == KLINE_COLUMNS and len(frame) == 0
    assert [str(t) for t in frame.dtypes] == ["datetime64[ms, UTC]"] + ["float64"] * 5
    parsed = get_exchange("bybit").parse_rest_klines({"retCode": 0, "result": {"list": []}})
    pd.testing.assert_frame_equal(parsed, frame)


def test_rows_are_sorted_and_the_last_sent_of_a_repeated_time_wins():
    """A page of 40 candles (newest first) in which every candle comes twice; the copy sent later carries the
    final values (close 2 instead of 1)."""
    rows = []
    for i in reversed(range(40)):
        t = T0 + i * M15
        rows += [[t, 1, 3, 0.5, 1, 5], [t, 1, 3, 0.5, 2, 7]]
    frame = make_toy()().parse_rest_klines(rows)
    assert frame["timestamp"].tolist() == list(pd.date_range("2025-01-15 11:30", periods=40, freq="15min", tz="UTC"))
    assert frame["close"].tolist() == [2.0] * 40 and frame["volume"].tolist() == [7.0] * 40


def test_rows_values_land_in_their_columns():
    rows = [[T0 + M15, "10", "14", "9", "13", "100.5", "ignored"], [T0, "11", "12", "8", "10", "0", "x"]]
    frame = make_toy()().parse_rest_klines(rows)
    assert frame.to_dict("list") == {
        "timestamp": [pd.Timestamp("2025-01-15 11:30", tz="UTC"), pd.Timestamp("2025-01-15 11:45", tz="UTC")],
        "open": [11.0, 10.0], "high": [12.0, 14.0], "low": [8.0, 9.0], "close": [10.0, 13.0],
        "volume": [0.0, 100.5]}


@pytest.mark.parametrize("t", [0, MAX_EPOCH_MS])
def test_rows_at_the_epoch_edges_are_accepted(t):
    frame = make_toy()().parse_rest_klines([[t, 1, 1, 1, 1, 0.5]])
    assert frame["timestamp"].iloc[0] == pd.Timestamp(t, unit="ms", tz="UTC")


@pytest.mark.parametrize("rows, reason", [
    ([[T0, 1, 2, 0.5, 1.5]], "kline rows are not 6+ finite numbers"),  # five columns
    ([[T0, 1, 2, 0.5, "NaN", 1]], "kline rows are not 6+ finite numbers"),
    ([[T0, 1, 2, 0.5, 1.5, "inf"]], "kline rows are not 6+ finite numbers"),
    ([[T0, 1, 2, 0.5, 1.5, 1], ["x", 1, 2, 0.5, 1.5, 1]],
     "kline rows are not [time, open, high, low, close, volume, ...]"),
    ([[T0, 1, 2, 0.5, 1.5, 1], [T0, 1]], "kline rows are not [time, open, high, low, close, volume, ...]"),
    ([[-M15, 1, 2, 0.5, 1.5, 1]], "kline open time is not epoch milliseconds"),
    ([[MAX_EPOCH_MS + 1, 1, 2, 0.5, 1.5, 1]], "kline open time is not epoch milliseconds"),
    ([[T0 + 0.5, 1, 2, 0.5, 1.5, 1]], "kline open time is not epoch milliseconds"),
    ([[T0, 0.4, 2, 0.5, 1.5, 1]], "inconsistent kline row (need low <= open, close <= high and volume >= 0)"),
    ([[T0, 1, 2, 0.5, 0.4, 1]], "inconsistent kline row (need low <= open, close <= high and volume >= 0)"),
    ([[T0, 2.1, 2, 0.5, 1.5, 1]], "inconsistent kline row (need low <= open, close <= high and volume >= 0)"),
    ([[T0, 1, 2, 0.5, 2.1, 1]], "inconsistent kline row (need low <= open, close <= high and volume >= 0)"),
    ([[T0, 1, 2, 0.5, 1.5, -1]], "inconsistent kline row (need low <= open, close <= high and volume >= 0)"),
])
def test_bad_rows_are_refused_with_the_payload(rows, reason):
    with pytest.raises(BadMessage) as err:
        make_toy()().parse_rest_klines(rows)
    assert str(err.value) == f"toy: {reason}: {rows}"


def test_rows_with_fractional_volume_below_one_are_fine():
    frame = make_toy()().parse_rest_klines([[T0, 1, 1, 1, 1, 0.001]])
    assert frame["volume"].tolist() == [0.001]


# -- tickers ----------------------------------------------------------------------------------------------------------
def test_ticker_frame_from_base_volume():
    top = make_toy()().parse_tickers([{"s": "ETHUSDT", "p": "2000", "v": "3"},
                                      {"s": "BTCUSDT", "p": "100000", "v": "2"}])
    assert list(top.columns) == TICKER_COLUMNS
    assert top.to_dict("list") == {"symbol": ["BTCUSDT", "ETHUSDT"], "last_price": [100000.0, 2000.0],
                                   "quote_volume_24h": [200000.0, 6000.0]}


def test_tickers_of_equal_volume_keep_the_exchange_order(bybit):
    items = [{"symbol": f"C{i:02d}USDT", "lastPrice": "1", "turnover24h": str(i % 3)} for i in range(60)]
    top = bybit.parse_tickers({"retCode": 0, "result": {"list": items}})
    expected = [f"C{i:02d}USDT" for v in (2, 1, 0) for i in range(60) if i % 3 == v]
    assert top["symbol"].tolist() == expected and top.index.tolist() == list(range(60))


def test_ticker_names_that_cannot_be_folders_are_logged_and_left_out(bybit, caplog):
    items = [{"symbol": "BTCUSDT", "lastPrice": "1", "turnover24h": "5"},
             {"symbol": "../../etc", "lastPrice": "1", "turnover24h": "9"},
             {"symbol": "ETHUSDT", "lastPrice": "1", "turnover24h": "3"},
             {"symbol": "SOLUSDT", "lastPrice": "1", "turnover24h": "4"}]
    with caplog.at_level(logging.ERROR, logger="twinstar_gui.exchanges.base"):
        top = bybit.parse_tickers({"retCode": 0, "result": {"list": items}})
    assert top["symbol"].tolist() == ["BTCUSDT", "SOLUSDT", "ETHUSDT"]
    (rec,) = caplog.records
    assert rec.levelno == logging.ERROR
    assert rec.getMessage().startswith("bybit: ticker for a symbol refused: symbol name '../../etc' is not allowed")


def test_tickers_that_are_not_a_list_are_refused():
    with pytest.raises(BadMessage) as err:
        make_toy()().parse_tickers({"s": "BTCUSDT"})
    assert str(err.value) == "toy: tickers are not a list: {'s': 'BTCUSDT'}"


@pytest.mark.parametrize("item, message", [
    ({"p": "1", "v": "1"}, "toy: ticker item without s: {'p': '1', 'v': '1'}"),
    (["s", "p", "v"], "toy: ticker item without s: ['s', 'p', 'v']"),
    ({"s": "BTCUSDT", "v": "1"}, "toy: p is None, expected a number: {'s': 'BTCUSDT', 'v': '1'}"),
    ({"s": "BTCUSDT", "p": "1", "v": "-"}, "toy: v is '-', expected a number: {'s': 'BTCUSDT', 'p': '1', 'v': '-'}"),
    ({"s": "BTCUSDT", "p": "1", "v": "NaN"}, "toy: v is not finite ('NaN'): {'s': 'BTCUSDT', 'p': '1', 'v': 'NaN'}"),
])
def test_an_odd_ticker_item_costs_its_symbol_not_the_list(item, message, caplog):
    """One bad item (a "NaN" volume) used to fail the whole list, so `--symbols top:N` could not start."""
    good = {"s": "ETHUSDT", "p": "2", "v": "3"}
    with caplog.at_level(logging.ERROR, logger="twinstar_gui.exchanges.base"):
        top = make_toy()().parse_tickers([item, good])
    assert top["symbol"].tolist() == ["ETHUSDT"]
    (rec,) = caplog.records
    assert rec.getMessage() == f"toy: 1 ticker item(s) refused, e.g. {message}"


# -- error bodies -----------------------------------------------------------------------------------------------------
# each exchange's own error body format, and nothing else: a gateway's or a proxy's JSON error is not the exchange
# speaking (its 404 must never read as Upbit's "no such market")
@pytest.mark.parametrize("exchange, payload, expected", [
    ("bybit", {"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {}},
     (10001, "params error: symbol invalid")),
    ("bybit", {"retCode": 10006}, (10006, "")),
    ("bybit", {"code": 404, "msg": "gateway"}, None),
    ("binance", {"code": -1121, "msg": "Invalid symbol."}, (-1121, "Invalid symbol.")),
    ("okx", {"code": "51001", "data": []}, ("51001", "")),
    ("okx", {"error": "not an object", "code": 7, "msg": 12}, (7, "12")),
    ("okx", {"error": {"name": "404", "message": "Code not found"}}, None),
    ("bithumb", {"status": "5500", "message": "Invalid Parameter"}, ("5500", "Invalid Parameter")),
    ("bithumb", {"status": "5600"}, ("5600", "")),
    ("bithumb", {"status": 404, "error": "Not Found"}, None),
    ("bithumb", {"status": 404, "message": "Not Found"}, None),
    ("bithumb", {"error": {"name": "404", "message": "Code not found"}}, ("404", "Code not found")),
    ("upbit", {"error": {"name": "404", "message": "Code not found"}}, ("404", "Code not found")),
    ("upbit", {"error": {"name": "too_many_requests"}}, ("too_many_requests", "")),
    ("upbit", {"status": 404, "error": "Not Found"}, None),
    ("upbit", {"code": 404, "msg": "Not Found"}, None),
    ("bingx", {"data": []}, None),
    ("bingx", [{"code": 1}], None),
    ("bitget", "code", None),
])
def test_error_of_reads_each_exchange_format(exchange, payload, expected):
    assert get_exchange(exchange).error_of(payload) == expected


def test_a_gateways_404_page_is_no_verdict_on_a_symbol():
    for exchange, body in (("upbit", {"status": 404, "error": "Not Found"}), ("bithumb", {"status": 404})):
        adapter = get_exchange(exchange)
        code = (adapter.error_of(body) or (None, ""))[0]
        assert not adapter.is_unknown_symbol(ExchangeError(exchange, "Not Found", code=code, status=404))


# -- heartbeat defaults -----------------------------------------------------------------------------------------------
def test_plain_text_pong_is_the_default():
    okx = get_exchange("okx")  # OKX answers our text `ping` with a text `pong`
    assert okx.is_pong("pong") is True and okx.is_pong(b"pong") is True
    for other in ("PONG", "ping", "pong ", b"PONG", '{"op":"pong"}', ""):
        assert okx.is_pong(other) is False, other
    assert okx.heartbeat_reply("ping") is None


def test_numbers_come_back_as_float64():
    frame = make_toy()().parse_rest_klines([[T0, "1", "2", "0.5", "1.5", "10"]])
    assert all(frame[c].dtype == np.float64 for c in KLINE_COLUMNS[1:])
