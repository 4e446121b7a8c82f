"""InstrumentBook: paper order rules from the exchange's catalog (contract size, KRW price-dependent ticks,
currency in refusals), and the fine-grid fallback said once."""
import logging
import threading

import pytest

from twinstar_gui.core.errors import ConnectFailed
from twinstar_gui.core.instrument import SPOT, SWAP, Catalog, Instrument
from twinstar_gui.data.catalogs import CatalogBook, write_cache
from twinstar_gui.exchanges.registry import get_exchange
from twinstar_gui.execution.base import InstrumentRules, OrderRefused
from twinstar_gui.execution.instruments import InstrumentBook, rules_of

KRW_TABLE = ((2_000_000.0, 1000.0), (1_000_000.0, 500.0), (1_000.0, 1.0), (0.0, 0.01))


class Rest:
    """A RestClient stand-in: answers with `lists` in turn, then fails as a dead exchange does."""

    def __init__(self, name, *lists):
        self.adapter = get_exchange(name)
        self.lists = list(lists)
        self.calls = 0
        self.lock = threading.Lock()

    def fetch_instruments(self):
        with self.lock:
            self.calls += 1
            if self.lists:
                return self.lists.pop(0)
        raise ConnectFailed(self.adapter.name, "refused")


def perp(exchange, base, native, **rules):
    r = dict(tick_size=0.1, lot_size=0.001, min_qty=0.001, min_notional=5.0) | rules
    return Instrument(exchange, f"{base}/USDT:USDT", native, base, "USDT", "USDT", SWAP, **r)


def krw(base):
    return Instrument("upbit", f"{base}/KRW", f"KRW-{base}", base, "KRW", "", SPOT, 0.0, 1e-8, 1e-8, 5000.0,
                      tick_table=KRW_TABLE)


def said(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "twinstar_gui.execution.instruments"]


def book_of(tmp_path, name, *instruments):
    rest = Rest(name, list(instruments))
    catalogs = CatalogBook(rest, tmp_path)
    return InstrumentBook(catalogs), rest


def test_rules_from_the_catalog_by_unified_symbol_or_native_id(tmp_path):
    book, rest = book_of(tmp_path, "bybit", perp("bybit", "BTC", "BTCUSDT"), perp("bybit", "ETH", "ETHUSDT",
                                                                                   tick_size=0.01, min_notional=20))
    rules = book("BTC/USDT:USDT")
    assert rules == InstrumentRules("BTCUSDT", 0.1, 0.001, 0.001, 5.0, (), "USDT")
    assert book("ETHUSDT") == InstrumentRules("ETHUSDT", 0.01, 0.001, 0.001, 20.0, (), "USDT")
    assert rest.calls == 1  # the list was fetched once, on the first order


def test_contract_size_turns_contract_steps_into_base_units(tmp_path):
    # OKX counts contracts: 1 contract of BTC-USDT-SWAP is 0.01 BTC, lot 1 contract, min 1 contract
    inst = perp("okx", "BTC", "BTC-USDT-SWAP", lot_size=1, min_qty=1, contract_size=0.01)
    book, _ = book_of(tmp_path, "okx", inst)
    rules = book("BTC/USDT:USDT")
    assert (rules.symbol, rules.lot_size, rules.min_qty, rules.tick_size) == ("BTC-USDT-SWAP", 0.01, 0.01, 0.1)
    assert rules.check(0.057, 65_000.04) == (0.05, 65_000.0)
    with pytest.raises(OrderRefused, match="below the minimum 0.01"):
        rules.check(0.009, 65_000)


def test_krw_rules_keep_the_price_table_and_count_in_krw(tmp_path):
    book, _ = book_of(tmp_path, "upbit", krw("BTC"), krw("XRP"))
    rules = book("KRW-BTC")
    assert rules.tick_table == KRW_TABLE and rules.currency == "KRW" and rules.tick_size == 0.01
    assert rules.round_price(2_345_678) == 2_346_000  # step 1000 above 2,000,000
    assert rules.round_price(1_234_567) == 1_234_500  # step 500
    assert book("XRP/KRW").round_price(812.345) == 812.35  # step 0.01 under 1,000
    with pytest.raises(OrderRefused, match="order value 2,000.00 KRW is below the minimum 5,000 KRW"):
        rules.check(0.001, 2_000_000)


def test_rules_of_an_instrument_with_a_tick_table_uses_its_finest_step_as_the_tick():
    assert rules_of(krw("ETH")).tick_size == 0.01


def test_a_symbol_missing_from_the_list_trades_on_a_fine_grid_said_once(tmp_path, caplog):
    book, _ = book_of(tmp_path, "upbit", krw("BTC"))
    with caplog.at_level(logging.WARNING, logger="twinstar_gui.execution.instruments"):
        for _ in range(5):
            rules = book("KRW-DOGE")
    assert (rules.symbol, rules.tick_size, rules.min_notional, rules.currency) == ("KRW-DOGE", 1e-8, 0.0, "KRW")
    assert said(caplog) == ["upbit KRW-DOGE: not in the instrument list; orders use a fine grid and no minimum"]
    book("KRW-SHIB")
    assert len(said(caplog)) == 2 and "KRW-SHIB" in said(caplog)[1]


def test_with_no_list_the_fallback_says_why_and_again_when_a_list_lacks_the_symbol(tmp_path, caplog, monkeypatch):
    from twinstar_gui.data import catalogs

    rest = Rest("bybit")  # dead at first
    book = InstrumentBook(CatalogBook(rest, tmp_path))
    with caplog.at_level(logging.WARNING, logger="twinstar_gui.execution.instruments"):
        for _ in range(20):
            rules = book("FOOUSDT")
        assert rules.tick_size == 1e-8 and rules.currency == "USDT"
        assert rest.calls == 1  # a dead exchange is not asked per order
        assert said(caplog) == [
            "bybit FOOUSDT: no instrument list from the exchange; orders use a fine grid and no minimum"]
        rest.lists.append([perp("bybit", "BTC", "BTCUSDT")])  # the exchange is back
        monkeypatch.setattr(catalogs, "RETRY_ENSURE_S", 0.0)
        assert book("BTCUSDT").min_notional == 5.0
        book("FOOUSDT")
        book("FOOUSDT")
    assert said(caplog)[1:] == [
        "bybit FOOUSDT: not in the instrument list; orders use a fine grid and no minimum"]


def test_a_cached_list_serves_without_asking_the_exchange(tmp_path):
    write_cache(tmp_path, Catalog("bybit", [perp("bybit", "SOL", "SOLUSDT", tick_size=0.001)], fetched_ms=1))
    rest = Rest("bybit")
    book = InstrumentBook(CatalogBook(rest, tmp_path))
    assert book("SOL/USDT:USDT").tick_size == 0.001 and rest.calls == 0


def test_paper_orders_follow_the_catalog_rules(tmp_path):
    from twinstar_gui.execution.paper import PaperExecutor
    from twinstar_gui.execution.trade_journal import Journal

    book, _ = book_of(tmp_path, "bybit", perp("bybit", "BTC", "BTCUSDT", min_notional=100))
    paper = PaperExecutor(Journal(tmp_path / "j.sqlite3"), rules=book, clock=lambda: 1_000)
    assert paper.rules("BTCUSDT").min_notional == 100
    from twinstar_gui.execution.base import OrderRequest

    with pytest.raises(OrderRefused, match="below the minimum 100 USDT"):
        paper.place(OrderRequest("BTCUSDT", "buy", 0.001, "c1", price=50_000.0))
