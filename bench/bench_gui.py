"""GUI benchmarks: 350 series on 7 exchanges (loop stalls, frame-to-pixel, RSS), first painted chart, collector RSS;
chart repaint at 100k/1M bars, event-loop lag with 200 symbols, `--demo` cold start.

Default sections, (d)-(f), against one simulator in its own process (every exchange, x`--speed` time) and one data
dir prepared the way a returning user has it: each exchange's catalog fetched and cached, the first 50 of
DEFAULT_SCAN_BASES resolved through it to unified symbols in a settings file (7 x 50 = 350 series).
(d) engine (bench/_gui_load.py, its own process): `run_gui` exactly as `twinstar` runs it (window, presenters,
    paper trading per exchange, 350 series); a `--tick-ms` (2 ms) PreciseTimer on the GUI thread records how late
    each tick ran (bench/_loopprobe.py). Phases: start-up (from the event loop's start until every series has
    finished its first REST catch-up: history loaded into a fresh data dir) and steady streaming
    (`--steady-seconds`, 60 s). Frame -> pixel of the charted series (bybit BTC/USDT:USDT): from the simulator
    writing the frame to the socket to the chart's CandlestickItem.paint() returning with it drawn (see
    bench/_gui_load.py for both ends and the stamps in between; the series' tap on the engine's thread hands the
    first change over at once, then at most one batch per 1/60 s). Baseline of both, same run, before: the same app
    streaming the charted series alone (its own fresh data dir). RSS (VmRSS) of that process at the end of the
    steady phase; floor: a process that imports PySide6.QtWidgets and pyqtgraph and shows an empty QMainWindow.
(e) cold start (bench/_first_paint.py): spawning `twinstar --config <the settings>` (history on disk from (d)) to
    its chart's first paint with candles, median of `--starts`; floor, interleaved: spawning
    `import PySide6.QtWidgets, pyqtgraph` + an empty QMainWindow's first paint. `--first-paint demo`: `--demo`.
(f) collector: `twinstar collect --exchange bybit --symbols top:50` for `--collect-seconds`; its VmRSS once its
    history is up to date (median) and its peak; floors: a process importing numpy, pyarrow.parquet,
    websockets and requests (what the collector cannot run without), and a bare interpreter.
With --all (or --only), also:
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
Usage: .venv/bin/python bench/bench_gui.py [--quick] [--all] [--json PATH] [--steady-seconds 60] [--starts 3]
       [--stall-sample]   (where the GUI thread's time goes and where it stalls; perturbs the figures a little)
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from PySide6.QtWidgets import QApplication  # noqa: E402

from twinstar_gui.ui.chart import CandlestickItem  # noqa: E402

import bench_chart_item as chart_bench  # noqa: E402  (QPictureCandles, market, new_plot, views)
from _loopprobe import LagProbe, StallSampler  # noqa: E402
from _simproc import SimProcess  # noqa: E402

N_SYMBOLS = 200
TICK_MS = 10
GOALS = {"repaint_ms_100k": 10.0, "lag_max_ms": 50.0, "cold_start_s": 2.0}
ENGINE_GOALS = {"stall_max_ms": 16.0, "frame_to_pixel_p99_ms": 50.0, "first_paint_ratio": 1.5,
                "collector_rss_mib": 80.0}
ENGINE_EXCHANGES = ("bybit", "binance", "okx", "bitget", "bingx", "upbit", "bithumb")
SECTIONS = ["repaint", "cold_start", "lag", "engine", "first_paint", "collector"]
DEFAULT_SECTIONS = ["engine", "first_paint", "collector"]  # (a)-(c) with --all or --only


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

    from twinstar_gui.config import settings_from_dict
    from twinstar_gui.gui import freeze_startup_objects
    from twinstar_gui.presenters.chart import ChartPresenter
    from twinstar_gui.presenters.health import HealthPresenter
    from twinstar_gui.presenters.log import LogPresenter
    from twinstar_gui.ui.main_window import MainWindow
    from twinstar_gui.wiring import build_core

    symbols = _bench_symbols()
    sim = _make_sim(speed) if in_process else SimProcess(_make_sim, speed)
    data_dir = tempfile.mkdtemp(prefix="twinstar-bench-gui-")
    settings = settings_from_dict({"data_dir": data_dir, "exchanges": {"bybit": {
        "rest_url": sim.rest_url("bybit"), "ws_url": sim.ws_url("bybit"), "symbols": list(symbols)}}})
    core = build_core(settings)
    logs = LogPresenter()
    chart = ChartPresenter(core.feeds, catalogs=core.catalogs, engine=core.engine)
    window = MainWindow(chart, HealthPresenter(core.feeds, writer=core.writer, engine=core.engine), logs, mode="BENCH",
                        data_dir=data_dir, persist_layout=False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    probe = LagProbe(TICK_MS)
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
            stalls.samples.clear()  # report the steady-streaming stalls only
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

    stalls = StallSampler(probe) if os.environ.get("TWINSTAR_BENCH_STALLS") else None  # where the loop hangs
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


# -- (d) 350 series: loop stalls, frame -> pixel, RSS; (e) first painted chart; (f) collector RSS ---------------
def bench_engine_sections(args: argparse.Namespace, sections: list[str], results: dict) -> None:
    """(d), (e) and (f) share one simulator process (every exchange, x`--speed`) and one prepared data dir."""
    import _gui_procs as procs
    from _gui_load import make_stamping_sim, prepare, topic_needles

    exchanges = [e.strip() for e in args.exchanges.split(",") if e.strip()]
    watch = procs.CpuWatch().start()  # a second job on this 2-core machine would show in every figure: say so
    other: dict[str, float | None] = {}
    results["other_processes_cores"] = other
    with tempfile.TemporaryDirectory(prefix="twinstar-bench-engine-") as tmp:
        stamps = Path(tmp) / "sent-frames.txt"
        # the window charts the first exchange's first series at start (bybit BTC/USDT:USDT): its frames are stamped
        sim = SimProcess(make_stamping_sim, args.speed, str(stamps), topic_needles(exchanges[0], "BTC"))
        try:
            config, chosen = prepare(sim, Path(tmp) / "data", exchanges, args.per_exchange,
                                     Path(tmp) / "settings.json")
            series = sum(len(v) for v in chosen.values())
            if "engine" in sections:
                print(f"(d) {series} series on {len(chosen)} exchanges: loop stalls, frame -> pixel, RSS", flush=True)
                # baseline: the same app streaming the charted series alone (its own fresh data dir)
                one, _ = prepare(sim, Path(tmp) / "data-1", exchanges[:1], 1, Path(tmp) / "settings-1.json")
                base = procs.run_engine(args, one, stamps, tmp, 1, "one-series", steady_s=args.one_series_seconds,
                                        baseline_s=1.0, sample=False, watch=watch)
                results["engine"] = procs.run_engine(args, config, stamps, tmp, series, watch=watch)
                other.update({f"engine {k}": v for k, v in results["engine"]["other_processes_cores"].items()})
                results["engine"]["one_series"] = base
                results["engine"]["gui_floor"] = procs.floor_once(procs.clean_env(tmp))
                results["engine"]["app_imports"] = procs.app_imports_once(procs.clean_env(tmp))
            if "first_paint" in sections:
                print("(e) cold start to the first painted chart", flush=True)
                if args.first_paint == "demo":
                    app_args, label = ["--demo", "--quit-after", "120"], "`twinstar --demo`"
                else:
                    app_args = ["--config", str(config), "--quit-after", "120"]
                    label = (f"`twinstar`, {series} series, data dir "
                             + ("with their history" if "engine" in sections else "with catalogs only"))
                t0 = time.monotonic()
                results["first_paint"] = procs.bench_first_paint(args.starts, app_args, procs.clean_env(tmp), label)
                other["first paint"] = watch.mean(t0, time.monotonic())
            if "collector" in sections:
                print("(f) collector RSS", flush=True)
                t0 = time.monotonic()
                results["collector"] = procs.bench_collector(sim.rest_url("bybit"), sim.ws_url("bybit"),
                                                             args.collect_seconds, tmp)
                other["collector"] = watch.mean(t0, time.monotonic())
        finally:
            sim.stop()
            watch.stop()


# -- report ---------------------------------------------------------------------------------------------------
def table(results: dict) -> str:
    rows = [("measure", "TwinStar", "baseline (same run)", "ratio", "goal"), *table_rows(results)]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def notes(results: dict) -> list[str]:
    other = {k: v for k, v in results.get("other_processes_cores", {}).items() if v is not None}
    if not other:
        return []
    return ["other processes on the machine used, on average (cores of " + str(os.cpu_count()) + "): "
            + ", ".join(f"{k} {v:.2f}" for k, v in other.items())
            + " (the simulator and the bench are not counted)"]


def json_doc(results: dict) -> dict:
    """bench/_report.py's shape (rows of display strings, for bench/run_all.py) plus every raw figure."""
    rows = [{"measure": m, "twinstar": t, "baseline": b, "ratio": r, "goal": g, "expected": None, "values": {}}
            for m, t, b, r, g in table_rows(results)]
    return {"bench": "bench_gui", "rows": rows, "notes": notes(results), "figures": results,
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
    rows += engine_rows(results)
    return rows


def _mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


def engine_rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    rows: list[tuple[str, str, str, str, str]] = []
    eng = results.get("engine")
    if eng:
        n, one = eng["series"], eng.get("one_series")
        for key, label in (("startup", f"start-up backfill ({eng['backfill_s']:.0f} s"
                                       + (", TIMED OUT" if eng["timed_out"] else "") + ")"),
                           ("steady", f"steady streaming ({eng['steady_s']:.0f} s)")):
            s, b = eng[key], (one or {}).get(key) or eng["baseline_idle_loop"]
            rows.append((f"GUI loop stall, {n} series, {label}, {s['tick_ms']:g} ms timer (max / p99)",
                         f"{s['max_ms']:.1f} / {s['p99_ms']:.1f} ms ({s['over_16ms']} > 16 ms)",
                         ("app, charted series alone" if one else "idle Qt loop")
                         + f" {b['max_ms']:.1f} / {b['p99_ms']:.1f} ms",
                         f"{s['max_ms'] / max(b['max_ms'], 0.1):.1f}x", f"max <= {ENGINE_GOALS['stall_max_ms']:g} ms"))
        for phase in ("steady", "startup"):
            f = eng["frame_to_pixel"][phase]
            if not f.get("matched"):
                continue
            t = f["socket_to_paint"]
            b = ((one or {}).get("frame_to_pixel", {}).get(phase) or {}).get("socket_to_paint")
            b = b if b and b["n"] >= 20 else None  # the lone series' start-up is over in a fraction of a second
            base = f"app, charted series alone {b['p50_ms']:.1f} / {b['p99_ms']:.1f} ms" if b else "-"
            rows.append((f"frame at socket -> candle painted, {phase}, charted series (p50 / p99, n={t['n']})",
                         f"{t['p50_ms']:.1f} / {t['p99_ms']:.1f} ms", base,
                         f"{t['p99_ms'] / b['p99_ms']:.1f}x" if b else "-",
                         f"p99 <= {ENGINE_GOALS['frame_to_pixel_p99_ms']:g} ms" if phase == "steady" else ""))
            for key, label in (("socket_to_receive", "socket -> app's WS receive loop"),
                               ("receive_to_emit",
                                "receive -> chart presenter takes it from the tap and emits (<= 60 Hz)"),
                               ("emit_to_paint", "emit -> candle item painted")):
                t = f[key]
                b = ((one or {}).get("frame_to_pixel", {}).get(phase) or {}).get(key)
                b = b if b and b["n"] >= 20 else None
                rows.append((f"  of which {label}, {phase} (p50 / p99)", f"{t['p50_ms']:.1f} / {t['p99_ms']:.1f} ms",
                             f"{b['p50_ms']:.1f} / {b['p99_ms']:.1f} ms" if b else "-", "-", ""))
        fl = eng["gui_floor"]["rss_painted_kib"]
        rss = eng["rss_end_kib"]
        if rss:
            rows.append((f"GUI process RSS, {n} series streaming (end of steady phase)",
                         f"{_mib(rss['VmRSS'])} (peak {_mib(rss['VmHWM'])})",
                         f"PySide6.QtWidgets+pyqtgraph + empty QMainWindow {_mib(fl)}"
                         + (f"; the app's imports {_mib(eng['app_imports']['rss_kib'])}"
                            if "app_imports" in eng else "")
                         + (f"; app, 1 series {_mib(one['rss_end_kib']['VmRSS'])}"
                            if one and one["rss_end_kib"] else ""),
                         f"{rss['VmRSS'] / fl:.1f}x", "-"))
    fp = results.get("first_paint")
    if fp:
        rows.append((f"cold start -> first painted chart, {fp['mode']} (median of {len(fp['runs'])})",
                     f"{fp['median_s']:.2f} s (its imports alone {fp['app_imports_median_s']:.2f} s)",
                     f"import PySide6.QtWidgets+pyqtgraph + empty QMainWindow painted {fp['floor_median_s']:.2f} s",
                     f"{fp['ratio']:.2f}x", f"<= {ENGINE_GOALS['first_paint_ratio']:g}x floor"))
    col = results.get("collector")
    if col:
        fl = col["floors_kib"]
        rows.append((f"collector RSS, `collect --exchange bybit --symbols {col['symbols']}`, streaming",
                     f"{_mib(col['steady_rss_kib'])} (peak {_mib(col['peak_rss_kib'])})",
                     f"imports numpy+pyarrow.parquet+websockets+requests {_mib(fl['deps'])} "
                     f"(bare python {_mib(fl['plain'])})",
                     f"{col['steady_rss_kib'] / fl['deps']:.2f}x", f"<= {ENGINE_GOALS['collector_rss_mib']:g} MiB"))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter run: 10 series per exchange, 10 s steady phase, "
                    "1 start, 12 s collector; 100k bars only, 5 s lag phases")
    ap.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    ap.add_argument("--all", action="store_true", help="every section, (a)-(c) too (default: (d), (e), (f))")
    ap.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    ap.add_argument("--skip", nargs="*", default=[], choices=SECTIONS, help="leave these sections out")
    ap.add_argument("--speed", type=float, default=300.0, help="simulator time acceleration (as --demo)")
    ap.add_argument("--starts", type=int, help="cold starts to take the median of, (c) and (e) (default 3, quick 1)")
    g = ap.add_argument_group("(a) repaint, (b) lag, (c) cold start")
    g.add_argument("--sizes", type=int, nargs="+", help="repaint history sizes (default 100000 1000000)")
    g.add_argument("--renders", type=int, help="renders per repaint median (default 20, quick 10)")
    g.add_argument("--naive-budget", type=float, default=60.0, help="skip a naive repaint case estimated above (s)")
    g.add_argument("--lag-seconds", type=float, help="seconds per lag phase (default 20, quick 5)")
    g.add_argument("--sim-in-process", action="store_true",
                   help="lag: run the simulator as a thread of the bench process (the --demo set-up)")
    g = ap.add_argument_group("(d) engine, (e) first paint, (f) collector")
    g.add_argument("--exchanges", default=",".join(ENGINE_EXCHANGES), help="exchanges streamed (default: all 7)")
    g.add_argument("--per-exchange", type=int,
                   help="series per exchange: the first N of DEFAULT_SCAN_BASES (default 50, quick 10; at most 50)")
    g.add_argument("--steady-seconds", type=float, help="steady streaming phase after start-up (default 60, quick 10)")
    g.add_argument("--baseline-seconds", type=float, help="idle Qt loop before the app is built (default 3, quick 2)")
    g.add_argument("--one-series-seconds", type=float,
                   help="steady phase of the baseline run, the app streaming the charted series alone (default 10, "
                        "quick 5)")
    g.add_argument("--backfill-timeout", type=float, default=240.0, help="longest start-up phase (s)")
    g.add_argument("--tick-ms", type=float, default=2.0, help="period of the stall probe's timer (default 2 ms)")
    g.add_argument("--stall-sample", action="store_true",
                   help="(d): sample the GUI thread's stack every 4 ms (every thread's while the loop is late by "
                        "> 8 ms) and print where its time went and where it stalled; the sampler takes the GIL for "
                        "each sample and keeps them in memory: the stall and RSS figures of such a run are not the "
                        "real ones")
    g.add_argument("--first-paint", choices=["prepared", "demo"], default="prepared",
                   help="(e) prepared: `twinstar` with the bench's settings file and data dir (history on disk after "
                        "(d)), the simulator in its own process; demo: `twinstar --demo`")
    g.add_argument("--collect-seconds", type=float, help="collector run length (default 20, quick 12)")
    args = ap.parse_args()
    sections = [s for s in (args.only or (SECTIONS if args.all else DEFAULT_SECTIONS)) if s not in args.skip]
    sizes = args.sizes or ([100_000] if args.quick else [100_000, 1_000_000])
    renders = args.renders or (10 if args.quick else 20)
    lag_s = args.lag_seconds or (5.0 if args.quick else 20.0)
    args.starts = args.starts or (1 if args.quick else 3)
    args.steady_seconds = args.steady_seconds or (10.0 if args.quick else 60.0)
    args.baseline_seconds = args.baseline_seconds or (2.0 if args.quick else 3.0)
    args.one_series_seconds = args.one_series_seconds or (5.0 if args.quick else 10.0)
    args.collect_seconds = args.collect_seconds or (12.0 if args.quick else 20.0)
    args.per_exchange = args.per_exchange or (10 if args.quick else 50)
    if not 1 <= args.per_exchange <= 50:
        ap.error("--per-exchange must be 1..50")
    logging.basicConfig(level=logging.WARNING)
    app = QApplication.instance() or QApplication([])
    results: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                 "platform": platform.platform(), "load_at_start": os.getloadavg()},
                     "quick": args.quick, "goals": {**GOALS, **ENGINE_GOALS}, "sections": sections}
    t0 = time.perf_counter()
    if "repaint" in sections:
        print("(a) chart repaint", flush=True)
        results["repaint"] = bench_repaint(app, sizes, renders, args.naive_budget)
    if "cold_start" in sections:  # before (b): its sockets and threads are gone by then either way
        print("(c) cold start", flush=True)
        results["cold_start"] = bench_cold_start(args.starts)
    if "lag" in sections:
        print("(b) event-loop lag", flush=True)
        results["lag"] = bench_lag(app, lag_s, args.speed, args.sim_in_process)
    if any(s in sections for s in ("engine", "first_paint", "collector")):
        bench_engine_sections(args, sections, results)
    results["machine"]["load_at_end"] = os.getloadavg()
    results["run_s"] = time.perf_counter() - t0
    print()
    print(table(results))
    for note in notes(results):
        print(f"\n{note}")
    print(f"\nrun time {results['run_s']:.0f} s; load average at start {results['machine']['load_at_start'][0]:.2f}, "
          f"at end {results['machine']['load_at_end'][0]:.2f} (1 min)")
    if args.json:
        Path(args.json).write_text(json.dumps(json_doc(results), indent=1))
        print(f"\nwrote {args.json}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
