"""Upbit and Bithumb instrument catalogs: GET /v1/market/all -> KRW spot Instruments under each adapter's own native
names, Upbit's KRW price-unit table (since 2025-07-31) as the price-dependent tick, odd items left out, errors typed."""
import json
import logging
from pathlib import Path

import pytest

from twinstar_gui.core.instrument import SPOT, TRADING, Catalog
from twinstar_gui.exchanges import BadMessage, ExchangeError, get_exchange
from twinstar_gui.exchanges.upbit import KRW_TICKS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# exchange -> the native names of the fixture's three KRW markets
NATIVES = {"upbit": ["KRW-BTC", "KRW-ETH", "KRW-MOC"], "bithumb": ["BTC_KRW", "ETH_KRW", "MOC_KRW"]}
EXCHANGES = list(NATIVES)


def adapter(name):
    return get_exchange(name, rest_url=f"https://api.{name}.com")


def fixture(name):
    return json.loads((FIXTURES / name / "rest_instruments.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", EXCHANGES)
def test_request_is_the_one_page_market_list_with_details(name):
    req = adapter(name).instruments_request()
    assert (req.url, dict(req.params), req.endpoint) == (f"https://api.{name}.com/v1/market/all",
                                                         {"isDetails": "true"}, "/v1/market/all")
    other = get_exchange(name, rest_url="http://127.0.0.1:9/x/").instruments_request()
    assert other.url == "http://127.0.0.1:9/x/v1/market/all"


@pytest.mark.parametrize("name", EXCHANGES)
def test_documented_list_gives_the_krw_markets_only(name):
    insts, cursor = adapter(name).parse_instruments(fixture(name))
    assert cursor == ""  # one page
    assert [i.native for i in insts] == NATIVES[name]  # BTC-ETH and USDT-BTC are other markets: not ours
    assert [i.symbol for i in insts] == ["BTC/KRW", "ETH/KRW", "MOC/KRW"]
    for inst in insts:
        assert (inst.exchange, inst.kind, inst.quote, inst.settle, inst.currency) == (name, SPOT, "KRW", "", "KRW")
        assert inst.tick_size == 0 and inst.tick_table == KRW_TICKS
        assert (inst.lot_size, inst.min_qty, inst.min_notional, inst.contract_size) == (1e-8, 1e-8, 5000.0, 1.0)
        # a warned market (Upbit market_event.warning, Bithumb market_warning CAUTION) still trades
        assert inst.status == TRADING and inst.trading


@pytest.mark.parametrize("name", EXCHANGES)
def test_answer_as_text_or_bytes(name):
    text = (FIXTURES / name / "rest_instruments.json").read_text(encoding="utf-8")
    for body in (text, text.encode()):
        insts, _ = adapter(name).parse_instruments(body)
        assert [i.native for i in insts] == NATIVES[name]


@pytest.mark.parametrize("name", EXCHANGES)
def test_the_catalog_resolves_what_traders_type(name):
    insts, _ = adapter(name).parse_instruments(fixture(name))
    cat = Catalog(name, insts, fetched_ms=1, primary_quote="KRW")
    btc_native = NATIVES[name][0]
    for typed in ("btc", "BTC/KRW", btc_native, btc_native.lower(), "krwbtc", "btc-krw"):
        assert cat.resolve(typed).native == btc_native, typed
    assert cat.by_native(btc_native).symbol == "BTC/KRW"


# Upbit's KRW table since 2025-07-31 at and around each band's edge. Where it changed from the older table: 99.99
# (0.01 -> 0.1), 999.9 (0.1 -> 1), 5,000 (1 -> 5), 50,000 (10 -> 50), 100,000 (50 -> 100), 500,000 (100 -> 500),
# 1,000,000 to 2,000,000 (500 -> 1,000).
TICKS_AT = [(0.000009, 1e-8), (0.00001, 1e-7), (0.0001, 1e-6), (0.001, 1e-5), (0.01, 1e-4), (0.5, 0.001),
            (1, 0.01), (9.99, 0.01), (10, 0.1), (99.99, 0.1), (100, 1), (999.9, 1), (1000, 1), (4999, 1),
            (5000, 5), (9995, 5), (10_000, 10), (49_990, 10), (50_000, 50), (99_950, 50), (100_000, 100),
            (499_900, 100), (500_000, 500), (999_500, 500), (1_000_000, 1000), (1_500_000, 1000),
            (1_999_999, 1000), (2_000_000, 1000), (150_000_000, 1000)]


@pytest.mark.parametrize("name", EXCHANGES)
@pytest.mark.parametrize("price, tick", TICKS_AT)
def test_tick_follows_the_krw_price_unit_table(name, price, tick):
    (inst, *_), _ = adapter(name).parse_instruments([{"market": "KRW-BTC"}])
    assert inst.tick_at(price) == pytest.approx(tick, rel=1e-12)


def test_tick_table_is_highest_first_and_never_finer_at_a_higher_price():
    floors = [floor for floor, _ in KRW_TICKS]
    steps = [step for _, step in KRW_TICKS]
    assert floors == sorted(floors, reverse=True) and len(set(floors)) == len(floors) and floors[-1] == 0
    assert steps == sorted(steps, reverse=True)


ODD_ITEMS = [
    ({"market": "../x"}, "market '../x' is not QUOTE-BASE"),
    ({"korean_name": "x"}, "KeyError: 'market'"),
    ({"market": 5}, "market 5 is not QUOTE-BASE"),
    ({"market": "KRW-"}, "market 'KRW-' is not QUOTE-BASE"),
    ({"market": "KRW-BTC-X"}, "market 'KRW-BTC-X' is not QUOTE-BASE"),
    ({"market": "KRW-../x"}, "ValueError"),
    ("KRW-BTC", "instrument item is not an object"),
]


@pytest.mark.parametrize("name", EXCHANGES)
@pytest.mark.parametrize("odd, why", ODD_ITEMS, ids=[w[:30] for _, w in ODD_ITEMS])
def test_an_odd_item_is_left_out_and_the_rest_kept(name, odd, why, caplog):
    payload = [{"market": "KRW-BTC"}, odd, {"market": "KRW-ETH"}]
    with caplog.at_level(logging.ERROR, logger="twinstar_gui.exchanges.base"):
        insts, _ = adapter(name).parse_instruments(payload)
    assert [i.symbol for i in insts] == ["BTC/KRW", "ETH/KRW"]
    (rec,) = [r.getMessage() for r in caplog.records if "left out of the catalog" in r.getMessage()]
    assert rec.startswith(f"{name}: 1 instrument(s) left out of the catalog, e.g. ") and why in rec, rec


@pytest.mark.parametrize("name", EXCHANGES)
def test_an_error_object_is_the_exchanges_error(name):
    with pytest.raises(ExchangeError) as err:
        adapter(name).parse_instruments({"error": {"name": "too_many_requests", "message": "Too many API requests."}})
    assert err.value.exchange == name and err.value.code == "too_many_requests"
    assert err.value.endpoint == "/v1/market/all" and "Too many API requests." in str(err.value)
    assert not isinstance(err.value, BadMessage)


@pytest.mark.parametrize("name", EXCHANGES)
@pytest.mark.parametrize("garbage, why", [
    ("<html>502 Bad Gateway</html>", "not JSON"), (b"\xff\xfe[]", "frame is not UTF-8"),
    ({"status": "0000", "data": []}, "/v1/market/all: answer is not a list of markets"),
    ({"error": "nope"}, "/v1/market/all: answer is not a list of markets"),
    (5, "/v1/market/all: answer is not a list of markets"), (None, "/v1/market/all: answer is not a list of markets"),
    ("[" * 100_000, "not JSON")])
def test_garbage_is_a_bad_message_naming_the_exchange(name, garbage, why):
    with pytest.raises(BadMessage) as err:
        adapter(name).parse_instruments(garbage)
    assert err.value.exchange == name and err.value.reason.startswith(why), err.value.reason
    assert str(err.value).startswith(f"{name}: ")
