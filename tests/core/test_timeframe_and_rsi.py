import math

import numpy as np
import pytest

from twinstar_gui.core.indicators import rsi_wilder
from twinstar_gui.core.timeframe import Timeframe


def test_timeframe_lengths_and_alignment():
    assert Timeframe.M15.ms == 900_000 and Timeframe.H4.ms == 14_400_000 and Timeframe.D1.ms == 86_400_000
    t = 1_736_942_587_400  # 2025-01-15 12:03:07.4 UTC
    assert Timeframe.M15.bucket_start(t) == 1_736_942_400_000
    assert Timeframe.D1.bucket_start(t) == 1_736_899_200_000  # 00:00 UTC
    assert Timeframe.H4.ratio_to(Timeframe.M15) == 16
    assert Timeframe.parse("4H") is Timeframe.H4
    with pytest.raises(ValueError, match="valid: 15m, 1h, 4h, 1d"):
        Timeframe.parse("7m")


def test_rsi_hand_computed_period_2():
    # deltas +1,-1,+1,+1 -> seed avg gain .5 / loss .5 -> 50; then (.5+1)/2=.75 / .25 -> 75; .875/.125 -> 87.5
    out = rsi_wilder([1, 2, 1, 2, 3], period=2)
    assert np.isnan(out[:2]).all()
    assert out[2:] == pytest.approx([50.0, 75.0, 87.5])


def test_rsi_wilder_textbook_series_exact_arithmetic():
    # The classic tutorial series. Published tables round the averages to 2 decimals (first RSI "70.53");
    # here every step is done in exact fractions, independent of the float implementation.
    from fractions import Fraction

    closes = [44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84, 46.08, 45.89, 46.03, 45.61, 46.28,
              46.28, 46.00, 46.03, 46.41, 46.22, 45.64]
    exact = [Fraction(str(x)) for x in closes]
    d = [b - a for a, b in zip(exact, exact[1:])]
    ag = sum(max(x, 0) for x in d[:14]) / 14
    al = sum(max(-x, 0) for x in d[:14]) / 14
    expected = [100 - 100 / (1 + ag / al)]
    for x in d[14:]:
        ag, al = (13 * ag + max(x, 0)) / 14, (13 * al + max(-x, 0)) / 14
        expected.append(100 - 100 / (1 + ag / al))
    out = rsi_wilder(closes, 14)
    assert np.isnan(out[:14]).all()
    assert out[14:] == pytest.approx([float(e) for e in expected], abs=1e-9)


def test_rsi_edges():
    assert rsi_wilder(np.arange(30.0))[-1] == 100.0
    assert rsi_wilder(np.full(30, 5.0))[-1] == 50.0
    assert rsi_wilder(np.arange(30.0, 0, -1))[-1] == 0.0
    assert np.isnan(rsi_wilder([1.0] * 14)).all()  # needs period+1 closes
    with pytest.raises(ValueError):
        rsi_wilder([1, 2, 3], period=0)


def test_rsi_matches_recursive_definition_on_random_walk():
    rng = np.random.default_rng(3)
    closes = 100 + rng.normal(0, 1, 500).cumsum()
    out = rsi_wilder(closes, 14)
    d = np.diff(closes)
    g, l = np.clip(d, 0, None), np.clip(-d, 0, None)
    ag, al = g[:14].mean(), l[:14].mean()
    for i in range(14, len(d)):
        ag, al = (13 * ag + g[i]) / 14, (13 * al + l[i]) / 14
    assert math.isclose(out[-1], 100 - 100 / (1 + ag / al), rel_tol=1e-12)


def test_every_timeframe_label_length_and_ratio():
    assert [(tf.label, tf.ms) for tf in Timeframe] == [("1m", 60_000), ("15m", 900_000), ("1h", 3_600_000),
                                                      ("4h", 14_400_000), ("1d", 86_400_000)]
    assert Timeframe.D1.ratio_to(Timeframe.H1) == 24 and Timeframe.M15.ratio_to(Timeframe.M1) == 15
    assert Timeframe.H1.ratio_to(Timeframe.H1) == 1
    assert type(Timeframe.D1.ratio_to(Timeframe.M15)) is int


def test_a_bucket_start_is_its_own_bucket():
    t = 1_736_942_400_000  # 12:00 UTC
    assert Timeframe.H4.bucket_start(t) == t and Timeframe.H4.bucket_start(t - 1) == t - 4 * 3_600_000
    assert Timeframe.H1.bucket_start(t + 3_599_999) == t


def test_a_shorter_timeframe_is_no_multiple_of_a_longer_one():
    with pytest.raises(ValueError, match="^1h is not a whole multiple of 4h$"):
        Timeframe.H1.ratio_to(Timeframe.H4)


def test_parse_labels_and_timeframes():
    assert Timeframe.parse(Timeframe.D1) is Timeframe.D1
    assert Timeframe.parse(" 1D ") is Timeframe.D1 and Timeframe.parse("15m") is Timeframe.M15
    assert Timeframe.parse("1m") is Timeframe.M1
    with pytest.raises(ValueError) as err:
        Timeframe.parse("2h")
    assert str(err.value) == "unknown timeframe '2h'; valid: 15m, 1h, 4h, 1d"


def test_rsi_period_1_follows_each_move():
    # period 1: the averages are the last move itself -> 100 after a rise, 0 after a fall, 50 when flat
    out = rsi_wilder([1.0, 2.0, 1.0, 1.0, 3.0], period=1)
    assert np.isnan(out[0]) and out[1:].tolist() == [100.0, 0.0, 50.0, 100.0]
    assert np.isnan(rsi_wilder([5.0], period=1)).all()
    with pytest.raises(ValueError, match="^RSI period must be >= 1$"):
        rsi_wilder([1, 2, 3], period=0)


def test_rsi_with_exactly_period_plus_one_closes_has_one_value():
    # deltas +2, -1, +3: gain 5/3, loss 1/3 -> RS 5 -> RSI 83.33
    out = rsi_wilder([10, 12, 11, 14], period=3)
    assert np.isnan(out[:3]).all() and out[3] == pytest.approx(100 - 100 / 6)
    assert out.shape == (4,) and out.dtype == np.float64


def test_rsi_after_a_flat_start_with_one_loss():
    # period 2 on 5, 5, 5, 4: seed gain 0 / loss 0 -> 50; then loss (0*1 + 1)/2 = 0.5, gain 0 -> RSI 0
    assert rsi_wilder([5, 5, 5, 4], period=2)[2:].tolist() == [50.0, 0.0]
    # and on 5, 5, 5, 6: gain 0.5, loss 0 -> 100
    assert rsi_wilder([5, 5, 5, 6], period=2)[2:].tolist() == [50.0, 100.0]


def test_rsi_default_period_is_14():
    closes = 100 + np.sin(np.arange(40) / 3) * 5 + np.arange(40) * 0.1
    out = rsi_wilder(closes)
    assert np.isnan(out[:14]).all() and not np.isnan(out[14])
    np.testing.assert_array_equal(out, rsi_wilder(closes, 14))


def test_rsi_of_exact_decimal_prices_equals_that_of_floats():
    from decimal import Decimal

    closes = [44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42]
    out = rsi_wilder([Decimal(str(x)) for x in closes], period=3)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, rsi_wilder(closes, period=3), rtol=1e-12)
