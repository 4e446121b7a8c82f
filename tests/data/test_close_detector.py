"""The one close detector, on its own: what each input from a stream means, for an exchange with a close flag
(Bybit/Binance/OKX), one without (a newer bucket ends the previous one: REST has its final values), one with only
trades (Bithumb), and a silent stream (the deadline). No sockets here: the series tests cover the wiring."""
from twinstar_gui.core.models import Candle
from twinstar_gui.data.close import (
    MAX_CLOCK_SKEW_MS,
    STREAK_TO_FOLLOW,
    CloseDetector,
    ConfirmByRest,
    Forming,
    StreamClosed,
)

M = 15 * 60_000
T0 = 1_700_000_100_000 // M * M


def candle(i: int, close: float = 100.0) -> Candle:
    return Candle(T0 + i * M, 100.0, max(100.0, close), min(100.0, close), close, 1.0)


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def detector(now: int = T0 + 5 * M) -> tuple[CloseDetector, Clock]:
    clock = Clock(now)
    d = CloseDetector("test X/USDT:USDT", clock)
    return d, clock


def test_an_exchange_flag_closes_and_forming_candles_only_move_the_chart():
    d, _ = detector()
    assert d.kline(candle(4, 101.0), False) == [Forming(candle(4, 101.0))]
    assert d.kline(candle(4, 102.0), True) == [StreamClosed(candle(4, 102.0))]
    assert d.forming is None  # the closed one is no longer forming
    d.closed_through(T0 + 4 * M)
    assert d.kline(candle(4, 103.0), False) == []  # a late push of a final candle is not forming again


def test_without_a_flag_a_newer_bucket_asks_rest_for_the_previous_ones_final_values():
    d, _ = detector()
    assert d.kline(candle(3), None) == [Forming(candle(3))]
    assert d.kline(candle(3, 99.0), None) == [Forming(candle(3, 99.0))]  # same bucket: no verdict on a close
    assert d.kline(candle(4), None) == [ConfirmByRest("rollover"), Forming(candle(4))]


def test_trades_build_the_forming_candle_and_a_trade_in_the_next_bucket_asks_rest():
    d, _ = detector()
    (f,) = d.trade(100.0, 1.0, T0 + 3 * M + 10)
    assert isinstance(f, Forming) and f.candle.open_time == T0 + 3 * M
    (f,) = d.trade(105.0, 2.0, T0 + 3 * M + 20)
    assert (f.candle.high, f.candle.close, f.candle.volume) == (105.0, 105.0, 3.0)
    verdicts = d.trade(104.0, 1.0, T0 + 4 * M + 1)
    assert verdicts[0] == ConfirmByRest("trade rollover") and verdicts[1].candle.open_time == T0 + 4 * M
    d.closed_through(T0 + 4 * M)
    assert d.trade(1.0, 1.0, T0 + 4 * M + 5) == []  # a late trade of a final candle


def test_a_last_price_moves_only_the_forming_candle_of_its_bucket():
    d, _ = detector()
    assert d.price(100.0, T0) == []  # nothing forming yet
    d.kline(candle(4), False)
    (f,) = d.price(110.0, T0 + 4 * M + 1)
    assert (f.candle.high, f.candle.close) == (110.0, 110.0)
    assert d.price(90.0, T0 + 5 * M) == []  # another bucket's price


def test_the_deadline_confirms_a_silent_candle_by_rest_once_after_its_grace():
    d, clock = detector(now=T0 + 4 * M + 60_000)
    d.kline(candle(4), False)
    assert d.deadline(grace_ms=5_000) == []  # its bucket is not over
    clock.ms = T0 + 5 * M + 4_000
    assert d.deadline(grace_ms=5_000) == []  # within the grace
    clock.ms = T0 + 5 * M + 6_000
    assert d.deadline(grace_ms=5_000) == [ConfirmByRest("deadline")]
    assert d.deadline(grace_ms=5_000) == []  # once per candle
    d2, clock2 = detector(now=T0 + 5 * M + 60_000)
    d2.kline(candle(4), False)
    d2.closed_through(T0 + 4 * M)
    assert d2.deadline(grace_ms=5_000) == []  # closed already: nothing to confirm


def test_the_exchanges_clock_moves_the_deadline():
    d, clock = detector(now=T0 + 5 * M - 60_000)  # our clock a minute behind the end of bucket 4
    d.kline(candle(4), False)
    d.server_clock(T0 + 5 * M + 10_000)  # the exchange says its bucket 4 ended 10 s ago
    assert d.exchange_now() == T0 + 5 * M + 10_000
    assert d.deadline(grace_ms=5_000) == [ConfirmByRest("deadline")]


def test_a_candle_from_the_future_is_ignored_until_the_stream_keeps_going_bucket_after_bucket():
    d, clock = detector(now=T0 + 5 * M)
    d.closed_through(T0 + 4 * M)
    far = T0 + 5 * M + MAX_CLOCK_SKEW_MS + 10 * M  # beyond the skew and beyond six buckets past the last close
    forged = Candle(far, 1.0, 1.0, 1.0, 1.0, 1.0)
    assert d.kline(forged, True) == [] and d.last_closed == T0 + 4 * M
    # the forged close said the stream is in bucket far+M; forming candles of far+M, +2M, ... follow on
    seen = [d.kline(Candle(far + k * M, 1.0, 1.0, 1.0, 1.0, 1.0), False) for k in range(1, STREAK_TO_FOLLOW + 2)]
    assert all(v == [] for v in seen[:-1]) and isinstance(seen[-1][-1], Forming)  # then followed: our clock is off


def test_before_any_history_the_stream_is_the_only_clock():
    d, _ = detector(now=T0)
    ahead = Candle(T0 + 100 * M, 1.0, 1.0, 1.0, 1.0, 1.0)
    assert d.kline(ahead, False) == [Forming(ahead)]
