"""What the simulated exchanges list: every symbol of the market, except that one was delisted and one renamed,
so a catalog's verification path (a preset naming a symbol that is gone) is exercised end to end.

- `DELISTED` bases are still in the instrument list where the exchange lists closed instruments, with that
  exchange's own non-trading status (the KRW venues list only what trades: there they are absent);
- `RENAMED` old base -> new base: the instrument list has only the new name, whose candles are the old
  symbol's price process (the candle endpoints also still answer for the old name, as during a migration).
"""
from __future__ import annotations

from .market import Market

DELISTED = frozenset({"MATIC"})
RENAMED = {"RNDR": "RENDER"}
_OLD_OF = {new: old for old, new in RENAMED.items()}


def listed_bases(bases: list[str]) -> list[tuple[str, bool]]:
    """(base as listed, trading?) for the market's bases: renamed ones under their new name, delisted ones not
    trading."""
    return [(RENAMED.get(b, b), b not in DELISTED) for b in bases]


def market_base(listed: str) -> str:
    """The market's base (its price process) of a listed base name: RENDER -> RNDR; others unchanged."""
    return _OLD_OF.get(listed, listed)


def listed_usdt(market: Market) -> list[tuple[str, str, bool]]:
    """(base as listed, the market's symbol behind it, trading?) for every USDT symbol of the market, in its order:
    what a perpetual venue's instrument list is built from (RNDRUSDT is listed as RENDER)."""
    symbols = [s for s in market.symbols if s.endswith("USDT") and len(s) > 4]
    return [(base, sym, trading) for (base, trading), sym in zip(listed_bases([s[:-4] for s in symbols]), symbols)]


def served_symbol(market: Market, base: str, quote: str = "USDT") -> str | None:
    """The market's symbol whose prices a venue serves for `base`/`quote`: RENDER -> RNDRUSDT, BTC -> BTCUSDT (the
    old name RNDR still answers too); None when the market has none."""
    symbol = market_base(base) + quote
    return symbol if market.has_symbol(symbol) else None


def served_concat(market: Market, name: str) -> str | None:
    """`served_symbol` of a BASE+USDT name (Bybit, Binance, Bitget): RENDERUSDT -> RNDRUSDT."""
    if market.has_symbol(name):
        return name
    return served_symbol(market, name[:-4]) if name.endswith("USDT") and len(name) > 4 else None
