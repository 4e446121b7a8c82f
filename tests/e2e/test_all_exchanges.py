"""Each exchange end to end over loopback: simulator (its wire format) -> adapter -> closed candles on disk
identical to the simulator's ground truth, with no gap and no duplicate."""
import contextlib

import numpy as np
import pytest
from waiting import wait_for

from twinstar_gui.config import settings_from_dict
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.data.store import CandleStore
from twinstar_gui.net.backoff import ReconnectPolicy
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.krw import KrwBook
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer
from twinstar_gui.wiring import build_core

pytestmark = pytest.mark.e2e
Q = Timeframe.M15.ms
# exchange -> (its native name of the simulator's BTC market, the simulator's own name of it)
SYMBOL = {"bybit": ("BTCUSDT", "BTCUSDT"), "binance": ("BTCUSDT", "BTCUSDT"), "okx": ("BTC-USDT-SWAP", "BTCUSDT"),
          "bitget": ("BTCUSDT", "BTCUSDT"), "bingx": ("BTC-USDT", "BTCUSDT"), "upbit": ("KRW-BTC", "BTCUSDT"),
          "bithumb": ("BTC_KRW", "BTCUSDT")}


def one_exchange_core(exchange: str, rest_url: str, ws_url: str, data_dir, policy: ReconnectPolicy):
    """A core collecting the BTC market of one exchange (window 100), and the list its closed 15m candles go to."""
    native = SYMBOL[exchange][0]
    settings = settings_from_dict({"data_dir": str(data_dir), "window_15m": 100, "exchanges": {exchange: {
        "enabled": True, "rest_url": rest_url, "ws_url": ws_url, "symbols": [native]}}})
    core = build_core(settings, exchanges=[exchange], feed_options={"policy": policy})
    closed = []
    core.feeds[exchange].series[native].listeners.closed.append(
        lambda ev: closed.append(ev) if ev.timeframe is Timeframe.M15 else None)
    return core, closed


@contextlib.asynccontextmanager
async def running_sim():
    server = SimServer(Market(SimClock(speed=3600.0), seed=21, history_days=3), push_interval=0.05)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.parametrize("exchange", list(SYMBOL))
async def test_exchange_end_to_end(exchange, tmp_path):
    native, canonical = SYMBOL[exchange]
    async with running_sim() as sim:
        core, closed = one_exchange_core(exchange, sim.rest_url(exchange), sim.ws_url(exchange), tmp_path,
                                         ReconnectPolicy(base=0.1, jitter=0.0))
        await core.start()
        await wait_for(lambda: len(closed) >= 100 + 6, timeout=20, what=f"{exchange}: history + 6 live closes")
        await sim.drop_connections()
        n = len(closed)
        await wait_for(lambda: len(closed) >= n + 4, timeout=20, what=f"{exchange}: closes after a reconnect")
        assert await core.shutdown()
        assert not core.feeds[exchange].ws.bad_messages
    opens = [c.candle.open_time for c in closed]
    assert opens == sorted(set(opens)) and (np.diff(opens) == Q).all(), "gap, duplicate or disorder"
    disk = CandleStore(tmp_path).load(exchange, native)
    ts = disk["timestamp"].astype("int64").to_numpy()
    assert (np.diff(ts) == Q).all() and ts[-1] == opens[-1]
    source = KrwBook(sim.market) if exchange in ("upbit", "bithumb") else sim.market  # KRW = USDT x rate
    truth = source.closed_candles(canonical, Q, int(ts[0]), int(ts[-1]))
    assert [c.open_time for c in truth] == ts.tolist()
    want = np.array([[c.open, c.high, c.low, c.close, c.volume] for c in truth])
    np.testing.assert_allclose(disk[["open", "high", "low", "close", "volume"]].to_numpy(), want, rtol=0, atol=1e-9)


@pytest.mark.parametrize("exchange", list(SYMBOL))
async def test_a_number_of_5000_digits_in_a_frame_is_skipped_and_the_stream_goes_on(exchange, tmp_path):
    async with running_sim() as sim:
        core, closed = one_exchange_core(exchange, sim.rest_url(exchange), sim.ws_url(exchange), tmp_path,
                                         ReconnectPolicy(base=0.1, jitter=0.0))
        ws = core.feeds[exchange].ws
        await core.start()
        await wait_for(lambda: len(closed) >= 100 + 2, timeout=20, what=f"{exchange}: live")
        sim.garble("huge_number")
        await wait_for(lambda: ws.bad_messages >= 3, what=f"{exchange}: hostile frames seen")
        n = len(closed)
        await wait_for(lambda: len(closed) >= n + 3, timeout=20, what=f"{exchange}: closes go on meanwhile")
        sim.garble()
        assert ws.connects == 1 and ws.reconnects == 0, ws.last_error  # never a reason to drop the connection
        assert await core.shutdown()
    opens = [c.candle.open_time for c in closed]
    assert opens == sorted(set(opens)) and (np.diff(opens) == Q).all()
