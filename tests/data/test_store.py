import os

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from twinstar_gui.data.store import CandleStore

T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC
Q = 900_000


def rows(start_idx, n, source="rest", price=100.0):
    ts = T0 + (start_idx + np.arange(n)) * Q
    p = price + np.arange(n, dtype=float)
    return pd.DataFrame({"timestamp": ts, "open": p, "high": p + 1, "low": p - 1, "close": p + 0.5,
                         "volume": np.full(n, 2.5), "source": source})


def test_round_trip_layout_and_schema(tmp_path):
    store = CandleStore(tmp_path)
    n = 4000  # ~41 days: two month files
    store.append("bybit", "BTCUSDT", rows(0, n))
    assert store.months("bybit", "BTCUSDT") == ["2025-01", "2025-02"]
    assert (tmp_path / "exchange=bybit/symbol=BTCUSDT/tf=15m/2025-01.parquet").exists()
    back = store.load("bybit", "BTCUSDT")
    assert len(back) == n and back["timestamp"].is_monotonic_increasing and back["timestamp"].is_unique
    assert str(back["timestamp"].dtype) == "datetime64[ms, UTC]"
    np.testing.assert_array_equal(back["close"], rows(0, n)["close"])
    meta = pq.read_schema(tmp_path / "exchange=bybit/symbol=BTCUSDT/tf=15m/2025-01.parquet").metadata
    assert meta[b"twinstar.schema_version"] == b"1"
    assert pq.ParquetFile(tmp_path / "exchange=bybit/symbol=BTCUSDT/tf=15m/2025-01.parquet").metadata.row_group(0).column(1).compression == "ZSTD"
    assert store.last_timestamp("bybit", "BTCUSDT") == T0 + (n - 1) * Q
    assert len(store.load_last("bybit", "BTCUSDT", 1000)) == 1000
    assert store.load_last("bybit", "BTCUSDT", 1000)["timestamp"].iloc[-1].value // 10**6 == T0 + (n - 1) * Q


def test_other_tools_read_the_tree_without_our_code(tmp_path):
    store = CandleStore(tmp_path)
    store.append("bybit", "BTCUSDT", rows(0, 3000))
    store.append("bybit", "ETHUSDT", rows(0, 100, price=2000.0))
    table = ds.dataset(tmp_path, format="parquet", partitioning="hive").to_table()
    frame = table.to_pandas()
    assert len(frame) == 3100
    assert not frame.duplicated(["symbol", "timestamp"]).any()
    assert set(frame["symbol"]) == {"BTCUSDT", "ETHUSDT"}


def test_append_touches_only_its_month(tmp_path):
    store = CandleStore(tmp_path)
    store.append("bybit", "BTCUSDT", rows(0, 4000))
    jan = tmp_path / "exchange=bybit/symbol=BTCUSDT/tf=15m/2025-01.parquet"
    feb = jan.with_name("2025-02.parquet")
    before = (jan.stat().st_ino, jan.stat().st_mtime_ns)
    feb_before = feb.stat().st_mtime_ns
    assert store.append("bybit", "BTCUSDT", rows(4000, 1, source="ws")) == []  # journaled: durable already
    assert store.compact() == 1
    assert (jan.stat().st_ino, jan.stat().st_mtime_ns) == before
    assert feb.stat().st_mtime_ns != feb_before
    assert store.append("bybit", "BTCUSDT", rows(4001, 100, source="rest")) == ["2025-02"]  # a burst: direct


def test_dedupe_rule_ws_final_beats_rest_and_later_wins(tmp_path):
    store = CandleStore(tmp_path)
    store.append("bybit", "BTCUSDT", rows(0, 3, source="ws", price=100))
    store.append("bybit", "BTCUSDT", rows(1, 3, source="rest", price=500))  # rest must not replace ws 1..2
    back = store.load("bybit", "BTCUSDT")
    assert back["source"].tolist() == ["ws", "ws", "ws", "rest"]
    assert back["open"].tolist() == [100, 101, 102, 502]
    store.append("bybit", "BTCUSDT", rows(3, 1, source="rest", price=7))  # same rank: later write wins
    assert store.load("bybit", "BTCUSDT")["open"].iloc[-1] == 7


def test_unsorted_input_comes_back_sorted(tmp_path):
    store = CandleStore(tmp_path)
    store.append("bybit", "BTCUSDT", rows(0, 50).sample(frac=1, random_state=1))
    assert store.load("bybit", "BTCUSDT")["timestamp"].is_monotonic_increasing


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    store = CandleStore(tmp_path)
    store.append("bybit", "BTCUSDT", rows(0, 10))
    store.compact()
    path = tmp_path / "exchange=bybit/symbol=BTCUSDT/tf=15m/2025-01.parquet"
    original = path.read_bytes()

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    store.append("bybit", "BTCUSDT", rows(10, 5, source="ws"))  # journaled
    with pytest.raises(OSError, match="No space"):
        store.compact()
    assert path.read_bytes() == original  # the month file is untouched
    assert sorted(p.name for p in path.parent.iterdir()) == [".journal.wal", "2025-01.parquet"]
    monkeypatch.undo()
    store2 = CandleStore(tmp_path)  # a fresh process: the journal is replayed, nothing lost
    assert len(store2.load("bybit", "BTCUSDT")) == 15


def test_range_load(tmp_path):
    store = CandleStore(tmp_path)
    store.append("bybit", "BTCUSDT", rows(0, 4000))
    part = store.load("bybit", "BTCUSDT", start_ms=T0 + 10 * Q, end_ms=T0 + 19 * Q)
    assert len(part) == 10
    assert store.load("bybit", "NOPE").empty


def test_bad_source_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown candle source"):
        CandleStore(tmp_path).append("bybit", "BTCUSDT", rows(0, 1, source="guess"))


def test_journal_survives_a_crash_and_a_torn_tail_is_ignored(tmp_path):
    store = CandleStore(tmp_path)
    store.append("bybit", "BTCUSDT", rows(0, 3, source="ws"))
    journal = tmp_path / "exchange=bybit/symbol=BTCUSDT/tf=15m/.journal.wal"
    assert journal.stat().st_size > 0
    with open(journal, "ab") as fh:
        fh.write(b"\x01\x02\x03")  # a record cut short by a crash
    fresh = CandleStore(tmp_path)  # no compact() ever ran in the first store
    back = fresh.load("bybit", "BTCUSDT")
    assert back["open"].tolist() == [100.0, 101.0, 102.0]
    assert journal.stat().st_size == 0  # folded into the month file
    table = ds.dataset(tmp_path, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 3  # other tools see the compacted rows and never the journal


def test_corrupt_journal_record_stops_the_replay(tmp_path):
    store = CandleStore(tmp_path)
    store.append("bybit", "BTCUSDT", rows(0, 2, source="ws"))
    store.append("bybit", "BTCUSDT", rows(2, 2, source="ws"))
    journal = tmp_path / "exchange=bybit/symbol=BTCUSDT/tf=15m/.journal.wal"
    data = bytearray(journal.read_bytes())
    data[len(data) // 2 + 10] ^= 0xFF  # flip a byte inside the third record
    journal.write_bytes(bytes(data))
    assert CandleStore(tmp_path).load("bybit", "BTCUSDT")["open"].tolist() == [100.0, 101.0]
