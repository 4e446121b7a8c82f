"""Each perpetual venue's instrument catalog end to end: our REST client pages through the simulator's instrument
list in the exchange's own format over loopback, and the catalog built from it is the simulated market as that
exchange would list it (MATIC delisted, RNDR renamed RENDER), down to the candles of the new name."""
import pytest

from twinstar_gui.core.instrument import Catalog, UnknownSymbol
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.exchanges import get_exchange
from twinstar_gui.net.rest import RestClient
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimThread

pytestmark = pytest.mark.e2e
Q = Timeframe.M15.ms
# does the exchange keep a delisted perpetual in its list (with its own word), or drop it?
KEEPS_DELISTED = {"bybit": None, "binance": "settling", "okx": None, "bitget": "off", "bingx": "offline"}


@pytest.fixture(scope="module")
def sim():
    s = SimThread(Market(SimClock(speed=60.0), seed=9, history_days=3)).start()
    yield s
    s.stop()


@pytest.mark.parametrize("exchange", list(KEEPS_DELISTED))
def test_the_catalog_is_the_simulated_market_as_the_exchange_lists_it(sim, exchange):
    adapter = get_exchange(exchange, rest_url=sim.rest_url(exchange))
    rest = RestClient(adapter, sleep=lambda s: None)
    market = sim.market
    catalog = Catalog(exchange, rest.fetch_instruments(), fetched_ms=market.now_ms())

    btc = catalog.get("BTC/USDT:USDT")
    assert btc.trading and btc.native == adapter.native("BTC/USDT:USDT")
    assert btc.tick_size == pytest.approx(market.tick_size("BTCUSDT"), rel=1e-12)
    # OKX counts contracts of 0.01 BTC: its lot times the contract size is the market's lot in BTC
    assert btc.lot_size * btc.contract_size == pytest.approx(market.lot_size("BTCUSDT"), rel=1e-12)
    assert btc.min_qty * btc.contract_size == pytest.approx(market.lot_size("BTCUSDT"), rel=1e-12)

    matic = catalog.get("MATIC/USDT:USDT")
    assert (matic.status if matic else None) == KEEPS_DELISTED[exchange]
    with pytest.raises(UnknownSymbol):
        catalog.resolve("matic")

    assert "RNDR/USDT:USDT" not in catalog and catalog.by_native(adapter.native("RNDR/USDT:USDT")) is None
    render = catalog.resolve("render")
    assert (render.symbol, render.native, render.trading) == ("RENDER/USDT:USDT", adapter.native("RENDER/USDT:USDT"),
                                                              True)
    assert render.tick_size == pytest.approx(market.tick_size("RNDRUSDT"), rel=1e-12)
    # every other symbol of the market is listed and trading, under the exchange's naming rule
    others = {f"{s[:-4]}/USDT:USDT" for s in market.symbols} - {"MATIC/USDT:USDT", "RNDR/USDT:USDT"}
    assert set(catalog.symbols()) == others | {"RENDER/USDT:USDT"}
    assert all(catalog.get(s).native == adapter.native(s) for s in catalog.symbols())

    now = market.now_ms()
    frame = rest.fetch_klines(render.native, Timeframe.M15, now - 12 * Q, now_ms=now)
    truth = {c.open_time: c.close for c in market.closed_candles("RNDRUSDT", Q, now - 14 * Q, now)}
    opens = [t.value // 10 ** 6 for t in frame["timestamp"]]
    assert len(opens) >= 10 and dict(zip(opens, frame["close"])) == {t: truth[t] for t in opens}
