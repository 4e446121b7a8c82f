"""A stored window loaded in one go leaves every timeframe's window and resampler exactly as adding its candles one
by one does: same derived candles (to the last bit), and the same emissions for the candles that follow."""
import numpy as np
import pytest

from twinstar_gui.core.models import Candle
from twinstar_gui.core.resample import GroupResampler, complete_groups
from twinstar_gui.core.timeframe import DERIVED_TIMEFRAMES, Timeframe
from twinstar_gui.data.manager import SeriesManager
from twinstar_gui.data.store import CandleStore
from twinstar_gui.data.writer import CandleWriter
from twinstar_gui.exchanges import get_exchange
from twinstar_gui.net.rest import RestClient

Q = Timeframe.M15.ms
T0 = 1_767_225_600_000 + 7 * Q  # mid-day, mid-group: the window starts inside a 1h, 4h and 1d group


def stored_rows(seed: int, n: int, holes: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    slots = np.arange(n + holes)
    keep = np.sort(rng.choice(slots, size=n, replace=False)) if holes else slots
    opens = T0 + keep * Q
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    high = close + rng.random(n)
    low = close - rng.random(n)
    vol = rng.random(n) * 10.0 ** rng.integers(-3, 6, n)  # magnitudes far apart: a pairwise sum would differ
    return np.column_stack([opens, close, high, low, close, vol]).astype(np.float64)


def manager(tmp_path, name: str) -> SeriesManager:
    store = CandleStore(tmp_path / name)
    adapter = get_exchange("bybit", rest_url="http://127.0.0.1:9")  # never asked
    return SeriesManager("bybit", "BTCUSDT", rest=RestClient(adapter), store=store, writer=CandleWriter(store),
                         windows={Timeframe.M15: 700, Timeframe.H1: 150, Timeframe.H4: 40, Timeframe.D1: 10})


def candle(r) -> Candle:
    return Candle(int(r[0]), r[1], r[2], r[3], r[4], r[5])


@pytest.mark.parametrize(("seed", "n", "holes"), [(1, 1000, 0), (2, 1000, 37), (3, 95, 0), (4, 5, 2), (5, 400, 400)])
def test_bulk_load_equals_one_by_one(tmp_path, seed, n, holes):
    rows = stored_rows(seed, n, holes)
    bulk, single = manager(tmp_path, "a"), manager(tmp_path, "b")
    bulk._add_loaded(rows)
    for r in rows.tolist():
        single._add_closed(candle(r), notify=False)
    for tf in bulk.candles:
        np.testing.assert_array_equal(bulk.candles[tf].array(), single.candles[tf].array(), err_msg=str(tf))
    assert bulk.last_closed == single.last_closed == int(rows[-1, 0])
    for tf in DERIVED_TIMEFRAMES:
        assert bulk._resamplers[tf].forming == single._resamplers[tf].forming, tf

    # what follows (after a hole for some seeds) is emitted the same way by both
    emitted = {"a": [], "b": []}
    bulk.listeners.closed.append(lambda cc: emitted["a"].append((cc.timeframe, cc.candle)))
    single.listeners.closed.append(lambda cc: emitted["b"].append((cc.timeframe, cc.candle)))
    gap = 3 if seed % 2 else 0
    more = stored_rows(seed + 100, 300, 0)
    more[:, 0] = rows[-1, 0] + (1 + gap + np.arange(300)) * Q
    for r in more.tolist():
        bulk._add_closed(candle(r), notify=True)
        single._add_closed(candle(r), notify=True)
    assert emitted["a"] == emitted["b"] and any(tf is not Timeframe.M15 for tf, _ in emitted["a"])


def test_complete_groups_matches_the_resampler_and_says_where_the_group_in_progress_starts():
    rows = stored_rows(9, 500, 20)
    for tf in DERIVED_TIMEFRAMES:
        rs = GroupResampler(tf)
        want = [c for c in (rs.add(candle(r)) for r in rows.tolist()) if c is not None]
        got, tail = complete_groups(rows, tf)
        assert [tuple(r) for r in got.tolist()] == [(c.open_time, c.open, c.high, c.low, c.close, c.volume)
                                                   for c in want]
        last_group = int(rows[-1, 0]) - int(rows[-1, 0]) % tf.ms
        if tail < len(rows):
            assert int(rows[tail, 0]) >= last_group and (tail == 0 or int(rows[tail - 1, 0]) < last_group)
        else:
            assert want and want[-1].open_time == last_group
    assert complete_groups(np.empty((0, 6)), Timeframe.H1)[1] == 0
