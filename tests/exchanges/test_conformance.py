"""Every adapter against the same contract: real recorded frames, documented samples, errors, symbols."""
import gzip
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from twinstar_gui.core.models import KlineEvent, SubscriptionAck, TickerEvent, TradeEvent
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.exchanges import BadMessage, ExchangeError, exchange_names, get_exchange

FIX = Path(__file__).resolve().parents[1] / "fixtures"
ALL = ["bybit", "binance", "okx", "bitget", "bingx", "upbit", "bithumb"]
NATIVE = {"bybit": "BTCUSDT", "binance": "BTCUSDT", "okx": "BTC-USDT-SWAP", "bitget": "BTCUSDT",
          "bingx": "BTC-USDT", "upbit": "KRW-BTC", "bithumb": "BTC_KRW"}
QUOTE = {"upbit": "KRW", "bithumb": "KRW"}
# every sample REST response holds the same three 15m candles (11:30, 11:45, 12:00 UTC on 2025-01-15)
USDT_ROW0 = [97012.3, 97188.0, 96950.1, 97120.5]
KRW_ROW2 = [143700000.0, 143750000.0, 143610000.0, 143655000.0]
ERRORS = {
    "bybit": {"retCode": 10001, "retMsg": "params error: symbol invalid", "result": {}},
    "binance": {"code": -1121, "msg": "Invalid symbol."},
    "okx": {"code": "51001", "msg": "Instrument ID does not exist", "data": []},
    "bitget": {"code": "40034", "msg": "Parameter does not exist", "data": None},
    "bingx": {"code": 109400, "msg": "symbol not exist", "data": {}},
    "upbit": {"error": {"name": "404", "message": "Code not found"}},
    "bithumb": {"status": "5500", "message": "Invalid Parameter"},
}
ERROR_CODE = {"bybit": 10001, "binance": -1121, "okx": "51001", "bitget": "40034", "bingx": 109400, "upbit": "404",
              "bithumb": "5500"}


# what the recorded non-candle frames (acks, pongs, tickers, trades) hold: events by type, "nothing" for a frame
# that gives none (an ack, a pong, a channel we do not use)
OTHER_FRAMES = {"bybit": {"TickerEvent": 1, "nothing": 6, "TradeEvent": 8},
                "binance": {"nothing": 5, "TradeEvent": 3},
                "okx": {"nothing": 6, "TickerEvent": 3, "TradeEvent": 3},
                "bitget": {"nothing": 9, "TickerEvent": 3},
                "bingx": {},
                "upbit": {"TradeEvent": 6, "nothing": 3},
                "bithumb": {"nothing": 2, "TradeEvent": 7}}


def frames(exchange, name):
    p = FIX / exchange / name
    return [l for l in p.read_text().splitlines() if l.strip()] if p.exists() else []


def wire(exchange, text):
    """What the socket delivers: BingX gzips every frame, Upbit sends binary UTF-8."""
    if exchange == "bingx":
        return gzip.compress(text.encode())
    if exchange == "upbit":
        return text.encode()
    return text


def test_registry_names_all_seven():
    assert exchange_names() == ALL
    with pytest.raises(ValueError) as err:
        get_exchange("kraken")
    assert all(n in str(err.value) for n in ALL)


@pytest.mark.parametrize("exchange", ALL)
def test_symbols_round_trip(exchange):
    a = get_exchange(exchange)
    native = a.native_symbol("btc", QUOTE.get(exchange, "usdt"))
    assert native == NATIVE[exchange]
    assert a.split_symbol(native) == ("BTC", QUOTE.get(exchange, "USDT"))
    with pytest.raises(ValueError, match=exchange):
        a.split_symbol("???")


@pytest.mark.parametrize("exchange", ALL)
def test_rest_sample_is_normalised(exchange):
    a = get_exchange(exchange)
    frame = a.parse_rest_klines(json.loads((FIX / exchange / "rest_klines.json").read_text()))
    assert list(frame.columns) == ["timestamp", "open", "high", "low", "close", "volume"]
    assert str(frame["timestamp"].dtype) == "datetime64[ms, UTC]" and frame["timestamp"].is_monotonic_increasing
    assert frame["timestamp"].tolist() == list(pd.to_datetime(
        ["2025-01-15 11:30", "2025-01-15 11:45", "2025-01-15 12:00"], utc=True))
    if exchange in QUOTE:
        assert frame.iloc[2][["open", "high", "low", "close"]].tolist() == KRW_ROW2
    else:
        assert frame.iloc[0][["open", "high", "low", "close"]].tolist() == USDT_ROW0
        assert frame["volume"].iloc[0] == pytest.approx(1523.412, abs=0.01)


@pytest.mark.parametrize("exchange", ALL)
def test_error_envelopes_raise_exchange_error(exchange):
    with pytest.raises(ExchangeError) as err:
        get_exchange(exchange).parse_rest_klines(ERRORS[exchange])
    assert err.value.code == ERROR_CODE[exchange] and exchange in str(err.value)


@pytest.mark.parametrize("exchange", ALL)
def test_documented_ws_samples(exchange):
    a = get_exchange(exchange)
    opened = frames(exchange, "ws_kline_open.json")
    if opened:
        ev = a.parse_ws_message(wire(exchange, (FIX / exchange / "ws_kline_open.json").read_text()))
        assert len(ev) == 1 and isinstance(ev[0], KlineEvent) and ev[0].timeframe == "15m"
        assert ev[0].open_time == 1736942400000 and ev[0].closed in (False, None)
    closed = FIX / exchange / "ws_kline_closed.json"
    if closed.exists():
        ev = a.parse_ws_message(wire(exchange, closed.read_text()))
        assert ev[0].closed is True and ev[0].open_time == 1736941500000 and ev[0].close == 97198.7
    ticker = a.parse_ws_message(wire(exchange, (FIX / exchange / "ws_ticker.json").read_text()))
    assert len(ticker) == 1 and isinstance(ticker[0], TickerEvent) and ticker[0].price in (97205.3, 143655000.0)
    for ack in ("ws_ack.json", "ws_status_up.json", "ws_connected.json"):
        if (FIX / exchange / ack).exists():
            assert a.parse_ws_message(wire(exchange, (FIX / exchange / ack).read_text())) == []


def test_no_close_flag_exchanges_say_none():
    for exchange in ("bitget", "bingx", "upbit"):
        frame = wire(exchange, (FIX / exchange / "ws_kline_open.json").read_text())
        ev = get_exchange(exchange).parse_ws_message(frame)
        assert ev[0].closed is None


@pytest.mark.parametrize("exchange", ALL)
def test_real_frames_parse_or_fail_cleanly(exchange):
    a = get_exchange(exchange)
    klines = frames(exchange, "ws_kline.jsonl")
    for f in klines:
        events = a.parse_ws_message(wire(exchange, f))
        assert events and all(isinstance(e, KlineEvent) for e in events)
        for e in events:
            assert e.low <= min(e.open, e.close) <= max(e.open, e.close) <= e.high and e.volume >= 0
    # every recorded non-candle frame parses (none may be skipped as bad), into what it holds
    kinds: dict[str, int] = {}
    for f in frames(exchange, "ws_other.jsonl"):
        events = a.parse_ws_message(wire(exchange, f))
        assert all(isinstance(e, (TickerEvent, TradeEvent, SubscriptionAck)) for e in events)
        for name in [type(e).__name__ for e in events] or ["nothing"]:
            kinds[name] = kinds.get(name, 0) + 1
    assert kinds == OTHER_FRAMES[exchange]


def test_real_frame_values():
    bn = get_exchange("binance").parse_ws_message(frames("binance", "ws_kline.jsonl")[0])[0]
    assert (bn.symbol, bn.timeframe, bn.open_time, bn.open, bn.close, bn.volume, bn.closed) == (
        "CTKUSDT", "1m", 1626992700000, 1.01, 1.011, 3917.0, False)
    assert sum(e.closed is True for f in frames("binance", "ws_kline.jsonl")
               for e in get_exchange("binance").parse_ws_message(f)) == 4
    okx = get_exchange("okx").parse_ws_message(frames("okx", "ws_kline.jsonl")[4])[0]
    assert (okx.symbol, okx.open_time, okx.high, okx.low, okx.volume, okx.closed) == (
        "BTC-USDT-SWAP", 1662716640000, 20710.0, 20702.3, 40.7, None)  # old 7-column rows: no flag
    bg = [e for f in frames("bitget", "ws_kline.jsonl") for e in get_exchange("bitget").parse_ws_message(f)]
    assert len(bg) > 2000 and all(e.closed is None and e.timeframe == "1m" for e in bg)
    trades = get_exchange("bithumb").parse_ws_message(frames("bithumb", "ws_other.jsonl")[2])
    assert trades == [TradeEvent("bithumb", "CON_KRW", 3.908, 1622591014555, 12365.191)]  # KST -> UTC
    up = get_exchange("upbit").parse_ws_message(frames("upbit", "ws_other.jsonl")[0].encode())
    assert up == [TradeEvent("upbit", "KRW-LAMB", 127.0, 1618678262000, 46.48838371)]


def test_bithumb_legacy_rest_row_order_is_open_close_high_low():
    bithumb = get_exchange("bithumb")
    frame = bithumb.parse_rest_klines(json.loads((FIX / "bithumb" / "rest_klines_legacy_30m.json").read_text()))
    assert frame.iloc[-1][["open", "high", "low", "close"]].tolist() == KRW_ROW2
    frame = bithumb.parse_rest_klines(json.loads((FIX / "bithumb" / "rest_klines.ccxt-fixture.json").read_text()))
    assert frame.iloc[0][["open", "high", "low", "close"]].tolist() == [81061000.0, 81062000.0, 80860000.0, 80860000.0]


def test_subscribe_messages_match_the_documented_samples():
    def same(exchange, topics, drop=()):
        got = json.loads(get_exchange(exchange).subscribe_message(topics))
        want = json.loads((FIX / exchange / "ws_subscribe.json").read_text())
        for k in drop:
            (got[0] if isinstance(got, list) else got).pop(k, None)
            (want[0] if isinstance(want, list) else want).pop(k, None)
        assert got == want, exchange

    same("bybit", ["kline.15.BTCUSDT", "tickers.BTCUSDT"], drop=("req_id",))
    same("binance", ["btcusdt@kline_15m", "btcusdt@ticker"], drop=("id",))
    same("okx", ["candle15m:BTC-USDT-SWAP"])
    same("bitget", ["candle15m:BTCUSDT", "ticker:BTCUSDT"])
    same("bingx", ["BTC-USDT@kline_15m"], drop=("id",))
    same("upbit", ["candle.15m:KRW-BTC", "ticker:KRW-BTC"], drop=("ticket",))
    same("bithumb", ["ticker:BTC_KRW"])
    a = get_exchange("okx")
    assert a.kline_topic("BTC-USDT-SWAP", Timeframe.M15) == "candle15m:BTC-USDT-SWAP" and a.ticker_topic("x") is None


def test_heartbeats():
    bingx = get_exchange("bingx")
    assert bingx.heartbeat_reply(gzip.compress(b"Ping")) == "Pong"
    assert bingx.parse_ws_message(gzip.compress(b"Ping")) == []
    assert bingx.heartbeat_reply(gzip.compress(b'{"code":0}')) is None
    assert get_exchange("okx").heartbeat_message() == "ping" and get_exchange("okx").parse_ws_message("pong") == []
    assert get_exchange("bitget").heartbeat_message() == "ping"
    assert get_exchange("upbit").heartbeat_message() == "PING"
    assert get_exchange("binance").heartbeat_message() is None and get_exchange("bithumb").protocol_ping_interval


def test_bingx_rejects_non_gzip_binary_and_bombs():
    with pytest.raises(BadMessage, match="gzip"):
        get_exchange("bingx").parse_ws_message(b"\x00\x01 plain bytes")
    with pytest.raises(BadMessage, match="4 MiB"):
        get_exchange("bingx").parse_ws_message(gzip.compress(b" " * (5 * 1024 * 1024)))


@pytest.mark.parametrize("exchange", ALL)
def test_url_overrides(exchange, monkeypatch):
    monkeypatch.setenv(f"TWINSTAR_{exchange.upper()}_REST_URL", f"http://127.0.0.1:1/{exchange}")
    monkeypatch.setenv(f"TWINSTAR_{exchange.upper()}_WS_URL", f"ws://127.0.0.1:1/{exchange}/ws")
    a = get_exchange(exchange)
    req = a.kline_request(NATIVE[exchange], Timeframe.M15, 1736940600000, 1736942399999)
    assert req.url.startswith(f"http://127.0.0.1:1/{exchange}/") and a.ws_url == f"ws://127.0.0.1:1/{exchange}/ws"
    assert all(not (isinstance(v, float) and math.isnan(v)) for v in req.params.values())
