"""SimClock and Market: speed, determinism, candle consistency, exact price text, tickers, trades."""
import re
import threading

import numpy as np
import pytest
from sim_helpers import START_MS

from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import DAY_MS, DEFAULT_SYMBOLS, Market

Q, H, M1 = 900_000, 3_600_000, 60_000


def market(seed=9, days=5, speed=1.0, start=START_MS, **kw):
    return Market(SimClock(speed=speed, start_ms=start), seed=seed, history_days=days, **kw)


# -- clock --------------------------------------------------------------------------------------------------
class FakeTime:
    """A real-time source the test moves by hand."""

    def __init__(self, now: float = 500.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_clock_runs_speed_times_faster_from_its_start():
    real = FakeTime()
    clock = SimClock(speed=1000.0, start_ms=1_000_000, monotonic=real)
    assert clock.now_ms() == 1_000_000 and clock.elapsed_real() == 0
    real.now += 0.05
    assert clock.now_ms() == 1_000_000 + 50_000  # 50 ms of real time, 1000 x faster
    real.now += 2.5
    assert clock.now_ms() == 1_000_000 + 2_550_000 and clock.elapsed_real() == pytest.approx(2.55)


def test_clock_defaults_to_wall_time_and_rejects_bad_speed():
    assert SimClock(wall=lambda: 1_700_000_000.25, monotonic=FakeTime()).now_ms() == 1_700_000_000_250
    assert SimClock().speed == 1.0
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            SimClock(speed=bad)


def test_clock_reads_are_monotonic_from_many_threads():
    clock, bad = SimClock(speed=50.0), []

    def reader():
        last = 0
        for _ in range(2000):
            now = clock.now_ms()
            if now < last:
                bad.append((last, now))
            last = now

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not bad


# -- determinism ----------------------------------------------------------------------------------------------
def test_same_seed_and_start_give_the_same_candles_in_any_query_order():
    a, b, c = market(), market(), market(seed=10)
    now = START_MS
    late_first = b.candles("ETHUSDT", Q, now - DAY_MS, now, now_ms=now)  # generate the newest chunk first
    early = b.candles("ETHUSDT", Q, 0, now - DAY_MS, now_ms=now)
    full = a.candles("ETHUSDT", Q, 0, now, now_ms=now)
    assert full == early + late_first  # START_MS - 1 day is not on a 15m boundary: no overlap
    assert full != c.candles("ETHUSDT", Q, 0, now, now_ms=now)
    assert a.genesis == b.genesis == (START_MS - 5 * DAY_MS) // DAY_MS * DAY_MS


def test_a_past_step_never_changes_as_time_moves_on():
    m = market()
    t1 = START_MS
    before = [c for c in m.candles("BTCUSDT", Q, 0, t1, now_ms=t1) if c.closed]
    later = m.candles("BTCUSDT", Q, 0, t1, now_ms=t1 + 3 * DAY_MS)  # generates 3 more days
    assert later[: len(before)] == before
    forming = m.candles("BTCUSDT", Q, t1 - t1 % Q, t1, now_ms=t1 + 60_000)
    assert forming and not forming[0].closed  # the bucket at t1 is still open a minute later


# -- candle consistency -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("symbol", list(DEFAULT_SYMBOLS))
def test_candles_are_aligned_contiguous_and_consistent(symbol):
    m = market(days=3)
    rows = m.candles(symbol, Q, 0, START_MS, now_ms=START_MS)
    arr = np.array([r[:7] for r in rows], dtype=float)
    t, o, h, lo, c, v, turnover = arr.T
    assert t[0] == m.genesis and (t % Q == 0).all() and (np.diff(t) == Q).all()
    assert (lo <= np.minimum(o, c)).all() and (h >= np.maximum(o, c)).all() and (v > 0).all()
    assert (turnover >= lo * v * (1 - 1e-9)).all() and (turnover <= h * v * (1 + 1e-9)).all()
    assert [r.closed for r in rows] == [True] * (len(rows) - 1) + [False]
    assert rows[-1].open_time == START_MS - START_MS % Q and rows[-1].close == m.last_price(symbol, START_MS)


@pytest.mark.parametrize("symbol", ["BTCUSDT", "DOGEUSDT", "1000PEPEUSDT", "LTCUSDT"])
def test_price_and_qty_text_is_exact(symbol):
    m = market(days=2)
    pd_, qd = m.price_decimals(symbol), m.qty_decimals(symbol)
    price_re = re.compile(rf"^\d+\.\d{{{pd_}}}$" if pd_ else r"^\d+$")
    qty_re = re.compile(rf"^\d+\.\d{{{qd}}}$" if qd else r"^\d+$")
    tick, lot = m.tick_size(symbol), m.lot_size(symbol)
    for r in m.candles(symbol, Q, 0, START_MS, now_ms=START_MS):
        for x in r[1:5]:
            text = m.fmt_price(symbol, x)
            assert price_re.match(text) and float(text) == x, (x, text)
            assert abs(x / tick - round(x / tick)) < 1e-6
        qty = m.fmt_qty(symbol, r.volume)
        assert qty_re.match(qty) and float(qty) == r.volume and abs(r.volume / lot - round(r.volume / lot)) < 1e-6
        assert "e" not in m.fmt_turnover(symbol, r.turnover)


def test_known_formats():
    m = market()
    assert m.fmt_price("BTCUSDT", 65114.3) == "65114.3" and m.fmt_price("DOGEUSDT", 0.07) == "0.07000"
    assert m.turnover_decimals("BTCUSDT") == 4 and m.turnover_decimals("DOGEUSDT") == 5
    assert m.turnover_decimals("1000PEPEUSDT") == 5  # tick 1e-7 * lot 100


def test_bigger_buckets_aggregate_the_smaller_ones():
    m = market(days=3)
    quarters = m.closed_candles("SOLUSDT", Q, 0, START_MS)
    hours = m.candles("SOLUSDT", H, 0, START_MS, now_ms=START_MS)
    days = m.candles("SOLUSDT", DAY_MS, 0, START_MS, now_ms=START_MS)
    assert all(d.open_time % DAY_MS == 0 for d in days) and days[0].open_time == m.genesis
    by_start = {c.open_time: c for c in quarters}
    for hr in hours[:-1]:
        parts = [by_start[hr.open_time + k * Q] for k in range(4)]
        assert hr.open == parts[0].open and hr.close == parts[-1].close
        assert hr.high == max(p.high for p in parts) and hr.low == min(p.low for p in parts)
        assert m.fmt_qty("SOLUSDT", hr.volume) == m.fmt_qty("SOLUSDT", sum(p.volume for p in parts))
        assert hr.turnover == pytest.approx(sum(p.turnover for p in parts), rel=1e-12)


def test_range_semantics_and_closed_only_ground_truth():
    m = market(speed=1.0, start=None)
    now = m.now_ms()
    cur = now - now % Q
    assert m.candles("BTCUSDT", Q, cur - 2 * Q + 1, now)[0].open_time == cur - Q  # first open >= start
    assert m.candles("BTCUSDT", Q, cur + Q, cur + 5 * Q) == []  # the future is empty
    assert m.candles("BTCUSDT", Q, 0, m.genesis - 1) == []  # before genesis
    closed = m.closed_candles("BTCUSDT", Q, cur - 3 * Q, now)
    assert [c.open_time for c in closed] == [cur - 3 * Q, cur - 2 * Q, cur - Q] and all(c.closed for c in closed)
    with pytest.raises(ValueError):
        m.candles("BTCUSDT", 12_345, 0, now)


def test_symbols_unknown_symbol_and_tuple_specs():
    m = Market(SimClock(start_ms=START_MS), symbols={"FOOUSDT": (12.5, 0.05, 0.1)}, history_days=1)
    assert m.symbols == ["FOOUSDT"] and m.has_symbol("FOOUSDT") and not m.has_symbol("BTCUSDT")
    assert m.tick_size("FOOUSDT") == 0.05 and m.fmt_price("FOOUSDT", m.last_price("FOOUSDT")).endswith(("0", "5"))
    for call in (lambda: m.last_price("NOPEUSDT"), lambda: m.candles("NOPEUSDT", Q, 0, 1), lambda: m.ticker("NOPEUSDT"),
                 lambda: m.tick_size("NOPEUSDT")):
        with pytest.raises(KeyError, match="NOPEUSDT"):
            call()
    assert len(market().symbols) >= 10


def test_ticker_24h_statistics():
    m = market()
    t = m.ticker("BTCUSDT", START_MS)
    day = m.candles("BTCUSDT", 10_000, START_MS - DAY_MS + 1, START_MS, now_ms=START_MS)  # the steps themselves
    assert t["lastPrice"] == day[-1].close == m.last_price("BTCUSDT", START_MS)
    assert t["highPrice24h"] == max(c.high for c in day) and t["lowPrice24h"] == min(c.low for c in day)
    assert t["volume24h"] == pytest.approx(sum(c.volume for c in day))
    assert t["price24hPcnt"] == pytest.approx(t["lastPrice"] / t["prevPrice24h"] - 1)
    assert t["bid1Price"] < t["ask1Price"] == t["lastPrice"] and t["nextFundingTime"] % (8 * H) == 0


def test_trades_are_the_steps():
    m = market()
    trades = m.trades("ETHUSDT", START_MS - 60_000, START_MS)
    steps = m.candles("ETHUSDT", 10_000, START_MS - 60_000 + 1, START_MS, now_ms=START_MS)
    assert [(t.time_ms, t.price, t.qty) for t in trades] == [(s.open_time, s.close, s.volume) for s in steps]
    assert all(b.seq == a.seq + 1 for a, b in zip(trades, trades[1:]))
    assert len(m.trades("ETHUSDT", 0, START_MS, limit=5)) == 5


def test_thirty_days_of_history_for_every_symbol():
    m = Market(SimClock(start_ms=START_MS), history_days=30)
    assert all(m.last_price(sym) > 0 for sym in m.symbols)
    rows = m.candles("BTCUSDT", M1, 0, START_MS, now_ms=START_MS)
    opens = [r.open_time for r in rows]
    assert len(rows) >= 30 * 1440 and opens == list(range(opens[0], opens[-1] + 1, 60_000))  # no gap


def test_two_years_of_history_are_made_only_when_asked_and_stay_in_a_believable_range():
    """`--history-days 730`: building the market and pricing "now" makes one chunk per symbol asked, not two years
    of steps; every day of the two years is there, continuous at chunk edges, and the slow walk the days follow
    keeps the price within a believable band of where it started."""
    m = Market(SimClock(start_ms=START_MS), history_days=730)
    assert m.last_price("BTCUSDT") > 0
    assert all(len(p.chunks) == (1 if name == "BTCUSDT" else 0) for name, p in m._paths.items())
    days = m.candles("BTCUSDT", DAY_MS, 0, START_MS, now_ms=START_MS)
    assert len(days) >= 730 and [d.open_time for d in days] == list(range(days[0].open_time,
                                                                          days[-1].open_time + 1, DAY_MS))
    assert len(m._paths["BTCUSDT"].chunks) <= 12  # memory stays bounded however far back one reads
    start = DEFAULT_SYMBOLS["BTCUSDT"].price
    assert all(start / 4 < d.low <= d.high < start * 4 for d in days)
    # each day opens near where the day before closed (the bridge ends on the anchor the next day starts from)
    gaps = [abs(b.open / a.close - 1) for a, b in zip(days, days[1:])]
    assert max(gaps) < 0.01


def test_a_chunk_dropped_from_memory_comes_back_the_same():
    m = market(days=40)
    first = m.candles("SOLUSDT", Q, 0, m.genesis + 2 * DAY_MS, now_ms=START_MS)
    m.candles("SOLUSDT", Q, 0, START_MS, now_ms=START_MS)  # 40 days: the first ones are dropped from memory
    assert 0 not in m._paths["SOLUSDT"].chunks
    assert m.candles("SOLUSDT", Q, 0, m.genesis + 2 * DAY_MS, now_ms=START_MS) == first
