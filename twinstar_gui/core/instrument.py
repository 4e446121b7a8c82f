"""Instrument identity: what an exchange lists (`Instrument`), a series' key, unified symbols and a catalog.

People, settings, bots and panels speak unified symbols, ccxt's convention: `BTC/USDT:USDT` for a USDT-margined
perpetual, `BTC/KRW` for a KRW spot market. Native ids (`BTC-USDT-SWAP`, `KRW-BTC`, `BTC_KRW`) belong to the
adapters, the wire and the dataset's paths. A `Catalog` (one exchange's instruments, from its own endpoint) maps
the two ways and resolves what a trader types (`btc`, `BTCUSDT`, `btc-usdt`) to exactly one instrument, or to an
error naming the exchange and the close matches.
"""
from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

SWAP, SPOT = "swap", "spot"
TRADING = "trading"  # the one status in which an instrument may be scanned, streamed for bots and traded
MAX_ASSET_CHARS = 24
_ASSET = re.compile(rf"[A-Z0-9][A-Z0-9.]{{0,{MAX_ASSET_CHARS - 1}}}")
_UNIFIED = re.compile(r"([A-Z0-9.]+)/([A-Z0-9.]+)(?::([A-Z0-9.]+))?")
_SEPARATORS = re.compile(r"[\s/:_\-]+")
# price multipliers some venues put before a cheap base (1000PEPE, 1000000MOG, 1MBABYDOGE)
_MULTIPLIER = re.compile(r"(?:1000000|100000|10000|1000|100|10|1M|1K)")


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
        for name in ("tick_size", "lot_size", "min_qty", "min_notional", "contract_size"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{self.exchange} {self.native}: {name} is {value!r}, expected a finite number >= 0")
        if self.contract_size <= 0:
            raise ValueError(f"{self.exchange} {self.native}: contract size must be > 0")
        if self.tick_size == 0 and not self.tick_table:
            raise ValueError(f"{self.exchange} {self.native}: no tick size and no tick table")

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


class Catalog:
    """One exchange's instruments: unified <-> native, and forgiving but unambiguous lookup.

    `fetched_ms`: when the exchange gave this list (UTC ms; 0 = never: built from names alone, unverified).
    """

    def __init__(self, exchange: str, instruments: Iterable[Instrument], *, fetched_ms: int = 0,
                 primary_quote: str = "USDT") -> None:
        self.exchange = exchange
        self.fetched_ms = fetched_ms
        self.primary_quote = primary_quote
        self.instruments: tuple[Instrument, ...] = tuple(instruments)
        self._by_symbol: dict[str, Instrument] = {}
        self._by_native: dict[str, Instrument] = {}
        for inst in self.instruments:
            if inst.exchange != exchange:
                raise ValueError(f"{inst} is not an instrument of {exchange}")
            # a delisted twin must not shadow the listed one of the same name
            if inst.symbol not in self._by_symbol or inst.trading:
                self._by_symbol[inst.symbol] = inst
            if inst.native not in self._by_native or inst.trading:
                self._by_native[inst.native] = inst
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
        if not isinstance(text, str) or not text.strip():
            raise UnknownSymbol(self.exchange, str(text), "is empty")
        raw = text.strip()
        if len(raw) > 64:
            raise UnknownSymbol(self.exchange, raw[:64] + "...", "is too long for a symbol")
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
                found += [i for base, insts in self._by_base.items() if base != key and base.endswith(key)
                          and _MULTIPLIER.fullmatch(base[:-len(key)]) for i in insts]
        return found

    def _near(self, raw: str, n: int = 5) -> list[str]:
        key = _compact(raw)
        names = {_compact(i.symbol): i.symbol for i in self._by_symbol.values() if i.trading}
        names.update({i.base: i.symbol for i in self._by_symbol.values() if i.trading and i.quote == self.primary_quote})
        close = difflib.get_close_matches(key, list(names), n=n, cutoff=0.6)
        return list(dict.fromkeys(names[c] for c in close))

    def search(self, text: str, limit: int = 50) -> list[Instrument]:
        """Trading instruments whose symbol, base or native id contain `text` (any case, separators ignored):
        exact base first, then prefixes, then the rest; by symbol within each group."""
        key = _compact(text or "")
        if not key:
            return sorted((i for i in self._by_symbol.values() if i.trading), key=lambda i: i.symbol)[:limit]
        ranked = []
        for inst in self._by_symbol.values():
            if not inst.trading:
                continue
            hay = (inst.base, _compact(inst.symbol), _compact(inst.native))
            if inst.base == key:
                rank = 0
            elif any(h.startswith(key) for h in hay):
                rank = 1
            elif any(key in h for h in hay):
                rank = 2
            else:
                continue
            ranked.append((rank, inst.symbol, inst))
        ranked.sort(key=lambda r: (r[0], r[1]))
        return [r[2] for r in ranked[:limit]]
