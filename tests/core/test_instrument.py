"""Instrument, unified symbols and the Catalog: resolving what a trader types, searching, price-dependent ticks."""
import math

import pytest

from twinstar_gui.core.instrument import (
    MAX_RULE_VALUE,
    SPOT,
    SWAP,
    TRADING,
    AmbiguousSymbol,
    Catalog,
    Instrument,
    SeriesKey,
    SymbolError,
    UnknownSymbol,
    is_unified,
    split_unified,
    typed_symbol,
    unified_symbol,
)

# Upbit's KRW price-unit table (lowest price, step), highest first
KRW_TABLE = ((2_000_000.0, 1000.0), (1_000_000.0, 500.0), (500_000.0, 100.0), (100_000.0, 50.0), (10_000.0, 10.0),
             (1_000.0, 1.0), (100.0, 0.1), (10.0, 0.01), (1.0, 0.001), (0.0, 0.0001))


def perp(base, quote="USDT", *, exchange="bybit", native=None, status=TRADING, tick=0.1, lot=0.001,
         contract_size=1.0):
    return Instrument(exchange, unified_symbol(base, quote, quote), native or f"{base}{quote}", base, quote, quote,
                      SWAP, tick, lot, lot, 5.0, status, contract_size)


def krw(base, *, exchange="upbit", native=None, status=TRADING):
    return Instrument(exchange, unified_symbol(base, "KRW"), native or f"KRW-{base}", base, "KRW", "", SPOT, 0.0,
                      1e-8, 1e-8, 5000.0, status, 1.0, KRW_TABLE)


@pytest.fixture
def bybit():
    return Catalog("bybit", [perp("BTC"), perp("BTC", "USDC", native="BTCPERP"), perp("ETH"), perp("SOL"),
                             perp("1000PEPE"), perp("MATIC", status="closed"), perp("ETHFI"), perp("ETHW")],
                   fetched_ms=1_700_000_000_000, primary_quote="USDT")


@pytest.fixture
def upbit():
    return Catalog("upbit", [krw("BTC"), krw("ETH"), krw("XRP")], fetched_ms=1, primary_quote="KRW")


# -- unified symbols ------------------------------------------------------------------------------------------------
def test_unified_symbol_forms_and_their_split():
    assert unified_symbol("BTC", "USDT", "USDT") == "BTC/USDT:USDT"
    assert unified_symbol("BTC", "KRW") == "BTC/KRW"
    assert split_unified("BTC/USDT:USDT") == ("BTC", "USDT", "USDT")
    assert split_unified("BTC/KRW") == ("BTC", "KRW", "")
    assert is_unified("1000PEPE/USDT:USDT") and is_unified("BTC/KRW")


@pytest.mark.parametrize("text", ["BTCUSDT", "btc/usdt", "BTC/USDT:", "/USDT", "BTC//USDT", "BTC/USDT:USDT:X", "",
                                  "BTC/USDT\n", "../x", None, 5])
def test_not_unified(text):
    assert not is_unified(text)
    with pytest.raises(ValueError, match="not a unified symbol"):
        split_unified(text)


def test_series_key_sorts_and_prints():
    a, b = SeriesKey("bybit", "BTC/USDT:USDT", "15m"), SeriesKey("bybit", "ETH/USDT:USDT", "15m")
    assert sorted([b, a]) == [a, b]
    assert str(a) == "bybit BTC/USDT:USDT 15m"
    assert len({a, b, SeriesKey("bybit", "BTC/USDT:USDT", "15m")}) == 2


# -- resolve: the forms a trader types -------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["BTC/USDT:USDT", "btc/usdt:usdt", "BTCUSDT", "btcusdt", "btc-usdt", "BTC_USDT",
                                  "btc usdt", " BTC ", "btc", "BTC", "BTC/USDT", "usdt-btc", "ＢＴＣ", "btc\u200b",
                                  "\ufeffBTCUSDT", "BTC\n"])
def test_forms_of_btc_resolve_to_the_usdt_perpetual(bybit, text):
    assert bybit.resolve(text).symbol == "BTC/USDT:USDT"


@pytest.mark.parametrize("text", ["BTC/USDC", "btc/usdc", "BTC/USDC:USDC", "BTCUSDC", "btc-usdc", "BTCPERP",
                                  "btcperp"])
def test_the_usdc_perpetual_is_reached_by_its_own_names(bybit, text):
    inst = bybit.resolve(text)
    assert (inst.symbol, inst.native, inst.currency) == ("BTC/USDC:USDC", "BTCPERP", "USDC")


def test_a_base_alone_prefers_the_primary_quote_whatever_the_listing_order():
    for order in (1, -1):
        cat = Catalog("bybit", [perp("BTC", "USDC"), perp("BTC")][::order], fetched_ms=1, primary_quote="USDT")
        assert cat.resolve("btc").symbol == "BTC/USDT:USDT"


def test_two_fits_and_no_primary_preference_is_ambiguous_and_names_both():
    cat = Catalog("bybit", [perp("BTC", "USDC"), perp("BTC", "EUR")], fetched_ms=1, primary_quote="USDT")
    with pytest.raises(AmbiguousSymbol) as err:
        cat.resolve("btc")
    assert err.value.matches == ("BTC/EUR:EUR", "BTC/USDC:USDC")
    assert err.value.exchange == "bybit" and err.value.text == "btc"
    assert str(err.value) == "bybit: 'btc' fits several instruments; did you mean BTC/EUR:EUR, BTC/USDC:USDC?"
    assert isinstance(err.value, SymbolError) and isinstance(err.value, ValueError)
    assert cat.resolve("btc/eur").symbol == "BTC/EUR:EUR"  # the full name is never ambiguous


def test_two_primary_quoted_fits_are_ambiguous_too():
    # USDC/USDT (base+quote) and USDT/USDC typed quote-first both compact to USDCUSDT... the primary one wins
    cat = Catalog("x", [Instrument("x", "USDC/USDT", "USDC_USDT", "USDC", "USDT", "", SPOT, 0.0001, 1, 1, 0),
                        Instrument("x", "USDT/USDC", "USDT_USDC", "USDT", "USDC", "", SPOT, 0.0001, 1, 1, 0)],
                  fetched_ms=1, primary_quote="USDT")
    assert cat.resolve("usdcusdt").symbol == "USDC/USDT"
    assert cat.resolve("USDT_USDC").symbol == "USDT/USDC"  # a native id is exact


def test_pepe_finds_the_multiplied_listing_when_only_that_trades(bybit):
    assert bybit.resolve("pepe").symbol == "1000PEPE/USDT:USDT"
    assert bybit.resolve("PEPEUSDT").symbol == "1000PEPE/USDT:USDT"  # the name another venue gives it
    assert bybit.resolve("pepe/usdt:usdt").symbol == "1000PEPE/USDT:USDT"
    both = Catalog("bybit", [perp("PEPE"), perp("1000PEPE")], fetched_ms=1)
    assert both.resolve("pepe").symbol == "PEPE/USDT:USDT"  # the plain one when it is listed
    gone = Catalog("bybit", [perp("PEPE", status="closed"), perp("1000PEPE")], fetched_ms=1)
    assert gone.resolve("pepe").symbol == "1000PEPE/USDT:USDT"


def test_a_multiplier_is_only_a_multiplier():
    cat = Catalog("bybit", [perp("XPEPE"), perp("7PEPE")], fetched_ms=1)
    with pytest.raises(UnknownSymbol, match="not listed"):
        cat.resolve("pepe")  # XPEPE and 7PEPE are other coins, not PEPE times something


@pytest.mark.parametrize("text", ["matic", "MATICUSDT", "MATIC/USDT:USDT", "matic-usdt"])
def test_delisted_is_unknown_saying_not_trading(bybit, text):
    with pytest.raises(UnknownSymbol) as err:
        bybit.resolve(text)
    assert "is MATIC/USDT:USDT, which is not trading (closed)" in str(err.value)
    assert "BTC" not in str(err.value)  # no unrelated "did you mean" for a known but closed name


def test_a_delisted_twin_does_not_shadow_the_listed_one():
    for order in (1, -1):
        cat = Catalog("bybit", [perp("LUNA", status="closed"), perp("LUNA")][::order], fetched_ms=1)
        assert cat.resolve("LUNA").trading and cat.get("LUNA/USDT:USDT").trading
        assert cat.symbols() == ["LUNA/USDT:USDT"]


@pytest.mark.parametrize("text, near", [("BTCUSTD", "BTC/USDT:USDT"), ("ETHH", "ETH/USDT:USDT"),
                                        ("SOLL", "SOL/USDT:USDT"), ("ETHUSDTT", "ETH/USDT:USDT"),
                                        ("SOLUSDC", None)])
def test_typos_name_close_matches(bybit, text, near):
    with pytest.raises(UnknownSymbol) as err:
        bybit.resolve(text)
    assert "is not listed" in str(err.value) and str(err.value).startswith(f"bybit: {text!r}")
    if near:
        assert near in err.value.matches and near in str(err.value)
    assert all(m in bybit for m in err.value.matches)


def test_close_matches_compare_the_base_when_a_quote_is_typed():
    # compared whole, FOOUSDT was "close" to SOLUSDT and every other xxOUSDT for the shared USDT alone
    cat = Catalog("bybit", [perp(b) for b in ("SOL", "BTC", "ETH", "DOT", "OP")], fetched_ms=1)
    with pytest.raises(UnknownSymbol) as err:
        cat.resolve("FOOUSDT")
    assert err.value.matches == () and "did you mean" not in str(err.value)
    with pytest.raises(UnknownSymbol) as err:
        cat.resolve("DOTTUSDT")
    assert err.value.matches == ("DOT/USDT:USDT",)


@pytest.mark.parametrize("text", ["KRW-BTC", "krw-btc", "btc_krw", "BTC_KRW", "BTC/KRW", "btc/krw", "btc", "BTC",
                                  "KRWBTC", "btckrw", "ｂｔｃ／ｋｒｗ", "KRW－BTC"])
def test_krw_forms(upbit, text):
    inst = upbit.resolve(text)
    assert (inst.symbol, inst.native, inst.currency) == ("BTC/KRW", "KRW-BTC", "KRW")


def test_krw_typo_is_compared_by_base(upbit):
    with pytest.raises(UnknownSymbol) as err:
        upbit.resolve("KRW-BTT")
    assert err.value.matches == ("BTC/KRW",)


@pytest.mark.parametrize("text, reason", [
    ("", "is empty"), ("   ", "is empty"), ("\u200b", "is empty"), (None, "is not text"), (5, "is not text"),
    (b"BTC", "is not text"), ("B" * 65, "is too long"), ("BTC" * 10_000_000, "is too long"),
    ("ВТС", "characters no symbol has"),  # Cyrillic look-alikes of B, T, C
    ("lınk", "characters no symbol has"),  # dotless i: upper() makes it I
    ("baß", "characters no symbol has"),  # upper() makes it SS
    ("BTC\x00", "characters no symbol has"), ("BTC\x1b[2J", "characters no symbol has"),
    ("BTC\tUSDT\x7f", "characters no symbol has")])
def test_hostile_text_is_refused_with_a_reason(bybit, text, reason):
    with pytest.raises(UnknownSymbol, match=reason) as err:
        bybit.resolve(text)
    assert len(str(err.value)) < 300  # never the whole paste back


def test_look_alikes_never_reach_a_listed_symbol():
    cat = Catalog("bybit", [perp("LINK"), perp("SS"), perp("BTC")], fetched_ms=1)
    for text in ("lınk", "ß", "ВТС", "ВТСUSDT"):
        with pytest.raises(UnknownSymbol):
            cat.resolve(text)


def test_typed_symbol_cleans_and_keeps_case():
    assert typed_symbol("x", "  ＢＴＣ-usdt\u200b ") == "BTC-usdt"
    with pytest.raises(UnknownSymbol, match="^x: "):
        typed_symbol("x", "é")


def test_a_symbol_error_is_a_value_error_carrying_its_parts(bybit):
    with pytest.raises(ValueError) as err:
        bybit.resolve("NOPE")
    assert isinstance(err.value, UnknownSymbol) and err.value.exchange == "bybit" and err.value.text == "NOPE"


def test_an_empty_catalog_lists_nothing_and_resolves_nothing():
    cat = Catalog("bybit", [])
    assert len(cat) == 0 and not cat.verified and cat.search("btc") == [] and cat.symbols() == []
    with pytest.raises(UnknownSymbol, match="not listed"):
        cat.resolve("BTC")


def test_an_instrument_listed_twice_is_in_the_catalog_once():
    # overlapping pages or a repeated row: `instruments` (what `twinstar symbols` prints and the cache keeps) held
    # each copy; the trading twin is the one kept, as for lookups
    btc, eth, closed_eth = perp("BTC"), perp("ETH"), perp("ETH", status="closed")
    cat = Catalog("bybit", [btc, closed_eth, eth, btc, closed_eth], fetched_ms=1)
    assert cat.instruments == (btc, eth) and len(cat) == 2
    assert cat.by_native("ETHUSDT") is eth and cat.get("ETH/USDT:USDT") is eth and cat.symbols() == ["BTC/USDT:USDT",
                                                                                                      "ETH/USDT:USDT"]


def test_catalog_maps_both_ways_and_refuses_foreign_instruments(bybit):
    assert bybit.get("BTC/USDT:USDT").native == "BTCUSDT"
    assert bybit.by_native("BTCPERP").symbol == "BTC/USDC:USDC"
    assert bybit.get("BTCUSDT") is None and bybit.by_native("BTC/USDT:USDT") is None
    assert "ETH/USDT:USDT" in bybit and "ETHUSDT" not in bybit
    assert "MATIC/USDT:USDT" not in bybit.symbols() and "MATIC/USDT:USDT" in bybit.symbols(trading_only=False)
    assert bybit.verified and len(bybit) == 8
    with pytest.raises(ValueError, match="not an instrument of okx"):
        Catalog("okx", [perp("BTC")])


# -- search ---------------------------------------------------------------------------------------------------------
def test_search_ranks_exact_base_then_prefix_then_contains(bybit):
    assert [i.symbol for i in bybit.search("eth")] == ["ETH/USDT:USDT", "ETHFI/USDT:USDT", "ETHW/USDT:USDT"]
    assert [i.symbol for i in bybit.search("btc")] == ["BTC/USDT:USDT", "BTC/USDC:USDC"]  # primary quote first
    assert [i.symbol for i in bybit.search("pepe")] == ["1000PEPE/USDT:USDT"]  # contained
    assert [i.symbol for i in bybit.search("perp")] == ["BTC/USDC:USDC"]  # by native id
    assert [i.symbol for i in bybit.search("h")][:1] == ["ETH/USDT:USDT"]  # contains, by symbol


def test_search_leaves_out_what_does_not_trade_and_honours_limit(bybit):
    assert bybit.search("matic") == []
    assert len(bybit.search("usdt", limit=2)) == 2
    assert bybit.search("usdt", limit=0) == [] and bybit.search("usdt", limit=-5) == []
    everything = bybit.search("")
    assert [i.symbol for i in everything] == sorted(bybit.symbols()) and len(everything) == 7
    assert bybit.search("  ") == everything == bybit.search("-")  # blank and separators alone: no filter


@pytest.mark.parametrize("text", ["ВТС", "x" * 100_000, "\x00", None, "é"])
def test_search_with_hostile_text_finds_nothing_or_everything_never_raises(bybit, text):
    found = bybit.search(text)
    assert found == [] or (text is None and len(found) == 7)


def test_search_separators_and_full_width_are_ignored(bybit):
    assert [i.symbol for i in bybit.search("btc-usdt")] == ["BTC/USDT:USDT"]
    assert [i.symbol for i in bybit.search("ＳＯＬ")] == ["SOL/USDT:USDT"]


# -- tick_at and the KRW table ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("price, tick", [
    (3_000_000, 1000), (2_000_000, 1000), (1_999_999, 500), (1_000_000, 500), (999_999, 100), (500_000, 100),
    (499_999, 50), (100_000, 50), (99_999, 10), (10_000, 10), (9_999, 1), (1_000, 1), (999.9, 0.1), (100, 0.1),
    (99.99, 0.01), (10, 0.01), (9.999, 0.001), (1, 0.001), (0.5, 0.0001), (0, 0.0001),
    (-1, 0.0001), (math.nan, 0.0001), (math.inf, 1000)])
def test_krw_tick_at_table_boundaries(price, tick):
    assert krw("BTC").tick_at(price) == tick


def test_a_fixed_tick_ignores_the_price():
    inst = perp("BTC", tick=0.5)
    assert {inst.tick_at(p) for p in (0, 1, 1e9, math.nan)} == {0.5}


def test_instrument_basics():
    inst = perp("BTC")
    assert inst.trading and inst.currency == "USDT" and str(inst) == "bybit BTC/USDT:USDT"
    assert krw("BTC").currency == "KRW" and not perp("X", status="closed").trading


# -- Instrument refuses what cannot be a market --------------------------------------------------------------------
def make(**changes):
    fields = dict(exchange="bybit", symbol="BTC/USDT:USDT", native="BTCUSDT", base="BTC", quote="USDT",
                  settle="USDT", kind=SWAP, tick_size=0.1, lot_size=0.001, min_qty=0.001, min_notional=5.0)
    fields.update(changes)
    return Instrument(**fields)


@pytest.mark.parametrize("field", ["tick_size", "lot_size", "min_qty", "min_notional", "contract_size"])
@pytest.mark.parametrize("value", [math.nan, -0.1, math.inf, -math.inf, 10 ** 400, "0.1", None, True,
                                   MAX_RULE_VALUE * 10],
                         ids=["nan", "negative", "inf", "-inf", "400 digits", "text", "None", "bool", "huge"])
def test_instrument_refuses_bad_numbers(field, value):
    with pytest.raises(ValueError, match=field) as err:
        make(**{field: value})
    assert "0" * 100 not in str(err.value)  # a 400-digit number is not printed


@pytest.mark.parametrize("changes, reason", [
    (dict(lot_size=0), "lot size"), (dict(contract_size=0), "contract size"),
    (dict(tick_size=0), "no tick size and no tick table"),
    (dict(native="../x"), "native id"), (dict(native="BTC USDT"), "native id"), (dict(native=""), "native id"),
    (dict(native="B" * 49), "native id"), (dict(native=None), "native is NoneType"),
    (dict(base="btc"), "base asset"), (dict(base="B" * 25), "base asset"), (dict(quote="U$DT"), "quote asset"),
    (dict(settle="../"), "settle asset"), (dict(base="ВТС"), "base asset"),
    (dict(status="trading\x1b[2J"), "status"), (dict(status=""), "status"), (dict(status="x" * 41), "status"),
    (dict(status=None), "status is NoneType"), (dict(symbol=5), "symbol is int"),
    (dict(tick_size=0, tick_table=((0.0, 0.0),)), "tick table"),
    (dict(tick_size=0, tick_table=((0.0, math.nan),)), "tick table step"),
    (dict(tick_size=0, tick_table=((math.nan, 1.0),)), "tick table price"),
    (dict(tick_size=0, tick_table=((-1.0, 1.0),)), "tick table price"),
    (dict(tick_size=0, tick_table=((0.0, 1.0), (100.0, 10.0))), "highest to lowest"),  # unsorted
    (dict(tick_size=0, tick_table=((100.0, 1.0), (100.0, 10.0))), "highest to lowest"),  # repeated floor
    (dict(tick_size=0, tick_table=((100.0,),)), "pair"), (dict(tick_size=0, tick_table=[(0.0, 1.0)]), "tuple"),
    (dict(tick_size=0, tick_table=tuple((float(100 - i), 1.0) for i in range(65))), "at most 64"),
])
def test_instrument_refuses_what_cannot_be_a_market(changes, reason):
    with pytest.raises(ValueError, match=reason):
        make(**changes)


def test_instrument_accepts_zero_minimums_and_a_tick_table():
    inst = make(min_qty=0, min_notional=0, tick_size=0, tick_table=((1000.0, 1.0), (0.0, 0.1)))
    assert inst.tick_at(5000) == 1.0 and inst.tick_at(999) == 0.1
    assert make(status="pre_launch").status == "pre_launch" and make(native="1000PEPE-USDT_SWAP")


@pytest.mark.parametrize("changes", [
    dict(tick_size=1e-320), dict(tick_size=1e-30), dict(lot_size=1e-320), dict(lot_size=1e-19),
    dict(contract_size=1e-300), dict(lot_size=1e-10, contract_size=1e-10),  # 1e-20 of the base a lot
    dict(tick_size=0, tick_table=((100.0, 1.0), (0.0, 1e-320)))],
    ids=["denormal tick", "tick 1e-30", "denormal lot", "lot 1e-19", "tiny contract", "tiny lot in base units",
         "denormal tick table step"])
def test_instrument_refuses_steps_finer_than_any_market(changes):
    # a step of 1e-320 passed as "> 0"; every order then died in rounding (price / tick has hundreds of digits:
    # decimal.InvalidOperation, not an OrderRefused) and `twinstar symbols` printed a 320-digit tick
    with pytest.raises(ValueError, match="finer than"):
        make(**changes)


def test_the_finest_steps_a_venue_can_state_are_accepted():
    # Bitget and BingX give steps as decimal places, up to 18 of them
    inst = make(tick_size=1e-18, lot_size=1e-18, min_qty=1e-320, min_notional=1e-320)
    assert inst.tick_size == 1e-18 and make(tick_size=0, tick_table=((1.0, 1e-8), (0.0, 1e-18)))
