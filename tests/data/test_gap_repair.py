"""Holes in the stored history are found at start and repaired by REST (source=backfill)."""
import numpy as np
import pandas as pd

from twinstar_gui.core import Timeframe
from twinstar_gui.data.manager import SeriesManager
from twinstar_gui.data.store import CandleStore
from twinstar_gui.data.writer import CandleWriter
from twinstar_gui.exchanges import get_exchange
from twinstar_gui.net.rest import RestClient
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer

Q = Timeframe.M15.ms


async def test_stored_holes_are_repaired_at_start(tmp_path):
    server = SimServer(Market(SimClock(speed=1.0), seed=12, history_days=5), push_interval=0.05)
    await server.start()
    try:
        market = server.market
        now = market.now_ms()
        truth = market.closed_candles("BTCUSDT", Q, now - 300 * Q, now)
        kept = [c for i, c in enumerate(truth) if not (40 <= i < 52 or i == 100 or 200 <= i < 203)]  # 3 holes
        store = CandleStore(tmp_path)
        store.append("bybit", "BTCUSDT", pd.DataFrame({
            "timestamp": [c.open_time for c in kept], "open": [c.open for c in kept], "high": [c.high for c in kept],
            "low": [c.low for c in kept], "close": [c.close for c in kept], "volume": [c.volume for c in kept],
            "source": "ws"}))
        writer = CandleWriter(store)
        adapter = get_exchange("bybit", rest_url=server.rest_url("bybit"))
        series = SeriesManager("bybit", "BTCUSDT", rest=RestClient(adapter), store=store, writer=writer,
                               windows={Timeframe.M15: 1000})
        await series.load_history()
        assert len(series._disk_gaps) == 3
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
