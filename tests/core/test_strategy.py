"""The shared trading rule on hand-checked series (RSI worked out on paper in the comments)."""
import numpy as np
import pandas as pd
import pytest

from twinstar_gui.core.indicators import rsi_wilder
from twinstar_gui.core.models import Candle
from twinstar_gui.core.strategy import (
    LONG,
    SHORT,
    StrategyConfig,
    as_array,
    detect_signal,
    exit_levels,
    exit_reason,
    find_setup,
    group_closes,
    rsi_pair,
)
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


# --- short setups: the trigger is the reference candle's LOW, and the distance is measured downwards ----------------

REF_DOWN = (18.5, 18.6, 18.4, 18.5)  # o, h, l, c of the reference 15m candle


def test_short_setup_triggers_below_the_low_of_the_reference_candle():
    arr = with_tail(DOWN, REF_DOWN, (18.5, 18.5, 18.2, 18.3))[:-1]  # last closed = reference
    setup = find_setup(arr, CFG, "ETHUSDT")
    assert setup.side == SHORT and setup.symbol == "ETHUSDT"
    assert setup.trigger == 18.4 and setup.ref_time == T0 + 64 * Q  # the low, not the high 18.6
    assert setup.rsi_prev == pytest.approx(33.3333, abs=1e-3) and setup.rsi == pytest.approx(14.2857, abs=1e-3)
    assert setup.strength == pytest.approx(19.0476, abs=1e-3)  # |14.29 - 33.33|, positive for a falling RSI
    # 18.5 is still 0.1 above the trigger: 0.54 % to go; below it the distance is negative (triggered)
    assert setup.distance(18.5) == pytest.approx(100 * 0.1 / 18.5)
    assert setup.distance(18.3) == pytest.approx(-100 * 0.1 / 18.3)
    assert setup.distance(18.4) == 0.0
    assert not setup.triggered_by(18.4) and not setup.triggered_by(18.45) and setup.triggered_by(18.39)


def test_short_live_price_signal_and_its_reason():
    arr = with_tail(DOWN, REF_DOWN, (18.5, 18.5, 18.2, 18.3))[:-1]
    assert detect_signal(arr, CFG, "ETHUSDT", price=18.4, time_ms=7) is None  # touching the low is not breaking it
    sig = detect_signal(arr, CFG, "ETHUSDT", price=18.3, time_ms=7)
    assert (sig.symbol, sig.side, sig.entry, sig.time_ms) == ("ETHUSDT", SHORT, 18.3, 7)
    assert sig.rsi == pytest.approx(14.2857, abs=1e-3)
    assert sig.reason == (f"4h RSI 33.3 -> 14.3 in (10, 90); price 18.3 below the low 18.4 of the 15m candle at "
                          f"{T0 + 64 * Q}")


def test_long_setup_distance_and_trigger_edges():
    arr = with_tail(UP, (11.5, 11.6, 11.4, 11.5), (11.5, 11.8, 11.5, 11.7))[:-1]
    setup = find_setup(arr, CFG)
    assert setup.trigger == 11.6 and setup.strength == pytest.approx(19.0476, abs=1e-3)
    assert setup.distance(11.7) == pytest.approx(-100 * 0.1 / 11.7) and setup.distance(11.6) == 0.0
    assert not setup.triggered_by(11.6) and not setup.triggered_by(11.5) and setup.triggered_by(11.61)


def test_closed_candle_signal_reason_and_time():
    arr = with_tail(UP, (11.5, 11.6, 11.4, 11.5), (11.5, 11.8, 11.5, 11.7))
    sig = detect_signal(arr, CFG, "BTCUSDT")
    assert sig.reason == (f"4h RSI 66.7 -> 85.7 in (10, 90); price 11.7 above the high 11.6 of the 15m candle at "
                          f"{T0 + 64 * Q}")
    assert sig.symbol == "BTCUSDT" and sig.rsi == pytest.approx(85.7143, abs=1e-3)


def test_live_price_without_a_time_is_dated_at_the_close_of_the_last_candle():
    arr = with_tail(UP, (11.5, 11.6, 11.4, 11.5), (11.5, 11.8, 11.5, 11.7))[:-1]
    assert detect_signal(arr, CFG, price=11.7).time_ms == T0 + 65 * Q


def test_no_signal_without_enough_candles_and_default_config():
    assert detect_signal(np.empty((0, 6)), CFG) is None
    assert detect_signal(np.empty((0, 6)), CFG, price=1.0) is None
    assert detect_signal(with_tail(UP, (1, 1, 1, 1), (1, 1, 1, 1))[:1], CFG) is None
    # no config: the default rule (RSI 14 on 4h) needs far more than these 66 candles
    assert detect_signal(with_tail(UP, (11.5, 11.6, 11.4, 11.5), (11.5, 11.8, 11.5, 11.7))) is None


# --- RSI slope over more groups than the minimum ---------------------------------------------------------------------

# RSI(2) on 4h closes 10, 11, 10.5, 11.5, 11.0, 11.25 (continuing the UP worksheet above):
#   after 11.5: avg gain 0.75, loss 0.125 (RSI 85.71)
#   11.0 (-0.5): gain 0.375, loss 0.3125 -> RS 1.2 -> RSI 54.55
#   11.25 (+0.25): gain 0.3125, loss 0.15625 -> RS 2 -> RSI 66.67   => rising from 54.55, not from 85.71
SIX = [10.0, 11.0, 10.5, 11.5, 11.0, 11.25]


def test_rsi_prev_is_the_group_before_the_last_with_many_groups():
    arr = np.array(flat_groups(SIX) + [(T0 + 96 * Q, 11.25, 11.3, 11.2, 11.25, 1.0)], dtype=float)
    assert rsi_pair(arr, CFG) == (pytest.approx(600 / 11, abs=1e-9), pytest.approx(200 / 3, abs=1e-9))
    setup = find_setup(arr, CFG)
    assert setup.side == LONG and setup.trigger == 11.3 and setup.ref_time == T0 + 96 * Q
    assert setup.rsi_prev == pytest.approx(54.5455, abs=1e-3) and setup.rsi == pytest.approx(66.6667, abs=1e-3)
    # one group less: the last RSI is 54.55, falling from 85.71 -> short
    shorter = np.array(flat_groups(SIX[:5]), dtype=float)
    assert rsi_pair(shorter, CFG) == (pytest.approx(600 / 7, abs=1e-9), pytest.approx(600 / 11, abs=1e-9))
    assert find_setup(shorter, CFG).side == SHORT


def test_rsi_pair_needs_period_plus_two_complete_groups():
    assert rsi_pair(np.array(flat_groups(UP), dtype=float), CFG) is not None  # 4 groups = 2 + 2
    for n in range(4):
        assert rsi_pair(np.array(flat_groups(UP[:n]), dtype=float).reshape(-1, 6), CFG) is None
    assert rsi_pair(np.array(flat_groups(UP[:1])[:5], dtype=float), CFG) is None  # only a partial group
    assert find_setup(np.array(flat_groups(UP[:3]), dtype=float), CFG) is None


def test_a_nan_close_gives_no_rsi():
    rows = flat_groups(UP)
    rows[-1] = (rows[-1][0], 11.5, 11.5, 11.5, float("nan"), 1.0)
    assert rsi_pair(np.array(rows, dtype=float), CFG) is None


def test_upto_cuts_the_history_before_the_reference():
    arr = with_tail(UP, (11.5, 11.6, 11.4, 11.5), (11.5, 11.8, 11.5, 11.7))
    assert find_setup(arr, CFG, upto=len(arr) - 1).trigger == 11.6
    assert find_setup(arr, CFG).trigger == 11.8
    assert find_setup(arr, CFG, upto=0) is None


# RSI(2) on closes 1, 2, 1, 2, 3 is exactly 50, 75, 87.5 (see test_rsi_hand_computed_period_2); mirrored 3, 2, 3, 2, 1
# gives 50, 25, 12.5. The band is open: an RSI equal to a bound is no candidate.
@pytest.mark.parametrize("closes,low,high,side", [
    ([1, 2, 1, 2, 3], 10, 87.5, None),
    ([1, 2, 1, 2, 3], 10, 87.6, LONG),
    ([1, 2, 1, 2, 3], 87.5, 90, None),
    ([3, 2, 3, 2, 1], 12.5, 90, None),
    ([3, 2, 3, 2, 1], 12.4, 90, SHORT),
    ([3, 2, 3, 2, 1], 0, 12.5, None),
    ([5, 5, 5, 5, 5], 10, 90, None),  # RSI 50 and 50: no direction
])
def test_band_is_open_and_a_flat_rsi_has_no_direction(closes, low, high, side):
    cfg = StrategyConfig(rsi_period=2, rsi_low=low, rsi_high=high)
    setup = find_setup(np.array(flat_groups([float(x) for x in closes]), dtype=float), cfg)
    assert (setup.side if setup else None) == side


def test_group_closes_on_15m_and_from_a_mid_group_start():
    arr = np.array(flat_groups(UP), dtype=float)
    assert group_closes(arr, Timeframe.M15).tolist() == [10.0] * 16 + [11.0] * 16 + [10.5] * 16 + [11.5] * 16
    assert group_closes(arr[8:], Timeframe.H4).tolist() == [11.0, 10.5, 11.5]  # joined half way through group 0
    assert group_closes(arr[:-1], Timeframe.H4).tolist() == [10.0, 11.0, 10.5]
    assert group_closes(arr, Timeframe.H1).tolist() == [10.0] * 4 + [11.0] * 4 + [10.5] * 4 + [11.5] * 4
    assert group_closes(np.empty((0, 6)), Timeframe.H4).tolist() == []


def test_history_as_array_frame_or_candles():
    rows = [(T0, 1.0, 2.0, 0.5, 1.5, 10.0), (T0 + Q, 1.5, 2.5, 1.0, 2.0, 20.0)]
    expected = np.array(rows, dtype=float)
    assert as_array(expected) is expected
    np.testing.assert_array_equal(as_array([Candle(*r) for r in rows]), expected)
    assert as_array([]).shape == (0, 6)
    frame = pd.DataFrame(rows, columns=["timestamp", "open", "high", "low", "close", "volume"])
    np.testing.assert_array_equal(as_array(frame), expected)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="ms", utc=True)
    np.testing.assert_array_equal(as_array(frame), expected)
    frame["timestamp"] = frame["timestamp"].astype("datetime64[ns, UTC]")
    np.testing.assert_array_equal(as_array(frame), expected)
    frame["timestamp"] = frame["timestamp"].dt.tz_convert("Asia/Seoul")  # same instants, another zone
    np.testing.assert_array_equal(as_array(frame), expected)
    frame["timestamp"] = frame["timestamp"].dt.tz_convert(None)  # naive datetimes are UTC
    np.testing.assert_array_equal(as_array(frame), expected)


def test_history_is_always_a_float_array():
    from decimal import Decimal

    whole = as_array([Candle(T0, 1, 2, 0, 1, 5)])  # a Candle of whole numbers
    assert whole.dtype == np.float64 and whole.tolist() == [[T0, 1.0, 2.0, 0.0, 1.0, 5.0]]
    frame = pd.DataFrame({"timestamp": [T0], "open": [Decimal("1.5")], "high": [Decimal("2")],
                          "low": [Decimal("1")], "close": [Decimal("1.25")], "volume": [3]})
    arr = as_array(frame)
    assert arr.dtype == np.float64 and arr.tolist() == [[T0, 1.5, 2.0, 1.0, 1.25, 3.0]]


def test_no_symbol_given_is_an_empty_symbol():
    arr = with_tail(UP, (11.5, 11.6, 11.4, 11.5), (11.5, 11.8, 11.5, 11.7))
    assert find_setup(arr, CFG).symbol == "" and detect_signal(arr, CFG).symbol == ""


# --- exits -----------------------------------------------------------------------------------------------------------

def test_short_exit_levels_mirror_with_distinct_percentages():
    tp, sl = exit_levels(SHORT, 200.0, StrategyConfig(take_profit_pct=3, stop_loss_pct=1.5))
    assert (tp, sl) == (pytest.approx(194.0), pytest.approx(203.0))
    tp, sl = exit_levels(LONG, 200.0, StrategyConfig(take_profit_pct=3, stop_loss_pct=1.5))
    assert (tp, sl) == (pytest.approx(206.0), pytest.approx(197.0))


@pytest.mark.parametrize("side,tp,sl,price,reason", [
    # touching a level exactly counts
    (LONG, 102.0, 99.0, 102.0, "tp"),
    (LONG, 102.0, 99.0, 99.0, "sl"),
    (LONG, 102.0, 99.0, 99.01, None),
    (SHORT, 98.0, 101.0, 98.0, "tp"),
    (SHORT, 98.0, 101.0, 101.0, "sl"),
    (SHORT, 98.0, 101.0, 100.99, None),
    (SHORT, 98.0, 101.0, 98.01, None),
    # take profit only: never a stop, whatever the price
    (LONG, 102.0, None, 0.01, None),
    (LONG, 102.0, None, 102.5, "tp"),
    (SHORT, 98.0, None, 1e9, None),
    (SHORT, 98.0, None, 97.5, "tp"),
    # stop loss only: never a take profit
    (LONG, None, 99.0, 1e9, None),
    (LONG, None, 99.0, 98.5, "sl"),
    (SHORT, None, 101.0, 0.01, None),
    (SHORT, None, 101.0, 101.5, "sl"),
    # neither level
    (LONG, None, None, 0.01, None),
    (LONG, None, None, 1e9, None),
    (SHORT, None, None, 0.01, None),
    (SHORT, None, None, 1e9, None),
])
def test_exit_reason_each_side_and_missing_levels(side, tp, sl, price, reason):
    assert exit_reason(side, tp, sl, price) == reason


# --- config ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(rsi_period=2), dict(rsi_period=200), dict(rsi_low=0, rsi_high=100),
                                dict(rsi_low=49.9, rsi_high=50), dict(take_profit_pct=99.9, stop_loss_pct=0.01),
                                dict(take_profit_pct=5)])
def test_config_bounds_that_are_allowed(kw):
    cfg = StrategyConfig(**kw)
    assert all(getattr(cfg, k) == v for k, v in kw.items())


@pytest.mark.parametrize("kw,words", [
    (dict(rsi_period=1), "rsi_period must be 2..200, got 1"),
    (dict(rsi_period=201), "rsi_period must be 2..200, got 201"),
    (dict(rsi_low=-1), "need 0 <= rsi_low < rsi_high <= 100, got -1, 70.0"),
    (dict(rsi_high=100.5), "need 0 <= rsi_low < rsi_high <= 100, got 30.0, 100.5"),
    (dict(rsi_low=50, rsi_high=50), "got 50, 50"),
    (dict(take_profit_pct=0), "take_profit_pct must be between 0 and 100 (percent), got 0"),
    (dict(take_profit_pct=100), "take_profit_pct must be between 0 and 100 (percent), got 100"),
    (dict(stop_loss_pct="1"), "stop_loss_pct must be between 0 and 100 (percent), got 1"),
    (dict(stop_loss_pct=100), "stop_loss_pct must be between 0 and 100 (percent), got 100"),
])
def test_config_out_of_bounds_is_refused_with_the_field(kw, words):
    with pytest.raises(ValueError) as err:
        StrategyConfig(**kw)
    assert words in str(err.value)


def test_every_problem_of_a_config_is_listed():
    with pytest.raises(ValueError) as err:
        StrategyConfig(rsi_period=0, take_profit_pct=0, stop_loss_pct=0)
    assert str(err.value) == ("rsi_period must be 2..200, got 0; take_profit_pct must be between 0 and 100 (percent), "
                              "got 0; stop_loss_pct must be between 0 and 100 (percent), got 0")


def test_history_needed_per_timeframe():
    # (2 x period + 2) complete groups + one partial group, never under 100 candles
    assert StrategyConfig(rsi_period=14, rsi_timeframe=Timeframe.H4).history_needed == 30 * 16 + 16
    assert StrategyConfig(rsi_period=20, rsi_timeframe=Timeframe.H1).history_needed == 42 * 4 + 4
    assert StrategyConfig(rsi_period=2, rsi_timeframe=Timeframe.H1).history_needed == 100
    assert StrategyConfig(rsi_period=2, rsi_timeframe=Timeframe.M15).history_needed == 100


def _group_closes_by_grouping(arr, tf):
    """The general computation (group every candle by its group's start), for comparing the shortcut with."""
    ms = arr[:, 0].astype(np.int64)
    group = ms - ms % tf.ms
    starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
    counts = np.diff(np.append(starts, len(ms)))
    return arr[(starts + counts - 1)[counts == tf.ratio_to(Timeframe.M15)], 4]


def test_the_unbroken_window_shortcut_finds_the_same_complete_groups():
    rng = np.random.default_rng(3)
    for _ in range(300):
        n = int(rng.integers(1, 400))
        first = 1_700_000_000_000 - 1_700_000_000_000 % 900_000 + int(rng.integers(0, 96)) * 900_000
        arr = np.column_stack([first + np.arange(n) * 900_000.0, rng.random((n, 5))])
        for tf in (Timeframe.H1, Timeframe.H4, Timeframe.D1):
            assert np.array_equal(group_closes(arr, tf), _group_closes_by_grouping(arr, tf))
            if n > 3:  # a hole: the general way
                holed = np.delete(arr, int(rng.integers(1, n - 1)), axis=0)
                assert np.array_equal(group_closes(holed, tf), _group_closes_by_grouping(holed, tf))


def test_the_remembered_rsi_is_the_computed_one_and_a_revised_close_is_a_new_question():
    from twinstar_gui.core import strategy

    rng = np.random.default_rng(5)
    cfg = StrategyConfig()
    closes = 100 + np.cumsum(rng.normal(0, 1, 16 * 40))
    arr = np.column_stack([1_700_006_400_000 + np.arange(len(closes)) * 900_000.0, closes, closes + 1, closes - 1,
                           closes, np.ones(len(closes))])
    strategy._RSI_PAIRS.clear()
    first = rsi_pair(arr, cfg)
    assert rsi_pair(arr, cfg) == first and len(strategy._RSI_PAIRS) == 1  # asked again: remembered
    groups = group_closes(arr, cfg.rsi_timeframe)
    rsi = rsi_wilder(groups, cfg.rsi_period)
    assert first == (rsi[-2], rsi[-1])
    revised = arr.copy()
    revised[-1, 4] += 5.0  # the last group's close revised (a backfill's REST candle)
    again = rsi_pair(revised, cfg)
    assert again != first and again[1] == rsi_wilder(group_closes(revised, cfg.rsi_timeframe), 14)[-1]


def test_a_close_inside_the_previous_candle_is_no_signal_whatever_the_rsi():
    """The breakout comes first: a close between the previous candle's low and high cannot trigger either side."""
    rng = np.random.default_rng(8)
    for _ in range(200):
        n = 600
        closes = 100 + np.cumsum(rng.normal(0, 1, n))
        highs, lows = closes + rng.random(n), closes - rng.random(n)
        arr = np.column_stack([1_700_006_400_000 + np.arange(n) * 900_000.0, closes, highs, lows, closes,
                               np.ones(n)])
        sig = detect_signal(arr, StrategyConfig(rsi_low=0.0, rsi_high=100.0))
        inside = lows[-2] <= closes[-1] <= highs[-2]
        setup = find_setup(arr, StrategyConfig(rsi_low=0.0, rsi_high=100.0), upto=n - 1)
        expected = None if setup is None else setup.triggered_by(closes[-1])
        assert (sig is not None) == bool(expected) and not (inside and sig is not None)
