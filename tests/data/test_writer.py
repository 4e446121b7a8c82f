import threading

import numpy as np
import pandas as pd

from twinstar_gui.data.store import CandleStore
from twinstar_gui.data.writer import CandleWriter, WriteJob

T0 = 1_735_689_600_000
Q = 900_000


def one(i, source="ws"):
    return pd.DataFrame({"timestamp": [T0 + i * Q], "open": [1.0 + i], "high": [2.0 + i], "low": [0.5], "close": [1.5],
                         "volume": [3.0], "source": [source]})


def test_writes_happen_off_the_calling_thread_and_close_flushes(tmp_path):
    seen_threads = set()

    class SpyStore(CandleStore):
        def append(self, *a, **kw):
            seen_threads.add(threading.current_thread().name)
            return super().append(*a, **kw)

    store = SpyStore(tmp_path)
    durable = []
    w = CandleWriter(store, on_durable=durable.append)
    for i in range(300):
        w.submit(WriteJob("bybit", "BTCUSDT", one(i)))
    assert w.close(timeout=30)
    assert seen_threads == {"candle-writer"}
    back = CandleStore(tmp_path).load("bybit", "BTCUSDT")
    assert len(back) == 300 and len(durable) == 300
    np.testing.assert_array_equal(back["open"], 1.0 + np.arange(300))


def test_failed_write_stays_queued_until_the_disk_recovers(tmp_path):
    fail = {"left": 2}

    class FlakyStore(CandleStore):
        def append(self, *a, **kw):
            if fail["left"]:
                fail["left"] -= 1
                raise OSError(28, "No space left on device")
            return super().append(*a, **kw)

    w = CandleWriter(FlakyStore(tmp_path), retry_delay=0.01)
    w.submit(WriteJob("bybit", "BTCUSDT", one(0)))
    assert w.flush(timeout=10)
    assert "No space" in w.last_error
    assert len(CandleStore(tmp_path).load("bybit", "BTCUSDT")) == 1
    w.close()
