"""SIGKILL a writing process at random moments, 100 times: every file opens, no row is torn, and every candle
the writer reported as durable is there."""
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds

from twinstar_gui.data.store import CandleStore

KILLS = 100
CHILD = Path(__file__).with_name("crash_writer.py")


def test_sigkill_at_random_moments_loses_nothing_reported_durable(tmp_path):
    rng = random.Random(7)
    durable_max = -1
    next_index = 0
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for _ in range(KILLS):
        proc = subprocess.Popen([sys.executable, str(CHILD), str(tmp_path), str(next_index)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        first = proc.stdout.readline()  # wait until it writes, then kill it at a random moment
        assert first, "the writer did not start"
        time.sleep(rng.uniform(0.0, 0.05))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        reported = [int(x) for x in [first, *out.split()] if str(x).strip()]
        durable_max = max([durable_max, *reported])
        # the next run continues after the last candle on disk (what the app does at start)
        last = CandleStore(tmp_path).last_timestamp("bybit", "BTCUSDT")
        next_index = (last - 1_735_689_600_000) // 900_000 + 1
    store = CandleStore(tmp_path)
    frame = store.load("bybit", "BTCUSDT")
    ts = frame["timestamp"].astype("int64").to_numpy()
    assert ts.max() >= durable_max, "a candle reported durable is missing"
    assert (np.diff(ts) == 900_000).all(), "torn, duplicated or missing rows"
    table = ds.dataset(tmp_path, format="parquet", partitioning="hive").to_table()  # every file opens
    assert table.num_rows == len(ts)
    leftovers = [p.name for p in tmp_path.rglob("*.tmp")]
    assert len(leftovers) <= 1, leftovers  # at most the temp file of the very last kill
