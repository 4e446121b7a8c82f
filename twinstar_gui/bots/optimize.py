"""Per-symbol strategy presets: a grid (or a random sample of it) of strategy parameters searched with walk-forward
validation, in parallel over processes, and the verified ones written as preset files.

Walk-forward: the range is cut into `folds + 1` equal windows. In fold i the parameters are chosen on window i (the
in-sample score) and scored, unchanged, on window i + 1, which the choice never saw (the out-of-sample score). The
preset keeps the parameters chosen on the newest in-sample window. It is VERIFIED only when, over the folds, the
out-of-sample return is positive on average, the out-of-sample profit factor (all folds' trades together) is at least
`min_profit_factor`, and the out-of-sample folds made at least `min_trades` trades between them: a parameter set that
only fits its own window fails.

Jobs (one backtest of one symbol, one parameter set, one window: research.run_job) go through one executor interface:
local processes by default, or a Dask distributed cluster (`distributed` is imported only then).
"""
from __future__ import annotations

import itertools
import json
import math
import os
import random
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DAY_MS = 86_400_000
PRESET_DIR = "presets"
MAX_PRESET_BYTES = 1_000_000  # a preset file is a few KB
DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "rsi_low": (25.0, 30.0, 35.0),
    "rsi_high": (65.0, 70.0, 75.0),
    "take_profit_pct": (1.5, 2.0, 3.0),
    "stop_loss_pct": (0.75, 1.0, 1.5),
}
TUNABLE = ("rsi_low", "rsi_high", "take_profit_pct", "stop_loss_pct", "rsi_period")


@dataclass(frozen=True)
class Job:
    data_dir: str
    exchange: str
    symbol: str
    params: tuple[tuple[str, float], ...]
    start_ms: int
    end_ms: int
    trading: dict[str, Any]  # the trading settings as the settings file has them (the base the params change)


@dataclass
class Score:
    job: Job
    return_pct: float = 0.0
    trades: int = 0
    gross_win: float = 0.0
    gross_loss: float = 0.0
    error: str = ""


@dataclass
class Fold:
    train: tuple[int, int]
    test: tuple[int, int]
    params: dict[str, float]
    in_sample_return_pct: float
    out_of_sample_return_pct: float
    out_of_sample_trades: int
    out_of_sample_profit_factor: float
    skipped: str = ""  # why the fold is not scored (a window with no data): it counts neither for nor against


@dataclass
class Preset:
    exchange: str
    symbol: str
    params: dict[str, float]
    verified: bool
    why: str
    data_from: str
    data_to: str
    folds: list[Fold] = field(default_factory=list)
    thresholds: dict[str, float] = field(default_factory=dict)
    created: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"


def grid_of(overrides: Mapping[str, Sequence[float]] | None = None) -> list[dict[str, float]]:
    """Every combination (rsi_low < rsi_high only)."""
    grid = dict(DEFAULT_GRID)
    for key, values in (overrides or {}).items():
        if key not in TUNABLE:
            raise ValueError(f"{key}: not a strategy parameter the optimizer tunes; valid: {', '.join(TUNABLE)}")
        if not values:
            raise ValueError(f"{key}: no values")
        grid[key] = tuple(float(v) for v in values)
    keys = sorted(grid)
    out = [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]
    return [p for p in out if p.get("rsi_low", 0) < p.get("rsi_high", 100)]


def windows(start_ms: int, end_ms: int, folds: int) -> list[tuple[int, int]]:
    """`folds + 1` equal windows covering [start, end], on whole 15m slots."""
    step = 900_000
    span = (end_ms + 1 - start_ms) // (folds + 1)
    span -= span % step
    if span < DAY_MS:
        raise ValueError(f"{folds} folds need at least {folds + 1} days of range")
    return [(start_ms + i * span, start_ms + (i + 1) * span - 1) for i in range(folds + 1)]


# -- where jobs run -------------------------------------------------------------------------------------------------
class LocalProcesses:
    """Jobs over local processes (all cores by default)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1

    def map(self, fn: Callable[[Job], Score], jobs: Sequence[Job]) -> Iterator[Score]:
        if self.workers == 1:
            yield from map(fn, jobs)
            return
        with ProcessPoolExecutor(self.workers) as pool:
            yield from pool.map(fn, jobs, chunksize=max(1, len(jobs) // (self.workers * 8)))

    def describe(self) -> str:
        return f"{self.workers} local process(es)"


class ClusterError(RuntimeError):
    """The cluster cannot run the jobs: `distributed` missing, or workers that cannot import the job's module."""


class DaskCluster:
    """Jobs on a Dask distributed cluster: `dask scheduler` on one machine, `dask worker tcp://HOST:PORT` on each of
    the others, every one with this package installed (pip install 'twinstar[cluster]') and the data directory at the
    same path (a job names its candles by path). The scheduling is Dask's; jobs come back in submission order."""

    def __init__(self, address: str, timeout: float = 10.0) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise ClusterError("--cluster needs the optional 'distributed' package, which "
                               + ("the packaged app does not ship: run the optimizer from a pip install, "
                                  "pip install 'twinstar[cluster]'" if getattr(sys, "frozen", False) else
                                  "is not installed: pip install 'twinstar[cluster]'")) from None
        self.address = address
        # not the process-wide default scheduler: nothing else here computes with Dask
        self.client = Client(address, timeout=timeout, set_as_default=False)
        try:
            # a scheduler without workers would take the jobs and never run them
            self.client.wait_for_workers(1, timeout=timeout)
        except TimeoutError:
            self.client.close()
            raise TimeoutError(f"no worker joined the scheduler within {timeout:g} s; start some with: "
                               f"dask worker {address}") from None

    def map(self, fn: Callable[[Job], Score], jobs: Sequence[Job]) -> Iterator[Score]:
        from distributed import as_completed

        self._check_workers(fn.__module__)
        futures = self.client.map(fn, list(jobs), pure=False)
        order = {f.key: i for i, f in enumerate(futures)}
        done: dict[int, Score] = {}
        nxt = 0
        for fut in as_completed(futures, loop=self.client.loop):  # this client's loop: it is not the default
            done[order[fut.key]] = fut.result()
            while nxt in done:
                yield done.pop(nxt)
                nxt += 1

    def _check_workers(self, module: str) -> None:
        """Every worker imports the jobs' module first: a worker that cannot would not fail the job, it would drop
        out on reading it, and with no worker left the run would wait for ever. (`exec` travels by name: a function
        of ours would need the very import being checked.)"""
        answers = self.client.run(exec, f"import {module}", on_error="return")
        bad = {worker: answer for worker, answer in answers.items() if isinstance(answer, BaseException)}
        if bad:
            worker, exc = next(iter(bad.items()))
            raise ClusterError(f"{len(bad)} of {len(answers)} worker(s) cannot import {module} ({worker}: "
                               f"{type(exc).__name__}: {exc}); install this twinstar on every worker: "
                               "pip install 'twinstar[cluster]'")

    def describe(self) -> str:
        workers = len(self.client.scheduler_info().get("workers", {}))
        return f"Dask cluster {self.address} ({workers} worker(s))"

    def close(self) -> None:
        self.client.close()


def cluster_address(text: str) -> str:
    """A Dask scheduler's address as `tcp://HOST:PORT` (a bare `HOST:PORT` gets the tcp://); ValueError naming what
    is wrong. Checked here, before `distributed` is imported, so a typo is a message, not a wait."""
    from urllib.parse import urlsplit

    raw = text.strip()
    form = "give the scheduler's address as tcp://HOST:PORT"
    if "://" not in raw:
        raw = f"tcp://{raw}"
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ValueError(f"--cluster {text[:80]!r}: {form}") from None
    if parts.scheme != "tcp":
        raise ValueError(f"--cluster {text[:80]!r}: only tcp:// schedulers are supported; {form}")
    if not parts.hostname or port is None or port == 0 or parts.path or parts.query or parts.fragment \
            or parts.username is not None:
        raise ValueError(f"--cluster {text[:80]!r}: {form}")
    return raw


# -- the search -------------------------------------------------------------------------------------------------------
@dataclass
class Thresholds:
    min_oos_return_pct: float = 0.0  # mean out-of-sample return over the folds must be above this
    min_profit_factor: float = 1.1
    min_trades: int = 5

    def judge(self, folds: list[Fold], gross_win: float, gross_loss: float) -> tuple[bool, str]:
        scored = [f for f in folds if not f.skipped]
        if not scored:
            return False, "no fold could be scored: " + "; ".join(f.skipped for f in folds)
        missing = len(folds) - len(scored)
        unscored = f" ({missing} of {len(folds)} folds had no data)" if missing else ""
        mean = sum(f.out_of_sample_return_pct for f in scored) / len(scored)
        trades = sum(f.out_of_sample_trades for f in scored)
        pf = math.inf if gross_loss == 0 and gross_win > 0 else (gross_win / gross_loss if gross_loss else 0.0)
        problems = []
        if mean <= self.min_oos_return_pct:
            problems.append(f"out-of-sample return {mean:+.2f} % <= {self.min_oos_return_pct:g} %")
        if pf < self.min_profit_factor:
            problems.append(f"out-of-sample profit factor {pf:.2f} < {self.min_profit_factor:g}")
        if trades < self.min_trades:
            problems.append(f"{trades} out-of-sample trade(s) < {self.min_trades}")
        if problems:
            return False, "; ".join(problems) + unscored
        return True, f"out-of-sample return {mean:+.2f} % per fold, profit factor {pf:.2f}, {trades} trades{unscored}"


def optimize(data_dir: Path, exchange: str, symbols: Sequence[str], start_ms: int, end_ms: int,
             trading: dict[str, Any], params: list[dict[str, float]], job_fn: Callable[[Job], Score], *,
             folds: int = 3,
             thresholds: Thresholds | None = None, runner: LocalProcesses | DaskCluster | None = None,
             progress: Callable[[int, int], None] | None = None,
             cancelled: Callable[[], bool] | None = None) -> list[Preset]:
    """One preset per symbol (verified or not, with why)."""
    thresholds = thresholds or Thresholds()
    runner = runner or LocalProcesses()
    wins = windows(start_ms, end_ms, folds)
    keys = [tuple(sorted(p.items())) for p in params]
    jobs = [Job(str(data_dir), exchange, sym, key, w0, w1, trading)
            for sym in symbols for key in keys for w0, w1 in wins]
    results: dict[tuple[str, tuple, int], Score] = {}
    for n, score in enumerate(runner.map(job_fn, jobs), 1):
        j = score.job
        results[(j.symbol, j.params, j.start_ms)] = score
        if progress is not None:
            progress(n, len(jobs))
        if cancelled is not None and cancelled():
            raise KeyboardInterrupt
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    day = lambda ms: time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))
    presets = []
    for sym in symbols:
        errors = [s.error for (s_sym, _, _), s in results.items() if s_sym == sym and s.error]
        if len(errors) == len(keys) * len(wins):
            presets.append(Preset(exchange, sym, {}, False, f"no backtest ran: {errors[0]}", day(start_ms),
                                  day(end_ms), [], asdict(thresholds), stamp))
            continue
        fold_rows, win_sum, loss_sum, chosen = [], 0.0, 0.0, keys[0]
        for i in range(folds):
            train, test = wins[i], wins[i + 1]
            chosen = max(keys, key=lambda k: (_ret(results, sym, k, train[0]), -keys.index(k)))
            oos = results[(sym, chosen, test[0])]
            in_sample = results[(sym, chosen, train[0])]
            if in_sample.error or oos.error:  # nothing to choose on, or nothing to score on: not a 0 % fold
                why = (f"in-sample {day(train[0])}: {in_sample.error}" if in_sample.error else
                       f"out-of-sample {day(test[0])}: {oos.error}")
                fold_rows.append(Fold(train, test, dict(chosen), 0.0, 0.0, 0, 0.0, skipped=why[:300]))
                continue
            win_sum += oos.gross_win
            loss_sum += oos.gross_loss
            pf = math.inf if oos.gross_loss == 0 and oos.gross_win > 0 else (
                oos.gross_win / oos.gross_loss if oos.gross_loss else 0.0)
            fold_rows.append(Fold(train, test, dict(chosen), _ret(results, sym, chosen, train[0]),
                                  oos.return_pct, oos.trades, pf))
        # the preset: the parameters the newest window with data picks (the last fold's test window, unless empty)
        newest = next((w for w in reversed(wins) if not all(results[(sym, k, w[0])].error for k in keys)), wins[-1])
        final = max(keys, key=lambda k: (_ret(results, sym, k, newest[0]), -keys.index(k)))
        ok, why = thresholds.judge(fold_rows, win_sum, loss_sum)
        presets.append(Preset(exchange, sym, dict(final), ok, why, day(start_ms), day(end_ms), fold_rows,
                              asdict(thresholds), stamp))
    return presets


def _ret(results: dict, sym: str, key: tuple, start: int) -> float:
    s = results[(sym, key, start)]
    return -math.inf if s.error else s.return_pct


# -- preset files ------------------------------------------------------------------------------------------------------
def preset_path(data_dir: Path, exchange: str, symbol: str) -> Path:
    from ..core.names import check_exchange, check_symbol

    return Path(data_dir) / PRESET_DIR / check_exchange(exchange) / f"{check_symbol(symbol)}.json"


def write_preset(data_dir: Path, preset: Preset) -> Path:
    from ..files import write_text_atomic

    path = preset_path(data_dir, preset.exchange, preset.symbol)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, preset.to_json())
    return path


def read_presets(data_dir: Path, exchange: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Every preset file of `exchange` (as dicts), and the problems of the files that could not be read (a file is
    untrusted: bad JSON, wrong types, a symbol that does not match its file name)."""
    from ..core.names import check_exchange, check_symbol

    folder = Path(data_dir) / PRESET_DIR / check_exchange(exchange)
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    if not folder.is_dir():
        return out, problems
    for p in sorted(folder.glob("*.json")):
        try:
            # a FIFO or a device (a symlink to /dev/zero) would block the read or never end: regular files only,
            # of a preset's size
            if not stat.S_ISREG(p.stat().st_mode):
                raise ValueError("not a regular file")
            with open(p, "rb") as fh:
                raw = fh.read(MAX_PRESET_BYTES + 1)
            if len(raw) > MAX_PRESET_BYTES:
                raise ValueError(f"larger than {MAX_PRESET_BYTES:,} bytes; not a preset")
            data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
            if not isinstance(data, dict) or data.get("symbol") != p.stem or data.get("exchange") != exchange:
                raise ValueError("symbol or exchange does not match the file name")
            check_symbol(data["symbol"])
            if not isinstance(data.get("verified"), bool) or not isinstance(data.get("params"), dict):
                raise ValueError("'verified' or 'params' missing or of the wrong type")
            data["params"] = {k: _param(k, v) for k, v in data["params"].items() if k in TUNABLE}
            out.append(data)
        except (OSError, ValueError, TypeError, KeyError, RecursionError) as exc:  # RecursionError: [[[[...
            problems.append(f"{p}: {exc}")
    return out, problems


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a preset can hold")


def _param(key: str, value: Any) -> float:
    """A preset's parameter as a finite number (an integer for rsi_period); ValueError naming it. The ranges are
    the strategy's to check (verified_strategies)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= 1e15 \
        and math.isfinite(value) and (key != "rsi_period" or float(value).is_integer())
    if not ok:
        raise ValueError(f"params.{key}: {str(value)[:40]!r} is not a {'whole ' if key == 'rsi_period' else ''}"
                         "number")
    return float(value)


def verified_strategies(data_dir: Path, exchange: str, base) -> tuple[dict[str, Any], list[str]]:
    """{symbol: StrategyConfig} of the verified presets (each `base` with the preset's parameters); problems."""
    from dataclasses import replace

    out: dict[str, Any] = {}
    presets, problems = read_presets(data_dir, exchange)
    for data in presets:
        if not data["verified"]:
            continue
        try:
            params = {k: (int(v) if k == "rsi_period" else v) for k, v in data["params"].items()}
            out[data["symbol"]] = replace(base, **params)
        except (ValueError, TypeError) as exc:
            problems.append(f"{exchange} {data['symbol']}: preset parameters refused: {exc}")
    return out, problems


def parse_grid(items: Iterable[str]) -> dict[str, list[float]]:
    """`strategy.rsi_low=20,25,30` (or `rsi_low=...`) -> {"rsi_low": [20, 25, 30]}; ValueError naming the item."""
    out: dict[str, list[float]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip().removeprefix("strategy.")
        if not sep or key not in TUNABLE:
            raise ValueError(f"--grid {item[:60]!r}: expected PARAM=V1,V2,... with PARAM one of {', '.join(TUNABLE)}")
        try:
            nums = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"--grid {item[:60]!r}: values must be numbers") from None
        if not nums or not all(math.isfinite(v) for v in nums):
            raise ValueError(f"--grid {item[:60]!r}: give finite numbers")
        out[key] = nums
    return out


def sample(params: list[dict[str, float]], n: int | None, seed: int = 1) -> list[dict[str, float]]:
    if n is None or n >= len(params):
        return params
    return random.Random(seed).sample(params, n)
