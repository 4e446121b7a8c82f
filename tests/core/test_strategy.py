"""The shared trading rule on hand-checked series (RSI worked out on paper in the comments)."""
import numpy as np
import pytest

from twinstar_gui.core.strategy import (LONG, SHORT, StrategyConfig, detect_signal, exit_levels, exit_reason,
                                        find_setup, group_closes)
from twinstar_gui.core.timeframe import Timeframe

T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC, a 4h boundary
Q = 900_000


def flat_groups(closes, per=16):
    """Complete 4h groups of 16 flat 15m candles at each close."""
    rows = []
    for g, c in enumerate(closes):
        for k in range(per):
            rows.append((T0 + (g * per + k) * Q, c, c, c, c, 1.0))
    return rows


# RSI(2), Wilder, on 4h closes 10, 11, 10.5, 11.5:
#   deltas +1, -0.5, +1; first averages gain (1+0)/2 = 0.5, loss (0+0.5)/2 = 0.25 -> RSI 100-100/3 = 66.67
#   next: gain (0.5*1 + 1)/2 = 0.75, loss (0.25*1 + 0)/2 = 0.125 -> RS 6 -> RSI 85.71 (rising)
UP = [10.0, 11.0, 10.5, 11.5]
# mirror: 20, 19, 19.5, 18.5 -> RSI 33.33 then 14.29 (falling)
DOWN = [20.0, 19.0, 19.5, 18.5]
CFG = StrategyConfig(rsi_period=2, rsi_low=10, rsi_high=90, take_profit_pct=2, stop_loss_pct=1)


def with_tail(closes, ref, last):
    rows = flat_groups(closes)
    n = len(rows)
    rows.append((T0 + n * Q, *ref, 1.0))  # the reference candle: o, h, l, c
    rows.append((T0 + (n + 1) * Q, *last, 1.0))
    return np.array(rows, dtype=float)


def test_rsi_of_complete_groups_is_the_hand_checked_value():
    arr = with_tail(UP, (11.5, 11.6, 11.4, 11.5), (11.5, 11.8, 11.5, 11.7))
    assert group_closes(arr, Timeframe.H4).tolist() == UP  # the 2 candles of the 5th group do not count
    setup = find_setup(arr, CFG, "X")
    assert setup.side == LONG and setup.rsi_prev == pytest.approx(66.6667, abs=1e-3)
    assert setup.rsi == pytest.approx(85.7143, abs=1e-3) and setup.trigger == 11.8


def test_long_signal_when_the_close_breaks_the_previous_high():
    arr = with_tail(UP, (11.5, 11.6, 11.4, 11.5), (11.5, 11.8, 11.5, 11.7))
    sig = detect_signal(arr, CFG, "BTCUSDT")
    assert sig is not None and sig.side == LONG and sig.entry == 11.7
    assert sig.take_profit == pytest.approx(11.934) and sig.stop_loss == pytest.approx(11.583)
    assert sig.time_ms == T0 + 66 * Q and "RSI 66.7 -> 85.7" in sig.reason
    # a close that does not clear the previous high is no signal
    assert detect_signal(with_tail(UP, (11.5, 11.6, 11.4, 11.5), (11.5, 11.8, 11.5, 11.6)), CFG) is None


def test_short_signal_mirrors():
    arr = with_tail(DOWN, (18.5, 18.6, 18.4, 18.5), (18.5, 18.5, 18.2, 18.3))
    sig = detect_signal(arr, CFG, "ETHUSDT")
    assert sig.side == SHORT and sig.entry == 18.3
    assert sig.take_profit == pytest.approx(18.3 * 0.98) and sig.stop_loss == pytest.approx(18.3 * 1.01)


def test_rsi_outside_the_band_is_no_candidate():
    arr = with_tail(UP, (11.5, 11.6, 11.4, 11.5), (11.5, 11.8, 11.5, 11.7))
    assert detect_signal(arr, StrategyConfig(rsi_period=2, rsi_low=30, rsi_high=70)) is None  # 85.7 >= 70


def test_a_group_with_a_missing_candle_does_not_count():
    rows = flat_groups(UP)
    del rows[20]  # group 2 (close 11.0) incomplete -> closes 10, 10.5, 11.5: too few for RSI(2) + slope
    arr = np.array(rows + [(T0 + 64 * Q, 11.5, 11.6, 11.4, 11.5, 1.0)], dtype=float)
    assert group_closes(arr, Timeframe.H4).tolist() == [10.0, 10.5, 11.5]
    assert find_setup(arr, CFG) is None


def test_live_price_against_the_last_closed_candle():
    arr = with_tail(UP, (11.5, 11.6, 11.4, 11.5), (11.5, 11.8, 11.5, 11.7))[:-1]  # last closed = reference
    assert detect_signal(arr, CFG, price=11.6, time_ms=5) is None
    sig = detect_signal(arr, CFG, price=11.61, time_ms=5)
    assert sig.entry == 11.61 and sig.time_ms == 5
    setup = find_setup(arr, CFG)
    assert setup.distance(11.5) == pytest.approx(100 * 0.1 / 11.5)


def test_exits():
    tp, sl = exit_levels(LONG, 100.0, CFG)
    assert (tp, sl) == (pytest.approx(102.0), pytest.approx(99.0))
    assert exit_reason(LONG, tp, sl, 101.0) is None and exit_reason(LONG, tp, sl, 102.0) == "tp"
    assert exit_reason(LONG, tp, sl, 98.9) == "sl"
    tp, sl = exit_levels(SHORT, 100.0, CFG)
    assert exit_reason(SHORT, tp, sl, 97.9) == "tp" and exit_reason(SHORT, tp, sl, 101.5) == "sl"


def test_bad_config_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="rsi_low < rsi_high"):
        StrategyConfig(rsi_low=70, rsi_high=30)
    with pytest.raises(ValueError, match="stop_loss_pct"):
        StrategyConfig(stop_loss_pct=-1)
    assert StrategyConfig().history_needed == 30 * 16 + 16
