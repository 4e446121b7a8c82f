"""Backtest benchmark: stored 15m candles through the unified flow (the real UnifiedBot, PaperExecutor and risk
guard, one core), against a vectorized numpy implementation of the same rule in the same run (the floor); and the
optimizer's speed-up on all cores against one.

The dataset is the simulator's price process written straight into a real Parquet dataset in a temp dir (no HTTP:
the download is not what is measured). The floor: RSI of the complete 4h groups once per symbol, the breakout
signal on every closed candle as array operations, then each trade's exit found by a search over the candles after
its entry (TP / SL on the candle's high / low, the SL first when both). It does less than the real path (no
journal, no risk guard, no order objects): what the real path costs above it is the price of running the very
bot code.

Goal (issue 19): a year x 50 symbols in under 10 s on this 2-core machine, within 10x of the floor on one core.
Usage: .venv/bin/python bench/bench_backtest.py [--symbols 50] [--days 365] [--grid 4] [--json PATH]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import numpy as np  # noqa: E402

from twinstar_gui.config import Settings, TradingSettings, settings_to_dict  # noqa: E402
from twinstar_gui.core.indicators import rsi_wilder  # noqa: E402
from twinstar_gui.core.strategy import StrategyConfig, group_closes  # noqa: E402
from twinstar_gui.data.store import SOURCES, CandleStore, Rows  # noqa: E402
from twinstar_gui.sim.clock import SimClock  # noqa: E402
from twinstar_gui.sim.market import DAY_MS, DEFAULT_SYMBOLS, Market  # noqa: E402

from _report import add_json_option, row, write_json  # noqa: E402

STEP = 900_000


def build_dataset(root: Path, symbols: list[str], days: int) -> tuple[int, int]:
    now = int(time.time() * 1000)
    end = now - now % DAY_MS
    market = Market(SimClock(start_ms=end), seed=19, history_days=days + 40)
    store = CandleStore(root)
    for sym in symbols:
        cs = market.closed_candles(sym, STEP, market.genesis, end - 1)
        ts = np.array([c.open_time for c in cs], np.int64)
        ohlcv = np.array([(c.open, c.high, c.low, c.close, c.volume) for c in cs], np.float64)
        store.append("bybit", sym, Rows(ts, ohlcv, np.full(len(ts), SOURCES.index("rest"), np.int8)))
    store.close()
    return end - days * DAY_MS, end - 1


def floor(rows: np.ndarray, start: int, cfg: StrategyConfig) -> int:
    """The same rule, vectorized: the number of trades (entries at the next open, TP / SL exits)."""
    t, o, h, low, c = rows[:, 0].astype(np.int64), rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4]
    tf_ms = cfg.rsi_timeframe.ms
    group = t - t % tf_ms
    starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
    counts = np.diff(np.append(starts, len(t)))
    ends = (starts + counts - 1)[counts == tf_ms // STEP]  # last candle of each complete group
    rsi = rsi_wilder(group_closes(rows, cfg.rsi_timeframe), cfg.rsi_period)
    k = np.arange(1, len(t))
    g = np.searchsorted(ends, k - 1, side="right")  # complete groups the reference candle k - 1 closes
    ok = g >= 2
    last = np.where(ok, rsi[np.maximum(g - 1, 0)], np.nan)
    prev = np.where(ok, rsi[np.maximum(g - 2, 0)], np.nan)
    band = (last > cfg.rsi_low) & (last < cfg.rsi_high) & (last != prev)
    long_sig = band & (last > prev) & (c[k] > h[k - 1])
    short_sig = band & (last < prev) & (c[k] < low[k - 1])
    sig = np.nonzero((long_sig | short_sig) & (t[k] >= start))[0] + 1
    trades, busy_until = 0, -1
    for i in sig:
        if i <= busy_until or i + 1 >= len(t):
            continue
        entry = o[i + 1]
        up = 1 + cfg.take_profit_pct / 100
        dn = 1 - cfg.stop_loss_pct / 100
        if long_sig[i - 1]:
            tp, sl = entry * up, entry * dn
            hit_sl, hit_tp = low[i + 1:] <= sl, h[i + 1:] >= tp
        else:
            tp, sl = entry * (2 - up), entry * (2 - dn)
            hit_sl, hit_tp = h[i + 1:] >= sl, low[i + 1:] <= tp
        hit = hit_sl | hit_tp
        j = int(np.argmax(hit)) if hit.any() else len(hit) - 1
        busy_until = i + 1 + j
        trades += 1
    return trades


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--symbols", type=int, default=50)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--grid", type=int, default=4, help="parameter sets for the optimizer's speed-up")
    ap.add_argument("--exact", action="store_true", help="also time the run with every price replayed (exact_path)")
    add_json_option(ap)
    args = ap.parse_args()
    import logging

    logging.disable(logging.INFO)
    from twinstar_gui.bots.optimize import LocalProcesses, optimize
    from twinstar_gui.bots.runner import run_backtest
    from twinstar_gui.research import run_job

    symbols = list(DEFAULT_SYMBOLS)[:args.symbols]
    root = Path(tempfile.mkdtemp(prefix="bench-backtest-"))
    t0 = time.perf_counter()
    start, end = build_dataset(root, symbols, args.days)
    print(f"dataset: {len(symbols)} symbols x {args.days} days in {time.perf_counter() - t0:.1f} s ({root})")
    settings = Settings(root, trading=TradingSettings())
    trading = settings.trading
    # unlimited positions and money: every symbol's bot trades as it would alone (as the floor does)
    from dataclasses import replace

    trading = replace(trading, paper_balance=1e9, risk=replace(trading.risk, max_open_positions=1000,
                                                                 daily_loss_limit_usdt=1e9))
    t0 = time.perf_counter()
    out = run_backtest(settings, trading, "bybit", "unified", symbols, start, end)
    real_s = time.perf_counter() - t0
    candles = out.result.candles
    cfg = trading.strategy
    store = CandleStore(root)
    t0 = time.perf_counter()
    floor_trades = 0
    for sym in symbols:
        rows = store.load_last_rows("bybit", sym, 10_000_000)
        floor_trades += floor(rows, start, cfg)
    floor_s = time.perf_counter() - t0
    ratio = real_s / floor_s if floor_s else float("inf")
    print("| measure | TwinStar | baseline | ratio | goal |")
    print("|---|---|---|---|---|")
    print(f"| unified flow, {len(symbols)} symbols x {args.days} days ({candles:,} candles), one core | "
          f"{real_s:.2f} s ({candles / real_s:,.0f} candles/s, {out.metrics.trades} trades) | vectorized floor "
          f"{floor_s:.3f} s ({floor_trades} trades) | {ratio:.0f}x | < 10 s and <= 10x |")
    rows_out = [row("backtest, unified flow, one core", f"{real_s:.2f} s", f"{floor_s:.3f} s", f"{ratio:.0f}x",
                    goal="< 10 s for 365 d x 50, <= 10x the floor", seconds=real_s, floor_seconds=floor_s,
                    candles=candles, candles_per_s=candles / real_s)]
    if args.exact:  # the same run, every price of every candle replayed: what the short path saves
        t0 = time.perf_counter()
        full = run_backtest(settings, trading, "bybit", "unified", symbols, start, end, exact_path=True)
        exact_s = time.perf_counter() - t0
        same = full.metrics.trades == out.metrics.trades and full.result.equity == out.result.equity
        print(f"| every price replayed (exact_path) | {exact_s:.2f} s ({full.result.prices:,} prices) | short path "
              f"{real_s:.2f} s ({out.result.prices:,} prices) | {exact_s / real_s:.2f}x | same trades: {same} |")
        rows_out.append(row("backtest, every price replayed", f"{exact_s:.2f} s", f"{real_s:.2f} s",
                            f"{exact_s / real_s:.2f}x", goal="same trades", seconds=exact_s, same=same))
    # the optimizer: the same jobs on one process and on every core
    cores = os.cpu_count() or 1
    params = [{"take_profit_pct": 1.5 + 0.5 * i} for i in range(args.grid)]
    base = settings_to_dict(settings)["trading"]
    few = symbols[:max(2, cores)]
    span = (end - min(args.days, 365) * DAY_MS + 1, end)  # jobs long enough that starting a process is not all
    timings = {}
    for workers in (1, cores):
        t0 = time.perf_counter()
        optimize(root, "bybit", few, span[0], span[1], base, params, run_job, folds=2,
                 runner=LocalProcesses(workers))
        timings[workers] = time.perf_counter() - t0
    speedup = timings[1] / timings[cores]
    jobs = len(few) * len(params) * 3
    print(f"| optimizer, {jobs} backtests | {cores} processes {timings[cores]:.1f} s | one process "
          f"{timings[1]:.1f} s | {speedup:.2f}x faster | ~{cores}x |")
    rows_out.append(row(f"optimizer, {jobs} backtests on {cores} cores", f"{timings[cores]:.1f} s",
                        f"{timings[1]:.1f} s", f"{speedup:.2f}x", goal=f"~{cores}x", speedup=speedup))
    write_json(args.json, "backtest", rows_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
