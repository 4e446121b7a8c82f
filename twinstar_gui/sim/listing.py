"""What the simulated exchanges list: every symbol of the market, except that one was delisted and one renamed,
so a catalog's verification path (a preset naming a symbol that is gone) is exercised end to end.

- `DELISTED` bases are still in the instrument list where the exchange lists closed instruments, with that
  exchange's own non-trading status (the KRW venues list only what trades: there they are absent);
- `RENAMED` old base -> new base: the instrument list has only the new name, whose candles are the old
  symbol's price process (the candle endpoints also still answer for the old name, as during a migration).
"""
from __future__ import annotations

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
