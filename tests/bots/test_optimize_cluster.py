"""The optimizer on a real Dask cluster over loopback: a `dask scheduler` process and a `dask worker` process with two
worker processes under it, started as a user starts them on their machines. The cluster scores every job as the local
processes do and `twinstar optimize --cluster` writes the same preset files; a malformed, silent or empty cluster is a
message and an exit code, never a traceback or a wait; `distributed` is imported only for --cluster."""
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.history import download_history

from twinstar_gui.sim.market import DAY_MS

pytest.importorskip("distributed")  # the dev extra has it; a bare install runs the optimizer locally only

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ("BTC-USDT-SWAP", "ETH-USDT-SWAP")
START_TIMEOUT = 40.0  # a scheduler and two spawned workers: a few seconds, more on a busy 2-core machine


def day_text(ms):
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


def child_env(tmp: Path, first: Path | None = None) -> dict[str, str]:
    """The cluster's processes and the command import this checkout's package (an installed one would do on real
    machines; `first` goes before it), read no user config, and keep Dask's files in the test's folder."""
    path = os.pathsep.join(str(p) for p in (first, ROOT, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "TWINSTAR_CONFIG": str(tmp / "none.json"),
            "DASK_CONFIG": str(tmp / "dask-config"), "DASK_TEMPORARY_DIRECTORY": str(tmp / "dask-tmp")}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """20 days of two OKX swaps, downloaded from the simulator into one dataset."""
    root = tmp_path_factory.mktemp("opt-data")
    return root, download_history(root, {"okx": list(SYMBOLS)})


class Processes:
    """Processes started in their own session, so that teardown ends them and everything they spawned (a worker's
    nanny spawns the worker processes) by their group, and nothing else."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.procs = tmp, []

    def start(self, name: str, args: list[str], path_first: Path | None = None) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")  # closed with the process, in stop()
        # not run from the checkout: `python -m` puts its folder first, and `path_first` must come first
        proc = subprocess.Popen([sys.executable, "-m", *args], cwd=self.tmp, env=child_env(self.tmp, path_first),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=os.name != "nt")
        self.procs.append((name, proc, log))
        return proc

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> list[str]:
        """Ends them, the last started first (workers leave before their scheduler): each one's leader is asked to
        close (a nanny closes its workers), then whatever is left of its group is killed. Returns the groups that
        still had a live process after that."""
        left = []
        for name, proc, log in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                left.append(f"{name} (did not close when asked)")
            if os.name == "nt":
                proc.kill()
            else:
                with contextlib.suppress(ProcessLookupError):  # the whole group is gone: the usual case
                    os.killpg(proc.pid, signal.SIGKILL)
                if _group_alive(proc.pid):
                    left.append(f"{name} (a child of it)")
            proc.wait(15)
            log.close()
        return left


def _group_alive(pgid: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    return True


def start_scheduler(procs: Processes, name: str) -> str:
    """A scheduler on a free loopback port, no dashboard; it exits by itself after 5 idle minutes (should the test
    process be killed before its teardown). Returns its address."""
    info = procs.tmp / f"{name}.json"
    proc = procs.start(name, ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                              "--no-dashboard", "--scheduler-file", str(info), "--idle-timeout", "300s"])
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            return json.loads(info.read_text())["address"]
        except (OSError, ValueError, KeyError):  # not written yet, or half written
            assert proc.poll() is None, f"the scheduler exited ({proc.returncode}): {procs.log(name)}"
            assert time.monotonic() < deadline, f"the scheduler did not start: {procs.log(name)}"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` + `dask worker --nworkers 2 --nthreads 1` on 127.0.0.1; the address, once both workers are
    in. The workers give up 60 s after losing the scheduler."""
    from distributed import Client

    procs = Processes(tmp_path_factory.mktemp("cluster"))
    try:
        address = start_scheduler(procs, "scheduler")
        procs.start("worker", ["distributed.cli.dask_worker", address, "--host", "127.0.0.1", "--nworkers", "2",
                               "--nthreads", "1", "--no-dashboard", "--death-timeout", "60s",
                               "--local-directory", str(procs.tmp / "workers")])
        with Client(address, timeout=START_TIMEOUT, set_as_default=False) as client:
            try:
                client.wait_for_workers(2, timeout=START_TIMEOUT)
            except TimeoutError:
                pytest.fail(f"two workers did not join: {procs.log('worker')}")
        yield address
    finally:
        left = procs.stop()
    assert not left, f"still running after the cluster was stopped: {left}"


def jobs_of(root: Path, start: int):
    """What `optimize` submits for two symbols x four parameter sets x three windows."""
    from twinstar_gui.bots.optimize import Job, grid_of, windows
    from twinstar_gui.config import Settings, TradingSettings, settings_to_dict

    trading = settings_to_dict(Settings(root, trading=TradingSettings()))["trading"]
    params = grid_of({"rsi_low": [25, 30], "rsi_high": [70], "take_profit_pct": [2, 3], "stop_loss_pct": [1]})
    wins = windows(start + 5 * DAY_MS, start + 20 * DAY_MS - 1, 2)
    return [Job(str(root), "okx", sym, tuple(sorted(p.items())), w0, w1, trading)
            for sym in SYMBOLS for p in params for w0, w1 in wins]


@pytest.mark.timeout(90)
def test_the_cluster_scores_every_job_as_the_local_processes_do(dataset, cluster):
    from twinstar_gui.bots.optimize import DaskCluster, LocalProcesses
    from twinstar_gui.research import run_job

    root, start = dataset
    jobs = jobs_of(root, start)
    local = list(LocalProcesses(2).map(run_job, jobs))
    runner = DaskCluster(cluster, timeout=10)
    try:
        assert runner.describe() == f"Dask cluster {cluster} (2 worker(s))"
        remote = list(runner.map(run_job, jobs))
        ran_on = runner.client.run(os.getpid)  # {worker address: pid}: the worker processes, not this one
    finally:
        runner.close()
    assert len(remote) == len(jobs) == 24
    assert [s.job for s in remote] == jobs  # in submission order, whatever order the workers finished in
    assert remote == local  # every score, float for float
    assert all(not s.error for s in remote) and sum(s.trades for s in remote) > 0
    assert len(ran_on) == 2 and os.getpid() not in ran_on.values()


def optimize_cli(data: Path, start: int, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "twinstar_gui", "optimize", "--exchange", "okx", "--symbols", "BTC,ETH",
            "--from", day_text(start + 5 * DAY_MS), "--to", day_text(start + 19 * DAY_MS), "--folds", "2",
            "--grid", "rsi_low=25,30", "--grid", "rsi_high=70", "--grid", "take_profit_pct=2,3",
            "--grid", "stop_loss_pct=1", "--min-trades", "1", "--data", str(data), *extra]
    return subprocess.run(args, capture_output=True, text=True, env=child_env(tmp), cwd=ROOT, timeout=120)


def presets_of(data: Path) -> dict[str, dict]:
    """The preset files, less the moment each was written."""
    out = {}
    for p in sorted((data / "presets" / "okx").iterdir()):
        preset = json.loads(p.read_text())
        assert preset.pop("created")
        out[p.name] = preset
    return out


@pytest.mark.timeout(90)
def test_the_optimize_command_on_the_cluster_writes_the_presets_the_local_run_writes(dataset, cluster, tmp_path):
    root, start = dataset
    shutil.copytree(root, tmp_path / "local")
    shutil.copytree(root, tmp_path / "cluster")
    local = optimize_cli(tmp_path / "local", start, tmp_path, "--workers", "2")
    assert local.returncode == 0, local.stderr[-2000:]
    assert "2 symbol(s) x 4 parameter set(s) x 3 windows = 24 backtests on 2 local process(es)" in local.stdout
    remote = optimize_cli(tmp_path / "cluster", start, tmp_path, "--cluster", cluster)
    assert remote.returncode == 0, remote.stderr[-2000:]
    assert f"24 backtests on Dask cluster {cluster} (2 worker(s))" in remote.stdout
    assert "Traceback" not in remote.stderr
    presets = presets_of(tmp_path / "cluster")
    assert list(presets) == ["BTC-USDT-SWAP.json", "ETH-USDT-SWAP.json"]
    assert presets == presets_of(tmp_path / "local")
    assert all(len(p["folds"]) == 2 for p in presets.values())
    # what each run says of its presets (after "done in ... s"), less the folder it wrote them to
    said = lambda out, data: out.split(" backtests/s)\n", 1)[1].replace(str(data), "DATA")
    assert said(remote.stdout, tmp_path / "cluster") == said(local.stdout, tmp_path / "local")


def free_port() -> int:
    """A loopback port nobody listens on (bound, then let go)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_cluster_address_is_checked_before_anything_connects():
    from twinstar_gui.bots.optimize import cluster_address

    assert cluster_address(" tcp://127.0.0.1:8786 ") == "tcp://127.0.0.1:8786"
    assert cluster_address("localhost:8786") == "tcp://localhost:8786"  # Dask's own default scheme
    assert cluster_address("tcp://[::1]:8786") == "tcp://[::1]:8786"
    for address, words in (("http://127.0.0.1:8786", "only tcp://"), ("tls://h:8786", "only tcp://"),
                           ("127.0.0.1", "tcp://HOST:PORT"), ("tcp://127.0.0.1:99999", "tcp://HOST:PORT"),
                           ("tcp://:8786", "tcp://HOST:PORT"), ("tcp://127.0.0.1:0", "tcp://HOST:PORT"),
                           ("tcp://127.0.0.1:8786/x", "tcp://HOST:PORT"), ("tcp://u@h:1", "tcp://HOST:PORT"),
                           ("tcp://[::1:8786", "tcp://HOST:PORT"), ("x" * 5000, "tcp://HOST:PORT")):
        with pytest.raises(ValueError, match=words) as err:
            cluster_address(address)
        assert len(str(err.value)) < 300


@pytest.mark.timeout(90)
def test_a_malformed_silent_or_empty_cluster_is_a_message_and_an_exit_code(dataset, tmp_path):
    root, start = dataset
    for extra, words in ((["--cluster", "http://127.0.0.1:8786"], "only tcp://"),
                         (["--cluster", "tcp://127.0.0.1:8786", "--cluster-timeout", "0"], "--cluster-timeout")):
        done = optimize_cli(root, start, tmp_path, *extra)
        assert done.returncode == 2 and words in done.stderr, (extra, done.stderr[-2000:])
        assert "Traceback" not in done.stderr and "backtests on" not in done.stdout

    # nobody listens there: said after --cluster-timeout, not after Dask's own 30 s
    silent = f"tcp://127.0.0.1:{free_port()}"
    done = optimize_cli(root, start, tmp_path, "--cluster", silent, "--cluster-timeout", "1")
    assert done.returncode == 1 and f"cluster {silent}:" in done.stderr and "after 1 s" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "backtests on" not in done.stdout

    # a scheduler without workers would take the jobs and never run them; a worker without twinstar would drop out
    # on reading the first job, and the run would wait for ever
    elsewhere = tmp_path / "no-twinstar" / "twinstar_gui"  # a machine where the package cannot be imported
    elsewhere.mkdir(parents=True)
    (elsewhere / "__init__.py").write_text('raise ModuleNotFoundError("no twinstar here", name="twinstar_gui")\n')
    procs = Processes(tmp_path)
    try:
        address = start_scheduler(procs, "lonely-scheduler")
        empty = optimize_cli(root, start, tmp_path, "--cluster", address, "--cluster-timeout", "1")
        procs.start("worker-without-twinstar", ["distributed.cli.dask_worker", address, "--host", "127.0.0.1",
                                                "--nworkers", "1", "--no-dashboard", "--local-directory",
                                                str(tmp_path / "w")], path_first=elsewhere.parent)
        alien = optimize_cli(root, start, tmp_path, "--cluster", address, "--cluster-timeout", str(START_TIMEOUT))
    finally:
        left = procs.stop()
    assert not left, f"still running after the cluster was stopped: {left}"
    assert empty.returncode == 1 and "no worker joined" in empty.stderr, empty.stderr[-2000:]
    assert f"dask worker {address}" in empty.stderr and "backtests on" not in empty.stdout
    assert alien.returncode == 1 and "1 of 1 worker(s) cannot import twinstar_gui" in alien.stderr, \
        alien.stderr[-2000:]
    assert "no twinstar here" in alien.stderr and "pip install 'twinstar[cluster]'" in alien.stderr
    for done in (empty, alien):
        assert "Traceback" not in done.stderr
    assert not (root / "presets").exists()  # no run, no preset


PROBE = """
import json, sys
from twinstar_gui.optimizecli import main

rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "dask": sorted(m for m in sys.modules if m.split(".")[0] in ("distributed", "dask"))}))
"""


@pytest.mark.timeout(90)
def test_distributed_is_imported_only_for_a_cluster(dataset, cluster, tmp_path):
    root, start = dataset
    data = tmp_path / "data"
    shutil.copytree(root, data)
    args = ["--exchange", "okx", "--symbols", "BTC", "--from", day_text(start + 5 * DAY_MS), "--to",
            day_text(start + 19 * DAY_MS), "--folds", "1", "--grid", "rsi_low=30", "--grid", "rsi_high=70",
            "--grid", "take_profit_pct=2", "--grid", "stop_loss_pct=1", "--data", str(data)]
    seen = {}
    for how, extra in (("local", ["--workers", "1"]), ("cluster", ["--cluster", cluster])):
        done = subprocess.run([sys.executable, "-c", PROBE, *args, *extra], capture_output=True, text=True,
                              env=child_env(tmp_path), cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        seen[how] = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["local"] == {"rc": 0, "dask": []}
    assert seen["cluster"]["rc"] == 0 and "distributed" in seen["cluster"]["dask"]
