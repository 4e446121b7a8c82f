"""End to end over real loopback sockets: simulator -> WS/REST -> closed candles -> Parquet -> presenter."""
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
SPEED = 3600.0  # one 15m candle every 0.25 s




# Not a fixture: pytest-qt processes Qt events between test phases, which would run the qasync loop's socket
# callbacks outside the loop; sockets live and die inside the test body.
@contextlib.asynccontextmanager
async def running_sim():
    market = Market(SimClock(speed=SPEED), seed=11, history_days=3)
    server = SimServer(market, push_interval=0.05)
    await server.start()
    yield server
    await server.stop()


def make_core(sim, tmp_path, symbols, **feed_options):
    settings = settings_from_dict({"data_dir": str(tmp_path / "data"), "window_15m": 100, "exchanges": {"bybit": {
        "rest_url": sim.rest_url("bybit"), "ws_url": sim.ws_url("bybit"), "symbols": symbols}}})
    opts = {"policy": ReconnectPolicy(base=0.1, jitter=0.0), **feed_options}
    return build_core(settings, feed_options=opts)


def assert_matches_ground_truth(sim, store, symbol):
    disk = store.load("bybit", symbol)
    ts = disk["timestamp"].astype("int64").to_numpy()
    assert len(ts) > 0 and (np.diff(ts) == Q).all(), "gap or duplicate on disk"
    truth = sim.market.closed_candles(symbol, Q, int(ts[0]), int(ts[-1]))
    assert [int(c[0]) for c in truth] == ts.tolist()
    want = np.array([[float(x) for x in c[1:6]] for c in truth])
    np.testing.assert_array_equal(disk[["open", "high", "low", "close", "volume"]].to_numpy(), want)
    return disk


async def test_live_candles_reach_disk_and_chart_exactly(tmp_path, qapp):
    async with running_sim() as sim:
        from twinstar_gui.presenters.chart import ChartPresenter

        core = make_core(sim, tmp_path, ["BTCUSDT", "ETHUSDT"])
        chart = ChartPresenter(core.feeds, engine=core.engine)
        chart.select("bybit", "BTCUSDT", "15m")
        histories, updates = [], []
        chart.history.connect(lambda f, s, tf: histories.append((len(f), s, tf)))
        chart.candles.connect(lambda batch, s, tf: updates.extend(batch))
        closed = []
        series = core.feeds["bybit"].series["BTCUSDT"]
        series.listeners.closed.append(lambda ev: closed.append(ev) if ev.timeframe is Timeframe.M15 else None)
        await core.start()
        await wait_for(lambda: sum(1 for c in closed if c.source == "ws") >= 8, what="8 live closes")
        await wait_for(lambda: updates, what="presenter updates")
        assert await core.shutdown()

        opens = [c.candle.open_time for c in closed]
        assert opens == sorted(set(opens)), "a candle was emitted twice or out of order"
        assert (np.diff(opens) == Q).all()
        assert {c.source for c in closed} >= {"rest", "ws"}
        store = CandleStore(tmp_path / "data")
        for sym in ("BTCUSDT", "ETHUSDT"):
            disk = assert_matches_ground_truth(sim, store, sym)
            assert len(disk) >= 100
        assert histories and histories[-1][1:] == ("BTCUSDT", "15m")
        frame = chart.current_frame()
        assert frame["timestamp"].astype("int64").iloc[-1] == opens[-1]
        assert any(u[6] is False for u in updates) and any(u[6] is True for u in updates)  # forming + closed
        # derived timeframes come only from complete groups
        h1 = series.frame(Timeframe.H1)
        assert len(h1) > 0 and (h1["timestamp"].astype("int64") % Timeframe.H1.ms == 0).all()

async def test_dropped_socket_loses_and_duplicates_nothing(tmp_path):
    async with running_sim() as sim:
        # reconnects wait 0.6 s: candles (one every 0.25 s) surely close while the stream is away
        core = make_core(sim, tmp_path, ["BTCUSDT"], policy=ReconnectPolicy(base=0.6, jitter=0.0, max_tries=1000))
        series = core.feeds["bybit"].series["BTCUSDT"]
        closed = []
        series.listeners.closed.append(lambda ev: closed.append(ev) if ev.timeframe is Timeframe.M15 else None)
        ws = core.feeds["bybit"].ws
        await core.start()
        await wait_for(lambda: sum(1 for c in closed if c.source == "ws") >= 3, what="live closes")
        for _ in range(2):
            before = ws.connects
            await sim.drop_connections()
            await wait_for(lambda before=before: ws.connects > before, what="reconnect")
        n = len(closed)
        await wait_for(lambda: len(closed) >= n + 4, what="closes after reconnect")
        assert await core.shutdown()
        opens = [c.candle.open_time for c in closed]
        assert opens == sorted(set(opens)) and (np.diff(opens) == Q).all()
        assert "backfill" in {c.source for c in closed}, "the gap was not backfilled by REST"
        assert ws.reconnects >= 2
        assert_matches_ground_truth(sim, CandleStore(tmp_path / "data"), "BTCUSDT")

async def test_frozen_stream_is_detected_and_recovered(tmp_path):
    async with running_sim() as sim:
        core = make_core(sim, tmp_path, ["BTCUSDT"], max_silence=0.5, heartbeat_interval=0.2)
        ws = core.feeds["bybit"].ws
        await core.start()
        await wait_for(lambda: ws.connects >= 1 and ws.is_healthy(1.0), what="live")
        sim.freeze(True)
        await wait_for(lambda: not ws.is_healthy(0.5), what="unhealthy")
        await wait_for(lambda: "no data" in ws.last_error, what="the watchdog dropping the silent socket")
        sim.freeze(False)
        await wait_for(lambda: ws.connects >= 2 and ws.is_healthy(1.0), what="recovered")
        assert "no data" in ws.last_error
        assert await core.shutdown()
        assert_matches_ground_truth(sim, CandleStore(tmp_path / "data"), "BTCUSDT")

async def test_unknown_symbol_is_reported_and_the_rest_keeps_working(tmp_path, caplog):
    async with running_sim() as sim:
        core = make_core(sim, tmp_path, ["BTCUSDT", "NOPEUSDT"])
        feed = core.feeds["bybit"]
        await core.start()
        await wait_for(lambda: feed.series["NOPEUSDT"].failed and feed.series["BTCUSDT"].closed_emitted > 100,
                       what="bad symbol flagged, good one live")
        from twinstar_gui.data.feed import sync_summary

        await wait_for(lambda: not sync_summary([feed]).busy, what="history caught up")
        assert sync_summary([feed]).text() == "history up to date (1 series); 1 rejected by the exchange"
        assert await core.shutdown()
        assert any("NOPEUSDT" in e and "rejected" in e for e in feed.errors)
        assert CandleStore(tmp_path / "data").load("bybit", "NOPEUSDT").empty
        assert_matches_ground_truth(sim, CandleStore(tmp_path / "data"), "BTCUSDT")
