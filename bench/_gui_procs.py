"""bench_gui.py's measurements of fresh processes: the terminal under load (bench/_gui_load.py), cold start to the
first painted chart against its import floor, and the collector's RSS against its import floors. Times are
time.monotonic() (one clock for every process on the machine)."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from _gui_load import read_stamps, rss_kib

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
MIB = 1024.0
# what the headless collector cannot run without (its data, network and storage libraries); `plain` is the bare
# interpreter. The floor stated in the table is "deps".
COLLECTOR_FLOORS = {
    "plain": "pass",
    "numpy": "import numpy",
    "numpy+pandas": "import numpy, pandas",
    "numpy+pandas+pyarrow": "import numpy, pandas, pyarrow.parquet",
    "deps": "import numpy, pyarrow.parquet, websockets.asyncio.client, requests, platformdirs",
}


def clean_env(tmp: str, **extra: str) -> dict:
    """No TWINSTAR_* from the caller's shell, no user config, offscreen Qt."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINSTAR_")}
    env.update(QT_QPA_PLATFORM="offscreen", QT_API="pyside6", TWINSTAR_CONFIG=str(Path(tmp) / "none.json"),
               XDG_CONFIG_HOME=str(Path(tmp) / "xdg-config"), XDG_DATA_HOME=str(Path(tmp) / "xdg-data"),
               PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def _marks(line: str) -> tuple[str, float, int, str] | None:
    if not line.startswith("BENCH "):
        return None
    parts = line.split(maxsplit=4)
    return parts[1], float(parts[2]), int(parts[3]), parts[4].strip() if len(parts) > 4 else ""


def _stop(proc: subprocess.Popen, wait: float = 20.0) -> None:
    proc.terminate()  # the app's clean shutdown (SIGTERM = closing the window)
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- what else ran on the machine meanwhile -------------------------------------------------------------------
class CpuWatch:
    """Once a second: the CPU that processes outside this bench's process tree used (in cores), from /proc. Two
    cores and a second job running make every figure above worse; this says whether one was."""

    def __init__(self, every: float = 1.0) -> None:
        self.hz = os.sysconf("SC_CLK_TCK")
        self.root, self.every = os.getpid(), every
        self.samples: list[tuple[float, float]] = []  # (time.monotonic, cores used by others since the last)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-cpu-watch", daemon=True)

    def start(self) -> CpuWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    @staticmethod
    def _busy_jiffies() -> int:
        with open("/proc/stat", encoding="ascii") as fh:
            f = [int(v) for v in fh.readline().split()[1:]]
        return sum(f) - f[3] - f[4]  # all but idle and iowait

    def _ours(self) -> int:
        """utime + stime + cutime + cstime over the live tree: each CPU tick of ours and of our reaped descendants
        counted once."""
        stats: dict[int, tuple[int, int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                    f = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry)] = (int(f[1]), sum(int(v) for v in f[11:15]))  # ppid, utime+stime+cutime+cstime
        tree, grew = {self.root}, True
        while grew:
            grew = False
            for pid, (ppid, _) in stats.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        return sum(stats[p][1] for p in tree if p in stats)

    def _run(self) -> None:
        last = (time.monotonic(), self._busy_jiffies(), self._ours())
        while not self._stop.wait(self.every):
            now = (time.monotonic(), self._busy_jiffies(), self._ours())
            others = max(0, (now[1] - last[1]) - (now[2] - last[2])) / self.hz / max(1e-3, now[0] - last[0])
            self.samples.append((now[0], others))
            last = now

    def mean(self, t0: float, t1: float) -> float | None:
        picked = [c for t, c in self.samples if t0 <= t <= t1]
        return sum(picked) / len(picked) if picked else None


# -- the terminal under load ----------------------------------------------------------------------------------
def _pct(values: np.ndarray) -> dict:
    if not len(values):
        return {"n": 0}
    return {"n": len(values), "p50_ms": float(np.percentile(values, 50)),
            "p99_ms": float(np.percentile(values, 99)), "max_ms": float(values.max()), "mean_ms": float(values.mean())}


def frame_to_pixel(samples: list, stamps: dict[str, float]) -> dict:
    """Latency figures of (recv, digest, flushed, painted) samples whose send time the simulator logged."""
    rows = [(stamps[d], r, f, p) for r, d, f, p in samples if d in stamps]
    if not rows:
        return {"samples": len(samples), "matched": 0}
    sent, recv, flushed, painted = (np.array(c) for c in zip(*rows))
    return {"samples": len(samples), "matched": len(rows),
            "socket_to_paint": _pct((painted - sent) * 1000), "socket_to_receive": _pct((recv - sent) * 1000),
            "receive_to_emit": _pct((flushed - recv) * 1000), "emit_to_paint": _pct((painted - flushed) * 1000),
            "receive_to_paint": _pct((painted - recv) * 1000)}


def run_engine(args: argparse.Namespace, config: Path, stamps: Path, tmp: str, series: int, name: str = "engine",
               steady_s: float | None = None, baseline_s: float | None = None, sample: bool | None = None,
               watch: CpuWatch | None = None) -> dict:
    """The terminal with the series of `config`, in a process of its own (bench/_gui_load.py); its figures, the
    frame-to-pixel samples matched with the simulator's send times in `stamps`."""
    out = Path(tmp) / f"{name}.json"
    spec = {"config": str(config), "tick_ms": args.tick_ms,
            "baseline_s": args.baseline_seconds if baseline_s is None else baseline_s,
            "steady_s": args.steady_seconds if steady_s is None else steady_s,
            "backfill_timeout": args.backfill_timeout, "sample": args.stall_sample if sample is None else sample,
            "sample_threshold_ms": 8.0, "out": str(out), "name": name}
    spec_path = Path(tmp) / f"{name}-spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    print(f"  {name}: {series} series; idle-loop baseline {spec['baseline_s']:g} s first", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(BENCH / "_gui_load.py"), str(spec_path)], cwd=ROOT,
                            env=clean_env(tmp))
    budget = spec["baseline_s"] + args.backfill_timeout + spec["steady_s"] + 60
    while proc.poll() is None and time.perf_counter() - t0 < budget and not out.exists():
        time.sleep(0.5)
    try:  # the figures are written before the app's shutdown; a shutdown that hangs is said, and killed
        proc.wait(60)
    except subprocess.TimeoutExpired:
        print(f"  {name}: its shutdown did not end within 60 s; killed", flush=True)
        proc.kill()
        proc.wait()
    if not out.exists():
        raise RuntimeError(f"{name}: the terminal's run ended (exit code {proc.returncode}) without its figures")
    res = json.loads(out.read_text(encoding="utf-8"))
    res["wall_s"] = time.perf_counter() - t0
    sent = read_stamps(stamps)
    samples = res.pop("frame_samples")
    res["frame_to_pixel"] = {phase: frame_to_pixel(samples[phase], sent) for phase in ("startup", "steady")}
    res["series_configured"] = series
    if watch is not None:
        res["other_processes_cores"] = {"startup": watch.mean(res["t_start"], res["t_loaded"]),
                                        "steady": watch.mean(res["t_loaded"], res["t_end"])}
    loaded = res.get("loading", {}).get("exchange_loaded_s", {})
    print(f"  {name}: each exchange's series all loaded after "
          + ", ".join(f"{k} {v:.0f} s" for k, v in loaded.items()), flush=True)
    for phase in ("startup", "steady"):
        s, f = res[phase], res["frame_to_pixel"][phase].get("socket_to_paint", {})
        other = res.get("other_processes_cores", {}).get(phase)
        print(f"  {name} {phase}: stall max {s['max_ms']:.1f} / p99 {s['p99_ms']:.1f} ms ({s['over_16ms']} over 16 ms)"
              + (f"; frame->pixel p50 {f['p50_ms']:.1f} / p99 {f['p99_ms']:.1f} ms (n={f['n']})" if f else "")
              + (f"; other processes used {other:.2f} cores meanwhile" if other is not None else ""), flush=True)
    if "stall_samples" in res:
        print_stall_samples(res["stall_samples"], res["gui_thread_profile"])
    return res


def _named(where: str) -> str:
    """A sample whose innermost frame is qasync's run_forever: the GUI thread was in Qt's C++ (or idle)."""
    first = where.split(" <- ", 1)[0].split(":")
    return "(no Python frame: Qt's C++ or idle)" if first[0] in ("", "__init__.py") and first[-1] in (
        "", "run_forever") else where


def print_stall_samples(found: dict, profile: dict) -> None:
    """--stall-sample: where the GUI thread's time went, per phase, and what it ran during the stalls."""
    for phase, a in found.items():
        p = profile[phase]
        print(f"\n  GUI thread, {phase}: {p['samples']} samples, one every 4 ms")
        print("    innermost function (exclusive):")
        for where, share in p["exclusive"][:10]:
            print(f"      {share:6.1%}  {_named(where)}")
        print("    on the stack (inclusive):")
        for where, share in p["inclusive"][:16]:
            print(f"      {share:6.1%}  {where}")
        print(f"    during the {a['stalls']} stalls > 16 ms ({a['samples']} samples), on the stack:")
        for where, n in a["on_stack_top"][:14]:
            print(f"      {n / max(1, a['samples']):6.1%}  {where}")
        print("    other threads then:")
        for where, n in a["other_threads_top"][:4]:
            print(f"      {n:6d}  {where}")
        for w in a["worst"][:6]:
            print(f"    stall {w['ms']:.0f} ms ({w['samples']} samples): "
                  + "; ".join(f"{n}x {_named(where)}" for where, n in w["main"][:2]))


# -- cold start to the first painted chart ------------------------------------------------------------------------
def app_start_once(args: list[str], env: dict, timeout: float = 90.0) -> dict:
    """Seconds from spawning `twinstar ARGS` (through _first_paint.py) to its chart's first paint with candles."""
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(BENCH / "_first_paint.py"), "app", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    out: dict = {}
    tail: list[str] = []
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            tail = (tail + [line.rstrip()])[-20:]
            m = _marks(line)
            if m and m[0] == "first-paint":
                out.update(first_paint_s=m[1] - t0, rss_kib=m[2], detail=m[3])
            if "first candles on screen" in line:  # the app's own log line (whole history shown)
                out["app_first_candles_s"] = float(line.split("first candles on screen", 1)[1].split("s", 1)[0])
            if "first_paint_s" in out and "app_first_candles_s" in out:
                break
    finally:
        timer.cancel()
        _stop(proc)
    if "first_paint_s" not in out:
        raise RuntimeError("the app never painted its chart; last lines:\n  " + "\n  ".join(tail))
    return out


def floor_once(env: dict) -> dict:
    """`import PySide6.QtWidgets, pyqtgraph` + an empty QMainWindow's first paint, from spawning."""
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, str(BENCH / "_first_paint.py"), "floor"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    marks = {m[0]: m for m in map(_marks, done.stdout.splitlines()) if m}
    return {"imported_s": marks["imported"][1] - t0, "painted_s": marks["painted"][1] - t0,
            "rss_imported_kib": marks["imported"][2], "rss_painted_kib": marks["painted"][2]}


def app_imports_once(env: dict) -> dict:
    """Seconds from spawning to the end of importing everything `twinstar` imports before its first paint, and
    the RSS then."""
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, str(BENCH / "_first_paint.py"), "imports"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    m = next(m for m in map(_marks, done.stdout.splitlines()) if m and m[0] == "imported")
    return {"imported_s": m[1] - t0, "rss_kib": m[2]}


def bench_first_paint(starts: int, app_args: list[str], env: dict, label: str) -> dict:
    """Median of `starts` app starts and as many floor runs, interleaved (drift hits both alike); and how long
    the app's imports alone take."""
    runs, floors, imports = [], [], []
    for i in range(starts):
        runs.append(app_start_once(app_args, env))
        floors.append(floor_once(env))
        imports.append(app_imports_once(env))
        print(f"  first paint {i + 1}/{starts}: app {runs[-1]['first_paint_s']:.2f} s "
              f"({runs[-1].get('detail', '')}), floor {floors[-1]['painted_s']:.2f} s, the app's imports alone "
              f"{imports[-1]['imported_s']:.2f} s", flush=True)
    app_s = statistics.median(r["first_paint_s"] for r in runs)
    floor_s = statistics.median(f["painted_s"] for f in floors)
    return {"mode": label, "runs": runs, "floors": floors, "median_s": app_s, "floor_median_s": floor_s,
            "app_imports": imports, "app_imports_median_s": statistics.median(i["imported_s"] for i in imports),
            "app_imports_rss_kib": statistics.median(i["rss_kib"] for i in imports),
            "ratio": app_s / floor_s, "floor_rss_painted_kib": statistics.median(f["rss_painted_kib"] for f in floors),
            "floor_rss_imported_kib": statistics.median(f["rss_imported_kib"] for f in floors)}


# -- the collector's memory -------------------------------------------------------------------------------------
def import_floor_kib(code: str, env: dict) -> int:
    done = subprocess.run([sys.executable, "-c", f"{code}\nprint(open('/proc/self/status').read())"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60, check=True)
    return next(int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("VmRSS:"))


def bench_collector(rest_url: str, ws_url: str, seconds: float, tmp: str, symbols: str = "top:50") -> dict:
    """`twinstar collect --exchange bybit --symbols top:50` for `seconds` against the simulator; its RSS sampled
    every 0.25 s from /proc. Steady = the median VmRSS once its history is up to date; peak = VmHWM."""
    data = Path(tmp) / "collector-data"
    env = clean_env(tmp, TWINSTAR_BYBIT_REST_URL=rest_url, TWINSTAR_BYBIT_WS_URL=ws_url)
    cmd = [sys.executable, "-m", "twinstar_gui", "collect", "--exchange", "bybit", "--symbols", symbols,
           "--data", str(data), "--duration", f"{seconds:g}", "--health-every", "1"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    synced: list[float] = []
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line.rstrip())
            if not synced and line.startswith("history up to date"):
                synced.append(time.monotonic())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    samples: list[tuple[float, int]] = []
    peak = 0
    while proc.poll() is None and time.monotonic() - t0 < seconds + 60:
        r = rss_kib(proc.pid)
        if r:
            samples.append((time.monotonic(), r.get("VmRSS", 0)))
            peak = max(peak, r.get("VmHWM", 0))
        time.sleep(0.25)
    if proc.poll() is None:
        _stop(proc)
    reader.join(5)
    if not synced:
        raise RuntimeError("the collector never said 'history up to date'; last lines:\n  " + "\n  ".join(lines[-15:]))
    steady = [r for t, r in samples if t >= synced[0]]
    floors = {name: import_floor_kib(code, env) for name, code in COLLECTOR_FLOORS.items()}
    out = {"symbols": symbols, "seconds": seconds, "synced_after_s": synced[0] - t0, "rc": proc.returncode,
           "steady_rss_kib": statistics.median(steady) if steady else 0, "peak_rss_kib": peak,
           "steady_samples": len(steady), "floors_kib": floors,
           "streams": [ln for ln in lines if ln.startswith("bybit")][-1:]}
    print(f"  collector: RSS {out['steady_rss_kib'] / MIB:.0f} MiB steady, {peak / MIB:.0f} MiB peak; "
          f"floor (deps) {floors['deps'] / MIB:.0f} MiB, plain python {floors['plain'] / MIB:.0f} MiB", flush=True)
    return out
