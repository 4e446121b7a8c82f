"""Holes in the stored history are found at start and repaired by REST (source=backfill)."""
import numpy as np
import pandas as pd

from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.data.manager import SeriesManager
from twinstar_gui.data.store import CandleStore
from twinstar_gui.data.writer import CandleWriter
from twinstar_gui.exchanges import get_exchange
from twinstar_gui.net.rest import RestClient
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer

Q = Timeframe.M15.ms


def stored(candles) -> pd.DataFrame:
    """Simulator candles as rows for the store (source=ws)."""
    return pd.DataFrame({"timestamp": [c.open_time for c in candles], "open": [c.open for c in candles],
                         "high": [c.high for c in candles], "low": [c.low for c in candles],
                         "close": [c.close for c in candles], "volume": [c.volume for c in candles], "source": "ws"})


async def test_stored_holes_are_repaired_at_start(tmp_path):
    server = SimServer(Market(SimClock(speed=1.0), seed=12, history_days=5), push_interval=0.05)
    await server.start()
    try:
        market = server.market
        now = market.now_ms()
        truth = market.closed_candles("BTCUSDT", Q, now - 300 * Q, now)
        kept = [c for i, c in enumerate(truth) if not (40 <= i < 52 or i == 100 or 200 <= i < 203)]  # 3 holes
        store = CandleStore(tmp_path)
        store.append("bybit", "BTCUSDT", stored(kept))
        writer = CandleWriter(store)
        adapter = get_exchange("bybit", rest_url=server.rest_url("bybit"))
        series = SeriesManager("bybit", "BTCUSDT", rest=RestClient(adapter), store=store, writer=writer,
                               windows={Timeframe.M15: 1000})
        await series.load_history()
        # the 3 holes, and the window's start before the first stored candle (1000 wanted, 284 stored)
        assert len(series._disk_gaps) == 4 and series._disk_gaps[0][1] == kept[0].open_time - Q
        await series.backfill()
        writer.close()
        disk = store.load("bybit", "BTCUSDT")
        ts = disk["timestamp"].astype("int64").to_numpy()
        assert (np.diff(ts) == Q).all()
        repaired = disk[disk["source"] == "backfill"]
        expected = {c.open_time for i, c in enumerate(truth) if 40 <= i < 52 or i == 100 or 200 <= i < 203}
        assert expected <= set(repaired["timestamp"].astype("int64"))
        by_ts = {c.open_time: c.close for c in truth}
        assert all(by_ts[t] == c for t, c in zip(ts, disk["close"]) if t in by_ts)
        mem = [c.open_time for c in series.candles[Timeframe.M15]]
        assert mem == sorted(mem) and (np.diff(mem) == Q).all()  # the window in memory is whole too
    finally:
        await server.stop()


async def test_progress_is_visible_while_history_is_fetched_and_repaired(tmp_path):
    import asyncio

    from twinstar_gui.data.feed import SyncSummary, sync_summary

    server = SimServer(Market(SimClock(speed=1.0), seed=12, history_days=60), push_interval=0.05)
    await server.start()
    try:
        now = server.market.now_ms()
        truth = server.market.closed_candles("BTCUSDT", Q, now - 300 * Q, now)
        kept = truth[:100] + truth[250:]  # one hole of 150 candles on disk
        store = CandleStore(tmp_path)
        store.append("bybit", "BTCUSDT", stored(kept))
        writer = CandleWriter(store)
        adapter = get_exchange("bybit", rest_url=server.rest_url("bybit"))
        adapter.rest_row_cap = 200  # smaller pages: several steps to watch
        series = SeriesManager("bybit", "BTCUSDT", rest=RestClient(adapter), store=store, writer=writer,
                               windows={Timeframe.M15: 5000})
        fresh = SeriesManager("bybit", "ETHUSDT", rest=RestClient(adapter), store=store, writer=writer,
                              windows={Timeframe.M15: 3000})  # nothing on disk: 3000 candles to fetch

        class Feed:  # sync_summary only reads .series
            def __init__(self, series):
                self.series = series
        feed = Feed({"BTCUSDT": series, "ETHUSDT": fresh})
        await series.load_history()
        await fresh.load_history()
        assert sync_summary([feed]) == SyncSummary(2, 0, 0, 0) and series.sync.stage == "loading"
        # the hole of 150, and the window's 5000 - 300 candles before the first stored one
        holes = sum((end - start) // Q + 1 for start, end in series._disk_gaps)
        assert len(series._disk_gaps) == 2 and series._disk_gaps[1] == (truth[100].open_time, truth[249].open_time)
        server.slow_rest(0.05)
        reported = []  # every progress report of the repair, as the REST thread makes it
        original = series._progress
        series._progress = lambda done, total=None: (reported.append((series.sync.stage, done)), original(done, total))
        seen = []
        tasks = [series.backfill(), fresh.backfill()]
        while not all(t.done() for t in tasks):
            seen.append(((series.sync.stage, series.sync.done, series.sync.total),
                         (fresh.sync.stage, fresh.sync.done, fresh.sync.total), sync_summary([feed])))
            await asyncio.sleep(0.01)
        writer.close()
    finally:
        await server.stop()
    repair = [s for s, _, _ in seen if s[0] == "repairing"]
    assert repair and repair[0][2] == holes
    assert [d for stage, d in reported if stage == "repairing"][-1] == holes
    fetch = [f for _, f, _ in seen if f[0] == "backfilling"]
    done = [d for _, d, _ in fetch]
    assert done == sorted(done) and len(set(done)) >= 5  # moved forward page by page
    assert fetch[-1][2] >= 3000 and done[-1] >= 0.8 * fetch[-1][2]
    summaries = [s for _, _, s in seen]
    assert any(s.busy and 0 < s.done < s.total for s in summaries)
    assert "syncing history: " in summaries[len(summaries) // 2].text()
    assert series.sync.stage == fresh.sync.stage == "ready"
    assert sync_summary([feed]).text() == "history up to date (2 series)"


async def test_a_quarantined_month_inside_the_window_is_fetched_again(tmp_path):
    """A month file found damaged is moved aside; the next start fetches what the window lost, so the dataset is
    whole again (it used to stay missing for good, restart after restart)."""
    start = 1_772_625_600_000  # 2026-03-04 12:00 UTC: a 1000-candle window reaches back into February
    market = Market(SimClock(speed=1.0, start_ms=start), seed=8, history_days=20)
    server = SimServer(market, push_interval=0.05)
    await server.start()
    try:
        now = market.now_ms()
        truth = market.closed_candles("BTCUSDT", Q, now - 1200 * Q, now)
        store = CandleStore(tmp_path)
        store.append("bybit", "BTCUSDT", stored(truth))
        store.close()
        february = tmp_path / "exchange=bybit/symbol=BTCUSDT/tf=15m/2026-02.parquet"
        february.write_bytes(b"PAR1 not a parquet file any more")
        adapter = get_exchange("bybit", rest_url=server.rest_url("bybit"))
        for run in (1, 2):  # the damaged start, then a restart that finds everything in place
            store = CandleStore(tmp_path)
            writer = CandleWriter(store)
            series = SeriesManager("bybit", "BTCUSDT", rest=RestClient(adapter), store=store, writer=writer,
                                   windows={Timeframe.M15: 1000}, now_ms=market.now_ms)
            await series.load_history()
            if run == 1:
                assert [q.path for q in store.quarantined] == [february]
                assert series._disk_gaps and series._disk_gaps[0][0] <= now - 1000 * Q
            else:
                assert not store.quarantined and not series._disk_gaps
            await series.backfill()
            writer.close()
        disk = store.load("bybit", "BTCUSDT", start_ms=window_start(now))
        ts = disk["timestamp"].astype("int64").to_numpy()
        assert (np.diff(ts) == Q).all() and ts[0] <= window_start(now) and len(ts) >= 1000
        by_ts = {c.open_time: c.close for c in truth}
        assert all(by_ts[t] == c for t, c in zip(ts, disk["close"]) if t in by_ts)
        refetched = disk[disk["timestamp"] < pd.Timestamp("2026-03-01", tz="UTC")]
        assert len(refetched) > 0 and set(refetched["source"]) == {"backfill"}
    finally:
        await server.stop()


def window_start(now: int) -> int:
    """The first open time a 1000-candle window wants."""
    return now - now % Q - 1000 * Q
