"""GUI benchmarks: chart repaint at 100k/1M bars, Qt event-loop lag with 200 streamed symbols, cold start to chart.

(a) Repaint: CandlestickItem (visible range only, per-pixel LOD) vs the naive QPicture item of pyqtgraph's example
    (bench_chart_item.py's, reused), same run, PlotWidget 1600x900 offscreen, median whole-frame render.
(b) Lag: the terminal window (MainWindow + presenters + the core on qasync) open while the simulator streams
    200 symbols to it from another process (a real exchange is another machine; `--sim-in-process` measures
    the demo set-up, where the simulator's thread shares the GIL with the terminal); a 10 ms PreciseTimer
    records (actual - expected) interval. Baseline: the same window, same process, before any stream is
    started. Two streaming phases: start-up (history backfill of 200 series by REST) and steady streaming.
(c) Cold start: `python -m twinstar_gui --demo` under QT_QPA_PLATFORM=offscreen until its log line
    "first candles on screen", median of N; baseline: a bare interpreter importing PySide6, pyqtgraph, pandas
    and pyarrow.
Usage: .venv/bin/python bench/bench_gui.py [--quick] [--json PATH] [--lag-seconds 20] [--starts 3]
"""
from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("QT_API", "pyside6")

import argparse
import asyncio
import json
import logging
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from PySide6.QtCore import QElapsedTimer, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from twinstar_gui.ui.chart import CandlestickItem  # noqa: E402

import bench_chart_item as chart_bench  # noqa: E402  (QPictureCandles, market, new_plot, views)
from _simproc import SimProcess  # noqa: E402

N_SYMBOLS = 200
TICK_MS = 10
GOALS = {"repaint_ms_100k": 10.0, "lag_max_ms": 50.0, "cold_start_s": 2.0}


# -- (a) repaint ---------------------------------------------------------------------------------------------
def bench_repaint(app: QApplication, sizes: list[int], renders: int, naive_budget: float) -> dict:
    out: dict = {}
    cost: tuple[float, float] | None = None  # naive (build s, frame s) per bar from the previous size
    for n in sorted(sizes):
        data = chart_bench.market(n)
        item = CandlestickItem()
        item.set_data(*data, chart_bench.W)
        plot = chart_bench.new_plot(app, item)
        window_ms, all_ms = chart_bench.views(plot, n, renders)
        plot.close()
        row = {"bars": n, "twinstar_window_ms": window_ms, "twinstar_all_lod_ms": all_ms, "renders": renders}
        naive_renders = renders
        if cost is not None:
            while naive_renders > 3 and cost[0] * n + 2 * (naive_renders + 1) * cost[1] * n > naive_budget:
                naive_renders -= 1
            if cost[0] * n + 2 * (naive_renders + 1) * cost[1] * n > naive_budget:
                naive_renders = 0
        if naive_renders:
            t0 = time.perf_counter()
            naive = chart_bench.QPictureCandles(*data, chart_bench.W)
            build_s = time.perf_counter() - t0
            plot = chart_bench.new_plot(app, naive)
            n_window, n_all = chart_bench.views(plot, n, naive_renders)
            plot.close()
            del naive
            cost = (build_s / n, max(n_window, n_all) / 1000 / n)
            row.update(naive_window_ms=n_window, naive_all_ms=n_all, naive_build_s=build_s, naive_renders=naive_renders,
                       ratio_window=n_window / window_ms, ratio_all=n_all / all_ms)
        else:
            row["naive_skipped"] = f"estimated above --naive-budget {naive_budget:.0f} s"
        out[f"{n}"] = row
        print(f"  repaint {n:>9,} bars: ours {window_ms:.2f} / {all_ms:.2f} ms"
              + (f", naive {row['naive_window_ms']:.1f} / {row['naive_all_ms']:.1f} ms" if naive_renders else ""),
              flush=True)
    return out


# -- (b) event-loop lag ---------------------------------------------------------------------------------------
class LagProbe:
    """A 10 ms PreciseTimer; each tick records how late it came: (interval since the last tick) - 10 ms."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.samples: list[float] = []
        self._last = 0

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed()
        self.samples.append(max(0.0, (now - self._last) / 1e6 - TICK_MS))
        self._last = now

    async def measure(self, seconds: float) -> dict:
        self.samples = []
        self.clock.start()
        self._last = self.clock.nsecsElapsed()
        self.timer.start()
        await asyncio.sleep(seconds)
        self.timer.stop()
        lag = np.array(self.samples or [0.0])
        return {"seconds": seconds, "ticks": len(self.samples), "expected_ticks": int(seconds * 1000 / TICK_MS),
                "max_ms": float(lag.max()), "p99_ms": float(np.percentile(lag, 99)),
                "p50_ms": float(np.percentile(lag, 50)), "over_50ms": int((lag > 50).sum())}


class _StallSampler:
    """Debug aid (TWINSTAR_BENCH_STALLS=1): while the probe's timer is late by > 30 ms, sample the loop
    thread's stack every 5 ms and count the innermost frames of our code and of the libraries."""

    def __init__(self, probe: LagProbe) -> None:
        import collections
        import threading

        self.probe, self.counts = probe, collections.Counter()
        self.main = threading.main_thread().ident
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import threading
        import traceback

        while True:
            time.sleep(0.005)
            try:
                active = self.probe.timer.isActive()
            except RuntimeError:  # the window and its timer are gone
                return
            if not active:
                continue
            late = (self.probe.clock.nsecsElapsed() - self.probe._last) / 1e6 - TICK_MS
            if late < 30:
                continue
            frames = sys._current_frames()
            names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in frames.items():
                if ident == threading.get_ident():
                    continue
                depth = 6 if ident == self.main else 3
                stack = traceback.extract_stack(frame)[-depth:]
                who = "LOOP" if ident == self.main else names.get(ident, "?")[:12]
                self.counts[who + ": " + " <- ".join(f"{Path(f.filename).name}:{f.lineno}:{f.name}"
                                                     for f in reversed(stack))] += 1

    def report(self) -> None:
        print("\nstall samples (innermost first):")
        for where, n in self.counts.most_common(30):
            print(f"{n:6d}  {where}")


def _bench_symbols() -> dict:
    from twinstar_gui.sim.market import SymbolSpec

    return {f"S{i:03d}USDT": SymbolSpec(10.0 + i, 0.01, 0.1, 50.0) for i in range(N_SYMBOLS)}


def _make_sim(speed: float):
    from twinstar_gui.sim.clock import SimClock
    from twinstar_gui.sim.market import Market
    from twinstar_gui.sim.server import SimThread

    return SimThread(Market(SimClock(speed=speed), seed=7, symbols=_bench_symbols(), history_days=15),
                     push_interval=0.2).start()


def bench_lag(app: QApplication, seconds: float, speed: float, in_process: bool = False) -> dict:
    import qasync

    from twinstar_gui.app import build_core, freeze_startup_objects
    from twinstar_gui.config import settings_from_dict
    from twinstar_gui.presenters.chart import ChartPresenter
    from twinstar_gui.presenters.health import HealthPresenter
    from twinstar_gui.presenters.log import LogPresenter
    from twinstar_gui.ui.main_window import MainWindow

    symbols = _bench_symbols()
    sim = _make_sim(speed) if in_process else SimProcess(_make_sim, speed)
    data_dir = tempfile.mkdtemp(prefix="twinstar-bench-gui-")
    settings = settings_from_dict({"data_dir": data_dir, "exchanges": {"bybit": {
        "rest_url": sim.rest_url("bybit"), "ws_url": sim.ws_url("bybit"), "symbols": list(symbols)}}})
    core = build_core(settings)
    logs = LogPresenter()
    chart = ChartPresenter(core.feeds, catalogs=core.catalogs)
    window = MainWindow(chart, HealthPresenter(core.feeds, writer=core.writer), logs, mode="BENCH",
                        data_dir=data_dir, persist_layout=False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    probe = LagProbe()
    feed = core.feeds["bybit"]

    async def run() -> dict:
        window.show()
        await asyncio.sleep(0.5)
        out = {"symbols": N_SYMBOLS, "sim_speed": speed, "simulator": "in process" if in_process else "own process",
               "baseline_no_streams": await probe.measure(seconds)}
        print(f"  lag baseline (window open, no streams): max {out['baseline_no_streams']['max_ms']:.1f} ms",
              flush=True)
        t0 = time.perf_counter()
        await core.start()
        freeze_startup_objects()  # as run_gui does once the window is up
        out["startup_backfill"] = await probe.measure(seconds)
        ready = sum(not s.sync.busy for s in feed.series.values())
        out["startup_backfill"]["series_ready_after"] = ready
        print(f"  lag start-up + backfill: max {out['startup_backfill']['max_ms']:.1f} ms ({ready} series ready)",
              flush=True)
        end = time.perf_counter() + 120
        while any(s.sync.busy for s in feed.series.values()) and time.perf_counter() < end:
            await asyncio.sleep(0.2)
        out["backfill_done_s"] = time.perf_counter() - t0
        closes0 = sum(s.closed_emitted for s in feed.series.values())
        flushes0 = chart.flushes
        if stalls is not None:
            stalls.counts.clear()  # report the steady-streaming stalls only
        out["streaming"] = await probe.measure(seconds)
        out["streaming"]["closed_candles"] = sum(s.closed_emitted for s in feed.series.values()) - closes0
        out["streaming"]["chart_updates"] = chart.flushes - flushes0
        out["streaming"]["live_connections"] = sum(1 for r in feed.health() if getattr(r.state, "value", "") == "live")
        out["chart_candles"] = window.chart_panel.candle_count()
        print(f"  lag streaming: max {out['streaming']['max_ms']:.1f} ms, "
              f"{out['streaming']['closed_candles']} closed candles", flush=True)
        await core.shutdown(budget=5.0)
        window.allow_close()
        window.close()
        return out

    stalls = _StallSampler(probe) if os.environ.get("TWINSTAR_BENCH_STALLS") else None  # where the loop hangs
    profile = os.environ.get("TWINSTAR_BENCH_PROFILE")  # a path: cProfile of the loop thread during (b)
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    try:
        with loop:
            return loop.run_until_complete(run())
    finally:
        if prof is not None:
            prof.disable()
            prof.dump_stats(profile)
        if stalls is not None:
            stalls.report()
        logs.close()
        chart.close()
        sim.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


# -- (c) cold start -------------------------------------------------------------------------------------------
MARK = "first candles on screen"


def _env(tmp: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINSTAR_")}
    env.update(QT_QPA_PLATFORM="offscreen", TWINSTAR_CONFIG=str(Path(tmp) / "none.json"),
               XDG_CONFIG_HOME=str(Path(tmp) / "xdg"), PYTHONUNBUFFERED="1")
    return env


def cold_start_once(timeout: float = 60.0) -> dict:
    """Seconds from spawning `python -m twinstar_gui --demo` to its "first candles on screen" log line."""
    with tempfile.TemporaryDirectory(prefix="twinstar-bench-start-") as tmp:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "twinstar_gui", "--demo", "--quit-after", str(timeout)],
                                cwd=ROOT, env=_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wall, inside = None, None
        try:
            for line in proc.stdout:  # type: ignore[union-attr]
                if MARK in line:
                    wall = time.perf_counter() - t0
                    inside = float(line.split(MARK, 1)[1].split("s", 1)[0])
                    break
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if wall is None:
        raise RuntimeError(f"`twinstar --demo` never logged {MARK!r} (exit code {proc.returncode})")
    return {"wall_s": wall, "in_process_s": inside}


def import_baseline_once(tmp: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import PySide6.QtWidgets, pyqtgraph, pandas, pyarrow.parquet"],
                   cwd=ROOT, env=_env(tmp), check=True)
    return time.perf_counter() - t0


def bench_cold_start(starts: int) -> dict:
    runs = [cold_start_once() for _ in range(starts)]
    with tempfile.TemporaryDirectory() as tmp:
        base = [import_baseline_once(tmp) for _ in range(starts)]
    out = {"runs": runs, "median_wall_s": statistics.median(r["wall_s"] for r in runs),
           "median_in_process_s": statistics.median(r["in_process_s"] for r in runs),
           "baseline_bare_imports_s": statistics.median(base)}
    print(f"  cold start: median {out['median_wall_s']:.2f} s (bare imports {out['baseline_bare_imports_s']:.2f} s)",
          flush=True)
    return out


# -- report ---------------------------------------------------------------------------------------------------
def table(results: dict) -> str:
    rows = [("measure", "TwinStar", "baseline (same run)", "ratio", "goal"), *table_rows(results)]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def json_doc(results: dict) -> dict:
    """bench/_report.py's shape (rows of display strings, for bench/run_all.py) plus every raw figure."""
    rows = [{"measure": m, "twinstar": t, "baseline": b, "ratio": r, "goal": g, "seed": None, "values": {}}
            for m, t, b, r, g in table_rows(results)]
    return {"bench": "bench_gui", "rows": rows, "notes": [], "figures": results,
            "python": platform.python_version(), "machine": platform.machine(),
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def table_rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    rows: list[tuple[str, str, str, str, str]] = []
    for n, r in results.get("repaint", {}).items():
        n_fmt = f"{int(n):,}"
        for key, label in (("window", "300-bar window"), ("all", "all bars (LOD)")):
            ours = r[f"twinstar_{key}_lod_ms" if key == "all" else "twinstar_window_ms"]
            if f"naive_{key}_ms" in r:
                base, ratio = f"naive QPicture {r[f'naive_{key}_ms']:.1f} ms", f"{r[f'ratio_{key}']:.0f}x faster"
            else:
                base, ratio = "naive skipped (budget)", "-"
            goal = "<= 10 ms" if int(n) == 100_000 else ""
            rows.append((f"repaint {n_fmt} bars, {label}", f"{ours:.2f} ms", base, ratio, goal))
    lag = results.get("lag")
    if lag:
        b = lag["baseline_no_streams"]
        for key, label in (("startup_backfill", "start-up + REST backfill"), ("streaming", "steady streaming")):
            s = lag[key]
            where = "" if lag.get("simulator", "own process") == "own process" else ", simulator in process"
            rows.append((f"event-loop lag, {lag['symbols']} symbols, {label}{where} (max / p99)",
                         f"{s['max_ms']:.1f} / {s['p99_ms']:.1f} ms",
                         f"no streams {b['max_ms']:.1f} / {b['p99_ms']:.1f} ms",
                         f"{s['max_ms'] / max(b['max_ms'], 0.1):.1f}x", "max <= 50 ms" if key == "streaming" else ""))
    cs = results.get("cold_start")
    if cs:
        rows.append((f"cold start `--demo` -> first candles (median of {len(cs['runs'])})",
                     f"{cs['median_wall_s']:.2f} s ({cs['median_in_process_s']:.2f} s in-process)",
                     f"bare Qt+pyqtgraph+pandas+pyarrow imports {cs['baseline_bare_imports_s']:.2f} s",
                     f"{cs['median_wall_s'] / cs['baseline_bare_imports_s']:.1f}x", "<= 2 s"))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter run: 100k bars only, 5 s lag phases, 1 start")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    ap.add_argument("--sizes", type=int, nargs="+", help="repaint history sizes (default 100000 1000000)")
    ap.add_argument("--renders", type=int, help="renders per repaint median (default 20, quick 10)")
    ap.add_argument("--naive-budget", type=float, default=60.0, help="skip a naive repaint case estimated above (s)")
    ap.add_argument("--lag-seconds", type=float, help="seconds per lag phase (default 20, quick 5)")
    ap.add_argument("--speed", type=float, default=300.0, help="simulator time acceleration (as --demo)")
    ap.add_argument("--starts", type=int, help="cold starts to take the median of (default 3, quick 1)")
    ap.add_argument("--sim-in-process", action="store_true",
                    help="lag: run the simulator as a thread of the bench process (the --demo set-up)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["repaint", "lag", "cold_start"])
    args = ap.parse_args()
    sizes = args.sizes or ([100_000] if args.quick else [100_000, 1_000_000])
    renders = args.renders or (10 if args.quick else 20)
    lag_s = args.lag_seconds or (5.0 if args.quick else 20.0)
    starts = args.starts or (1 if args.quick else 3)
    logging.basicConfig(level=logging.WARNING)
    app = QApplication.instance() or QApplication([])
    results: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                 "platform": platform.platform()}, "quick": args.quick, "goals": GOALS}
    if "repaint" not in args.skip:
        print("(a) chart repaint", flush=True)
        results["repaint"] = bench_repaint(app, sizes, renders, args.naive_budget)
    if "cold_start" not in args.skip:  # before (b): its sockets and threads are gone by then either way
        print("(c) cold start", flush=True)
        results["cold_start"] = bench_cold_start(starts)
    if "lag" not in args.skip:
        print("(b) event-loop lag", flush=True)
        results["lag"] = bench_lag(app, lag_s, args.speed, args.sim_in_process)
    print()
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(json_doc(results), indent=1))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
