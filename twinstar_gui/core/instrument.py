"""Instrument identity: what an exchange lists (`Instrument`), a series' key, unified symbols and a catalog.

People, settings, bots and panels speak unified symbols, ccxt's convention: `BTC/USDT:USDT` for a USDT-margined
perpetual, `BTC/KRW` for a KRW spot market. Native ids (`BTC-USDT-SWAP`, `KRW-BTC`, `BTC_KRW`) belong to the
adapters, the wire and the dataset's paths. A `Catalog` (one exchange's instruments, from its own endpoint) maps
the two ways and resolves what a trader types (`btc`, `BTCUSDT`, `btc-usdt`) to exactly one instrument, or to an
error naming the exchange and the close matches.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from .names import SYMBOL_PATTERN

SWAP, SPOT = "swap", "spot"
TRADING = "trading"  # the one status in which an instrument may be scanned, streamed for bots and traded
MAX_ASSET_CHARS = 24
_ASSET = re.compile(rf"[A-Z0-9][A-Z0-9.]{{0,{MAX_ASSET_CHARS - 1}}}")
_UNIFIED = re.compile(r"([A-Z0-9.]+)/([A-Z0-9.]+)(?::([A-Z0-9.]+))?")
_SEPARATORS = re.compile(r"[\s/:_\-]+")
# price multipliers some venues put before a cheap base (1000PEPE, 1000000MOG, 1MBABYDOGE)
_MULTIPLIER = re.compile(r"(?:1000000|100000|10000|1000|100|10|1M|1K)")
_STATUS = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}")  # `trading`, `closed`, `pre_launch`...
MAX_TYPED_CHARS = 64
MAX_TICK_TABLE = 64
# steps and minimums beyond this are garbage, not a market (and their products would overflow to inf)
MAX_RULE_VALUE = 1e15
# no venue states a step finer than 18 decimal places (Bitget's and BingX's places go to 18); a finer one is garbage,
# and orders rounded to it fail (price / step has more digits than decimal arithmetic carries)
MIN_STEP = 1e-18


class SymbolError(ValueError):
    """A symbol that names no instrument of the exchange, or several: the message names both and the close
    matches; `matches` holds those (unified symbols)."""

    def __init__(self, exchange: str, text: str, reason: str, matches: Iterable[str] = ()) -> None:
        self.exchange, self.text, self.matches = exchange, text, tuple(matches)
        hint = f"; did you mean {', '.join(self.matches)}?" if self.matches else ""
        super().__init__(f"{exchange}: {text!r} {reason}{hint}")


class UnknownSymbol(SymbolError):
    """Nothing of that name is listed (or it is listed but not trading: delisted, suspended)."""


class AmbiguousSymbol(SymbolError):
    """Several instruments fit what was typed; the user must pick one of `matches`."""


def unified_symbol(base: str, quote: str, settle: str = "") -> str:
    """`BTC/USDT:USDT` (a perpetual settled in USDT) or `BTC/KRW` (spot)."""
    return f"{base}/{quote}:{settle}" if settle else f"{base}/{quote}"


def split_unified(symbol: str) -> tuple[str, str, str]:
    """(base, quote, settle) of a unified symbol; settle is "" for spot. ValueError when it is not one."""
    m = _UNIFIED.fullmatch(symbol) if isinstance(symbol, str) else None
    if m is None:
        raise ValueError(f"{str(symbol)[:60]!r} is not a unified symbol like BTC/USDT:USDT or BTC/KRW")
    return m.group(1), m.group(2), m.group(3) or ""


def is_unified(symbol: object) -> bool:
    return isinstance(symbol, str) and _UNIFIED.fullmatch(symbol) is not None


def typed_symbol(exchange: str, text: object) -> str:
    """What a user typed, made comparable: invisible format characters (a zero-width space pasted from a web
    page) dropped, full-width forms (`ＢＴＣ`, typed with an East Asian input method) made ASCII, blanks around
    stripped. UnknownSymbol for anything else outside printable ASCII: `.upper()` would turn a dotless `ı` into
    `I` and `ß` into `SS`, so a name that only looks like a symbol would reach one."""
    if not isinstance(text, str):
        raise UnknownSymbol(exchange, repr(text)[:MAX_TYPED_CHARS], "is not text")
    cut = text[:MAX_TYPED_CHARS * 4]  # normalising megabytes of paste is pointless: it is too long either way
    raw = unicodedata.normalize("NFKC", "".join(c for c in cut if unicodedata.category(c) != "Cf")).strip()
    if not raw:
        raise UnknownSymbol(exchange, text[:MAX_TYPED_CHARS], "is empty")
    if len(raw) > MAX_TYPED_CHARS or len(cut) < len(text):
        raise UnknownSymbol(exchange, raw[:MAX_TYPED_CHARS] + "...", "is too long for a symbol")
    odd = [c for c in raw if not (c.isascii() and c.isprintable())]
    if odd:
        shown = ", ".join(dict.fromkeys(map(ascii, odd)))
        raise UnknownSymbol(exchange, raw, f"has characters no symbol has ({shown})")
    return raw


@dataclass(frozen=True, slots=True)
class Instrument:
    """One listed instrument of one exchange, with its trading rules (from the exchange's instrument endpoint).

    `tick_size` 0 means the tick depends on the price: `tick_table` holds (lowest price, step) pairs, highest
    first (the KRW venues' price-unit tables; see `tick_at`);
    `contract_size` is the base amount of one contract where the exchange counts contracts (OKX `ctVal`), else 1.
    """

    exchange: str
    symbol: str  # unified
    native: str  # the exchange's id: wire and dataset path
    base: str
    quote: str
    settle: str  # "" for spot
    kind: str  # SWAP / SPOT
    tick_size: float
    lot_size: float
    min_qty: float
    min_notional: float
    status: str = TRADING  # TRADING, else the exchange's own word for it (delisted, suspended, pre-listing...)
    contract_size: float = 1.0
    tick_table: tuple[tuple[float, float], ...] = ()

    def __post_init__(self) -> None:
        where = f"{str(self.exchange)[:32]} {str(self.native)[:60]!r}"
        for name in ("exchange", "symbol", "native", "base", "quote", "settle", "kind", "status"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{where}: {name} is {type(getattr(self, name)).__name__}, expected text")
        if not SYMBOL_PATTERN.fullmatch(self.native):
            raise ValueError(f"{where}: native id is not a plausible symbol name")
        for name in ("base", "quote") + (("settle",) if self.settle else ()):
            if not _ASSET.fullmatch(getattr(self, name)):
                raise ValueError(f"{where}: {name} asset {getattr(self, name)[:30]!r} is not allowed")
        if not _STATUS.fullmatch(self.status):
            raise ValueError(f"{where}: status {self.status[:40]!r} is not a status word")
        for name in ("tick_size", "lot_size", "min_qty", "min_notional", "contract_size"):
            _check_number(where, name, getattr(self, name))
        if self.lot_size <= 0 or self.contract_size <= 0:
            raise ValueError(f"{where}: lot size and contract size must be > 0")
        _check_tick_table(where, self.tick_table)
        if self.tick_size == 0 and not self.tick_table:
            raise ValueError(f"{where}: no tick size and no tick table")
        steps = [("tick size", self.tick_size)] if self.tick_size > 0 else []
        steps += [("tick table step", step) for _, step in self.tick_table]
        steps += [("contract size", self.contract_size), ("lot size in base units", self.lot_size * self.contract_size)]
        for name, step in steps:
            if step < MIN_STEP:
                raise ValueError(f"{where}: {name} {step:g} is finer than {MIN_STEP:g}: no market has such a step")

    @property
    def trading(self) -> bool:
        return self.status == TRADING

    @property
    def currency(self) -> str:
        """What money is counted in on this instrument: the settle currency of a swap, the quote of spot."""
        return self.settle or self.quote

    def tick_at(self, price: float) -> float:
        """The price step at `price` (the KRW venues' steps grow with the price)."""
        if self.tick_size > 0:
            return self.tick_size
        for floor, tick in self.tick_table:
            if price >= floor:
                return tick
        return self.tick_table[-1][1]

    def __str__(self) -> str:
        return f"{self.exchange} {self.symbol}"


def _check_number(where: str, name: str, value: object) -> None:
    # bool is an int to Python, and math.isfinite raises OverflowError (not ValueError) on a 400-digit int;
    # NaN fails both comparisons
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= MAX_RULE_VALUE):
        shown = "a huge number" if isinstance(value, int) and value.bit_length() > 64 else repr(value)[:40]
        raise ValueError(f"{where}: {name} is {shown}, expected a number from 0 to {MAX_RULE_VALUE:g}")


def _check_tick_table(where: str, table: object) -> None:
    """(lowest price, step) pairs, highest price first, steps > 0: `tick_at` reads the first floor at or under
    the price, so an unsorted table would answer with a wrong step."""
    if not isinstance(table, tuple) or len(table) > MAX_TICK_TABLE:
        raise ValueError(f"{where}: tick table is not a tuple of at most {MAX_TICK_TABLE} pairs")
    previous = float("inf")
    for pair in table:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"{where}: tick table entry {str(pair)[:40]} is not a (price, step) pair")
        floor, step = pair
        _check_number(where, "tick table price", floor)
        _check_number(where, "tick table step", step)
        if step <= 0 or not floor < previous:
            raise ValueError(f"{where}: tick table must have steps > 0 and prices from highest to lowest")
        previous = floor


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    """One candle series: exchange, unified symbol, timeframe (`okx BTC/USDT:USDT 15m`)."""

    exchange: str
    symbol: str
    timeframe: str

    def __str__(self) -> str:
        return f"{self.exchange} {self.symbol} {self.timeframe}"


def _compact(text: str) -> str:
    return _SEPARATORS.sub("", text.upper())


def _bases_of(key: str, quote: str) -> list[str]:
    """What may be the base in a compacted name holding `quote`: BTCUSDTUSDT, BTCUSDT, KRWBTC -> BTC."""
    cut = (key.removesuffix(quote + quote), key.removesuffix(quote), key.removeprefix(quote))
    return [b for b in dict.fromkeys(cut) if b and b != key]


class Catalog:
    """One exchange's instruments: unified <-> native, and forgiving but unambiguous lookup.

    `fetched_ms`: when the exchange gave this list (UTC ms; 0 = never: built from names alone, unverified).
    """

    def __init__(self, exchange: str, instruments: Iterable[Instrument], *, fetched_ms: int = 0,
                 primary_quote: str = "USDT") -> None:
        self.exchange = exchange
        self.fetched_ms = fetched_ms
        self.primary_quote = primary_quote
        self._by_symbol: dict[str, Instrument] = {}
        self._by_native: dict[str, Instrument] = {}
        for inst in instruments:
            if inst.exchange != exchange:
                raise ValueError(f"{inst} is not an instrument of {exchange}")
            # a delisted twin must not shadow the listed one of the same name
            if inst.native not in self._by_native or inst.trading:
                self._by_native[inst.native] = inst
        # one per native id: pages that overlap (a listing between two page requests) repeat instruments
        self.instruments: tuple[Instrument, ...] = tuple(self._by_native.values())
        for inst in self.instruments:
            if inst.symbol not in self._by_symbol or inst.trading:
                self._by_symbol[inst.symbol] = inst
        self._by_native_upper = {k.upper(): v for k, v in self._by_native.items()}
        self._compact: dict[str, list[Instrument]] = {}
        self._by_base: dict[str, list[Instrument]] = {}
        for inst in self._by_symbol.values():
            keys = {_compact(inst.native), inst.base + inst.quote, inst.quote + inst.base,
                    inst.base + inst.quote + inst.settle, _compact(inst.symbol)}
            for key in keys:
                self._compact.setdefault(key, []).append(inst)
            self._by_base.setdefault(inst.base, []).append(inst)

    def __len__(self) -> int:
        return len(self._by_symbol)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def __repr__(self) -> str:
        return f"Catalog({self.exchange}, {len(self)} instruments, fetched_ms={self.fetched_ms})"

    @property
    def verified(self) -> bool:
        return self.fetched_ms > 0

    def get(self, symbol: str) -> Instrument | None:
        """The instrument of a unified symbol (listed or not), else None."""
        return self._by_symbol.get(symbol)

    def by_native(self, native: str) -> Instrument | None:
        return self._by_native.get(native)

    def symbols(self, *, trading_only: bool = True) -> list[str]:
        return [s for s, i in self._by_symbol.items() if i.trading or not trading_only]

    def resolve(self, text: str) -> Instrument:
        """What a trader typed -> one trading instrument. Accepted: the unified symbol, the native id, either
        without separators or in any case (`btc-usdt`, `BTCUSDT`, `KRW-BTC`), or the base asset alone (`sol`:
        the instrument quoted in this venue's main currency; `pepe` also finds `1000PEPE`). Else UnknownSymbol
        (not listed, or not trading) or AmbiguousSymbol, each with the close matches."""
        raw = typed_symbol(self.exchange, text)
        hit = self._by_symbol.get(raw.upper()) or self._by_native.get(raw) or self._by_native_upper.get(raw.upper())
        found = [hit] if hit is not None else self._candidates(raw)
        listed = [i for i in found if i.trading]
        if len(listed) == 1:
            return listed[0]
        if len(listed) > 1:
            preferred = [i for i in listed if i.quote == self.primary_quote]
            if len(preferred) == 1:
                return preferred[0]
            raise AmbiguousSymbol(self.exchange, raw, "fits several instruments", sorted(i.symbol for i in listed))
        if found:
            inst = found[0]
            raise UnknownSymbol(self.exchange, raw, f"is {inst.symbol}, which is not trading ({inst.status})",
                                self._near(raw))
        raise UnknownSymbol(self.exchange, raw, "is not listed", self._near(raw))

    def _candidates(self, raw: str) -> list[Instrument]:
        key = _compact(raw)
        found = self._compact.get(key, [])
        if found:
            return list(found)
        if _ASSET.fullmatch(key):  # a base asset alone
            found = list(self._by_base.get(key, []))
            if not any(i.trading for i in found):  # PEPE -> 1000PEPE where only the multiplied one is listed
                found += self._multiplied(key)
        if not any(i.trading for i in found):  # PEPEUSDT, PEPE/USDT:USDT, KRW-PEPE: the same, with a quote
            for quote in sorted({i.quote for i in self.instruments}):
                found += [i for base in _bases_of(key, quote) for i in self._multiplied(base) if i.quote == quote]
        return list(dict.fromkeys(found))

    def _multiplied(self, base: str) -> list[Instrument]:
        return [i for listed, insts in self._by_base.items() if listed != base and listed.endswith(base)
                and _MULTIPLIER.fullmatch(listed[:-len(base)]) for i in insts]

    def _near(self, raw: str, n: int = 5) -> list[str]:
        """Trading symbols close to what was typed. A name ending (or, KRW-style, starting) with a quote of this
        catalog is compared by its base with the bases of that quote: compared whole, `FOOUSDT` was "close" to
        any `xxOUSDT` for the shared USDT alone."""
        key = _compact(raw)
        trading = [i for i in self._by_symbol.values() if i.trading]
        with_quote = [(base, quote) for quote in sorted({i.quote for i in trading}) for base in _bases_of(key, quote)]
        if with_quote:
            close = []
            for base, quote in with_quote:
                names = {i.base: i.symbol for i in trading if i.quote == quote}
                close += [names[c] for c in difflib.get_close_matches(base, list(names), n=n, cutoff=0.6)]
            return list(dict.fromkeys(close))[:n]
        names = {_compact(i.symbol): i.symbol for i in trading}
        names.update({i.base + i.quote: i.symbol for i in trading})
        names.update({i.base: i.symbol for i in trading if i.quote == self.primary_quote})
        close = difflib.get_close_matches(key, list(names), n=n, cutoff=0.6)
        return list(dict.fromkeys(names[c] for c in close))

    def search(self, text: str, limit: int = 50) -> list[Instrument]:
        """Trading instruments whose symbol, base or native id contain `text` (any case, separators ignored):
        exact base first (the venue's main quote ahead, as `resolve` prefers it), then prefixes, then the rest;
        by symbol within each group. Text no symbol could contain finds nothing."""
        limit = max(0, limit)
        try:
            blank = not text or (isinstance(text, str) and not text.strip())
            key = "" if blank else _compact(typed_symbol(self.exchange, text))  # blank: everything
        except SymbolError:
            return []
        if not key:
            return sorted((i for i in self._by_symbol.values() if i.trading), key=lambda i: i.symbol)[:limit]
        ranked = []
        for inst in self._by_symbol.values():
            if not inst.trading:
                continue
            hay = (inst.base, _compact(inst.symbol), _compact(inst.native))
            if inst.base == key:
                rank = 0 if inst.quote == self.primary_quote else 1
            elif any(h.startswith(key) for h in hay):
                rank = 2
            elif any(key in h for h in hay):
                rank = 3
            else:
                continue
            ranked.append((rank, inst.symbol, inst))
        ranked.sort(key=lambda r: (r[0], r[1]))
        return [r[2] for r in ranked[:limit]]
