"""Stop benchmark: seconds from SIGTERM to the process's exit, for `twinstar collect` and the window, against a
healthy simulator (the baseline, measured in the same run), a server that accepts and never answers, and a port
where nothing listens. The goal is 3 s whatever the network does.

Usage: .venv/bin/python bench/bench_stop.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from support.proxy import FlakyProxy  # noqa: E402

from twinstar_gui.sim.clock import SimClock  # noqa: E402
from twinstar_gui.sim.market import Market  # noqa: E402
from twinstar_gui.sim.server import SimThread  # noqa: E402

from _report import add_json_option, row, write_json  # noqa: E402

GOAL_S = 3.0


def stop_time(args: list[str], env: dict[str, str], ready, work: Path) -> float:
    """Start the command, wait until `ready(stdout, stderr)`, SIGTERM it, return the seconds until it exited."""
    out, err = work / "out.log", work / "err.log"
    with open(out, "w") as o, open(err, "w") as e:
        proc = subprocess.Popen([sys.executable, "-m", "twinstar_gui", *args], stdout=o, stderr=e,
                                env={**os.environ, "QT_QPA_PLATFORM": "offscreen", **env})
    deadline = time.monotonic() + 90
    while not ready(out.read_text(), err.read_text()):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{args}: never ready (exit {proc.poll()}): {err.read_text()[-1500:]}")
        time.sleep(0.05)
    time.sleep(1.0)  # settled in that state (requests out, or streaming)
    t0 = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{args}: exit {proc.returncode}: {err.read_text()[-1500:]}")
    return elapsed


def urls(exchange: str, base: str, ws_path: str) -> dict[str, str]:
    return {f"TWINSTAR_{exchange.upper()}_REST_URL": f"{base}/{exchange}",
            f"TWINSTAR_{exchange.upper()}_WS_URL": f"{base.replace('http', 'ws')}/{exchange}{ws_path}"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    add_json_option(ap)
    args = ap.parse_args()
    sim = SimThread(Market(SimClock(speed=300.0), seed=3, history_days=12)).start()
    silent, refusing = FlakyProxy(9).silent(), FlakyProxy(9)
    ex, sym = "okx", "BTC-USDT-SWAP,ETH-USDT-SWAP"
    ws_path = sim.ws_url(ex).split(f"/{ex}", 1)[1]
    healthy_env = urls(ex, f"http://127.0.0.1:{sim.server.port}", ws_path)
    silent_env = urls(ex, f"http://127.0.0.1:{silent.port}", ws_path)
    refusing_env = urls(ex, f"http://127.0.0.1:{refusing.port}", ws_path)
    collect = ["collect", "--exchange", ex, "--symbols", sym, "--health-every", "0.3"]
    cases = [
        ("collector, healthy exchange (baseline)", collect, healthy_env, lambda o, e: "state=live" in o),
        ("collector, server never answers", collect, silent_env, lambda o, e: "state=" in o),
        ("collector, nothing listening", collect, refusing_env, lambda o, e: "rest_retrying" in o),
        ("window, healthy exchange", ["--exchanges", ex], healthy_env, lambda o, e: "first candles on screen" in e),
        ("window, server never answers", ["--exchanges", ex], silent_env, None),
    ]
    figures: dict[str, float] = {}
    try:
        for name, cmd, env, ready_when in cases:
            times = []
            for _ in range(args.repeat):
                ready = ready_when
                if ready is None:  # the window is up once its requests reach the silent server
                    seen = silent.accepted
                    ready = lambda o, e, seen=seen: silent.accepted >= seen + 2
                with tempfile.TemporaryDirectory(prefix="twinstar-stop-") as tmp:
                    work = Path(tmp)
                    extra = {"TWINSTAR_DATA_DIR": str(work / "data"), "TWINSTAR_CONFIG": str(work / "none.json")}
                    data = ["--data", str(work / "data")] if cmd[0] == "collect" else []
                    times.append(stop_time(cmd + data, {**env, **extra}, ready, work))
            figures[name] = statistics.median(times)
    finally:
        silent.close()
        refusing.close()
        sim.stop()
    base = figures["collector, healthy exchange (baseline)"]
    print("| measure | TwinStar | baseline | ratio | goal |")
    print("|---|---|---|---|---|")
    rows = []
    for name, secs in figures.items():
        ratio = f"{secs / base:.2f}x" if base else "-"
        print(f"| SIGTERM to exit: {name}, median of {args.repeat} | {secs:.2f} s | {base:.2f} s | {ratio} | "
              f"<= {GOAL_S:g} s |")
        rows.append(row(f"SIGTERM to exit: {name}", f"{secs:.2f} s", f"{base:.2f} s", ratio,
                        goal=f"<= {GOAL_S:g} s", seconds=secs, baseline_seconds=base))
    write_json(args.json, "stop", rows, [f"goal: {GOAL_S:g} s whatever the network does"])
    return 0 if all(v <= GOAL_S for v in figures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
