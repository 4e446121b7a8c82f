"""One test per stream fault over loopback, each ending with the stored closed candles equal to the
simulator's ground truth: nothing missing, nothing duplicated, values equal."""
import asyncio
import contextlib

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


@contextlib.asynccontextmanager
async def collecting(tmp_path, speed=3600.0, **feed_options):
    server = SimServer(Market(SimClock(speed=speed), seed=41, history_days=3), push_interval=0.05)
    await server.start()
    settings = settings_from_dict({"data_dir": str(tmp_path), "window_15m": 100, "exchanges": {"bybit": {
        "rest_url": server.rest_url("bybit"), "ws_url": server.ws_url("bybit"), "symbols": ["BTCUSDT"]}}})
    opts = {"policy": ReconnectPolicy(base=0.1, jitter=0.0), "max_silence": 0.6, "heartbeat_interval": 0.2,
            "fallback_after": 1.0, "fallback_poll": 0.3, "recover_after": 1.0, **feed_options}
    core = build_core(settings, feed_options=opts)
    closed = []
    core.feeds["bybit"].series["BTCUSDT"].listeners.closed.append(
        lambda ev: closed.append(ev) if ev.timeframe is Timeframe.M15 else None)
    try:
        await core.start()
        await wait_for(lambda: sum(c.source == "ws" for c in closed) >= 2, what="live")
        yield server, core, closed
        n = len(closed)
        await wait_for(lambda: len(closed) >= n + 3, timeout=20, what="closes after the fault")
        assert await core.shutdown()
    finally:
        await server.stop()
    check(server, tmp_path, closed)


def check(server, tmp_path, closed):
    opens = [c.candle.open_time for c in closed]
    assert opens == sorted(set(opens)) and (np.diff(opens) == Q).all(), "emitted twice, out of order or a gap"
    disk = CandleStore(tmp_path).load("bybit", "BTCUSDT")
    ts = disk["timestamp"].astype("int64").to_numpy()
    assert (np.diff(ts) == Q).all() and ts[-1] == opens[-1]
    truth = server.market.closed_candles("BTCUSDT", Q, int(ts[0]), int(ts[-1]))
    assert [c.open_time for c in truth] == ts.tolist()
    want = np.array([[c.open, c.high, c.low, c.close, c.volume] for c in truth])
    np.testing.assert_array_equal(disk[["open", "high", "low", "close", "volume"]].to_numpy(), want)


@pytest.mark.parametrize("faults", [("duplicate",), ("reorder",), ("malformed",),
                                    ("duplicate", "reorder", "malformed")])
async def test_garbled_frames(tmp_path, faults):
    async with collecting(tmp_path) as (server, core, closed):
        server.garble(*faults)
        n = len(closed)
        await wait_for(lambda: len(closed) >= n + 5, timeout=20, what="closes while garbled")
        server.garble()
        if "malformed" in faults:
            assert core.feeds["bybit"].ws.bad_messages > 0  # counted in health, stream went on


@pytest.mark.parametrize("code", [1001, 1011, 1012])
async def test_server_closes_with_codes(tmp_path, code):
    async with collecting(tmp_path) as (server, core, closed):
        ws = core.feeds["bybit"].ws
        before = ws.connects
        server.close_with(code)
        await wait_for(lambda: ws.connects > before, what="reconnect after close")
        assert str(code) in ws.last_error


async def test_unanswered_pings_and_stall(tmp_path):
    async with collecting(tmp_path) as (server, core, closed):
        ws = core.feeds["bybit"].ws
        before = ws.reconnects
        server.freeze(True)  # open but silent, pings unanswered
        await asyncio.sleep(1.5)
        server.freeze(False)
        await wait_for(lambda: ws.reconnects > before, what="reconnect after the stall")


@pytest.mark.parametrize("status", [429, 418, 403, 503])
async def test_rest_errors_during_backfill(tmp_path, status):
    async with collecting(tmp_path) as (server, core, closed):
        server.fail_rest(status, times=2, retry_after=0.2)
        await server.drop_connections()  # the reconnect's backfill meets the errors and retries


async def test_slow_rest_answers(tmp_path):
    async with collecting(tmp_path) as (server, core, closed):
        server.slow_rest(0.4)
        await server.drop_connections()  # the backfill after the reconnect waits on slow answers
        n = len(closed)
        await wait_for(lambda: len(closed) >= n + 4, timeout=20, what="closes with a slow REST")
        server.slow_rest(0)


async def test_rejected_subscription_is_reported_with_the_exchange_text(tmp_path):
    async with collecting(tmp_path) as (server, core, closed):
        feed = core.feeds["bybit"]
        server.reject_topics({"tickers.BTCUSDT"})
        await server.drop_connections()  # the replayed subscription is now refused for one topic
        await wait_for(lambda: any("tickers.BTCUSDT" in e for e in feed.errors), what="the rejection reported")
        assert "rejected" in feed.ws.last_error or "tickers.BTCUSDT" in feed.ws.last_error
        server.reject_topics(set())
