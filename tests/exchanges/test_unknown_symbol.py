"""A symbol is "unknown" only when the exchange says so with its own error code: each simulator answers a
request for a symbol it does not list the way its exchange does, and nothing else (a network failure, a
server error, an error whose text says "symbol") is ever taken for one."""
import pytest

from twinstar_gui.core.errors import ConnectFailed, ExchangeError, HttpStatusError, RateLimited
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.exchanges import get_exchange
from twinstar_gui.exchanges.registry import exchange_names
from twinstar_gui.net.rest import RestClient
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimThread

UNKNOWN = {"bybit": "NOPEUSDT", "binance": "NOPEUSDT", "okx": "NOPE-USDT-SWAP", "bitget": "NOPEUSDT",
           "bingx": "NOPE-USDT", "upbit": "KRW-NOPE", "bithumb": "NOPE_KRW"}


@pytest.fixture(scope="module")
def sim():
    s = SimThread(Market(SimClock(speed=1.0), seed=4, history_days=2)).start()
    yield s
    s.stop()


@pytest.mark.parametrize("exchange", exchange_names())
def test_the_exchanges_own_code_for_an_unlisted_symbol_is_recognised(sim, exchange):
    adapter = get_exchange(exchange, rest_url=sim.rest_url(exchange))
    now = sim.server.market.now_ms()
    with pytest.raises(ExchangeError) as err:
        RestClient(adapter, sleep=lambda s: None).fetch_klines(UNKNOWN[exchange], Timeframe.M15, now - 10 * 900_000)
    assert adapter.is_unknown_symbol(err.value), str(err.value)
    assert err.value.symbol == UNKNOWN[exchange]


@pytest.mark.parametrize("exchange", exchange_names())
def test_nothing_else_is_an_unknown_symbol(exchange):
    adapter = get_exchange(exchange)
    code = sorted(adapter.unknown_symbol_codes)[0]
    assert adapter.is_unknown_symbol(ExchangeError(exchange, "whatever it says", code=code))
    others = [
        ExchangeError(exchange, "symbol invalid", code="99999"),  # its text says symbol; its code does not
        ExchangeError(exchange, "Invalid symbol.", code=None),
        ConnectFailed(exchange, "HTTPConnectionPool: Max retries exceeded with url: /kline?symbol=BTCUSDT",
                      endpoint="/kline", symbol="BTCUSDT"),
        HttpStatusError(exchange, "Service Unavailable", status=503),
        RateLimited(exchange, "too many requests, symbol BTCUSDT", status=429),
        ExchangeError(exchange, "a boolean is not a code", code=True),
        ValueError("symbol"),
    ]
    for exc in others:
        assert not adapter.is_unknown_symbol(exc), repr(exc)


@pytest.mark.parametrize("exchange, code", [("bybit", 10006), ("bybit", 10018), ("okx", "50011"), ("binance", -1003),
                                            ("upbit", "too_many_requests")])
def test_the_exchanges_own_rate_limit_code_is_recognised(exchange, code):
    adapter = get_exchange(exchange)
    assert adapter.is_rate_limited(ExchangeError(exchange, "slow down", code=code))
    assert not adapter.is_unknown_symbol(ExchangeError(exchange, "slow down", code=code))
    assert not adapter.is_rate_limited(ExchangeError(exchange, "too many requests", code="1"))  # by code only
