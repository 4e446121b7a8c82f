"""`twinstar symbols --exchange E [--search TEXT]`: an exchange's instrument catalog, one instrument a line.

Columns: unified symbol, native id, tick, lot, min notional (in the quote currency), status. The list comes from
the exchange's own endpoint (URL overrides honoured, as for `collect`); when it cannot be had, the cached one is
printed with a line on stderr saying how old it is.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from decimal import Decimal

from .core.errors import excerpt
from .core.instrument import Catalog, Instrument, SymbolError, typed_symbol


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twinstar symbols",
                                description="List an exchange's instruments: unified symbol, native id, tick, lot, "
                                            "min notional, status.")
    p.add_argument("--exchange", required=True, help="exchange name (bybit, binance, okx, bitget, bingx, upbit, "
                                                     "bithumb)")
    p.add_argument("--search", help="only instruments whose symbol, base or native id contain this (e.g. sol)")
    p.add_argument("--all", action="store_true", help="also those not trading (delisted, suspended)")
    p.add_argument("--data", help="data directory holding the catalog cache (default: TWINSTAR_DATA_DIR or the "
                                  "platform's)")
    p.add_argument("--config", help="settings file (for URL overrides and the data directory)")
    return p


def number(value: float) -> str:
    """A step or a minimum as the exchange would write it: no exponent, no trailing zeros (a fixed 12 decimals
    printed a tick of 1e-13 as 0)."""
    text = format(Decimal(repr(float(value))), "f")
    return (text.rstrip("0").rstrip(".") if "." in text else text) or "0"


def tick_text(inst: Instrument) -> str:
    if inst.tick_size > 0:
        return number(inst.tick_size)
    steps = [t for _, t in inst.tick_table]
    return f"{number(min(steps))}..{number(max(steps))}(by price)"


def line(inst: Instrument) -> str:
    lot = number(inst.lot_size * inst.contract_size)
    return (f"{inst.symbol:<22} {inst.native:<20} {tick_text(inst):>14} {lot:>12} {number(inst.min_notional):>10} "
            f"{inst.currency:<4} {inst.status}")


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    logging.getLogger().setLevel(logging.WARNING)  # stdout is the list; stderr only what went wrong
    from .exchanges.registry import exchange_names

    name = args.exchange.strip().lower()
    if name not in exchange_names():
        print(f"twinstar symbols: unknown exchange {excerpt(repr(args.exchange), 40)}; valid: "
              f"{', '.join(exchange_names())}", file=sys.stderr)
        return 2
    from .collector import data_dir_setting
    from .config import SettingsError, load_settings

    try:
        settings = data_dir_setting(load_settings(args.config), args.data)
    except SettingsError as exc:
        print(f"twinstar symbols: {exc}", file=sys.stderr)
        return 2
    from .data.catalogs import fetch_book

    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        cache = settings.data_dir
    except OSError as exc:
        print(f"twinstar symbols: no catalog cache ({exc})", file=sys.stderr)
        cache = None
    book = fetch_book(name, settings.rest_url(name), cache)
    catalog = book.catalog
    if book.error:
        if not book.verified:
            print(f"twinstar symbols: {book.load_failure()}; no cached list either",
                  file=sys.stderr)
            return 1
        # the status line repeats the reason: said once
        cached = book.status().split(": ", 1)[1].removesuffix(f" ({book.error})")
        print(f"twinstar symbols: {book.load_failure()}; showing the {cached}",
              file=sys.stderr)
    return _print(catalog, args.search, args.all)


def _compact(text: str) -> str:
    return "".join(c for c in text.upper() if c.isalnum())


def _matches(search: str, inst: Instrument) -> bool:
    try:
        key = _compact(typed_symbol(inst.exchange, search))
    except SymbolError:
        return False
    return any(key in _compact(h) for h in (inst.base, inst.symbol, inst.native))


def _print(catalog: Catalog, search: str | None, everything: bool) -> int:
    if search is not None:
        found = catalog.search(search, limit=len(catalog) or 1)
        if everything:  # matched as `search` matches (separators ignored), on the same fields
            listed = {i.symbol for i in found}
            found += [i for i in catalog.instruments if not i.trading and i.symbol not in listed
                      and _matches(search, i)]
        if not found:  # (with --all, only after the ones not trading were looked at too: they were not)
            near = catalog.search(search[:3], limit=5) if len(search) > 3 else []
            hint = f"; close: {', '.join(i.symbol for i in near)}" if near else ""
            print(f"twinstar symbols: no {catalog.exchange} instrument matches {excerpt(repr(search), 40)}{hint}",
                  file=sys.stderr)
            return 1
    else:
        found = sorted((i for i in catalog.instruments if everything or i.trading), key=lambda i: i.symbol)
    try:
        for inst in found:
            sys.stdout.write(line(inst) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
