"""`twinstar backtest`: replay stored 15m candles through a trading flow (the real bot classes and the paper
executor behind the risk guard) and print its metrics; trades and the equity curve are written as CSV and Parquet,
and `--report out.html` writes a self-contained HTML report. No Qt."""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from .cliargs import utc_day
from .collector import data_dir_setting

log = logging.getLogger("twinstar.backtest")
DAY_MS = 86_400_000


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twinstar backtest",
                                description="Backtest a trading flow on the stored 15m candles (paper executor, "
                                            "fees, slippage, tick/lot, risk limits; no network).")
    p.add_argument("--flow", required=True, choices=["unified", "scanner", "multi"])
    p.add_argument("--exchange", required=True, help="exchange name")
    p.add_argument("--symbols", help="comma-separated (native, unified or base names). unified: one bot per "
                                     "symbol (default: the settings' symbols); scanner: its presets (default: the "
                                     "settings'); multi: its universe (default: every stored symbol)")
    p.add_argument("--from", dest="start", required=True, type=utc_day, help="first day, YYYY-MM-DD (UTC)")
    p.add_argument("--to", dest="end", required=True, type=utc_day, help="last day, YYYY-MM-DD (UTC), included")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a trading setting for this run, e.g. strategy.rsi_low=25, strategy.take_profit_pct=3, "
                        "risk.max_open_positions=5, order_usdt=50 (repeatable)")
    p.add_argument("--report", metavar="FILE.html", help="write a self-contained HTML report there (the trades and "
                                                         "equity go next to it as CSV and Parquet)")
    p.add_argument("--data", help="data directory (default: TWINSTAR_DATA_DIR, the settings file's, or the "
                                  "platform's)")
    p.add_argument("--config", help="settings file")
    return p


def _fail(message: str, code: int = 2) -> int:
    print(f"twinstar backtest: {message}", file=sys.stderr)
    return code


def main(argv: list[str]) -> int:
    from .config import SettingsError, apply_overrides, load_settings
    from .exchanges.registry import exchange_names
    from .wiring import check_data_dir

    args = parser().parse_args(argv)
    exchange = args.exchange.strip().lower()
    if exchange not in exchange_names():
        return _fail(f"unknown exchange {exchange!r}; valid: {', '.join(exchange_names())}")
    start, end = args.start, args.end + DAY_MS - 1
    if end < start:
        return _fail("--to is before --from")
    try:
        settings = data_dir_setting(load_settings(args.config), args.data)
        trading = apply_overrides(settings.trading, args.sets)
    except SettingsError as exc:
        return _fail(str(exc))
    problem = check_data_dir(settings.data_dir)
    if problem:
        return _fail(problem)
    report = Path(args.report).expanduser() if args.report else None
    problem = _report_problem(report) if report is not None else None
    if problem:  # said before the run, not after it
        return _fail(f"--report {str(report)[:200]}: {problem}")
    logging.getLogger("twinstar_gui.execution").setLevel(logging.WARNING)  # one line a fill is too many here
    logging.getLogger("twinstar_gui.bots").setLevel(logging.WARNING)
    from .bots.runner import BacktestError, run_backtest

    try:
        outcome = run_backtest(settings, trading, exchange, args.flow, _names(args.symbols), start, end,
                               progress=_progress(sys.stderr))
    except BacktestError as exc:
        return _fail(str(exc), exc.code)
    print("", file=sys.stderr)
    show(outcome, sys.stdout)
    if report is not None:
        from .bots.report import write_results

        try:
            written = write_results(outcome, report)
        except OSError as exc:
            return _fail(f"--report {str(report)[:200]}: cannot write ({exc.strerror or exc}); the metrics above "
                         "are the run's", 1)
        print(f"report: {written}", flush=True)
    return 0


def _report_problem(report: Path) -> str | None:
    """Why the report (and the files beside it) cannot be written there, or None: a folder where the file goes, a
    file where a folder must be, a folder this user cannot write in."""
    if report.is_dir():
        return "is a folder; give a file name like out.html"
    folder = report.parent
    while not folder.exists() and folder != folder.parent:  # the nearest folder that exists: the rest is created
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write in {folder}"
    return None


def _names(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [s.strip() for s in text.split(",") if s.strip()]


def _progress(out: TextIO):
    shown = [-1]
    started = time.monotonic()

    def progress(part: float) -> None:
        pct = int(part * 100)
        if pct != shown[0] and (pct % 5 == 0 or getattr(out, "isatty", lambda: False)()):
            shown[0] = pct
            bar = "#" * (pct // 4) + "." * (25 - pct // 4)
            print(f"\rbacktest [{bar}] {pct:3d}%  {time.monotonic() - started:6.1f} s", end="", file=out, flush=True)
    return progress


def show(outcome, out: TextIO) -> None:
    r, m = outcome.result, outcome.metrics
    day = lambda ms: f"{dt.datetime.fromtimestamp(ms / 1000, dt.UTC):%Y-%m-%d}"
    print(f"{r.exchange} {r.flow}: {len(outcome.symbols)} symbol(s), {day(r.start_ms)} .. {day(r.end_ms)}, "
          f"{r.candles:,} candles replayed in {outcome.seconds:.1f} s", file=out)
    width = max(len(k) for k, _ in m.rows(r.currency))
    for k, v in m.rows(r.currency):
        print(f"  {k:<{width}}  {v}", file=out)
    if m.per_symbol:
        print(f"  {'symbol':<20} {'trades':>6} {'net PnL':>14} {'win rate':>9}", file=out)
        for sym, row in sorted(m.per_symbol.items(), key=lambda kv: -kv[1]["net_pnl"]):
            print(f"  {outcome.shown(sym):<20} {int(row['trades']):>6} {row['net_pnl']:>+14,.2f} "
                  f"{row['win_rate_pct']:>8.1f}%", file=out)
    if r.gaps:
        print(f"  data holes: {len(r.gaps)} ({sum(g.slots for g in r.gaps)} candles missing), not traded across; "
              "first: " + ", ".join(f"{outcome.shown(g.symbol)} {_when(g.first_ms)}..{_when(g.last_ms)}"
                                    for g in r.gaps[:3]), file=out)
    if r.kill_switch:
        print(f"  KILL SWITCH tripped: {r.kill_switch.get('reason')}", file=out)
    for note in r.notes[:10]:
        print(f"  note: {note}", file=out)
    out.flush()


def _when(ms: int) -> str:
    return f"{dt.datetime.fromtimestamp(ms / 1000, dt.UTC):%Y-%m-%d %H:%M}"
