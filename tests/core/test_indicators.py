"""The chart's RSI (IncrementalRsi: the forming candle moves, closes append, older history is prepended) equals
the signals' RSI (rsi_wilder) on the same closes: one set of formulas, equal to the last bit."""
import math

import numpy as np
import pytest

from twinstar_gui.core.indicators import SETTLE_BARS, IncrementalRsi, rsi_wilder


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("period", [1, 2, 14])
@pytest.mark.parametrize("start", [0, 1, 5, 14, 15, 40])
def test_moving_and_appending_closes_equals_the_whole_series_computed_again(period, start):
    rng = np.random.default_rng(period * 100 + start)
    closes = list(np.round(100 + np.cumsum(rng.normal(size=start)), 2))
    rsi = IncrementalRsi(period)
    np.testing.assert_array_equal(rsi.reset(closes), rsi_wilder(closes, period))
    for step in range(120):
        price = float(round((closes[-1] if closes else 100.0) + rng.normal(), 2))
        if step % 7 == 3:
            price = closes[-1] if closes else price  # unchanged: a zero delta
        if closes and step % 3:  # the forming candle moved
            closes[-1] = price
            value = rsi.update_last(price)
        else:  # it closed; a new one begins
            closes.append(price)
            value = rsi.append(price)
        assert same(value, float(rsi_wilder(closes, period)[-1])), (step, value)
    assert len(rsi) == len(closes)


def test_flat_then_moving_prices_give_50_then_the_same_as_the_batch():
    rsi = IncrementalRsi(2)
    rsi.reset([5.0, 5.0])
    assert rsi.append(5.0) == 50.0  # no gain, no loss
    assert rsi.update_last(6.0) == 100.0  # no loss
    assert rsi.append(5.5) == rsi_wilder([5.0, 5.0, 6.0, 5.5], 2)[-1]


def test_prepending_older_history_matches_the_whole_series():
    rng = np.random.default_rng(3)
    closes = np.round(100 + np.cumsum(rng.normal(size=SETTLE_BARS + 200)), 2)
    older = np.round(90 + np.cumsum(rng.normal(size=300)), 2)
    rsi = IncrementalRsi(14)
    values = rsi.reset(closes)
    whole = rsi_wilder(np.r_[older, closes], 14)
    got = rsi.prepend(older, values)
    np.testing.assert_array_equal(got[: 300 + SETTLE_BARS], whole[: 300 + SETTLE_BARS])  # recomputed
    np.testing.assert_allclose(got, whole, rtol=1e-15, equal_nan=True)  # the settled rest kept
    assert rsi.append(101.0) == rsi_wilder(np.r_[older, closes, 101.0], 14)[-1]

    short = IncrementalRsi(14)  # a short series is computed again whole
    np.testing.assert_array_equal(short.prepend(older, short.reset(closes[:50])),
                                  rsi_wilder(np.r_[older, closes[:50]], 14))
