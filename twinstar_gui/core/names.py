"""Names that become folder names (exchange, symbol, timeframe): checked against strict patterns at the boundary.

Anything from the network or a file may be hostile (`../../x`, a 300-character name, control characters);
only names these patterns accept reach the dataset's paths, so a name can never leave its folder.
"""
from __future__ import annotations

import re

from .errors import excerpt

MAX_SYMBOL_CHARS = 48
# Native ids of the seven exchanges: BTCUSDT, 1000PEPEUSDT, BTC-USDT-SWAP, KRW-BTC, BTC_KRW
SYMBOL_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_-]{{0,{MAX_SYMBOL_CHARS - 1}}}")
EXCHANGE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
TIMEFRAME_PATTERN = re.compile(r"[1-9][0-9]{0,2}[smhdwM]")
# what a person may type for an instrument: a native id (above) or a unified symbol (BTC/USDT:USDT, BTC/KRW)
UNIFIED_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.]{0,23}/[A-Za-z0-9.]{1,12}(?::[A-Za-z0-9.]{1,12})?")


class BadName(ValueError):
    """A name that may not be used as a folder name; the message shows an excerpt of it."""


def check_symbol(name: object) -> str:
    """The name itself when it is a plausible native symbol id, else BadName."""
    if not isinstance(name, str) or not SYMBOL_PATTERN.fullmatch(name):
        raise BadName(f"symbol name {excerpt(repr(name), 60)} is not allowed (letters, digits, '-' and '_', "
                      f"1-{MAX_SYMBOL_CHARS} characters, starting with a letter or digit)")
    return name


def check_symbol_text(name: object) -> str:
    """A name as a person or a settings file gives it: a native id or a unified symbol (`BTC/USDT:USDT`); else
    BadName. Only the exchange's catalog says whether it exists (see core.instrument.Catalog.resolve)."""
    if isinstance(name, str) and len(name) <= MAX_SYMBOL_CHARS and UNIFIED_PATTERN.fullmatch(name):
        return name
    try:
        return check_symbol(name)
    except BadName:
        raise BadName(f"symbol name {excerpt(repr(name), 60)} is not allowed (a unified symbol like BTC/USDT:USDT or "
                      f"BTC/KRW, or the exchange's own id like BTCUSDT: letters, digits, '-', '_', '/', ':', '.', "
                      f"at most {MAX_SYMBOL_CHARS} characters)") from None


def check_exchange(name: object) -> str:
    if not isinstance(name, str) or not EXCHANGE_PATTERN.fullmatch(name):
        raise BadName(f"exchange name {excerpt(repr(name), 60)} is not allowed (lowercase letters, digits, '_')")
    return name


def check_timeframe(label: object) -> str:
    if not isinstance(label, str) or not TIMEFRAME_PATTERN.fullmatch(label):
        raise BadName(f"timeframe {excerpt(repr(label), 30)} is not allowed (e.g. 15m, 1h, 1d)")
    return label
