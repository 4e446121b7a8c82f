"""The close detector's deadline: a candle whose close never comes on the stream is confirmed by REST."""
import numpy as np
from waiting import wait_for

from twinstar_gui.core.models import KlineEvent
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


async def test_quiet_stream_candle_is_closed_by_its_deadline(tmp_path):
    server = SimServer(Market(SimClock(speed=900.0), seed=8, history_days=3), push_interval=0.05)
    await server.start()
    try:
        adapter = get_exchange("bitget", rest_url=server.rest_url("bitget"))  # no close flag on Bitget
        store = CandleStore(tmp_path)
        writer = CandleWriter(store)
        series = SeriesManager("bitget", "BTCUSDT", rest=RestClient(adapter), store=store, writer=writer,
                               windows={Timeframe.M15: 100}, now_ms=server.market.now_ms)  # our clock = the sim's
        await series.backfill()
        last = series.last_closed
        # the stream showed the forming candle once, then went quiet (no push for the next bucket)
        forming_open = last + Q
        series.on_kline(KlineEvent("bitget", "BTCUSDT", "15m", forming_open, 1.0, 1.0, 1.0, 1.0, 0.0, None))
        await wait_for(lambda: series.check_deadline(grace_ms=0) or series.last_closed > last, timeout=10,
                       what="the deadline")
        await wait_for(lambda: series.last_closed is not None and series.last_closed >= forming_open, what="REST close")
        assert not series.check_deadline(grace_ms=0)  # once per candle
        writer.close()
        disk = store.load("bitget", "BTCUSDT")
        ts = disk["timestamp"].astype("int64").to_numpy()
        assert forming_open in ts and (np.diff(ts) == Q).all()
        truth = server.market.closed_candles("BTCUSDT", Q, forming_open, forming_open)
        assert disk[ts == forming_open]["close"].tolist() == [truth[0].close]  # REST's final value, not the push
        assert 1.0 not in disk["close"].tolist()  # the pushed guess (all 1.0) was never stored
    finally:
        await server.stop()
