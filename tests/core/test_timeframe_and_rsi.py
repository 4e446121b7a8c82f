import math

import numpy as np
import pytest

from twinstar_gui.core import Timeframe, rsi_wilder


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
    from fractions import Fraction as F

    closes = [44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84, 46.08, 45.89, 46.03, 45.61, 46.28,
              46.28, 46.00, 46.03, 46.41, 46.22, 45.64]
    exact = [F(str(x)) for x in closes]
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
