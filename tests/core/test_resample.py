import numpy as np
import pandas as pd
import pytest

from twinstar_gui.core import Candle, GroupResampler, Timeframe, resample_complete

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
