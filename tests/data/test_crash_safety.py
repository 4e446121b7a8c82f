"""SIGKILL a writing process at random moments, 100 times: every file opens, no row is torn, and every candle
the writer reported as durable is there."""
import multiprocessing
import os
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds

from twinstar_gui.data.store import CandleStore

KILLS = 100
sys.path.insert(0, str(Path(__file__).parent))  # crash_writer, for the forkserver's children too
from crash_writer import BASE_MS, has_store, write_forever  # noqa: E402


def test_sigkill_at_random_moments_loses_nothing_reported_durable(tmp_path, monkeypatch):
    # Python 3.11's forkserver does not inherit sys.path and skips a preload it cannot import without a word
    here, root = str(Path(__file__).parent), str(Path(__file__).resolve().parents[2])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [here, root, os.environ.get("PYTHONPATH")])))
    rng = random.Random(7)
    durable_max = -1
    next_index = 0
    ctx = multiprocessing.get_context("forkserver")  # a clean process (no Qt, no threads) that forks writers
    ctx.set_forkserver_preload(["crash_writer"])
    assert _preloaded(ctx), "the forkserver did not preload the writer (each child would import for ~0.6 s)"
    for _ in range(KILLS):
        ours, theirs = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=write_forever, args=(str(tmp_path), next_index, theirs), daemon=True)
        proc.start()
        theirs.close()  # only the child holds the sending end: a read after its death ends with EOF
        assert ours.poll(30), "the writer did not start"
        reported = [ours.recv()]  # it has written once; now kill it at a random moment
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        assert proc.exitcode == -signal.SIGKILL
        while True:  # what it reported before dying; a report cut by the kill is not one
            try:
                reported.append(ours.recv())
            except (EOFError, OSError):
                break
        ours.close()
        durable_max = max([durable_max, *reported])
        # the next run continues after the last candle on disk (what the app does at start)
        last = CandleStore(tmp_path).last_timestamp("bybit", "BTCUSDT")
        next_index = (last - BASE_MS) // 900_000 + 1
    assert durable_max >= 0
    store = CandleStore(tmp_path)
    frame = store.load("bybit", "BTCUSDT")
    ts = frame["timestamp"].astype("int64").to_numpy()
    assert ts.max() >= durable_max, "a candle reported durable is missing"
    assert (np.diff(ts) == 900_000).all(), "torn, duplicated or missing rows"
    table = ds.dataset(tmp_path, format="parquet", partitioning="hive").to_table()  # every file opens
    assert table.num_rows == len(ts)
    leftovers = [p.name for p in tmp_path.rglob("*.tmp")]
    assert len(leftovers) <= 1, leftovers  # at most the temp file of the very last kill


def _preloaded(ctx) -> bool:
    ours, theirs = ctx.Pipe(duplex=False)
    p = ctx.Process(target=has_store, args=(theirs,))
    p.start()
    theirs.close()
    ok = ours.recv()
    p.join()
    return ok
