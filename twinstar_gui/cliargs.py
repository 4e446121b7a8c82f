"""Argument types the `twinstar` commands share: finite bounded numbers and symbol lists, refused with a message
naming the flag (argparse prints it and exits 2), never a traceback or a busy loop."""
from __future__ import annotations

import argparse
import datetime as dt
import math
from collections.abc import Callable

from .core.errors import excerpt
from .core.names import BadName, check_symbol_text

MAX_SYMBOLS_ARG_CHARS = 20_000
MAX_SYMBOLS_PER_ARG = 1000


def number(low: float, high: float, *, above: bool = False) -> Callable[[str], float]:
    """A finite float in [low, high] (or (low, high] with `above`)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        ok = math.isfinite(value) and (value > low if above else value >= low) and value <= high
        if not ok:
            bound = f"{'>' if above else '>='} {low:g} and <= {high:g}"
            raise argparse.ArgumentTypeError(f"expected a number {bound}, got {excerpt(repr(text), 40)}")
        return value
    return parse


def symbol_list(text: str) -> list[str]:
    """Comma-separated symbol names, upper-cased, each a valid name, at most 1000 of them."""
    if len(text) > MAX_SYMBOLS_ARG_CHARS:
        raise argparse.ArgumentTypeError(f"{len(text):,} characters of symbols; at most {MAX_SYMBOLS_ARG_CHARS:,}")
    names = list(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    if not names:
        raise argparse.ArgumentTypeError("no symbols given")
    if len(names) > MAX_SYMBOLS_PER_ARG:
        raise argparse.ArgumentTypeError(f"{len(names)} symbols; at most {MAX_SYMBOLS_PER_ARG}")
    try:  # checked as typed, then upper-cased: 'ſOLUSDT'.upper() would turn a look-alike into SOLUSDT
        return list(dict.fromkeys(check_symbol_text(n).upper() for n in names))
    except BadName as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def utc_day(text: str) -> int:
    """A day given as YYYY-MM-DD -> its 00:00 UTC in ms (years 2009..2100: crypto history, and far from the ends
    of what a date can hold)."""
    try:
        day = dt.datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=dt.UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a date like 2025-01-31") from None
    if not 2009 <= day.year <= 2100:
        raise argparse.ArgumentTypeError(f"{text[:40]!r}: the year must be 2009..2100")
    return int(day.timestamp() * 1000)


SECONDS = number(0.05, 30 * 86_400.0)  # an interval or a duration: 50 ms (20 lines a second) to 30 days
SPEED = number(0.001, 1_000_000.0)  # simulator time acceleration


def add_account_flags(p: argparse.ArgumentParser, *, paper: str, live: str, confirm: str, data: str) -> None:
    """--paper | --live, --confirm-live, --data, --config: what every trading command takes."""
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--paper", action="store_true", help=paper)
    mode.add_argument("--live", action="store_true", help=live)
    p.add_argument("--confirm-live", action="store_true", help=confirm)
    p.add_argument("--data", help=data)
    p.add_argument("--config", help="settings file")
