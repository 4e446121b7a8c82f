"""Per-series write-ahead journal: a closed candle is durable after one small append + fdatasync.

Records are fixed-size with a CRC each, so a crash mid-write leaves at most one torn record at the end,
which is ignored. The store folds the journal into the month files (atomic rewrite) when the writer is idle,
then empties it; replaying a journal whose rows already reached the month files is harmless (same rows).
The file name starts with a dot, so Parquet readers of the dataset tree skip it.
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np

JOURNAL_NAME = ".journal.wal"
_BODY = np.dtype([("ts", "<i8"), ("ohlcv", "<f8", (5,)), ("src", "i1")])
_RECORD = np.dtype([("body", _BODY), ("crc", "<u4")])


class SeriesJournal:
    def __init__(self, directory: Path) -> None:
        self.path = directory / JOURNAL_NAME
        self._fh = None

    def append(self, ts: np.ndarray, ohlcv: np.ndarray, src: np.ndarray) -> None:
        body = np.empty(len(ts), _BODY)
        body["ts"], body["ohlcv"], body["src"] = ts, ohlcv, src
        recs = np.empty(len(ts), _RECORD)
        recs["body"] = body
        raw = body.tobytes()
        size = _BODY.itemsize
        recs["crc"] = [zlib.crc32(raw[i * size:(i + 1) * size]) for i in range(len(ts))]
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab")
        self._fh.write(recs.tobytes())
        self._fh.flush()
        os.fdatasync(self._fh.fileno())

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every intact record, in write order (a torn or corrupt tail is dropped)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        n = len(data) // _RECORD.itemsize
        recs = np.frombuffer(data[: n * _RECORD.itemsize], _RECORD)
        raw = recs["body"].tobytes()
        size = _BODY.itemsize
        good = 0
        for i in range(n):
            if zlib.crc32(raw[i * size:(i + 1) * size]) != recs["crc"][i]:
                break
            good += 1
        b = recs["body"][:good]
        return b["ts"].copy(), b["ohlcv"].copy().reshape(-1, 5), b["src"].copy()

    def has_records(self) -> bool:
        try:
            return self.path.stat().st_size >= _RECORD.itemsize
        except FileNotFoundError:
            return False

    def clear(self) -> None:
        self.close()
        try:
            with open(self.path, "r+b") as fh:
                fh.truncate(0)
                os.fsync(fh.fileno())
        except FileNotFoundError:
            pass

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
