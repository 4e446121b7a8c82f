"""The exchange registry: names, lookup and where each adapter's URLs come from."""
import pytest

from twinstar_gui.exchanges.binance import BinanceAdapter
from twinstar_gui.exchanges.bingx import BingxAdapter
from twinstar_gui.exchanges.bitget import BitgetAdapter
from twinstar_gui.exchanges.bithumb import BithumbAdapter
from twinstar_gui.exchanges.bybit import BybitAdapter
from twinstar_gui.exchanges.okx import OkxAdapter
from twinstar_gui.exchanges.registry import env_url, exchange_names, get_exchange
from twinstar_gui.exchanges.upbit import UpbitAdapter

ALL = {"bybit": BybitAdapter, "binance": BinanceAdapter, "okx": OkxAdapter, "bitget": BitgetAdapter,
       "bingx": BingxAdapter, "upbit": UpbitAdapter, "bithumb": BithumbAdapter}


@pytest.fixture(autouse=True)
def no_url_overrides(monkeypatch):
    for name in ALL:
        for kind in ("REST", "WS"):
            monkeypatch.delenv(f"TWINSTAR_{name.upper()}_{kind}_URL", raising=False)


def test_the_seven_exchanges_in_order():
    assert exchange_names() == ["bybit", "binance", "okx", "bitget", "bingx", "upbit", "bithumb"]


@pytest.mark.parametrize("name", list(ALL))
def test_each_name_gives_its_adapter_with_its_own_urls(name):
    adapter = get_exchange(name)
    cls = ALL[name]
    assert type(adapter) is cls and adapter.name == name
    assert adapter.rest_url == cls.default_rest_url.rstrip("/") and adapter.ws_url == cls.default_ws_url
    assert adapter.rest_url.startswith("https://") and adapter.ws_url.startswith("wss://")


def test_names_are_matched_without_case_or_spaces():
    assert type(get_exchange("  OKX ")) is OkxAdapter and type(get_exchange("Bybit")) is BybitAdapter


def test_an_unknown_exchange_is_refused_with_the_valid_names():
    with pytest.raises(ValueError) as err:
        get_exchange("kraken")
    assert str(err.value) == "unknown exchange 'kraken'; valid: bybit, binance, okx, bitget, bingx, upbit, bithumb"


def test_urls_from_the_environment(monkeypatch):
    monkeypatch.setenv("TWINSTAR_OKX_REST_URL", " http://127.0.0.1:8001 ")
    monkeypatch.setenv("TWINSTAR_OKX_WS_URL", "ws://127.0.0.1:8002/ws")
    assert env_url("okx", "rest") == "http://127.0.0.1:8001" and env_url("OKX", "WS") == "ws://127.0.0.1:8002/ws"
    okx = get_exchange(" Okx")
    assert okx.rest_url == "http://127.0.0.1:8001" and okx.ws_url == "ws://127.0.0.1:8002/ws"
    assert get_exchange("bybit").rest_url == BybitAdapter.default_rest_url.rstrip("/")  # other exchanges untouched


def test_an_empty_environment_value_is_no_override(monkeypatch):
    monkeypatch.setenv("TWINSTAR_BITGET_WS_URL", "   ")
    assert env_url("bitget", "ws") is None and env_url("bitget", "rest") is None
    assert get_exchange("bitget").ws_url == BitgetAdapter.default_ws_url


def test_explicit_urls_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("TWINSTAR_UPBIT_REST_URL", "http://env:1")
    monkeypatch.setenv("TWINSTAR_UPBIT_WS_URL", "ws://env:2")
    upbit = get_exchange("upbit", rest_url="http://arg:1", ws_url="ws://arg:2")
    assert upbit.rest_url == "http://arg:1" and upbit.ws_url == "ws://arg:2"
    half = get_exchange("upbit", ws_url="ws://arg:2")
    assert half.rest_url == "http://env:1" and half.ws_url == "ws://arg:2"
