"""Network outages never end a series: the exchange unreachable at start and again mid-run (a proxy that refuses
connections, then accepts), on each of the seven exchanges; afterwards the dataset equals the exchange's
history with no gap, and the closes came in order, once each."""
import asyncio
import contextlib

import numpy as np
import pytest
from support.proxy import FlakyProxy
from test_all_exchanges import SYMBOL, one_exchange_core
from waiting import wait_for

from twinstar_gui.core.errors import ConnectFailed
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.data.feed import sync_summary
from twinstar_gui.data.store import CandleStore
from twinstar_gui.net.backoff import ReconnectPolicy
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.krw import KrwBook
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer

pytestmark = pytest.mark.e2e
Q = Timeframe.M15.ms


@contextlib.asynccontextmanager
async def sim_behind_proxy():
    server = SimServer(Market(SimClock(speed=1800.0), seed=33, history_days=3), push_interval=0.05)
    await server.start()
    proxy = FlakyProxy(server.port)  # refusing until told otherwise
    try:
        yield server, proxy
    finally:
        proxy.close()
        await server.stop()


def via(proxy, server, url: str) -> str:
    return url.replace(f":{server.port}/", f":{proxy.port}/")


@pytest.mark.parametrize("exchange", list(SYMBOL))
async def test_outage_at_start_and_mid_run_loses_nothing(exchange, tmp_path):
    native, canonical = SYMBOL[exchange]
    async with sim_behind_proxy() as (sim, proxy):
        core, closed = one_exchange_core(exchange, via(proxy, sim, sim.rest_url(exchange)),
                                         via(proxy, sim, sim.ws_url(exchange)), tmp_path,
                                         ReconnectPolicy(base=0.2, factor=1.5, cap=0.6, jitter=0.1, max_tries=1000))
        series = core.feeds[exchange].series[native]
        await core.start()
        # 1. unreachable at start: the series waits and says why; it is not "rejected", not "up to date"
        await wait_for(lambda: series.sync.stage == "retrying", what=f"{exchange}: retrying at start")
        assert ConnectFailed.__name__ in series.rest_problem and not series.failed
        await asyncio.sleep(1.5)  # the outage goes on: several retries fail
        assert not series.failed and series.sync.stage == "retrying"
        summary = sync_summary(core.feeds.values())
        assert summary.busy and summary.retrying == 1
        assert f"1 waiting for the exchange ({exchange} {native}: cannot connect)" in summary.text()
        proxy.forward()
        await wait_for(lambda: len(closed) >= 100 + 3 and not series.sync.busy, timeout=30,
                       what=f"{exchange}: history and live closes once the exchange answers")
        assert not series.rest_problem
        # 2. mid-run: the connection is cut and reconnects are refused while candles keep closing
        proxy.refuse()
        before = len(closed)
        await asyncio.sleep(2.0)  # ~4 candles close at the exchange meanwhile
        assert len(closed) <= before + 1 and not series.failed
        proxy.forward()
        await wait_for(lambda: len(closed) >= before + 8 and not series.sync.busy, timeout=30,
                       what=f"{exchange}: the outage's candles backfilled, then live again")
        assert await core.shutdown()
        assert not series.failed and not series._pending
    opens = [c.candle.open_time for c in closed]
    assert opens == sorted(set(opens)) and (np.diff(opens) == Q).all(), "gap, duplicate or disorder"
    assert {c.source for c in closed[before:]} >= {"backfill"}, "the outage's candles came from no backfill"
    disk = CandleStore(tmp_path).load(exchange, native)
    ts = disk["timestamp"].astype("int64").to_numpy()
    assert (np.diff(ts) == Q).all() and ts[-1] == opens[-1] and ts[0] <= opens[0]
    source = KrwBook(sim.market) if exchange in ("upbit", "bithumb") else sim.market
    truth = source.closed_candles(canonical, Q, int(ts[0]), int(ts[-1]))
    assert [int(c[0]) for c in truth] == ts.tolist()
    np.testing.assert_allclose(disk[["open", "high", "low", "close", "volume"]].to_numpy(),
                               np.array([[float(x) for x in c[1:6]] for c in truth]), rtol=1e-12)
