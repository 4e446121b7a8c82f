"""The op/args WebSocket dialect OKX and Bitget share, through the adapters that use it."""
import json

import pytest

from twinstar_gui.core.errors import BadMessage
from twinstar_gui.core.models import KlineEvent, SubscriptionAck, TickerEvent
from twinstar_gui.exchanges.registry import get_exchange


@pytest.fixture
def okx():
    return get_exchange("okx")


@pytest.fixture
def bitget():
    return get_exchange("bitget")


def test_subscribe_and_unsubscribe_carry_one_arg_per_topic(okx):
    topics = ["candle15m:BTC-USDT-SWAP", "trades:ETH-USDT-SWAP"]
    args = [{"channel": "candle15m", "instId": "BTC-USDT-SWAP"}, {"channel": "trades", "instId": "ETH-USDT-SWAP"}]
    assert json.loads(okx.subscribe_message(topics, "7")) == {"op": "subscribe", "args": args}
    assert json.loads(okx.unsubscribe_message(topics, "8")) == {"op": "unsubscribe", "args": args}


def test_bitget_args_carry_the_product_type(bitget):
    msg = json.loads(bitget.unsubscribe_message(["ticker:BTCUSDT"]))
    assert msg == {"op": "unsubscribe",
                   "args": [{"instType": "USDT-FUTURES", "channel": "ticker", "instId": "BTCUSDT"}]}
    assert json.loads(bitget.subscribe_message(["ticker:BTCUSDT"]))["op"] == "subscribe"


@pytest.mark.parametrize("name", ["okx", "bitget"])
@pytest.mark.parametrize("raw", ["pong", b"pong"])
def test_pong_is_not_market_data(name, raw):
    assert get_exchange(name).parse_ws_message(raw) == []


@pytest.mark.parametrize("name", ["okx", "bitget"])
@pytest.mark.parametrize("frame", [
    {"event": "subscribe", "arg": {"channel": "candle15m", "instId": "BTC-USDT-SWAP"}},
    {"event": "unsubscribe", "arg": {"channel": "candle15m", "instId": "BTC-USDT-SWAP"}},
    {"event": "login", "code": "0"},
    {"event": "notice", "msg": "the service will be upgraded"},
])
def test_acks_and_notices_are_not_market_data(name, frame):
    assert get_exchange(name).parse_ws_message(json.dumps(frame)) == []


def test_a_rejected_subscription_is_reported_with_code_and_reason(okx, bitget):
    raw = '{"event":"error","code":"60012","msg":"Invalid request: {\\"op\\": \\"subscribe\\"}","connId":"a4d3ae55"}'
    assert okx.parse_ws_message(raw) == [
        SubscriptionAck("okx", False, "subscribe", '60012: Invalid request: {"op": "subscribe"}')]
    assert bitget.parse_ws_message(b'{"event":"error","code":30001,"msg":"instType:sp,channel:x doesn\'t exist"}') == [
        SubscriptionAck("bitget", False, "subscribe", "30001: instType:sp,channel:x doesn't exist")]
    assert okx.parse_ws_message('{"event":"error","code":"60018"}') == [
        SubscriptionAck("okx", False, "subscribe", "60018: ")]


def test_a_data_push_reaches_the_exchange_parser(okx, bitget):
    raw = ('{"arg":{"channel":"candle15m","instId":"BTC-USDT-SWAP"},"data":[["1736899200000","100","110","90",'
           '"105","5","0.5","525","1"]]}')
    assert okx.parse_ws_message(raw) == [
        KlineEvent("okx", "BTC-USDT-SWAP", "15m", 1736899200000, 100.0, 110.0, 90.0, 105.0, 0.5, True)]
    raw = ('{"action":"update","arg":{"instType":"USDT-FUTURES","channel":"ticker","instId":"ETHUSDT"},'
           '"data":[{"lastPr":"3000.5","ts":"1736899200123"}],"ts":1736899200200}')
    assert bitget.parse_ws_message(raw) == [TickerEvent("bitget", "ETHUSDT", 3000.5, 1736899200123)]


@pytest.mark.parametrize("name", ["okx", "bitget"])
def test_a_candle_push_without_an_instrument_is_refused(name):
    raw = '{"arg":{"channel":"candle15m"},"data":[["1736899200000","1","1","1","1","1","1","1","1"]]}'
    with pytest.raises(BadMessage, match="candle channel 'candle15m' not understood"):
        get_exchange(name).parse_ws_message(raw)


@pytest.mark.parametrize("name", ["okx", "bitget"])
@pytest.mark.parametrize("raw,why", [
    ("[1, 2]", "frame is not a JSON object: "),
    ('"pong"', "frame is not a JSON object: "),
    ("{not json", "not JSON ("),
    ('{"arg":{"channel":"tickers","instId":"X"}}', "frame has neither event nor arg/data: "),
    ('{"data":[]}', "frame has neither event nor arg/data: "),
    ('{"arg":"tickers","data":[]}', "frame has neither event nor arg/data: "),
    ('{"arg":{"instId":"X"},"data":[]}', "frame has neither event nor arg/data: "),
    ('{"arg":{"channel":5,"instId":"X"},"data":[]}', "frame has neither event nor arg/data: "),
    ('{"arg":{"channel":"tickers","instId":"X"},"data":{"last":"1"}}', "frame has neither event nor arg/data: "),
    ('{"event":7,"arg":{"channel":"tickers"}}', "frame has neither event nor arg/data: "),
])
def test_frames_of_another_shape_are_bad_messages_naming_exchange_and_payload(name, raw, why):
    with pytest.raises(BadMessage) as err:
        get_exchange(name).parse_ws_message(raw)
    text = str(err.value)
    assert text.startswith(f"{name}: {why}") and raw[:8] in text
