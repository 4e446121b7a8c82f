"""The six non-Bybit simulated exchanges through our REST client and adapters: errors, tickers, idle cuts."""
import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.exchanges import ExchangeError, get_exchange
from twinstar_gui.net.rest import RestClient
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimServer, SimThread

NATIVE = {"binance": "BTCUSDT", "okx": "BTC-USDT-SWAP", "bitget": "BTCUSDT", "bingx": "BTC-USDT",
          "upbit": "KRW-BTC", "bithumb": "BTC_KRW"}
BAD = {"binance": "NOPEUSDT", "okx": "NOPE-USDT-SWAP", "bitget": "NOPEUSDT", "bingx": "NOPE-USDT",
       "upbit": "KRW-NOPE", "bithumb": "NOPE_KRW"}


@pytest.fixture(scope="module")
def sim():
    s = SimThread(Market(SimClock(speed=60.0), seed=5, history_days=7)).start()
    yield s
    s.stop()


def client(sim, exchange):
    return RestClient(get_exchange(exchange, rest_url=sim.rest_url(exchange)), sleep=lambda s: None)


@pytest.mark.parametrize("exchange", list(NATIVE))
def test_history_tickers_and_unknown_symbols(sim, exchange):
    c = client(sim, exchange)
    now = sim.server.market.now_ms()
    frame = c.fetch_klines(NATIVE[exchange], Timeframe.M15, now - 450 * Timeframe.M15.ms,
                           now_ms=now)  # 450 candles: more than one page everywhere
    ts = frame["timestamp"].astype("int64")
    assert len(frame) >= 448 and ts.is_monotonic_increasing and ts.is_unique
    assert (ts.diff().dropna() == Timeframe.M15.ms).all()
    top = c.fetch_tickers()
    assert len(top) >= 5 and top["quote_volume_24h"].is_monotonic_decreasing
    with pytest.raises(ExchangeError) as err:
        c.fetch_klines(BAD[exchange], Timeframe.M15, now - 5 * Timeframe.M15.ms, now_ms=now)
    assert exchange in str(err.value) and err.value.code is not None


@pytest.mark.parametrize("exchange, timeout", [("okx", 30.0), ("upbit", 120.0), ("bitget", 120.0)])
async def test_silent_clients_are_cut_after_the_exchange_timeout(exchange, timeout):
    server = SimServer(Market(SimClock(), seed=1, history_days=1), push_interval=0.05, idle_timeout=0.3)
    await server.start()
    try:
        async with connect(server.ws_url(exchange)) as ws:
            await asyncio.wait_for(ws.wait_closed(), 5)
            assert ws.close_code == 1000
    finally:
        await server.stop()
    from twinstar_gui.sim import bitget, okx, upbit

    assert timeout == {"okx": okx.OkxBusinessSession, "upbit": upbit.UpbitSession,
            "bitget": bitget.BitgetPublicSession}[exchange].IDLE_TIMEOUT_S


async def test_bingx_pings_and_bad_subscriptions_are_answered():
    import gzip

    server = SimServer(Market(SimClock(speed=60.0), seed=1, history_days=1), push_interval=0.05)
    await server.start()
    try:
        async with connect(server.ws_url("bingx")) as ws:
            await ws.send(json.dumps({"id": "x", "reqType": "sub", "dataType": "NOPE-USDT@kline_15m"}))
            reply = json.loads(gzip.decompress(await asyncio.wait_for(ws.recv(), 3)))
            assert reply["code"] != 0 and reply["id"] == "x"
            events = get_exchange("bingx").parse_ws_message(gzip.compress(json.dumps(reply).encode()))
            assert events and events[0].ok is False
    finally:
        await server.stop()
