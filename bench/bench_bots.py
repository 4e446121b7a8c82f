"""Bots benchmark: closed candle -> signal -> paper order latency, a 50-symbol stage-1 scan against the
simulator, memory of 100 UnifiedBots. Baselines are measured in the same run. Usage:
    .venv/bin/python bench/bench_bots.py [--candles 400]
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from twinstar_gui.bots.base import BotContext
from twinstar_gui.bots.market import LiveMarket
from twinstar_gui.bots.unified import UnifiedBot
from twinstar_gui.core.indicators import rsi_wilder
from twinstar_gui.core.models import Candle
from twinstar_gui.core.resample import resample_complete
from twinstar_gui.core.risk_limits import RiskLimits
from twinstar_gui.core.strategy import StrategyConfig
from twinstar_gui.core.timeframe import Timeframe
from twinstar_gui.data.feed import MarketFeed
from twinstar_gui.data.manager import SeriesManager
from twinstar_gui.data.store import CandleStore
from twinstar_gui.data.writer import CandleWriter
from twinstar_gui.exchanges.registry import get_exchange
from twinstar_gui.execution.base import InstrumentRules
from twinstar_gui.execution.paper import PaperExecutor
from twinstar_gui.execution.risk import RiskGuard
from twinstar_gui.execution.trade_journal import Journal
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimThread

from _report import add_json_option, row, write_json
from _simproc import SimProcess

T0 = 1_735_689_600_000
Q = 900_000


def trending(n: int) -> np.ndarray:
    """15m candles whose 4h groups go up, up, down (RSI ~60 and moving): many closes break the previous high."""
    rows, price = [], 100.0
    for g in range(n // 16 + 1):
        step = (1.012 if g % 3 != 2 else 0.99) ** (1 / 16)
        for k in range(16):
            o = price
            price *= step
            rows.append((T0 + (g * 16 + k) * Q, o, max(o, price) * 1.0001, min(o, price) * 0.9999, price, 10.0))
    return np.array(rows[:n])


class _NoMarket:
    """Latency bench only: the bot's market side is not part of the measured path."""

    exchange = "bench"

    def watch(self, symbol, inbox):
        return np.empty((0, 6))

    def unwatch(self, symbol, inbox):
        pass

    def unified(self, native):
        return native

    def listed(self, native):
        return None


def latency(n_candles: int, tmp: Path) -> tuple[list[float], list[float], list[float], int]:
    """Per closed candle: UnifiedBot.on_closed (signal + paper order incl. the SQLite journal) vs the
    pandas way of getting a signal: resample the whole window + RSI, every candle."""
    data = trending(1000 + n_candles)
    journal = Journal(tmp / "lat.sqlite3")
    paper = PaperExecutor(journal, balance=1e12, rules=lambda s: InstrumentRules(s, 1e-4, 1e-3, 1e-3))
    risk = RiskGuard(paper, journal, RiskLimits(max_position_usdt=1e12, max_open_positions=1000,
                                                daily_loss_limit_usdt=1e12))
    cfg = StrategyConfig(rsi_high=90)
    bots = []
    ours, signal_only, pandas_way = [], [], []
    placed = 0
    for i in range(1000, 1000 + n_candles):
        window = data[max(0, i + 1 - 1000): i + 1]
        window.flags.writeable = False
        c = data[i]
        candle = Candle(int(c[0]), *map(float, c[1:6]))
        # a fresh bot per candle so every candle may enter (no "already in a trade" short cut)
        bot = UnifiedBot(f"b{i}", BotContext(_NoMarket(), risk, journal, cfg, order_notional=50.0), f"S{i}")
        bots.append(bot)
        risk.on_price(f"S{i}", float(c[4]), int(c[0]))
        before = len(paper.open_orders())
        t = time.perf_counter()
        bot.on_closed(f"S{i}", candle, window)
        dt = time.perf_counter() - t
        if len(paper.open_orders()) > before:
            ours.append(dt)
            placed += 1
        else:
            signal_only.append(dt)
        frame = pd.DataFrame(window, columns=["timestamp", "open", "high", "low", "close", "volume"])
        frame["timestamp"] = frame["timestamp"].astype(np.int64)
        t = time.perf_counter()
        h4 = resample_complete(frame, Timeframe.H4)
        rsi_wilder(h4["close"].to_numpy(), 14)
        pandas_way.append(time.perf_counter() - t)
    journal.close()
    return ours, signal_only, pandas_way, placed


def _scan_sim(rtt: float):
    sim = SimThread(Market(SimClock(speed=1.0), seed=5, history_days=8)).start()
    sim.server.slow_rest(rtt)  # a plain attribute the server thread reads per request
    return sim


def scan(tmp: Path, rtt: float) -> tuple[float, float, float, int, int]:
    """Stage 1 of the AutoScanner (496 15m candles x 50 symbols) against the simulator over loopback, each
    answer delayed by `rtt` s (a real exchange is tens of ms away): concurrent requests within the token
    bucket vs one after another, same client, same run, both after a first scan (what the
    AutoScanner's periodic re-scan meets: connections open, the simulator's price paths built). The simulator
    runs in its own process (a real exchange's work is not ours); the same 50 GETs without parsing, as
    concurrent, give the floor that the simulator itself sets."""
    sim = SimProcess(_scan_sim, rtt)
    try:
        adapter = get_exchange("bybit", rest_url=sim.rest_url("bybit"), ws_url=sim.ws_url("bybit"))
        store = CandleStore(tmp / f"scan{rtt}")
        writer = CandleWriter(store)
        feed = MarketFeed(adapter, store, writer, [])
        loop = asyncio.new_event_loop()
        market = LiveMarket(feed, loop, clock=sim.now_ms)
        symbols = sim.symbols[:50]
        need = StrategyConfig().history_needed
        market.fetch_klines(symbols, need)  # a first scan: the simulator builds its price paths, the pool connects
        time.sleep(1.1)  # full token bucket for every run
        t = time.perf_counter()
        got = market.fetch_klines(symbols, need)
        ours = time.perf_counter() - t
        ok = sum(1 for v in got.values() if not isinstance(v, Exception))
        time.sleep(1.1)
        t = time.perf_counter()
        for sym in symbols:  # the baseline: one request after another
            feed.rest.fetch_klines(sym, Timeframe.M15, Timeframe.M15.bucket_start(sim.now_ms()) - need * Q)
        seq = time.perf_counter() - t
        time.sleep(1.1)
        floor = _bare_gets(feed.rest, symbols, need, sim.now_ms(), market.rest_workers)
        writer.close()
        loop.close()
        return ours, seq, floor, ok, adapter.rest_budget.requests
    finally:
        sim.stop()


def _bare_gets(rest, symbols: list[str], need: int, now: int, workers: int) -> float:
    """The same requests on the same session and pool size, the bodies read but not parsed."""
    from concurrent.futures import ThreadPoolExecutor

    start = Timeframe.M15.bucket_start(now) - need * Q
    reqs = [rest.adapter.kline_request(sym, Timeframe.M15, start, start + need * Q, 1000) for sym in symbols]
    with ThreadPoolExecutor(workers) as pool:
        t = time.perf_counter()
        list(pool.map(lambda r: rest.session.get(r.url, params=r.params, timeout=10).content, reqs))
        return time.perf_counter() - t


def memory(n_bots: int, tmp: Path) -> tuple[float, float]:
    """100 UnifiedBots with their symbols' memory windows (1000 15m + derived) vs 100 bots
    holding pandas DataFrames of 1000 15m + 300 1h rows, both measured with tracemalloc here."""
    data = trending(1000)
    candles = [Candle(int(r[0]), *map(float, r[1:6])) for r in data]
    journal = Journal(tmp / "mem.sqlite3")
    paper = PaperExecutor(journal)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    keep = []
    for i in range(n_bots):
        series = SeriesManager("bybit", f"S{i}", rest=None, store=None, writer=None,
                               windows={Timeframe.M15: 1000, Timeframe.H1: 300})
        for c in candles:
            series._add_closed(c, notify=False)
        bot = UnifiedBot(f"unified-S{i}", BotContext(_NoMarket(), paper, journal), f"S{i}")
        keep.append((series, bot))
    ours = tracemalloc.get_traced_memory()[0] - base
    base = tracemalloc.get_traced_memory()[0]
    frame = pd.DataFrame(data[:, 1:], columns=["open", "high", "low", "close", "volume"])
    frame.insert(0, "timestamp", pd.to_datetime(data[:, 0].astype(np.int64), unit="ms", utc=True))
    frames = [(frame.copy(), frame.iloc[:300].copy()) for _ in range(n_bots)]
    frames_bytes = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del keep, frames
    journal.close()
    return ours, frames_bytes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candles", type=int, default=400)
    add_json_option(ap)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ours, sig_only, pandas_way, placed = latency(args.candles, tmp)
        scans = [(rtt, *scan(tmp, rtt)) for rtt in (0.0, 0.05)]
        mem_ours, mem_baseline = memory(100, tmp)
    ms = lambda xs, q: float(np.percentile(xs, q)) * 1000
    print(f"{args.candles} closed candles, {placed} of them entered; paper executor + SQLite journal (WAL) on disk")
    print("| measure | TwinStar | baseline (same run) | ratio |")
    print("|---|---|---|---|")
    print(f"| closed candle -> signal -> paper order placed, p50 / p99 | {ms(ours, 50):.2f} / {ms(ours, 99):.2f} ms "
          f"| pandas resample + RSI alone {ms(pandas_way, 50):.2f} / {ms(pandas_way, 99):.2f} ms "
          f"| {ms(pandas_way, 50) / ms(ours, 50):.1f}x |")
    print(f"| closed candle -> no signal, p50 / p99 | {ms(sig_only, 50):.2f} / {ms(sig_only, 99):.2f} ms | - | - |")
    for rtt, scan_ours, scan_seq, floor, ok, budget in scans:
        print(f"| stage-1 scan, 50 symbols x 496 candles, simulator + {rtt * 1000:.0f} ms per answer "
              f"| {scan_ours:.2f} s ({ok}/50, budget {budget}/s; the same GETs unparsed {floor:.2f} s) "
              f"| {scan_seq:.2f} s one request at a time | {scan_seq / scan_ours:.1f}x |")
    scan_ours = max(s[1] for s in scans)
    print(f"| memory, 100 UnifiedBots with their 15m/1h/4h/1d windows | {mem_ours / 2**20:.1f} MB "
          f"| {mem_baseline / 2**20:.1f} MB: DataFrames 1000 15m + 300 1h per bot (expected: 6 MB) "
          f"| {mem_baseline / mem_ours:.2f}x |")
    print(f"goals: p99 <= 5 ms ({'met' if ms(ours, 99) <= 5 else 'NOT met'}), scan <= 1 s "
          f"({'met' if scan_ours <= 1 else 'NOT met'})")
    if args.json:
        rows = [row("bots: closed candle -> signal -> paper order placed, p50 / p99",
                    f"{ms(ours, 50):.2f} / {ms(ours, 99):.2f} ms",
                    f"{ms(pandas_way, 50):.2f} / {ms(pandas_way, 99):.2f} ms (pandas resample + RSI alone)",
                    f"{ms(pandas_way, 50) / ms(ours, 50):.1f}x", goal="p99 <= 5 ms", p50_ms=ms(ours, 50),
                    p99_ms=ms(ours, 99),
                    baseline_p50_ms=ms(pandas_way, 50), baseline_p99_ms=ms(pandas_way, 99)),
                row("bots: closed candle -> no signal, p50 / p99",
                    f"{ms(sig_only, 50):.2f} / {ms(sig_only, 99):.2f} ms",
                    p50_ms=ms(sig_only, 50), p99_ms=ms(sig_only, 99))]
        for rtt, s_ours, s_seq, floor, ok, budget in scans:
            rows.append(row(f"bots: stage-1 scan, 50 symbols x 496 candles, simulator + {rtt * 1000:.0f} ms/answer",
                            f"{s_ours:.2f} s ({ok}/50, budget {budget}/s; same GETs unparsed {floor:.2f} s)",
                            f"{s_seq:.2f} s one request at a time", f"{s_seq / s_ours:.1f}x", goal="<= 1 s",
                            ours_s=s_ours, baseline_s=s_seq, unparsed_s=floor))
        rows.append(row("bots: memory, 100 UnifiedBots with their 15m/1h/4h/1d windows",
                        f"{mem_ours / 2**20:.1f} MB",
                        f"{mem_baseline / 2**20:.1f} MB (DataFrames 1000 15m + 300 1h per bot)",
                        f"{mem_baseline / mem_ours:.2f}x", "6 MB for 100 bots (~60 KB each)",
                        ours_bytes=mem_ours, baseline_bytes=mem_baseline))
        write_json(args.json, "bench_bots", rows, [f"{args.candles} closed candles, {placed} entered"])


if __name__ == "__main__":
    main()
