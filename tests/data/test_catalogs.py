"""Instrument catalogs: the disk cache (and hostile cache files), provisional names, CatalogBook against a real
simulator and a dead port on loopback."""
import copy
import json
import logging
import os
import socket
import threading

import pytest

from twinstar_gui.core.errors import ConnectFailed
from twinstar_gui.core.instrument import SPOT, SWAP, Catalog, Instrument, UnknownSymbol
from twinstar_gui.data import catalogs
from twinstar_gui.data.catalogs import (
    MAX_CACHE_BYTES,
    CatalogBook,
    CatalogError,
    cache_path,
    provisional,
    read_cache,
    write_cache,
)
from twinstar_gui.exchanges.registry import get_exchange
from twinstar_gui.net.rest import RestClient
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimThread

FETCHED_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC
KRW_TABLE = ((1_000_000.0, 500.0), (1_000.0, 1.0), (0.0, 0.01))


def perp(base, status="trading", native=None, **rules):
    r = dict(tick_size=0.1, lot_size=0.001, min_qty=0.001, min_notional=5.0) | rules
    return Instrument("bybit", f"{base}/USDT:USDT", native or f"{base}USDT", base, "USDT", "USDT", SWAP,
                      status=status, **r)


def bybit_catalog():
    return Catalog("bybit", [perp("BTC"), perp("ETH", tick_size=0.01), perp("MATIC", status="closed"),
                             perp("1000PEPE", tick_size=1e-7, lot_size=100, min_qty=100)],
                   fetched_ms=FETCHED_MS, primary_quote="USDT")


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def sim():
    thread = SimThread(Market(SimClock(speed=1.0), seed=5, history_days=2)).start()
    yield thread
    thread.stop()


@pytest.fixture
def rest(sim):
    client = RestClient(get_exchange("bybit", rest_url=sim.rest_url("bybit")), retries=1, backoff=0.01)
    yield client
    client.close()


@pytest.fixture
def dead_rest():
    client = RestClient(get_exchange("bybit", rest_url=f"http://127.0.0.1:{closed_port()}"), retries=0,
                        backoff=0.01, timeout=2.0)
    yield client
    client.close()


class CountingDeadRest:
    """A RestClient stand-in for a dead exchange, counting the fetches it is asked for."""

    def __init__(self, name="bybit", error=None):
        self.adapter = get_exchange(name)
        self.calls = 0
        self.error = error or ConnectFailed(name, "refused", endpoint="/instruments")
        self._lock = threading.Lock()

    def fetch_instruments(self):
        with self._lock:
            self.calls += 1
        raise self.error


# -- the cache -------------------------------------------------------------------------------------------------------
def test_cache_round_trip(tmp_path):
    cat = bybit_catalog()
    path = write_cache(tmp_path, cat)
    assert path == tmp_path / "_catalogs" / "bybit.json" == cache_path(tmp_path, "bybit")
    back = read_cache(tmp_path, get_exchange("bybit"))
    assert back.instruments == cat.instruments and back.fetched_ms == FETCHED_MS and back.verified
    assert back.primary_quote == "USDT" and back.resolve("pepe").native == "1000PEPEUSDT"
    assert back.get("MATIC/USDT:USDT").status == "closed"
    assert sorted(os.listdir(path.parent)) == ["bybit.json"]  # no temp file left behind


def test_krw_cache_round_trip_keeps_the_tick_table(tmp_path):
    inst = Instrument("upbit", "BTC/KRW", "KRW-BTC", "BTC", "KRW", "", SPOT, 0.0, 1e-8, 1e-8, 5000.0,
                      tick_table=KRW_TABLE)
    write_cache(tmp_path, Catalog("upbit", [inst], fetched_ms=FETCHED_MS, primary_quote="KRW"))
    back = read_cache(tmp_path, get_exchange("upbit"))
    assert back.instruments == (inst,) and back.resolve("btc").tick_at(2_000_000) == 500.0
    assert back.primary_quote == "KRW"


def test_no_cache_is_none_quietly(tmp_path, caplog):
    assert read_cache(tmp_path, get_exchange("bybit")) is None
    assert caplog.records == []


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    write_cache(tmp_path, bybit_catalog())
    before = cache_path(tmp_path, "bybit").read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(catalogs.os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        write_cache(tmp_path, Catalog("bybit", [perp("SOL")], fetched_ms=FETCHED_MS + 1))
    assert cache_path(tmp_path, "bybit").read_bytes() == before
    assert os.listdir(tmp_path / "_catalogs") == ["bybit.json"]


def test_concurrent_writes_leave_one_whole_file(tmp_path):
    # a background refresh and ensure() may write at once; with one shared temp name they tore each other's file
    cats = [Catalog("bybit", [perp(f"C{i}X{j}") for j in range(300)], fetched_ms=FETCHED_MS + i) for i in range(8)]
    errors = []

    def write(cat):
        try:
            for _ in range(5):
                write_cache(tmp_path, cat)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(c,)) for c in cats]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    back = read_cache(tmp_path, get_exchange("bybit"))
    assert back is not None and len(back) == 300 and back.fetched_ms - FETCHED_MS in range(8)
    assert os.listdir(tmp_path / "_catalogs") == ["bybit.json"]


def _cache_doc(**changes):
    row = [getattr(perp("BTC"), f) for f in catalogs._FIELDS]
    row[catalogs._FIELDS.index("tick_table")] = []
    doc = {"version": 1, "exchange": "bybit", "fetched_ms": FETCHED_MS, "fields": list(catalogs._FIELDS),
           "instruments": [row]}
    for key, value in changes.items():
        if key in catalogs._FIELDS:
            row[catalogs._FIELDS.index(key)] = value
        else:
            doc[key] = value
    return doc


def test_the_cache_doc_helper_makes_a_valid_cache(tmp_path):  # so each hostile case below fails for its own reason
    cache_path(tmp_path, "bybit").parent.mkdir(parents=True)
    cache_path(tmp_path, "bybit").write_text(json.dumps(_cache_doc()))
    assert read_cache(tmp_path, get_exchange("bybit")).symbols() == ["BTC/USDT:USDT"]
    for name, marker in (("NaN literal", b" NaN,"), ("Infinity literal", b" Infinity,"), ("1e400 is inf", b" 1e400,")):
        assert marker in HOSTILE[name]


HOSTILE = {
    "garbage": b"\x00\xff garbage {{{",
    "empty": b"",
    "not utf-8": b'{"version": 1, "exchange": "by\xffbit"}',
    "a list": b"[1, 2, 3]",
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "NaN literal": json.dumps(_cache_doc()).replace("0.1,", "NaN,", 1).encode(),
    "Infinity literal": json.dumps(_cache_doc()).replace("0.1,", "Infinity,", 1).encode(),
    "1e400 is inf": json.dumps(_cache_doc()).replace("0.1,", "1e400,", 1).encode(),
    "400-digit tick": json.dumps(_cache_doc(tick_size=10 ** 400)).encode(),
    "400-digit fetch time": json.dumps(_cache_doc(fetched_ms=10 ** 400)).encode(),
    "5000-digit number": b'{"version": 1, "fetched_ms": ' + b"9" * 5000 + b"}",
    "wrong exchange": json.dumps(_cache_doc(exchange="okx")).encode(),
    "wrong version": json.dumps(_cache_doc(version=2)).encode(),
    "native ../x": json.dumps(_cache_doc(native="../x")).encode(),
    "native with a slash": json.dumps(_cache_doc(native="BTC/USDT")).encode(),
    "native not text": json.dumps(_cache_doc(native=5)).encode(),
    "tick as text": json.dumps(_cache_doc(tick_size="0.1")).encode(),
    "tick as bool": json.dumps(_cache_doc(tick_size=True)).encode(),
    "negative lot": json.dumps(_cache_doc(lot_size=-1)).encode(),
    "zero lot": json.dumps(_cache_doc(lot_size=0)).encode(),
    "denormal tick": json.dumps(_cache_doc(tick_size=1e-320)).encode(),  # > 0, and every order failed rounding
    "status not text": json.dumps(_cache_doc(status=5)).encode(),
    "status with escapes": json.dumps(_cache_doc(status="trading\u001b[2J")).encode(),
    "tick table of text nan": json.dumps(_cache_doc(tick_size=0, tick_table=[["nan", 1]])).encode(),
    "tick table not pairs": json.dumps(_cache_doc(tick_size=0, tick_table=[[1, 2, 3]])).encode(),
    "tick table unsorted": json.dumps(_cache_doc(tick_size=0, tick_table=[[0, 1], [10, 2]])).encode(),
    "tick table a dict": json.dumps(_cache_doc(tick_table={"a": 1})).encode(),
    "settle not text": json.dumps(_cache_doc(symbol="BTC/USDT:5", settle=5)).encode(),
    "settled elsewhere": json.dumps(_cache_doc(symbol="BTC/USDT:USDC", settle="USDC")).encode(),
    "symbol not its parts": json.dumps(_cache_doc(symbol="ETH/USDT:USDT")).encode(),
    # BTC/USDT:USDT traded as ETHUSDT: `btc` would have resolved to Ethereum's market
    "native not its parts": json.dumps(_cache_doc(native="ETHUSDT")).encode(),
    "another quote": json.dumps(_cache_doc(symbol="BTC/USDC:USDC", native="BTCUSDC", quote="USDC",
                                           settle="USDC")).encode(),  # the exchange's list has USDT perps only
    "spot on a swap venue": json.dumps(_cache_doc(symbol="BTC/USDT", settle="", kind="spot")).encode(),
    "base lower case": json.dumps(_cache_doc(base="btc", symbol="btc/USDT:USDT")).encode(),
    "row too short": json.dumps(_cache_doc(instruments=[[1, 2]])).encode(),
    "row a dict": json.dumps(_cache_doc(instruments=[{"symbol": "BTC/USDT:USDT"}])).encode(),
    "fields reordered": json.dumps(_cache_doc(fields=list(reversed(catalogs._FIELDS)))).encode(),
    "fetch time 0": json.dumps(_cache_doc(fetched_ms=0)).encode(),
    "fetch time a bool": json.dumps(_cache_doc(fetched_ms=True)).encode(),
    "fetch time text": json.dumps(_cache_doc(fetched_ms="1767225600000")).encode(),
    "fetch time past 2100": json.dumps(_cache_doc(fetched_ms=5_000_000_000_000)).encode(),
    "too many rows": json.dumps(_cache_doc(instruments=[[]] * (catalogs.MAX_INSTRUMENTS + 1))).encode(),
    # read as a verified list of nothing: every symbol "is not listed", offline, where names are kept as typed
    "no rows": json.dumps(_cache_doc(instruments=[])).encode(),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_cache_file_is_ignored_with_a_log_line(tmp_path, caplog, name):
    path = cache_path(tmp_path, "bybit")
    path.parent.mkdir(parents=True)
    path.write_bytes(HOSTILE[name])
    with caplog.at_level(logging.ERROR, logger="twinstar_gui.data.catalogs"):
        assert read_cache(tmp_path, get_exchange("bybit")) is None
    (record,) = caplog.records
    assert "bybit: instrument cache" in record.getMessage() and "ignored" in record.getMessage()
    assert len(record.getMessage()) < 600


def test_a_bad_cache_row_is_left_out_and_the_good_ones_kept(tmp_path, caplog):
    # one odd row cost the whole cached list before: offline, every symbol was then unverified
    good = [[getattr(i, f) for f in catalogs._FIELDS] for i in bybit_catalog().instruments]
    bad = copy.deepcopy(good[0])
    bad[catalogs._FIELDS.index("native")] = "../x"
    doc = _cache_doc(instruments=[bad, *good, [1, 2], "BTCUSDT"])
    cache_path(tmp_path, "bybit").parent.mkdir(parents=True)
    cache_path(tmp_path, "bybit").write_text(json.dumps(doc))
    with caplog.at_level(logging.ERROR, logger="twinstar_gui.data.catalogs"):
        back = read_cache(tmp_path, get_exchange("bybit"))
    assert back.instruments == bybit_catalog().instruments and back.verified
    (record,) = caplog.records
    assert record.getMessage().startswith("bybit: 3 row(s) of the instrument cache ") and "../x" in record.getMessage()
    assert len(record.getMessage()) < 600


def test_a_huge_cache_file_is_not_read(tmp_path, caplog, monkeypatch):
    path = cache_path(tmp_path, "bybit")
    path.parent.mkdir(parents=True)
    with open(path, "wb") as fh:  # sparse: no disk used
        fh.truncate(MAX_CACHE_BYTES + 1)
    monkeypatch.setattr(catalogs.Path, "read_text", lambda *a, **k: pytest.fail("a huge cache was read"))
    assert read_cache(tmp_path, get_exchange("bybit")) is None
    assert "more than a catalog can be" in caplog.text


def test_a_directory_where_the_cache_should_be(tmp_path, caplog):
    cache_path(tmp_path, "bybit").mkdir(parents=True)
    assert read_cache(tmp_path, get_exchange("bybit")) is None


def test_a_hostile_cache_does_not_stop_a_book_from_starting(tmp_path, dead_rest):
    path = cache_path(tmp_path, "bybit")
    path.parent.mkdir(parents=True)
    path.write_bytes(HOSTILE["400-digit tick"])
    book = CatalogBook(dead_rest, tmp_path)  # raised OverflowError before: the app could not start
    assert book.source == "none" and not book.verified


# -- provisional names ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("exchange, text, symbol, native", [
    ("bybit", "BTCUSDT", "BTC/USDT:USDT", "BTCUSDT"), ("bybit", "btcusdt", "BTC/USDT:USDT", "BTCUSDT"),
    ("bybit", "BTC/USDT:USDT", "BTC/USDT:USDT", "BTCUSDT"), ("bybit", "ＢＴＣUSDT", "BTC/USDT:USDT", "BTCUSDT"),
    ("bybit", " 1000PEPEUSDT\u200b", "1000PEPE/USDT:USDT", "1000PEPEUSDT"),
    ("okx", "BTC-USDT-SWAP", "BTC/USDT:USDT", "BTC-USDT-SWAP"),
    ("okx", "btc/usdt:usdt", "BTC/USDT:USDT", "BTC-USDT-SWAP"),
    ("upbit", "KRW-BTC", "BTC/KRW", "KRW-BTC"), ("upbit", "btc/krw", "BTC/KRW", "KRW-BTC"),
    ("bithumb", "btc_krw", "BTC/KRW", "BTC_KRW"), ("bithumb", "BTC/KRW", "BTC/KRW", "BTC_KRW"),
    # a base asset alone: in the venue's quote (the default presets are base assets)
    ("bybit", "btc", "BTC/USDT:USDT", "BTCUSDT"), ("okx", "eth", "ETH/USDT:USDT", "ETH-USDT-SWAP"),
    ("upbit", "sol", "SOL/KRW", "KRW-SOL"), ("bithumb", "1000PEPE", "1000PEPE/KRW", "1000PEPE_KRW")])
def test_provisional_keeps_a_name_by_the_naming_rule(exchange, text, symbol, native):
    inst = provisional(get_exchange(exchange), text)
    assert (inst.exchange, inst.symbol, inst.native, inst.status) == (exchange, symbol, native, "trading")
    assert inst.currency == ("KRW" if exchange in ("upbit", "bithumb") else "USDT")
    assert inst.tick_size == 1e-8 and inst.min_notional == 0


@pytest.mark.parametrize("exchange, text", [
    ("bybit", "KRW-BTC"), ("bybit", "BTC/KRW"), ("bybit", "../x"), ("bybit", ""),
    ("bybit", "BTCUSDC"),  # a USDC perp: the catalog keeps USDT perps only, so it would vanish once a list came
    ("bybit", "USDT" * 10),  # a 36-character base: no asset is that long
    ("bybit", "ВТСUSDT"), ("bybit", "BTC\x00USDT"), ("bybit", None), ("bybit", "B" * 5000),
    ("upbit", "BTC/USDT"), ("upbit", "BTC-USDT"), ("upbit", "USDT-BTC"), ("upbit", "btc_krw"),
    ("bithumb", "KRW-BTC"), ("okx", "BTC/KRW:KRW"), ("okx", "BTCUSDT"),
    # a unified symbol is what it says or nothing: it became BTCKRW/USDT:USDT (its native id taken for a base
    # asset alone) and BTC/USDT:USDT (the settle currency dropped)
    ("bybit", "BTC/KRW:KRW"), ("binance", "BTC/EUR:EUR"), ("bitget", "btc/krw:krw"), ("bybit", "BTC/USDT:USDC"),
    ("okx", "BTC/USDT:USDC"), ("bingx", "BTC/USDT:KRW")])
def test_provisional_refuses_what_the_naming_rule_cannot_read(exchange, text):
    with pytest.raises(UnknownSymbol) as err:
        provisional(get_exchange(exchange), text)
    assert str(err.value).startswith(f"{exchange}: ") and len(str(err.value)) < 400


# -- CatalogBook against the simulator and a dead port ---------------------------------------------------------------
def test_refresh_from_the_simulator_writes_the_cache(sim, rest, tmp_path):
    clock = Clock(FETCHED_MS / 1000)
    book = CatalogBook(rest, tmp_path, clock=clock)
    assert book.source == "none" and not book.verified
    assert book.status() == "bybit: no instrument list yet; symbols are unverified"
    cat = book.refresh()
    n = len(sim.market.symbols) - 1  # MATIC is delisted: Bybit's list has trading instruments only
    assert book.source == "exchange" and book.verified and len(cat) == n and cat.fetched_ms == FETCHED_MS
    assert book.status() == f"bybit: {n} instruments"
    assert book.resolve("sol").native == "SOLUSDT" and book.resolve("btc-usdt").symbol == "BTC/USDT:USDT"
    assert book.instrument("ETHUSDT").symbol == "ETH/USDT:USDT" and book.age_s() == 0
    spec = sim.market.spec("BTCUSDT")
    btc = book.instrument("BTC/USDT:USDT")
    assert (btc.tick_size, btc.lot_size, btc.min_notional) == (spec.tick, spec.lot, 5.0)
    cached = read_cache(tmp_path, rest.adapter)
    assert cached.instruments == cat.instruments and cached.fetched_ms == FETCHED_MS
    with pytest.raises(UnknownSymbol, match="bybit: 'NOPE' is not listed"):
        book.resolve("NOPE")


def test_background_refresh_from_the_simulator(rest, tmp_path):
    book = CatalogBook(rest, tmp_path)
    thread = book.refresh_in_background()
    assert book.refresh_in_background() is thread or not thread.is_alive()  # one at a time
    assert book.wait_loaded(15) and book.source == "exchange"
    thread.join(5)
    assert book.ensure(0.1) is book.catalog and cache_path(tmp_path, "bybit").is_file()


def test_a_closed_port_keeps_names_provisional_and_says_unverified(dead_rest, tmp_path, caplog):
    book = CatalogBook(dead_rest, tmp_path)
    with pytest.raises(CatalogError, match=r"^bybit: instrument list not loaded \(cannot connect\)$"):
        book.refresh()
    assert book.status() == "bybit: no instrument list yet (cannot connect); symbols are unverified"
    inst = book.resolve("btcusdt")
    assert (inst.symbol, inst.native, inst.tick_size) == ("BTC/USDT:USDT", "BTCUSDT", 1e-8) and not book.verified
    assert book.instrument("ETHUSDT").symbol == "ETH/USDT:USDT"
    assert book.resolve("sol").native == "SOLUSDT"  # a base alone: in the venue's quote, unverified
    assert not cache_path(tmp_path, "bybit").exists()


def test_a_cache_and_a_closed_port_say_the_caches_age(dead_rest, tmp_path):
    write_cache(tmp_path, bybit_catalog())
    clock = Clock(FETCHED_MS / 1000 + 3 * 3600)
    book = CatalogBook(dead_rest, tmp_path, clock=clock)
    assert book.source == "cache" and book.verified and book.age_s() == 3 * 3600
    assert book.status() == "bybit: 4 instruments from a cache 3 h old"
    with pytest.raises(CatalogError):
        book.refresh()
    assert book.status() == "bybit: 4 instruments from a cache 3 h old (cannot connect)"
    assert book.resolve("pepe").native == "1000PEPEUSDT"  # the cached list is used, not provisional names
    with pytest.raises(UnknownSymbol, match="not trading"):
        book.resolve("MATICUSDT")
    clock.now = FETCHED_MS / 1000 + 90
    assert "from a cache 90 s old" in book.status()
    clock.now = FETCHED_MS / 1000 + 30 * 60
    assert "from a cache 30 min old" in book.status()
    clock.now = FETCHED_MS / 1000 + 9 * 86_400
    assert "from a cache 9 days old" in book.status()
    clock.now = FETCHED_MS / 1000 - 86_400  # the computer's clock was set back a day
    assert "from a cache of unknown age" in book.status()


def test_ensure_does_not_hammer_a_dead_exchange(tmp_path, monkeypatch):
    dead = CountingDeadRest()
    book = CatalogBook(dead, tmp_path)
    for _ in range(50):
        assert book.ensure(0.1) is book.catalog and not book.verified
    assert dead.calls == 1
    monkeypatch.setattr(catalogs, "RETRY_ENSURE_S", 0.0)  # once the wait is over it asks again
    book.ensure(0.1)
    assert dead.calls == 2


def test_ensure_right_after_a_failed_background_refresh_does_not_ask_again(tmp_path):
    dead = CountingDeadRest()
    book = CatalogBook(dead, tmp_path)
    book.refresh_in_background().join(5)
    assert dead.calls == 1 and book.wait_loaded(0)
    for _ in range(10):
        book.ensure(0.1)
    assert dead.calls == 1


def test_ensure_from_many_threads_asks_once(tmp_path):
    dead = CountingDeadRest()
    book = CatalogBook(dead, tmp_path)
    start = threading.Barrier(16)

    def order():
        start.wait()
        book.ensure(1)

    threads = [threading.Thread(target=order) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert dead.calls == 1


def test_ensure_with_a_cache_does_not_ask(tmp_path):
    write_cache(tmp_path, bybit_catalog())
    dead = CountingDeadRest()
    book = CatalogBook(dead, tmp_path)
    assert book.ensure(0.1).fetched_ms == FETCHED_MS and dead.calls == 0


def test_an_empty_list_is_not_a_catalog(tmp_path):
    class EmptyRest(CountingDeadRest):
        def fetch_instruments(self):
            return []

    book = CatalogBook(EmptyRest(), tmp_path)
    with pytest.raises(CatalogError, match="listed no instruments"):
        book.refresh()
    assert book.source == "none" and not cache_path(tmp_path, "bybit").exists()


def test_a_failed_refresh_after_a_good_one_keeps_the_list_and_says_why(tmp_path):
    class FlakyRest(CountingDeadRest):
        answers = [[perp("BTC"), perp("ETH")]]

        def fetch_instruments(self):
            if self.answers:
                return self.answers.pop()
            return super().fetch_instruments()

    book = CatalogBook(FlakyRest(), tmp_path)
    book.refresh()
    with pytest.raises(CatalogError):
        book.refresh()
    assert book.source == "exchange" and len(book.catalog) == 2
    assert book.status() == "bybit: 2 instruments (cannot connect)"


def test_an_unwritable_cache_dir_is_logged_and_the_list_still_used(tmp_path, caplog):
    (tmp_path / "_catalogs").write_text("a file where the folder should be")
    book = CatalogBook(type("R", (CountingDeadRest,), {"fetch_instruments": lambda self: [perp("BTC")]})(), tmp_path)
    assert len(book.refresh()) == 1 and book.source == "exchange"
    assert "instrument cache not written" in caplog.text
