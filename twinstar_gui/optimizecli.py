"""`twinstar optimize`: search the strategy's parameters per symbol on the stored candles with walk-forward
validation, over all local cores (or a Dask cluster), and write one preset file per exchange and symbol; the
AutoScanner and the MultiTrader then trade only the verified ones, each with its own parameters. No Qt."""
from __future__ import annotations

import argparse
import logging
import math
import sys
import time

from .cliargs import utc_day
from .collector import data_dir_setting

DAY_MS = 86_400_000


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="twinstar optimize",
                                description="Optimize per-symbol strategy presets on the stored candles (walk-forward: "
                                            "chosen on one window, scored on the next, unseen one).")
    p.add_argument("--exchange", required=True, help="exchange name")
    p.add_argument("--symbols", help="comma-separated (native, unified or base names; default: every stored symbol)")
    p.add_argument("--from", dest="start", required=True, type=utc_day, help="first day, YYYY-MM-DD (UTC)")
    p.add_argument("--to", dest="end", required=True, type=utc_day, help="last day, YYYY-MM-DD (UTC), included")
    p.add_argument("--folds", type=int, default=3, help="walk-forward folds (the range is cut in folds + 1 windows; "
                                                        "default 3)")
    p.add_argument("--grid", action="append", default=[], metavar="PARAM=V1,V2,...",
                   help="values to try for a parameter (rsi_low, rsi_high, take_profit_pct, stop_loss_pct, "
                        "rsi_period); the others keep the default grid (repeatable)")
    p.add_argument("--samples", type=int, help="random search: try this many combinations of the grid, not all")
    p.add_argument("--workers", type=int, help="local processes (default: every core)")
    p.add_argument("--cluster", metavar="tcp://HOST:PORT",
                   help="run the jobs on this Dask distributed scheduler, whose workers have twinstar installed and "
                        "the data directory at the same path (needs pip install 'twinstar[cluster]')")
    p.add_argument("--cluster-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for the scheduler to answer and for its first worker (default 10)")
    p.add_argument("--min-oos-return", type=float, default=0.0,
                   help="verified only if the mean out-of-sample return per fold is above this % (default 0)")
    p.add_argument("--min-profit-factor", type=float, default=1.1,
                   help="... and the out-of-sample profit factor is at least this (default 1.1)")
    p.add_argument("--min-trades", type=int, default=5, help="... over at least this many out-of-sample trades")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a trading setting the search starts from, as for `twinstar backtest`")
    p.add_argument("--data", help="data directory")
    p.add_argument("--config", help="settings file")
    return p


def _fail(message: str, code: int = 2) -> int:
    print(f"twinstar optimize: {message}", file=sys.stderr)
    return code


def main(argv: list[str]) -> int:
    from .bots.backtest import resolve_names
    from .bots.optimize import (
        ClusterError,
        DaskCluster,
        LocalProcesses,
        Thresholds,
        cluster_address,
        grid_of,
        parse_grid,
        preset_path,
        sample,
        windows,
        write_preset,
    )
    from .bots.runner import stored_symbols
    from .config import STRATEGY, SettingsError, apply_overrides, load_settings, settings_to_dict
    from .data.store import CandleStore
    from .exchanges.registry import exchange_names
    from .research import run_job

    args = parser().parse_args(argv)
    exchange = args.exchange.strip().lower()
    if exchange not in exchange_names():
        return _fail(f"unknown exchange {exchange!r}; valid: {', '.join(exchange_names())}")
    start, end = args.start, args.end + DAY_MS - 1
    if not 1 <= args.folds <= 20:
        return _fail("--folds must be 1..20")
    if args.samples is not None and args.samples < 1:
        return _fail("--samples must be >= 1")
    if args.workers is not None and not 1 <= args.workers <= 512:
        return _fail("--workers must be 1..512")
    if not (math.isfinite(args.cluster_timeout) and 0.5 <= args.cluster_timeout <= 600):
        return _fail("--cluster-timeout must be 0.5..600 seconds")
    if not (math.isfinite(args.min_oos_return) and math.isfinite(args.min_profit_factor)) or args.min_trades < 0:
        return _fail("the thresholds must be finite numbers (and --min-trades >= 0)")
    try:
        settings = data_dir_setting(load_settings(args.config), args.data)
        trading = apply_overrides(settings.trading, args.sets)
        grid = parse_grid(args.grid)
        for key, values in grid.items():  # each value within the strategy's bounds, or no backtest would run
            for v in values:
                STRATEGY.field(key).parse(int(v) if key == "rsi_period" and v.is_integer() else v, f"--grid {key}")
        params = sample(grid_of(grid), args.samples)
        wins = windows(start, end, args.folds)
        cluster = cluster_address(args.cluster) if args.cluster is not None else None
    except (SettingsError, ValueError) as exc:
        return _fail(str(exc))
    if not params:
        return _fail("the grid is empty (every rsi_low is >= every rsi_high)")
    store = CandleStore(settings.data_dir)
    stored = stored_symbols(store, exchange)
    names = [s.strip() for s in args.symbols.split(",") if s.strip()] if args.symbols else stored
    symbols, unknown = resolve_names(names, exchange, stored, {})
    if unknown or not symbols:
        since = time.strftime('%Y-%m-%d', time.gmtime(start / 1000))
        return _fail(f"{exchange}: no stored candles for {', '.join(unknown) or 'any symbol'} in "
                     f"{settings.data_dir}; "
                     f"get them with: twinstar download --exchange {exchange} --symbols "
                     f"{','.join(unknown or ['top:10'])} --since {since}")
    logging.getLogger("twinstar_gui").setLevel(logging.WARNING)
    try:
        runner = DaskCluster(cluster, args.cluster_timeout) if cluster else LocalProcesses(args.workers)
    except (ClusterError, OSError, TimeoutError, ValueError) as exc:  # OSError: no answer within the timeout
        return _fail(f"cluster {cluster}: {exc}", 1)
    jobs = len(symbols) * len(params) * len(wins)
    print(f"{exchange}: {len(symbols)} symbol(s) x {len(params)} parameter set(s) x {len(wins)} windows = {jobs} "
          f"backtests on {runner.describe()}", flush=True)
    started, shown = time.monotonic(), [-1]

    def progress(done: int, total: int) -> None:
        pct = 100 * done // total
        if pct != shown[0] and (pct % 5 == 0 or done == total):
            shown[0] = pct
            print(f"  {done}/{total} ({pct}%) {time.monotonic() - started:.1f} s", flush=True)

    from .bots.optimize import optimize

    try:
        presets = optimize(settings.data_dir, exchange, symbols, start, end, settings_to_dict(
            settings.__class__(settings.data_dir, trading=trading))["trading"], params, run_job, folds=args.folds,
            thresholds=Thresholds(args.min_oos_return, args.min_profit_factor, args.min_trades), runner=runner,
            progress=progress)
    except ClusterError as exc:
        return _fail(f"cluster {cluster}: {exc}", 1)
    finally:
        if isinstance(runner, DaskCluster):
            runner.close()
    took = time.monotonic() - started
    print(f"done in {took:.1f} s ({jobs / took:.1f} backtests/s)")
    for p in presets:
        if all(f.skipped for f in p.folds) and preset_path(settings.data_dir, exchange, p.symbol).exists():
            # no backtest ran or no fold had data: that is no evidence against the preset on file
            print(f"  {p.symbol:<18} {p.why}; its preset file is left as it was")
            continue
        path = write_preset(settings.data_dir, p)
        shown_params = ", ".join(f"{k}={v:g}" for k, v in sorted(p.params.items()))
        oos = ["no data" if f.skipped else f"{f.out_of_sample_return_pct:+.2f}%" for f in p.folds]
        print(f"  {p.symbol:<18} {'VERIFIED' if p.verified else 'not verified':<13} {shown_params or '-'}")
        print(f"  {'':<18} {p.why}" + (f"; out-of-sample returns {', '.join(oos)}" if oos else ""))
        print(f"  {'':<18} -> {path}")
    verified = sum(p.verified for p in presets)
    print(f"{verified} of {len(presets)} preset(s) verified; the scanner and the multi trader use the verified ones")
    return 0
