"""Domain values: merging candles of one group, an event's candle, defaults a parser may leave out."""
import dataclasses

import pytest

from twinstar_gui.core.models import Candle, KlineEvent, SubscriptionAck, TickerEvent, TradeEvent

T0 = 1_736_899_200_000


def test_merging_keeps_the_first_open_and_time_the_extremes_and_the_last_close():
    first = Candle(T0, 10.0, 12.0, 9.0, 11.0, 1.5)
    later = Candle(T0 + 900_000, 11.0, 15.0, 9.5, 14.0, 2.0)
    assert first.merged_with(later) == Candle(T0, 10.0, 15.0, 9.0, 14.0, 3.5)
    # the other way round: the later candle's low is the lower one, the first's high the higher one
    calm = Candle(T0 + 900_000, 11.0, 11.5, 8.0, 8.5, 0.25)
    assert first.merged_with(calm) == Candle(T0, 10.0, 12.0, 8.0, 8.5, 1.75)


def test_kline_event_gives_its_candle_and_keeps_the_exchange_flag():
    ev = KlineEvent("bybit", "BTCUSDT", "15m", T0, 1.0, 4.0, 0.5, 3.0, 7.0, None)
    assert ev.candle() == Candle(T0, 1.0, 4.0, 0.5, 3.0, 7.0)
    assert ev.closed is None and ev.exchange == "bybit" and ev.symbol == "BTCUSDT" and ev.timeframe == "15m"


def test_values_are_frozen():
    c = Candle(T0, 1.0, 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.close = 2.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        TickerEvent("okx", "BTC-USDT", 1.0, T0).price = 2.0  # type: ignore[misc]


def test_defaults_a_parser_may_leave_out():
    assert TradeEvent("bithumb", "BTC_KRW", 100.0, T0).size == 0.0
    ack = SubscriptionAck("okx", False, "subscribe", "60012: Invalid request")
    assert ack.request_id == "" and ack.ok is False and ack.message == "60012: Invalid request"
