"""StreamHub over loopback: 200 symbols on 2 connections, ref-counted subscriptions, replay per connection."""
import asyncio
import contextlib

from waiting import wait_for

from twinstar_gui.core.models import KlineEvent, TickerEvent
from twinstar_gui.exchanges import get_exchange
from twinstar_gui.net.backoff import ReconnectPolicy
from twinstar_gui.net.hub import StreamHub
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market, SymbolSpec
from twinstar_gui.sim.server import SimServer

SYMBOLS = {f"S{i:03d}USDT": SymbolSpec(10.0 + i, 0.01, 0.1, 50.0) for i in range(200)}


@contextlib.asynccontextmanager
async def hub_on_sim(events):
    server = SimServer(Market(SimClock(speed=600.0), seed=2, symbols=SYMBOLS, history_days=1), push_interval=0.1)
    await server.start()
    adapter = get_exchange("bybit", rest_url=server.rest_url("bybit"), ws_url=server.ws_url("bybit"))
    hub = StreamHub(adapter, on_events=events.extend, policy=ReconnectPolicy(base=0.1, jitter=0.0))
    try:
        yield hub, server, adapter
    finally:
        await hub.stop()
        await server.stop()


async def test_200_symbols_share_two_connections_and_all_stream():
    events = []
    async with hub_on_sim(events) as (hub, server, adapter):
        topics = [t for s in SYMBOLS for t in (f"kline.15.{s}", f"tickers.{s}")]
        await hub.acquire(topics)
        hub.start()
        assert len(hub.connections) == 2 and all(len(c.topics) == 200 for c in hub.connections)
        await wait_for(lambda: {e.symbol for e in events if isinstance(e, KlineEvent)} == set(SYMBOLS), timeout=20,
                       what="klines for all 200 symbols")
        await wait_for(lambda: {e.symbol for e in events if isinstance(e, TickerEvent)} == set(SYMBOLS), timeout=20,
                       what="tickers for all 200 symbols")  # they come on their own schedule
        assert all(c.last_error == "" for c in hub.connections), [c.last_error for c in hub.connections]
        assert server.ws_connections_open == 2


async def test_refcounted_subscriptions_and_replay_after_reconnect():
    events = []
    async with hub_on_sim(events) as (hub, server, adapter):
        topic = "kline.15.S001USDT"
        await hub.acquire([topic])  # the chart
        await hub.acquire([topic, "kline.15.S002USDT"])  # a bot wants the same stream
        hub.start()
        assert hub.refs[topic] == 2 and len(hub.connections) == 1
        await wait_for(lambda: any(e.symbol == "S001USDT" for e in events), what="first stream")
        await hub.release([topic])  # one consumer leaves: still streaming
        assert topic in hub.connections[0].topics
        before = hub.connections[0].connects
        await server.drop_connections()
        await wait_for(lambda: hub.connections[0].connects > before, what="reconnect")
        events.clear()
        await wait_for(lambda: any(e.symbol == "S001USDT" for e in events), what="topic replayed")
        await hub.release([topic])  # the last one out unsubscribes
        assert topic not in hub.refs and topic not in hub.connections[0].topics
        await asyncio.sleep(0.5)
        events.clear()
        await asyncio.sleep(0.6)
        assert not any(e.symbol == "S001USDT" for e in events) and any(e.symbol == "S002USDT" for e in events)


async def test_a_fault_on_one_connection_leaves_the_other_streaming():
    events = []
    async with hub_on_sim(events) as (hub, server, adapter):
        await hub.acquire([t for s in SYMBOLS for t in (f"kline.15.{s}", f"tickers.{s}")])
        hub.start()
        await wait_for(lambda: server.ws_connections_open == 2 and all(c.is_healthy(5) for c in hub.connections),
                       what="two live connections")
        first, second = hub.connections
        victim = server.connections()[0]
        server.garble_connection(victim, "malformed")
        await wait_for(lambda: first.bad_messages + second.bad_messages > 0, what="malformed frames on one connection")
        assert (first.bad_messages == 0) != (second.bad_messages == 0)  # only one of them saw garbage
        server.garble_connection(victim)
        before = (first.connects, second.connects)
        await server.drop_connections(only=victim)
        await wait_for(lambda: first.connects + second.connects > sum(before), what="the dropped one reconnects")
        assert sorted((first.connects - before[0], second.connects - before[1])) == [0, 1]
