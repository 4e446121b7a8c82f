"""CandleStore.load_last_rows: the newest candles as an (n, 6) array straight from Parquet (no pandas, no dataset
layer), equal to load_last, with the same handling of damaged, foreign and journaled data."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.damage import scribble_over_pages

from twinstar_gui.data.store import CandleStore

T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC
Q = 900_000
ROOT = Path(__file__).resolve().parents[2]


def rows(start_idx, n, source="rest", price=100.0):
    ts = T0 + (start_idx + np.arange(n)) * Q
    p = price + np.arange(n, dtype=float)
    return pd.DataFrame({"timestamp": ts, "open": p, "high": p + 1, "low": p - 1, "close": p + 0.5,
                         "volume": np.full(n, 2.5), "source": source})


def as_array(frame):
    """load_last's frame in load_last_rows' layout."""
    ms = frame["timestamp"].astype("datetime64[ms, UTC]").astype("int64").to_numpy().astype(np.float64)
    return np.column_stack([ms] + [frame[c].to_numpy(np.float64) for c in ("open", "high", "low", "close", "volume")])


def series(root):
    return root / "exchange=bybit/symbol=BTCUSDT/tf=15m"


@pytest.mark.parametrize("n", [0, 1, 10, 1000, 2976, 3000, 4000, 9999])
def test_equal_to_load_last_across_months(tmp_path, n):
    store = CandleStore(tmp_path)
    store.append("bybit", "BTCUSDT", rows(0, 4000))  # January + February
    got = CandleStore(tmp_path).load_last_rows("bybit", "BTCUSDT", n)
    assert got.dtype == np.float64 and got.shape == (min(n, 4000), 6)
    np.testing.assert_array_equal(got, as_array(CandleStore(tmp_path).load_last("bybit", "BTCUSDT", n)))
    if n:
        assert got[-1, 0] == T0 + 3999 * Q and got[-1, 4] == 100.0 + 3999 + 0.5


def test_nothing_stored_is_an_empty_array(tmp_path):
    assert CandleStore(tmp_path).load_last_rows("bybit", "BTCUSDT", 10).shape == (0, 6)


def test_journaled_rows_and_the_source_rule_are_merged_in(tmp_path):
    """Live closes sit in the journal until compaction; a reader that is not the writer merges them in memory,
    and a ws row beats a later rest row of the same time."""
    writer = CandleStore(tmp_path)
    writer.append("bybit", "BTCUSDT", rows(0, 100))  # month file
    writer.append("bybit", "BTCUSDT", rows(99, 3, source="ws", price=500.0))  # journaled: replaces row 99
    writer.append("bybit", "BTCUSDT", rows(101, 1, source="rest", price=900.0))  # loses to the ws row
    reader = CandleStore(tmp_path)
    got = reader.load_last_rows("bybit", "BTCUSDT", 5)
    np.testing.assert_array_equal(got, as_array(reader.load_last("bybit", "BTCUSDT", 5)))
    assert got[:, 0].tolist() == [T0 + i * Q for i in range(97, 102)]
    assert got[:, 1].tolist() == [197.0, 198.0, 500.0, 501.0, 502.0]
    writer.close()
    own = CandleStore(tmp_path)  # now the writer: the journal is folded into the month file first
    np.testing.assert_array_equal(own.load_last_rows("bybit", "BTCUSDT", 5), got)


def test_a_corrupt_month_is_quarantined_and_the_rest_loads(tmp_path):
    CandleStore(tmp_path).append("bybit", "BTCUSDT", rows(0, 4000))
    jan = series(tmp_path) / "2025-01.parquet"
    jan.write_bytes(b"this is not parquet at all" * 100)
    reports = []
    store = CandleStore(tmp_path, on_quarantine=reports.append)
    got = store.load_last_rows("bybit", "BTCUSDT", 3000)
    assert len(got) == 4000 - 2976 and got[0, 0] == T0 + 2976 * Q  # February only
    assert [q.path for q in reports] == [jan] and "unreadable Parquet" in reports[0].reason
    assert not jan.exists() and reports[0].moved_to.exists()


def test_damaged_pages_behind_a_sound_footer_are_found(tmp_path):
    CandleStore(tmp_path).append("bybit", "BTCUSDT", rows(0, 4000))
    jan = series(tmp_path) / "2025-01.parquet"
    scribble_over_pages(jan)
    store = CandleStore(tmp_path)
    got = store.load_last_rows("bybit", "BTCUSDT", 4000)
    assert len(got) == 4000 - 2976
    assert [q.path for q in store.quarantined] == [jan] and "unreadable Parquet" in store.quarantined[0].reason


def test_a_foreign_file_in_a_month_name_is_quarantined(tmp_path):
    CandleStore(tmp_path).append("bybit", "BTCUSDT", rows(0, 100))
    other = pd.DataFrame({"date": pd.to_datetime([T0 + 3000 * Q], unit="ms", utc=True), "open": [1.0],
                          "high": [1.0], "low": [1.0], "close": [1.0], "volume": [1.0]})
    foreign = series(tmp_path) / "2025-02.parquet"
    other.to_parquet(foreign)
    store = CandleStore(tmp_path)
    got = store.load_last_rows("bybit", "BTCUSDT", 1000)
    assert len(got) == 100 and got[-1, 0] == T0 + 99 * Q
    assert [q.path for q in store.quarantined] == [foreign] and "foreign schema" in store.quarantined[0].reason


def test_rows_of_another_month_are_quarantined_as_load_last_does(tmp_path):
    """The newest file holds January's rows under July's name: both readers move it aside (its rows never pass for
    July's) and find January on the next read."""
    results = {}
    for reader in ("load_last_rows", "load_last"):
        root = tmp_path / reader
        CandleStore(root).append("bybit", "BTCUSDT", rows(0, 100))
        misplaced = series(root) / "2025-07.parquet"
        misplaced.write_bytes((series(root) / "2025-01.parquet").read_bytes())
        store = CandleStore(root)
        load = getattr(store, reader)
        first, second = load("bybit", "BTCUSDT", 50), load("bybit", "BTCUSDT", 50)
        assert [q.path for q in store.quarantined] == [misplaced]
        assert "rows of 2025-01..2025-01 in the file of 2025-07" in store.quarantined[0].reason
        results[reader] = (first, second)
    (rows_first, rows_second), (frame_first, frame_second) = results["load_last_rows"], results["load_last"]
    assert len(rows_first) == len(frame_first) == 0
    np.testing.assert_array_equal(rows_second, as_array(frame_second))
    assert rows_second[-1, 0] == T0 + 99 * Q


def test_written_and_read_without_pandas_or_the_dataset_layer(tmp_path):
    """What the collector and the window's start do with the store (live closes in, compaction, the newest
    window out) imports neither pandas nor pyarrow.dataset nor pyarrow.compute."""
    code = f"""
import sys
from twinstar_gui.core.models import Candle
from twinstar_gui.data.store import CandleStore, Rows
store = CandleStore({str(tmp_path)!r})
candles = [Candle({T0} + i * {Q}, 1.0 + i, 2.0 + i, 0.5 + i, 1.5 + i, 3.0) for i in range(3000)]
store.append("bybit", "BTCUSDT", Rows.from_candles(candles[:2990], "backfill"))
for c in candles[2990:]:
    store.append("bybit", "BTCUSDT", Rows.from_candles([c], "ws"))
store.compact()
got = store.load_last_rows("bybit", "BTCUSDT", 1000)
assert got.shape == (1000, 6) and got[-1, 0] == {T0} + 2999 * {Q}, got[-1]
print(sorted(m for m in ("pandas", "pyarrow.dataset", "pyarrow.compute") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    back = CandleStore(tmp_path).load("bybit", "BTCUSDT")  # and the files are what pandas readers expect
    assert len(back) == 3000 and back["source"].iloc[-1] == "ws" and back["source"].iloc[0] == "backfill"
