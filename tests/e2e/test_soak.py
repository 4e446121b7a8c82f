"""Compressed-time soak: ~2,000 candles with a random fault every couple of seconds; afterwards nothing is
missing or duplicated, values equal ground truth, and tasks, sockets and buffers did not grow."""
import asyncio
import random

import numpy as np
import pytest
from waiting import wait_for

from twinstar_gui.config import settings_from_dict
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.data.store import CandleStore
from twinstar_gui.net.backoff import ReconnectPolicy
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer
from twinstar_gui.wiring import build_core

pytestmark = pytest.mark.e2e
Q = Timeframe.M15.ms
TARGET = 2000
SPEED = 45_000.0  # 15 minutes every 20 ms: 2,000 candles in ~40 s


async def test_soak_with_random_faults(tmp_path):
    rng = random.Random(2026)
    server = SimServer(Market(SimClock(speed=SPEED), seed=51, history_days=40), push_interval=0.05)
    await server.start()
    settings = settings_from_dict({"data_dir": str(tmp_path), "window_15m": 200, "exchanges": {"bybit": {
        "rest_url": server.rest_url("bybit"), "ws_url": server.ws_url("bybit"), "symbols": ["BTCUSDT", "ETHUSDT"]}}})
    core = build_core(settings, feed_options={
        "policy": ReconnectPolicy(base=0.1, jitter=0.1, cap=0.5), "max_silence": 0.5, "heartbeat_interval": 0.2,
        "fallback_after": 0.8, "fallback_poll": 0.3, "recover_after": 0.8})
    feed = core.feeds["bybit"]
    closed = {s: [] for s in feed.series}
    for sym, series in feed.series.items():
        series.listeners.closed.append(
            lambda ev, sym=sym: closed[sym].append(ev) if ev.timeframe is Timeframe.M15 else None)
    faults_done = []
    try:
        await core.start()
        await wait_for(lambda: all(len(v) >= 200 for v in closed.values()), what="history")
        await asyncio.sleep(0.5)
        tasks_before = len(asyncio.all_tasks())
        start_counts = {s: len(v) for s, v in closed.items()}
        loop = asyncio.get_running_loop()
        end = loop.time() + 120
        while min(len(v) - start_counts[s] for s, v in closed.items()) < TARGET and loop.time() < end:
            await asyncio.sleep(rng.uniform(1.0, 2.5))
            fault = rng.choice(["drop", "freeze", "garble", "close", "rest"])
            faults_done.append(fault)
            if fault == "drop":
                await server.drop_connections()
            elif fault == "freeze":
                server.freeze(True)
                await asyncio.sleep(rng.uniform(0.3, 1.2))
                server.freeze(False)
            elif fault == "garble":
                server.garble(*rng.sample(["duplicate", "reorder", "malformed"], rng.randint(1, 3)))
                await asyncio.sleep(rng.uniform(0.5, 1.5))
                server.garble()
            elif fault == "close":
                server.close_with(rng.choice([1001, 1011, 1012]))
            else:
                server.fail_rest(rng.choice([429, 503]), times=2, retry_after=0.1)
        await wait_for(lambda: feed.ws.is_healthy(0.5) and not feed.fallback_active, timeout=20, what="healthy again")
        await asyncio.sleep(1.0)
        tasks_after = len(asyncio.all_tasks())
        assert server.ws_connections_open == 1, "a socket leaked"
        assert abs(tasks_after - tasks_before) <= 2, (tasks_before, tasks_after)
        assert all(len(s.candles[Timeframe.M15]) == 200 and not s._pending for s in feed.series.values())
        assert len(feed.ws._arrivals) <= feed.ws._arrivals.maxlen
        assert await core.shutdown()
        assert core.writer.pending == 0
    finally:
        await server.stop()
    assert len(set(faults_done)) >= 4, faults_done
    store = CandleStore(tmp_path)
    for sym, events in closed.items():
        assert len(events) - start_counts[sym] >= TARGET, f"{sym}: only {len(events)} closes"
        opens = [c.candle.open_time for c in events]
        assert opens == sorted(set(opens)) and (np.diff(opens) == Q).all(), f"{sym}: gap or duplicate"
        disk = store.load("bybit", sym)
        ts = disk["timestamp"].astype("int64").to_numpy()
        assert (np.diff(ts) == Q).all()
        truth = server.market.closed_candles(sym, Q, int(ts[0]), int(ts[-1]))
        assert [c.open_time for c in truth] == ts.tolist()
        want = np.array([[c.open, c.high, c.low, c.close, c.volume] for c in truth])
        np.testing.assert_array_equal(disk[["open", "high", "low", "close", "volume"]].to_numpy(), want)
