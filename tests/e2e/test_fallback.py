"""REST fallback with hysteresis: while the stream is silent, closed candles keep arriving by REST; it
switches back once the stream is healthy again; nothing is lost or duplicated."""
import contextlib

import numpy as np
import pytest
from waiting import wait_for

from twinstar_gui.config import settings_from_dict
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.data.store import CandleStore
from twinstar_gui.net.backoff import ReconnectPolicy
from twinstar_gui.net.ws import StreamState
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer
from twinstar_gui.wiring import build_core

pytestmark = pytest.mark.e2e
Q = Timeframe.M15.ms


@contextlib.asynccontextmanager
async def running_sim():
    server = SimServer(Market(SimClock(speed=3600.0), seed=31, history_days=3), push_interval=0.05)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_silent_stream_falls_back_to_rest_and_comes_back(tmp_path):
    async with running_sim() as sim:
        settings = settings_from_dict({"data_dir": str(tmp_path), "window_15m": 100, "exchanges": {"bybit": {
            "rest_url": sim.rest_url("bybit"), "ws_url": sim.ws_url("bybit"), "symbols": ["BTCUSDT"]}}})
        core = build_core(settings, feed_options={
            "policy": ReconnectPolicy(base=0.1, jitter=0.0), "max_silence": 0.5, "heartbeat_interval": 0.2,
            "fallback_after": 0.5, "fallback_poll": 0.2, "recover_after": 1.0})
        feed = core.feeds["bybit"]
        closed = []
        feed.series["BTCUSDT"].listeners.closed.append(
            lambda ev: closed.append(ev) if ev.timeframe is Timeframe.M15 else None)
        await core.start()
        await wait_for(lambda: sum(c.source == "ws" for c in closed) >= 3, what="live closes")
        sim.freeze(True)  # sockets stay open, nothing flows, pings unanswered
        await wait_for(lambda: feed.fallback_active, what="fallback on")
        assert feed.ws.health().state is StreamState.FALLBACK
        n = len(closed)
        await wait_for(lambda: len(closed) >= n + 4, what="closes by REST while the stream is silent")
        assert {c.source for c in closed[n:]} == {"backfill"}
        sim.freeze(False)
        await wait_for(lambda: not feed.fallback_active, what="fallback off after the stream recovered")
        m = len(closed)
        await wait_for(lambda: len(closed) >= m + 3, what="closes after recovery")
        assert await core.shutdown()
    opens = [c.candle.open_time for c in closed]
    assert opens == sorted(set(opens)) and (np.diff(opens) == Q).all()
    disk = CandleStore(tmp_path).load("bybit", "BTCUSDT")
    ts = disk["timestamp"].astype("int64").to_numpy()
    truth = sim.market.closed_candles("BTCUSDT", Q, int(ts[0]), int(ts[-1]))
    assert [c.open_time for c in truth] == ts.tolist()
    assert [c.close for c in truth] == disk["close"].tolist()
