"""What the simulated perpetual venues list (sim/listing.py): the renamed symbol under its new name, serving the old
symbol's price process over REST and WebSocket in each exchange's own format; the delisted one as that exchange
shows it. Real loopback sockets, parsed by our adapters."""
import asyncio

import pytest
from sim_helpers import running
from websockets.asyncio.client import connect

from twinstar_gui.core.models import KlineEvent, TickerEvent
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.exchanges import get_exchange
from twinstar_gui.net.rest import RestClient
from twinstar_gui.sim.listing import listed_usdt, served_concat, served_symbol
from twinstar_gui.sim.market import Market

Q = Timeframe.M15.ms
VENUES = ["bybit", "binance", "okx", "bitget", "bingx"]


def test_listing_of_a_market():
    market = Market.__new__(Market)  # only its symbols matter here
    market.specs = {"BTCUSDT": None, "MATICUSDT": None, "RNDRUSDT": None}
    assert listed_usdt(market) == [("BTC", "BTCUSDT", True), ("MATIC", "MATICUSDT", False),
                                   ("RENDER", "RNDRUSDT", True)]
    assert served_symbol(market, "RENDER") == served_symbol(market, "RNDR") == "RNDRUSDT"
    assert served_concat(market, "RENDERUSDT") == served_concat(market, "RNDRUSDT") == "RNDRUSDT"
    assert served_symbol(market, "NOPE") is None and served_concat(market, "USDT") is None
    assert served_concat(market, "RENDERUSDC") is None


@pytest.mark.parametrize("exchange", VENUES)
async def test_the_new_name_serves_the_old_symbol_over_rest_and_websocket(exchange):
    async with running(speed=600.0) as server:
        adapter = get_exchange(exchange, rest_url=server.rest_url(exchange))
        native = adapter.native("RENDER/USDT:USDT")
        market = server.market
        now = market.now_ms()
        rest = RestClient(adapter, sleep=lambda s: None)
        frame = await asyncio.to_thread(rest.fetch_klines, native, Timeframe.M15, now - 30 * Q, now_ms=now)
        truth = {c.open_time: c.close for c in market.closed_candles("RNDRUSDT", Q, now - 32 * Q, now)}
        opens = [t.value // 10 ** 6 for t in frame["timestamp"]]
        assert len(frame) >= 28 and dict(zip(opens, frame["close"])) == {t: truth[t] for t in opens}

        topics = [adapter.kline_topic(native, Timeframe.M15)]
        if exchange in ("bybit", "bitget", "bingx"):  # tickers on the candle connection
            topics.append(adapter.ticker_topic(native))
        got: dict[type, list] = {KlineEvent: [], TickerEvent: []}
        async with connect(server.ws_url(exchange), ping_interval=None, open_timeout=5) as ws:
            for i in range(0, len(topics), adapter.topics_per_subscribe):
                await ws.send(adapter.subscribe_message(topics[i:i + adapter.topics_per_subscribe]))
            while not got[KlineEvent] or (len(topics) > 1 and not got[TickerEvent]):
                for ev in adapter.parse_ws_message(await asyncio.wait_for(ws.recv(), 5)):
                    got.setdefault(type(ev), []).append(ev)
        kline = got[KlineEvent][-1]
        assert kline.symbol == native
        (same,) = market.candles("RNDRUSDT", Q, kline.open_time, kline.open_time)
        assert (kline.open, kline.high >= same.open, kline.low <= same.open) == (same.open, True, True)
        for ticker in got[TickerEvent]:
            assert ticker.symbol == native and abs(ticker.price - market.last_price("RNDRUSDT")) < market.spec(
                "RNDRUSDT").price * 0.2
