"""Child process for the crash test: appends candles forever, reporting each timestamp once it is durable.

It runs in a process forked from a multiprocessing forkserver that has the store (pandas, pyarrow) imported
already, so each of the 100 children starts in milliseconds instead of re-importing for half a second."""
import sys

import pandas as pd

from twinstar_gui.data.store import CandleStore

BASE_MS = 1_735_689_600_000


def write_forever(root: str, start: int, conn) -> None:
    store = CandleStore(root)
    i = start
    while True:
        ts = BASE_MS + i * 900_000
        rows = pd.DataFrame({"timestamp": [ts], "open": [100.0 + i], "high": [101.0 + i], "low": [99.0 + i],
                             "close": [100.5 + i], "volume": [1.0], "source": ["ws"]})
        if i % 7 == 0:  # now and then a bigger batch, which goes straight into the month file
            more = [ts + k * 900_000 for k in range(1, 80)]
            rows = pd.concat([rows, pd.DataFrame({"timestamp": more, "open": 1.0, "high": 2.0, "low": 0.5,
                                                  "close": 1.5, "volume": 1.0, "source": "rest"})], ignore_index=True)
            i += 79
        store.append("bybit", "BTCUSDT", rows)
        if i % 5 == 0:
            store.compact()  # what the writer thread does when idle
        conn.send(int(rows["timestamp"].max()))  # durable: append returned after fdatasync/rename
        i += 1


def has_store(conn) -> None:
    """Tells the test whether this child came with the store already imported (the preload worked)."""
    conn.send("twinstar_gui.data.store" in sys.modules)
