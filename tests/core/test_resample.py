import numpy as np
import pandas as pd
import pytest

from twinstar_gui.core.models import Candle
from twinstar_gui.core.resample import GroupResampler, resample_complete
from twinstar_gui.core.timeframe import Timeframe

T0 = 1_736_899_200_000  # 2025-01-15 00:00 UTC
Q = 900_000


def c(i, o, h, l, cl, v=1.0):
    return Candle(T0 + i * Q, o, h, l, cl, v)


def test_hour_emitted_only_when_group_complete():
    rs = GroupResampler(Timeframe.H1)
    assert rs.add(c(0, 10, 12, 9, 11, 1)) is None
    assert rs.add(c(1, 11, 15, 10, 14, 2)) is None
    assert rs.add(c(2, 14, 14, 8, 9, 3)) is None
    hour = rs.add(c(3, 9, 10, 9, 10, 4))
    assert hour == Candle(T0, 10, 15, 8, 10, 10)


def test_group_with_hole_is_never_emitted_next_group_is():
    rs = GroupResampler(Timeframe.H1)
    out = rs.add_many([c(0, 1, 1, 1, 1), c(1, 1, 1, 1, 1), c(3, 1, 1, 1, 1)])  # 00:30 missing
    assert out == []
    out = rs.add_many([c(i, 2, 3, 1, 2) for i in range(4, 8)])
    assert out == [Candle(T0 + 4 * Q, 2, 3, 1, 2, 4.0)]


def test_start_mid_group_and_duplicates():
    rs = GroupResampler(Timeframe.H1)
    assert rs.add_many([c(2, 1, 1, 1, 1), c(3, 1, 1, 1, 1)]) == []  # joined at 00:30: first hour partial
    assert rs.add(c(3, 5, 5, 5, 5)) is None  # duplicate ignored
    assert len(rs.add_many([c(i, 1, 2, 0.5, 1) for i in range(4, 8)])) == 1


def test_day_groups_align_to_utc_midnight():
    rs = GroupResampler(Timeframe.D1)
    out = rs.add_many([c(i, 1, 1 + i, 1, 1) for i in range(96 + 10)])
    assert len(out) == 1 and out[0].open_time == T0 and out[0].high == 96.0 and out[0].volume == 96.0


@pytest.mark.parametrize("tf", [Timeframe.H1, Timeframe.H4, Timeframe.D1])
def test_vectorised_equals_incremental_with_holes(tf):
    rng = np.random.default_rng(5)
    idx = np.sort(rng.choice(np.arange(3000), 2900, replace=False))
    close = 100 + rng.normal(0, 1, len(idx)).cumsum()
    frame = pd.DataFrame({"timestamp": T0 + idx * Q, "open": close + 0.1, "high": close + 1, "low": close - 1,
                          "close": close, "volume": rng.random(len(idx))})
    vec = resample_complete(frame, tf)
    inc = GroupResampler(tf).add_many(Candle(int(r.timestamp), r.open, r.high, r.low, r.close, r.volume)
                                       for r in frame.itertuples())
    assert len(vec) == len(inc) > 0
    assert vec["timestamp"].tolist() == [x.open_time for x in inc]
    np.testing.assert_allclose(vec["volume"], [x.volume for x in inc])
    np.testing.assert_array_equal(vec["high"], [x.high for x in inc])


COLS = ["timestamp", "open", "high", "low", "close", "volume"]


def frame_of(rows):
    return pd.DataFrame(rows, columns=COLS)


# Two complete hours with every extreme somewhere else than the first or last candle:
#   00:00  o 10  h 12  l 9    c 11   v 1
#   00:15  o 11  h 15  l 10   c 14   v 2      <- high of the hour
#   00:30  o 14  h 14  l 8    c 9    v 3      <- low of the hour
#   00:45  o 9   h 10  l 9    c 9.5  v 4      => 10 / 15 / 8 / 9.5 / 10
#   01:00  o 20  h 21  l 19   c 20   v 0.5
#   01:15  o 20  h 20  l 18   c 19   v 0.5    <- low
#   01:30  o 19  h 25  l 19   c 24   v 0.5    <- high
#   01:45  o 24  h 24  l 22   c 23   v 0.5    => 20 / 25 / 18 / 23 / 2
TWO_HOURS = [c(0, 10, 12, 9, 11, 1), c(1, 11, 15, 10, 14, 2), c(2, 14, 14, 8, 9, 3), c(3, 9, 10, 9, 9.5, 4),
             c(4, 20, 21, 19, 20, 0.5), c(5, 20, 20, 18, 19, 0.5), c(6, 19, 25, 19, 24, 0.5), c(7, 24, 24, 22, 23, 0.5)]
HOURS = [Candle(T0, 10, 15, 8, 9.5, 10), Candle(T0 + 4 * Q, 20, 25, 18, 23, 2)]


def rows_of(candles):
    return [(x.open_time, x.open, x.high, x.low, x.close, x.volume) for x in candles]


def candles_of(frame):
    return [Candle(int(r.timestamp), r.open, r.high, r.low, r.close, r.volume) for r in frame.itertuples()]


def test_vectorised_ohlcv_of_each_group():
    out = resample_complete(frame_of(rows_of(TWO_HOURS)), Timeframe.H1)
    assert out.columns.tolist() == COLS
    assert candles_of(out) == HOURS


def test_incremental_ohlcv_of_each_group():
    assert GroupResampler(Timeframe.H1).add_many(TWO_HOURS) == HOURS


def test_datetime_timestamps_stay_datetimes():
    frame = frame_of(rows_of(TWO_HOURS))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
    frame["source"] = "ws"  # extra columns are left out
    out = resample_complete(frame, Timeframe.H1)
    assert out.columns.tolist() == COLS and str(out["timestamp"].dtype) == "datetime64[ms, UTC]"
    assert out["timestamp"].tolist() == [pd.Timestamp(T0, unit="ms", tz="UTC"),
                                         pd.Timestamp(T0 + 4 * Q, unit="ms", tz="UTC")]
    assert out[COLS[1:]].to_numpy().tolist() == [[10, 15, 8, 9.5, 10], [20, 25, 18, 23, 2]]


def test_float_millisecond_timestamps_give_integer_open_times():
    frame = frame_of(rows_of(TWO_HOURS)).astype({"timestamp": "float64"})  # e.g. read back from a CSV
    out = resample_complete(frame, Timeframe.H1)
    assert out["timestamp"].dtype == np.int64 and out["timestamp"].tolist() == [T0, T0 + 4 * Q]


def test_naive_datetimes_are_utc():
    frame = frame_of(rows_of(TWO_HOURS))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms")
    out = resample_complete(frame, Timeframe.H1)
    assert str(out["timestamp"].dtype) == "datetime64[ms, UTC]"
    assert out["timestamp"].tolist() == [pd.Timestamp(T0, unit="ms", tz="UTC"),
                                         pd.Timestamp(T0 + 4 * Q, unit="ms", tz="UTC")]


def test_empty_frame_gives_an_empty_frame_of_the_columns():
    frame = frame_of([]).assign(source=[])
    out = resample_complete(frame, Timeframe.H4)
    assert out.empty and out.columns.tolist() == COLS


def test_incomplete_groups_are_left_out_by_both():
    rows = [x for x in TWO_HOURS if x.open_time != T0 + 6 * Q]  # 01:30 missing
    assert candles_of(resample_complete(frame_of(rows_of(rows)), Timeframe.H1)) == HOURS[:1]
    assert GroupResampler(Timeframe.H1).add_many(rows) == HOURS[:1]
    assert candles_of(resample_complete(frame_of(rows_of(TWO_HOURS[1:])), Timeframe.H1)) == HOURS[1:]


def test_a_duplicate_inside_a_group_counts_once_with_its_first_row():
    dup = c(1, 99, 99, 0.1, 99, 99)  # the same 00:15 again, other values
    rows = TWO_HOURS[:2] + [dup] + TWO_HOURS[2:]
    assert candles_of(resample_complete(frame_of(rows_of(rows)), Timeframe.H1)) == HOURS
    assert GroupResampler(Timeframe.H1).add_many(rows) == HOURS


def test_a_duplicate_does_not_fill_a_hole():
    # 00:15 twice, 00:30 missing: four rows in the hour, but only three candles
    rows = [TWO_HOURS[0], TWO_HOURS[1], c(1, 11, 15, 10, 14, 2), TWO_HOURS[3]] + TWO_HOURS[4:]
    assert candles_of(resample_complete(frame_of(rows_of(rows)), Timeframe.H1)) == HOURS[1:]
    assert GroupResampler(Timeframe.H1).add_many(rows) == HOURS[1:]


def test_resampling_from_another_base():
    # 4h from 1h candles: ratio 4 over the base, not 16 over 15m
    hours = [Candle(T0 + i * 3_600_000, i, i + 2, i - 1, i + 1, 1.0) for i in range(8)]
    expected = [Candle(T0, 0, 5, -1, 4, 4.0), Candle(T0 + 4 * 3_600_000, 4, 9, 3, 8, 4.0)]
    out = resample_complete(frame_of(rows_of(hours)), Timeframe.H4, base=Timeframe.H1)
    assert candles_of(out) == expected
    rs = GroupResampler(Timeframe.H4, base=Timeframe.H1)
    assert rs.target is Timeframe.H4 and rs.base is Timeframe.H1
    assert rs.add_many(hours) == expected


def test_default_base_is_15m():
    rs = GroupResampler(Timeframe.H1)
    assert rs.target is Timeframe.H1 and rs.base is Timeframe.M15


def test_forming_candle_follows_the_group_in_progress():
    rs = GroupResampler(Timeframe.H1)
    assert rs.forming is None
    rs.add(TWO_HOURS[0])
    assert rs.forming == Candle(T0, 10, 12, 9, 11, 1)
    rs.add(TWO_HOURS[1])
    assert rs.forming == Candle(T0, 10, 15, 9, 14, 3)
    rs.add(TWO_HOURS[2])
    assert rs.forming == Candle(T0, 10, 15, 8, 9, 6)
    assert rs.add(TWO_HOURS[3]) == HOURS[0]
    assert rs.forming is None  # emitted: nothing in progress
    rs.add(TWO_HOURS[4])
    assert rs.forming == Candle(T0 + 4 * Q, 20, 21, 19, 20, 0.5)


def test_forming_is_none_for_a_group_joined_late_or_broken():
    rs = GroupResampler(Timeframe.H1)
    rs.add(TWO_HOURS[1])  # joined at 00:15: this hour can never be complete
    assert rs.forming is None
    rs.add(TWO_HOURS[2])
    assert rs.forming is None
    rs.add(TWO_HOURS[4])
    rs.add(TWO_HOURS[6])  # 01:15 missing
    assert rs.forming is None
    assert rs.add(TWO_HOURS[7]) is None


def test_an_older_candle_is_ignored_and_does_not_break_the_group():
    rs = GroupResampler(Timeframe.H1)
    assert rs.add_many(TWO_HOURS[:3]) == []
    assert rs.add(c(0, 1, 100, 0.01, 1, 50)) is None  # late copy of 00:00
    assert rs.add(c(-4, 1, 100, 0.01, 1, 50)) is None  # a candle of the previous hour
    assert rs.add(TWO_HOURS[3]) == HOURS[0]


def test_the_first_candle_seen_may_be_a_group_start():
    rs = GroupResampler(Timeframe.H1)
    assert rs.add_many(TWO_HOURS[4:]) == HOURS[1:]


def test_a_gap_across_groups_starts_the_next_group_cleanly():
    rs = GroupResampler(Timeframe.H1)
    later = [Candle(x.open_time + 8 * Q, x.open, x.high, x.low, x.close, x.volume) for x in TWO_HOURS[:4]]
    assert rs.add_many(TWO_HOURS[:2] + later) == [Candle(T0 + 8 * Q, 10, 15, 8, 9.5, 10)]
