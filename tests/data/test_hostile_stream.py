"""What the stream says is checked against what REST says: a forged candle from the future changes nothing, and a
live close never becomes a series' first candle while REST is down (the window before it would be lost)."""
import asyncio

import numpy as np
from support.proxy import FlakyProxy
from waiting import wait_for

from twinstar_gui.core.models import KlineEvent
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.data.manager import SeriesManager
from twinstar_gui.data.store import CandleStore
from twinstar_gui.data.writer import CandleWriter
from twinstar_gui.exchanges import get_exchange
from twinstar_gui.net.backoff import ReconnectPolicy
from twinstar_gui.net.rest import RestClient
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer

Q = Timeframe.M15.ms
Y2099 = 4_070_908_800_000


def kline(open_time, closed, price=100.0):
    return KlineEvent("bybit", "BTCUSDT", "15m", open_time, price, price, price, price, 1.0, closed)


async def test_a_forged_candle_from_the_future_changes_nothing(tmp_path):
    server = SimServer(Market(SimClock(speed=1.0), seed=8, history_days=3), push_interval=0.05)
    await server.start()
    try:
        store = CandleStore(tmp_path)
        writer = CandleWriter(store)
        series = SeriesManager("bybit", "BTCUSDT", rest=RestClient(get_exchange("bybit", rest_url=server.rest_url())),
                               store=store, writer=writer, windows={Timeframe.M15: 100}, now_ms=server.market.now_ms)
        await series.backfill()
        last, offset = series.last_closed, series.clock_offset_ms
        series.on_kline(kline(Y2099, True))  # a closed candle of 2099
        series.on_kline(kline(Y2099 + Q, None))  # and a forming one after it
        assert series.last_closed == last and not series._pending and series.forming is None
        assert series.clock_offset_ms == offset  # the clock was not moved by the stream
        assert series.backfill_task.done()  # no backfill chasing a hole up to 2099
        series.on_kline(kline(last + Q, True))  # the next close (its bucket is under way: plausible)
        assert series.last_closed == last + Q  # is taken as usual
        writer.close()
        months = store.months("bybit", "BTCUSDT")
        assert "2099-01" not in months and store.last_timestamp("bybit", "BTCUSDT") == last + Q
    finally:
        await server.stop()


async def test_a_stream_running_ahead_of_our_clock_bucket_after_bucket_is_followed(tmp_path):
    """A simulated exchange runs faster than our clock: after three consecutive buckets the stream is believed."""
    server = SimServer(Market(SimClock(speed=1.0), seed=8, history_days=3), push_interval=0.05)
    await server.start()
    try:
        store = CandleStore(tmp_path)
        writer = CandleWriter(store)
        series = SeriesManager("bybit", "BTCUSDT", rest=RestClient(get_exchange("bybit", rest_url=server.rest_url())),
                               store=store, writer=writer, windows={Timeframe.M15: 100}, now_ms=server.market.now_ms)
        await series.backfill()
        ahead = series.last_closed + 20 * Q  # 5 hours ahead of our clock and of the last close
        for i in range(3):
            series.on_kline(kline(ahead + i * Q, None))
            assert series.forming is None, i  # not yet
        series.on_kline(kline(ahead + 3 * Q, None))
        assert series.forming is not None and series.forming.open_time == ahead + 3 * Q
        writer.close()
    finally:
        await server.stop()


async def test_live_closes_while_rest_is_down_at_start_wait_for_the_history(tmp_path):
    """The stream works, REST refuses: the closes wait; once REST answers, the whole window is fetched and the
    closes follow it in order (the first live close used to become the series' first candle for good)."""
    server = SimServer(Market(SimClock(speed=1800.0), seed=8, history_days=3), push_interval=0.05)
    await server.start()
    proxy = FlakyProxy(server.port)  # REST only goes through it: refusing
    try:
        market = server.market
        store = CandleStore(tmp_path)
        writer = CandleWriter(store)
        proxied = server.rest_url().replace(f":{server.port}/", f":{proxy.port}/")
        rest = RestClient(get_exchange("bybit", rest_url=proxied))
        series = SeriesManager("bybit", "BTCUSDT", rest=rest, store=store, writer=writer, windows={Timeframe.M15: 100},
                               now_ms=market.now_ms, retry_policy=ReconnectPolicy(base=0.2, cap=0.4, max_tries=1000))
        closed = []
        series.listeners.closed.append(lambda ev: closed.append(ev) if ev.timeframe is Timeframe.M15 else None)
        series.backfill()
        now = market.now_ms()
        for i in (3, 2, 1):  # three live closes arrive while REST is down
            c = market.closed_candles("BTCUSDT", Q, now - now % Q - i * Q, now - now % Q - i * Q)[0]
            series.on_kline(KlineEvent("bybit", "BTCUSDT", "15m", c.open_time, c.open, c.high, c.low, c.close,
                                       c.volume, True))
        await wait_for(lambda: series.sync.stage == "retrying", what="retrying")
        await asyncio.sleep(0.5)
        assert series.last_closed is None and not closed and len(series._pending) == 3
        proxy.forward()
        await wait_for(lambda: not series.sync.busy and len(closed) >= 100, timeout=20, what="the window, then more")
        writer.close()
        opens = [c.candle.open_time for c in closed]
        assert opens == sorted(set(opens)) and (np.diff(opens) == Q).all()
        disk = store.load("bybit", "BTCUSDT")
        assert len(disk) >= 100 and (np.diff(disk["timestamp"].astype("int64").to_numpy()) == Q).all()
    finally:
        proxy.close()
        await server.stop()
