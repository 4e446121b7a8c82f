from twinstar_gui.core.models import Candle
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.core.trades import TradeCandles

T0 = 1_736_942_400_000  # 12:00 UTC
Q = Timeframe.M15.ms


def test_trades_build_the_forming_candle_and_report_the_one_they_close():
    b = TradeCandles()
    assert b.add(100.0, 1.0, T0 + 5) is None
    assert b.add(103.0, 0.5, T0 + 60_000) is None
    assert b.add(99.0, 2.0, T0 + 120_000) is None
    assert b.add(101.0, 1.0, T0 + Q - 1) is None
    assert b.forming == Candle(T0, 100.0, 103.0, 99.0, 101.0, 4.5)
    ended = b.add(102.0, 1.0, T0 + Q + 3)  # the first trade of the next bucket closes the previous one
    assert ended == Candle(T0, 100.0, 103.0, 99.0, 101.0, 4.5)
    assert b.forming == Candle(T0 + Q, 102.0, 102.0, 102.0, 102.0, 1.0)
    assert b.add(50.0, 9.0, T0 + 10) is None and b.forming.low == 102.0  # a late trade does not rewrite


def test_quiet_buckets_are_skipped():
    b = TradeCandles(Timeframe.H1)
    b.add(1.0, 1.0, 0)
    ended = b.add(2.0, 1.0, 5 * Timeframe.H1.ms + 7)
    assert ended.open_time == 0 and b.forming.open_time == 5 * Timeframe.H1.ms
