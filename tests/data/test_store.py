import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from support.damage import scribble_over_pages

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
    part = pq.ParquetFile(tmp_path / "exchange=bybit/symbol=BTCUSDT/tf=15m/2025-01.parquet")
    assert part.metadata.row_group(0).column(1).compression == "ZSTD"
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
    assert sorted(p.name for p in path.parent.iterdir()) == [".journal.wal", ".writer.lock", "2025-01.parquet"]
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
    store.close()  # what a crash does to its lock; no compact() ever ran in the first store
    fresh = CandleStore(tmp_path)
    back = fresh.load("bybit", "BTCUSDT")
    assert back["open"].tolist() == [100.0, 101.0, 102.0]
    assert journal.stat().st_size == 0  # folded into the month file
    table = ds.dataset(tmp_path, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 3  # other tools see the compacted rows and never the journal


def _journal_of_ten(tmp_path):
    """A crashed writer's journal: ten live closes (one record each), never folded into a month file."""
    store = CandleStore(tmp_path)
    for i in range(10):
        store.append("bybit", "BTCUSDT", rows(i, 1, source="ws", price=100.0 + i))
    store.close()
    return tmp_path / "exchange=bybit/symbol=BTCUSDT/tf=15m/.journal.wal"


@pytest.mark.parametrize("bad_record, lost_at", [(0, "start"), (3, "middle"), (9, "end")])
def test_a_corrupt_journal_record_loses_only_itself_and_is_copied_aside(tmp_path, caplog, bad_record, lost_at):
    from twinstar_gui.data.candle_wal import RECORD_SIZE

    journal = _journal_of_ten(tmp_path)
    data = bytearray(journal.read_bytes())
    assert len(data) == 10 * RECORD_SIZE
    data[bad_record * RECORD_SIZE + 12] ^= 0xFF  # one flipped byte inside that record's prices
    journal.write_bytes(bytes(data))
    fresh = CandleStore(tmp_path)
    back = fresh.load("bybit", "BTCUSDT")
    assert back["open"].tolist() == [100.0 + i for i in range(10) if i != bad_record], lost_at
    (q,) = fresh.quarantined
    assert q.path == journal and "53 unreadable bytes skipped (up to 1 record(s) lost)" in q.reason
    assert "9 record(s) recovered" in q.reason
    assert q.moved_to.is_relative_to(tmp_path / "_quarantine") and q.moved_to.read_bytes() == bytes(data)
    assert any("damaged journal" in r.getMessage() and "up to 1 record(s) lost" in r.getMessage()
               for r in caplog.records)
    assert journal.stat().st_size == 0  # emptied only after the copy and the fold into the month file


def test_records_after_inserted_garbage_are_found_again(tmp_path):
    journal = _journal_of_ten(tmp_path)
    data = journal.read_bytes()
    from twinstar_gui.data.candle_wal import RECORD_SIZE

    # 7 stray bytes between records 4 and 5 (a torn write followed by later appends), and a torn tail
    journal.write_bytes(data[:5 * RECORD_SIZE] + b"\x00garbag" + data[5 * RECORD_SIZE:] + b"\x01\x02")
    fresh = CandleStore(tmp_path)
    assert fresh.load("bybit", "BTCUSDT")["open"].tolist() == [100.0 + i for i in range(10)]
    (q,) = fresh.quarantined
    assert "7 unreadable bytes skipped" in q.reason and "torn record of 2 bytes" in q.reason


def test_a_garbage_journal_is_copied_aside_not_just_emptied(tmp_path):
    store = CandleStore(tmp_path)
    store.append("bybit", "BTCUSDT", rows(0, 100, source="rest"))  # a month file
    store.close()
    journal = tmp_path / "exchange=bybit/symbol=BTCUSDT/tf=15m/.journal.wal"
    garbage = os.urandom(5000)
    journal.write_bytes(garbage)
    fresh = CandleStore(tmp_path)
    assert len(fresh.load("bybit", "BTCUSDT")) == 100  # the month file is untouched
    (q,) = fresh.quarantined
    assert q.moved_to.read_bytes() == garbage and "0 record(s) recovered" in q.reason
    assert journal.stat().st_size == 0


# -- damaged and foreign files: reported by path with the reason, moved aside (never deleted), the rest loads --
def _series(tmp_path):
    return tmp_path / "exchange=bybit/symbol=BTCUSDT/tf=15m"


def _quarantined_copy(store, original, replaced=False):
    (item,) = [q for q in store.quarantined if q.path == original]
    assert item.moved_to.is_relative_to(store.root / "_quarantine") and item.moved_to.exists()
    assert original.exists() == replaced
    return item


def test_corrupt_month_file_is_quarantined_and_the_rest_loads(tmp_path, caplog):
    CandleStore(tmp_path).append("bybit", "BTCUSDT", rows(0, 4000))  # January + February
    jan = _series(tmp_path) / "2025-01.parquet"
    garbage = b"this is not parquet at all" * 100
    jan.write_bytes(garbage)
    reports = []
    store = CandleStore(tmp_path, on_quarantine=reports.append)
    assert len(CandleStore(tmp_path).load_last("bybit", "BTCUSDT", 3000)) == 4000 - 2976  # what the app uses
    jan.write_bytes(garbage)
    back = store.load("bybit", "BTCUSDT")
    assert len(back) == 4000 - 2976 and back["timestamp"].iloc[0].month == 2
    item = _quarantined_copy(store, jan)
    assert reports == [item] and "unreadable Parquet" in item.reason and len(store.quarantined) == 1
    assert item.moved_to.read_bytes() == garbage  # renamed, not rewritten or deleted
    assert str(jan) in caplog.text and "unreadable Parquet" in caplog.text


def test_damaged_pages_behind_a_sound_footer_are_found_on_read(tmp_path):
    CandleStore(tmp_path).append("bybit", "BTCUSDT", rows(0, 4000))
    jan = _series(tmp_path) / "2025-01.parquet"
    scribble_over_pages(jan)
    store = CandleStore(tmp_path)
    assert pq.ParquetFile(jan).metadata.num_rows == 2976  # the footer still opens
    back = store.load("bybit", "BTCUSDT")
    assert len(back) == 4000 - 2976
    assert "unreadable Parquet" in _quarantined_copy(store, jan).reason


def test_foreign_parquet_files_are_quarantined(tmp_path):
    CandleStore(tmp_path).append("bybit", "BTCUSDT", rows(0, 100))
    other = pd.DataFrame({"date": pd.to_datetime([T0], unit="ms", utc=True), "open": [1.0], "high": [1.0],
                          "low": [1.0], "close": [1.0], "volume": [1.0]})
    freqtrade_style = _series(tmp_path) / "BTC_USDT-15m.parquet"
    other.to_parquet(freqtrade_style)
    wrong_schema = _series(tmp_path) / "2025-03.parquet"
    other.to_parquet(wrong_schema)
    wrong_month = _series(tmp_path) / "2025-07.parquet"
    wrong_month.write_bytes((_series(tmp_path) / "2025-01.parquet").read_bytes())
    store = CandleStore(tmp_path)
    assert len(store.load("bybit", "BTCUSDT")) == 100
    assert store.months("bybit", "BTCUSDT") == ["2025-01"]
    assert "not a month file" in _quarantined_copy(store, freqtrade_style).reason
    assert "foreign schema" in _quarantined_copy(store, wrong_schema).reason
    assert "rows of 2025-01..2025-01 in the file of 2025-07" in _quarantined_copy(store, wrong_month).reason


def test_tree_check_clears_the_way_for_other_tools(tmp_path):
    store = CandleStore(tmp_path)
    store.append("bybit", "BTCUSDT", rows(0, 300))
    store.append("okx", "BTC-USDT-SWAP", rows(0, 200))
    stray = tmp_path / "exchange=bybit" / "export.parquet"
    pd.DataFrame({"x": [1, 2]}).to_parquet(stray)
    broken = tmp_path / "exchange=okx/symbol=BTC-USDT-SWAP/tf=15m/2024-12.parquet"
    broken.write_bytes(b"PAR1 truncated")
    with pytest.raises(pa.ArrowException):
        ds.dataset(tmp_path, format="parquet", partitioning="hive").to_table()
    found = CandleStore(tmp_path).check_tree()
    assert sorted(q.path for q in found) == sorted([stray, broken])
    assert "layout" in [q for q in found if q.path == stray][0].reason
    table = ds.dataset(tmp_path, format="parquet", partitioning="hive").to_table()  # _quarantine is skipped
    assert table.num_rows == 500


def test_writing_into_a_corrupt_month_keeps_the_old_bytes_aside(tmp_path):
    CandleStore(tmp_path).append("bybit", "BTCUSDT", rows(0, 100))
    jan = _series(tmp_path) / "2025-01.parquet"
    jan.write_bytes(b"garbage")
    store = CandleStore(tmp_path, journaling=False)
    store.append("bybit", "BTCUSDT", rows(100, 5, source="ws"))
    back = store.load("bybit", "BTCUSDT")
    assert len(back) == 5 and (back["source"] == "ws").all()
    assert _quarantined_copy(store, jan, replaced=True).moved_to.read_bytes() == b"garbage"


# -- one writer per series, so several collectors can share one tree --------------------------------------
def test_a_series_has_one_writer_and_readers_still_see_its_journal(tmp_path):
    from twinstar_gui.data.store import SeriesBusy

    writer = CandleStore(tmp_path)
    writer.append("bybit", "BTCUSDT", rows(0, 100))  # month file
    writer.append("bybit", "BTCUSDT", rows(100, 2, source="ws"))  # journaled, not folded yet
    other = CandleStore(tmp_path)  # e.g. a second collector on the same tree
    with pytest.raises(SeriesBusy, match=f"bybit BTCUSDT 15m: already being written by pid {os.getpid()}"):
        other.append("bybit", "BTCUSDT", rows(102, 1, source="ws"))
    other.append("bybit", "ETHUSDT", rows(0, 1))  # other series are free
    back = other.load("bybit", "BTCUSDT")  # read-only: month file + the writer's journal, merged in memory
    assert len(back) == 102 and back["source"].iloc[-1] == "ws"
    assert other.last_timestamp("bybit", "BTCUSDT") == T0 + 101 * Q
    assert len(other.load_last("bybit", "BTCUSDT", 10)) == 10
    assert (writer.series_dir("bybit", "BTCUSDT") / ".journal.wal").stat().st_size > 0  # the reader left it alone
    writer.close()
    other.append("bybit", "BTCUSDT", rows(102, 1, source="ws"))  # free again: taken over, journal replayed
    assert len(other.load("bybit", "BTCUSDT")) == 103


def test_sound_records_are_found_inside_megabytes_of_garbage(tmp_path):
    journal = _journal_of_ten(tmp_path)
    records = journal.read_bytes()
    rng = np.random.default_rng(5)
    noise = lambda n: rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    journal.write_bytes(noise(2_000_003) + records[:265] + noise(17) + records[265:] + noise(1_000_001))
    fresh = CandleStore(tmp_path)
    assert fresh.load("bybit", "BTCUSDT")["open"].tolist() == [100.0 + i for i in range(10)]
    (q,) = fresh.quarantined
    assert "10 record(s) recovered" in q.reason and "unreadable bytes skipped" in q.reason


def test_a_fifo_or_a_folder_in_the_dataset_is_moved_aside_without_blocking(tmp_path):
    """Opening a FIFO blocks for ever: a month file or a journal that is not a regular file is quarantined."""
    store = CandleStore(tmp_path)
    store.append("bybit", "BTCUSDT", rows(0, 100, source="rest"))  # 2025-01
    store.close()
    d = _series(tmp_path)
    os.mkfifo(d / "2025-02.parquet")
    os.mkfifo(d / ".journal.wal")
    fresh = CandleStore(tmp_path)
    found = fresh.check_tree()
    assert [(q.path.name, q.reason) for q in found] == [("2025-02.parquet", "not a regular file")]
    assert len(fresh.load("bybit", "BTCUSDT")) == 100
    fresh.append("bybit", "BTCUSDT", rows(100, 1, source="ws"))  # the journal: a FIFO was in its place
    assert (d / ".journal.wal").is_file() and any(q.path.name == ".journal.wal" for q in fresh.quarantined)
    fresh.close()
    (d / ".journal.wal").unlink()
    (d / ".journal.wal").mkdir()  # a folder in the journal's place
    again = CandleStore(tmp_path)
    assert len(again.load("bybit", "BTCUSDT")) == 100  # the journaled row went with the removed journal file
    again.append("bybit", "BTCUSDT", rows(101, 1, source="ws"))
    assert (d / ".journal.wal").is_file() and [q.reason for q in again.quarantined] == ["not a regular file"]


def test_a_damaged_journal_is_copied_aside_once_while_its_fold_keeps_failing(tmp_path, monkeypatch):
    journal = _journal_of_ten(tmp_path)
    data = bytearray(journal.read_bytes())
    data[20] ^= 0xFF
    journal.write_bytes(bytes(data))
    store = CandleStore(tmp_path)
    fail = {"on": True}
    original = store._merge_into_months

    def flaky_merge(key, new):  # the month file cannot be written (a disk full) until `fail` is lifted
        if fail["on"]:
            raise OSError(28, "No space left on device")
        return original(key, new)

    monkeypatch.setattr(store, "_merge_into_months", flaky_merge)
    for _ in range(3):  # the writer retries the fold when idle
        with pytest.raises(OSError):
            store.load("bybit", "BTCUSDT")
    assert len(store.quarantined) == 1 and len(list((tmp_path / "_quarantine").rglob("journal.wal.*"))) == 1
    fail["on"] = False
    assert store.load("bybit", "BTCUSDT")["open"].tolist() == [100.0 + i for i in range(1, 10)]


def test_a_journal_record_with_a_right_crc_but_impossible_values_is_not_a_candle(tmp_path):
    import zlib

    from twinstar_gui.data.candle_wal import _BODY, _RECORD

    journal = _journal_of_ten(tmp_path)
    good = journal.read_bytes()

    def forged(ts, o, h, l, c, v):  # a record written by something else, with its own valid CRC
        body = np.zeros(1, _BODY)
        body["ts"], body["ohlcv"], body["src"] = ts, [[o, h, l, c, v]], 0
        rec = np.zeros(1, _RECORD)
        rec["body"], rec["crc"] = body, zlib.crc32(body.tobytes())
        return rec.tobytes()

    bad = [forged(T0 + 20 * Q, -5.0, 1.0, 1.0, 1.0, 1.0), forged(T0 + 21 * Q, 1.0, 0.5, 2.0, 1.0, 1.0),
           forged(T0 + 22 * Q, 1.0, 2.0, 0.5, 1.0, -3.0), forged(T0 + 23 * Q + 1, 1.0, 2.0, 0.5, 1.0, 1.0)]
    journal.write_bytes(good + b"".join(bad))
    fresh = CandleStore(tmp_path)
    assert fresh.load("bybit", "BTCUSDT")["open"].tolist() == [100.0 + i for i in range(10)]
    (q,) = fresh.quarantined
    assert "up to 4 record(s) lost" in q.reason
