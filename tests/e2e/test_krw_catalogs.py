"""Upbit and Bithumb catalogs end to end over loopback: the simulator's GET /v1/market/all -> RestClient -> adapter
-> Catalog. What the simulated venues list (sim/listing.py): BTC trading, MATIC delisted (absent: the KRW venues
list only what trades), RNDR renamed RENDER (only the new name, with the old symbol's candles)."""
import json

import pytest
from websockets.sync.client import connect

from twinstar_gui.core.instrument import Catalog, UnknownSymbol
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.exchanges import ExchangeError, get_exchange
from twinstar_gui.net.rest import RestClient
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.krw import KrwBook
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimThread

pytestmark = pytest.mark.e2e
Q = Timeframe.M15.ms
EXCHANGES = ["upbit", "bithumb"]


@pytest.fixture(scope="module")
def sim():
    s = SimThread(Market(SimClock(speed=60.0), seed=13, history_days=2), push_interval=0.05).start()
    yield s
    s.stop()


def client(sim, name) -> RestClient:
    return RestClient(get_exchange(name, rest_url=sim.rest_url(name)), sleep=lambda s: None)


@pytest.mark.parametrize("name", EXCHANGES)
def test_catalog_from_the_simulated_market_list(sim, name):
    insts = client(sim, name).fetch_instruments()
    cat = Catalog(name, insts, fetched_ms=1, primary_quote="KRW")
    usdt_bases = [s[:-4] for s in sim.market.symbols if s.endswith("USDT")]
    assert len(cat) == len(insts) == len(usdt_bases) - 1  # MATIC gone; BTC-ETH and USDT-BTC are not ours
    assert {(i.quote, i.settle, i.kind) for i in insts} == {("KRW", "", "spot")}
    btc = cat.get("BTC/KRW")
    assert btc is not None and btc.trading and btc.native == {"upbit": "KRW-BTC", "bithumb": "BTC_KRW"}[name]
    assert "MATIC/KRW" not in cat and "RNDR/KRW" not in cat and "RENDER/KRW" in cat
    assert cat.resolve("render").symbol == "RENDER/KRW"
    with pytest.raises(UnknownSymbol, match=f"^{name}: 'matic' is not listed"):
        cat.resolve("matic")
    with pytest.raises(UnknownSymbol):
        cat.resolve("rndr")


@pytest.mark.parametrize("name", EXCHANGES)
def test_the_renamed_market_has_candles_on_the_catalogs_ticks(sim, name):
    rest = client(sim, name)
    render = Catalog(name, rest.fetch_instruments(), fetched_ms=1, primary_quote="KRW").resolve("RENDER")
    now = sim.market.now_ms()
    frame = rest.fetch_klines(render.native, Timeframe.M15, now - 40 * Q, now_ms=now)
    assert len(frame) >= 38
    ts = frame["timestamp"].astype("int64")
    truth = KrwBook(sim.market).closed_candles("RNDRUSDT", Q, int(ts.iloc[0]), int(ts.iloc[-1]))
    assert [c.open_time for c in truth] == ts.tolist()
    assert frame["close"].tolist() == [c.close for c in truth]  # the old symbol's price process
    for price in frame[["open", "high", "low", "close"]].to_numpy().ravel():
        steps = price / render.tick_at(price)
        assert abs(steps - round(steps)) < 1e-6, price  # on the step the catalog says
    with pytest.raises(ExchangeError) as err:  # the delisted market is gone from the candles too
        rest.fetch_klines({"upbit": "KRW-MATIC", "bithumb": "MATIC_KRW"}[name], Timeframe.M15, now - 5 * Q, now_ms=now)
    assert err.value.exchange == name and rest.adapter.is_unknown_symbol(err.value)


def test_upbit_streams_the_renamed_market(sim):
    with connect(sim.ws_url("upbit"), open_timeout=5, close_timeout=1) as ws:
        ws.send(json.dumps([{"ticket": "t"}, {"type": "candle.15m", "codes": ["KRW-RENDER"]}, {"format": "DEFAULT"}]))
        frame = json.loads(ws.recv(timeout=5))
    events = get_exchange("upbit").parse_ws_message(json.dumps(frame))
    assert [(e.symbol, e.timeframe) for e in events] == [("KRW-RENDER", "15m")]
