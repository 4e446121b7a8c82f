"""`twinstar download`: fill the dataset with 15m history by REST (resumable; a progress bar per symbol and overall;
a summary of what was fetched and of the holes the exchange itself has). No Qt."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import sys
import threading
import time
from typing import TextIO

from .cliargs import utc_day
from .collector import UsageError, data_dir_setting, parse_symbols

log = logging.getLogger("twinstar.download")
DAY_MS = 86_400_000
BAR = 24  # characters of a progress bar


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twinstar download",
                                description="Download 15m candle history into the dataset (resumable: a second run "
                                            "fetches only what is missing).")
    p.add_argument("--exchange", required=True, help="exchange name")
    p.add_argument("--symbols", required=True,
                   help="comma-separated symbols (unified BTC/USDT:USDT, native, or a base like btc), or top:N for "
                        "the N with the largest 24 h quote volume")
    p.add_argument("--since", required=True, type=utc_day, help="first day, YYYY-MM-DD (UTC)")
    p.add_argument("--until", type=utc_day, help="last day, YYYY-MM-DD (UTC), included (default: up to now)")
    p.add_argument("--data", help="data directory (default: TWINSTAR_DATA_DIR, the settings file's, or the "
                                  "platform's)")
    p.add_argument("--config", help="settings file")
    return p


def _fail(message: str, code: int = 2) -> int:
    print(f"twinstar download: {message}", file=sys.stderr)
    return code


def main(argv: list[str]) -> int:
    from .config import SettingsError, load_settings
    from .exchanges.registry import exchange_names
    from .wiring import check_data_dir

    args = parser().parse_args(argv)
    exchange = args.exchange.strip().lower()
    if exchange not in exchange_names():
        return _fail(f"unknown exchange {exchange!r}; valid: {', '.join(exchange_names())}")
    now = int(time.time() * 1000)
    start = args.since
    end = (args.until + DAY_MS - 1) if args.until is not None else now
    if start > now:
        return _fail(f"--since {dt.datetime.fromtimestamp(start / 1000, dt.UTC):%Y-%m-%d} is in the future")
    if end < start:
        return _fail("--until is before --since")
    try:
        wanted = parse_symbols(args.symbols)
        settings = data_dir_setting(load_settings(args.config), args.data)
    except (UsageError, SettingsError) as exc:
        return _fail(str(exc))
    problem = check_data_dir(settings.data_dir)
    if problem:
        return _fail(problem)
    symbols = _symbols(settings, exchange, wanted)
    if isinstance(symbols, int):
        return symbols
    return run(settings, exchange, symbols, start, end)


def _symbols(settings, exchange: str, wanted) -> list[str] | int:
    from .collector import native_ids, top_symbols, valid_symbols
    from .core.errors import TwinStarError
    from .core.instrument import SymbolError

    try:
        if isinstance(wanted, int):
            return valid_symbols(exchange, top_symbols(settings, exchange, wanted))
        return native_ids(settings, exchange, list(wanted or []))
    except SymbolError as exc:
        return _fail(str(exc))
    except TwinStarError as exc:  # the exchange cannot be reached, or refused the tickers request
        return _fail(f"{exchange}: cannot list the top symbols: {exc}", 1)


def run(settings, exchange: str, symbols: list[str], start: int, end: int, out: TextIO | None = None) -> int:
    from .data.download import Downloader
    from .data.store import CandleStore
    from .exchanges.registry import get_exchange
    from .net.rest import RestClient

    out = out or sys.stdout
    adapter = get_exchange(exchange, rest_url=settings.rest_url(exchange), ws_url=settings.ws_url(exchange))
    rest, store = RestClient(adapter), CandleStore(settings.data_dir)
    bars = Bars(out, len(symbols))
    stop = threading.Event()
    downloader = Downloader(exchange, rest, store, stop=stop, progress=bars.update)
    reports = []
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"{exchange}: {len(symbols)} symbol(s), {_day(start)} .. {_day(min(end, int(time.time() * 1000)))}, "
              f"into {settings.data_dir}", file=out, flush=True)
        for sym in symbols:
            bars.begin(sym)
            report = downloader.symbol(sym, start, end)
            reports.append(report)
            bars.end(report)
            if stop.is_set():
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        rest.close()
        store.close()
    return summary(exchange, symbols, reports, out, interrupted=stop.is_set())


def summary(exchange: str, symbols: list[str], reports, out: TextIO, interrupted: bool) -> int:
    print("", file=out)
    print(f"{'symbol':<22} {'fetched':>9} {'had':>9} {'first':>17} {'last':>17} {'holes':>6}  notes", file=out)
    for r in reports:
        notes = r.error or ("stopped: run again to continue" if r.stopped else "")
        if r.gaps:
            biggest = max(r.gaps, key=lambda g: g[1] - g[0])
            notes = (notes + "; " if notes else "") + (
                f"the exchange has no candles for {r.missing} slot(s) in {len(r.gaps)} hole(s), the longest "
                f"{_when(biggest[0])} .. {_when(biggest[1])}")
        print(f"{r.symbol:<22} {r.fetched:>9,} {r.had:>9,} {_when(r.first_ms):>17} {_when(r.last_ms):>17} "
              f"{len(r.gaps):>6}  {notes}", file=out)
    left = symbols[len(reports):]
    if interrupted:
        print(f"interrupted: {len(left)} symbol(s) not started; the same command continues where this one stopped",
              file=out)
    fetched = sum(r.fetched for r in reports)
    failed = [r for r in reports if r.error]
    print(f"{exchange}: {fetched:,} candles fetched for {len(reports)} symbol(s)"
          + (f"; {len(failed)} failed" if failed else ""), file=out, flush=True)
    if interrupted:
        return 130
    return 1 if failed else 0


def _day(ms: int) -> str:
    return f"{dt.datetime.fromtimestamp(ms / 1000, dt.UTC):%Y-%m-%d}"


def _when(ms: int | None) -> str:
    return "-" if ms is None else f"{dt.datetime.fromtimestamp(ms / 1000, dt.UTC):%Y-%m-%d %H:%M}"


class Bars:
    """Progress: on a terminal one line redrawn in place (this symbol's bar, then the overall bar); otherwise a
    line at every tenth of a symbol."""

    def __init__(self, out: TextIO, count: int) -> None:
        self.out, self.count = out, count
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.index, self.symbol, self.shown = 0, "", -1
        self.last = (0, 0)  # (done, total) last shown

    def begin(self, symbol: str) -> None:
        self.symbol, self.shown, self.last = symbol, -1, (0, 0)

    def update(self, symbol: str, done: int, total: int) -> None:
        self.last = (done, total)
        part = 1.0 if total == 0 else done / total
        overall = (self.index + part) / max(1, self.count)
        line = (f"{symbol:<18} {_bar(part)} {part:6.1%} {done:>8,}/{total:<8,} | all {_bar(overall)} "
                f"{overall:6.1%} ({self.index + 1}/{self.count})")
        if self.tty:
            print("\r" + line, end="", file=self.out, flush=True)
        elif int(part * 10) != self.shown:
            self.shown = int(part * 10)
            print(line, file=self.out, flush=True)

    def end(self, report) -> None:
        if self.shown < 10 and report.complete:  # nothing was missing, or the last page did not say 100%
            self.update(self.symbol, self.last[1], self.last[1])
        self.index += 1
        if self.tty:
            print("", file=self.out)


def _bar(part: float) -> str:
    filled = int(round(max(0.0, min(1.0, part)) * BAR))
    return "[" + "#" * filled + "." * (BAR - filled) + "]"
