"""Per-series write-ahead journal: a closed candle is durable after one small append + fdatasync.

Records are fixed-size with a CRC each. Replay keeps every record it can prove: a record whose CRC or values
are wrong is skipped and the reader resynchronises on the next offset where a whole valid record starts (a
crash mid-write leaves a torn tail; a flipped byte spoils one record, not the ones after it). What could not be
read is counted, so the store can copy the damaged journal aside before it folds the rest into the month files.
The file name starts with a dot, so Parquet readers of the dataset tree skip it.
"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

JOURNAL_NAME = ".journal.wal"
_BODY = np.dtype([("ts", "<i8"), ("ohlcv", "<f8", (5,)), ("src", "i1")])
_RECORD = np.dtype([("body", _BODY), ("crc", "<u4")])
RECORD_SIZE = _RECORD.itemsize
_BODY_SIZE = _BODY.itemsize
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01: a later open time is not a candle of ours
SOURCE_CODES = 3  # ws, rest, backfill (store.SOURCES)


@dataclass(frozen=True, slots=True)
class Replay:
    """What a journal holds: the records that passed their checks, in write order, and what did not."""

    ts: np.ndarray
    ohlcv: np.ndarray
    src: np.ndarray
    lost_records: int = 0  # at most this many records were in the bad spans (each span rounded up)
    torn_bytes: int = 0  # an incomplete record at the end (a write cut by a crash)
    bad_bytes: int = 0  # bytes skipped before the end (corrupt records, stray bytes)

    @property
    def damaged(self) -> bool:
        return bool(self.bad_bytes or self.torn_bytes)

    def reason(self) -> str:
        parts = []
        if self.bad_bytes:
            parts.append(f"{self.bad_bytes} unreadable bytes skipped (up to {self.lost_records} record(s) lost)")
        if self.torn_bytes:
            parts.append(f"a torn record of {self.torn_bytes} bytes at the end (a write cut short)")
        return "; ".join(parts) + f"; {len(self.ts)} record(s) recovered"


class SeriesJournal:
    def __init__(self, directory: Path) -> None:
        self.path = directory / JOURNAL_NAME
        self._fh: BinaryIO | None = None

    def append(self, ts: np.ndarray, ohlcv: np.ndarray, src: np.ndarray) -> None:
        body = np.empty(len(ts), _BODY)
        body["ts"], body["ohlcv"], body["src"] = ts, ohlcv, src
        recs = np.empty(len(ts), _RECORD)
        recs["body"] = body
        raw = body.tobytes()
        recs["crc"] = [zlib.crc32(raw[i * _BODY_SIZE:(i + 1) * _BODY_SIZE]) for i in range(len(ts))]
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab")
        self._fh.write(recs.tobytes())
        self._fh.flush()
        os.fdatasync(self._fh.fileno())

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every intact record, in write order."""
        r = self.replay()
        return r.ts, r.ohlcv, r.src

    def replay(self) -> Replay:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        return replay_bytes(data)

    def has_records(self) -> bool:
        try:
            return self.path.stat().st_size > 0
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
        fh, self._fh = self._fh, None
        if fh is not None:
            fh.close()


def replay_bytes(data: bytes) -> Replay:
    """The records of a journal's bytes. The common case (every record whole and sound) is checked in one pass;
    otherwise every offset is a candidate start: cheap checks on all of them at once (the open time and the
    source code must be plausible), then the CRC on the few that pass, so a large garbage file costs little."""
    n = len(data) // RECORD_SIZE
    recs = np.frombuffer(data[: n * RECORD_SIZE], _RECORD)
    if n and len(data) == n * RECORD_SIZE and bool(_sound(data, recs).all()):
        return _rows(recs["body"])
    good: list[int] = []  # offsets of sound records, in order, not overlapping
    lost = bad = 0
    pos = 0  # everything before this is accounted for
    for start in _plausible_offsets(data):
        if start < pos or not _sound_at(data, start):
            continue
        if start > pos:  # a bad span before this record
            lost += -(-(start - pos) // RECORD_SIZE)
            bad += start - pos
        good.append(start)
        pos = start + RECORD_SIZE
    tail = len(data) - pos  # after the last sound record: whole records' worth are lost, the rest is torn
    lost += tail // RECORD_SIZE
    bad += tail - tail % RECORD_SIZE
    if good:
        idx = np.array(good)
        buf = np.frombuffer(data, np.uint8)
        body = np.frombuffer(buf[idx[:, None] + np.arange(RECORD_SIZE)].tobytes(), _RECORD)["body"]
    else:
        body = np.empty(0, _BODY)
    return _rows(body, lost, tail % RECORD_SIZE, bad)


def _plausible_offsets(data: bytes) -> np.ndarray:
    """Offsets where a record could start: its open time in range and its source code valid (vectorised)."""
    count = len(data) - RECORD_SIZE + 1
    if count <= 0:
        return np.empty(0, np.int64)
    ts = np.ndarray((count,), "<i8", buffer=data, offset=0, strides=(1,))  # an int64 read at every offset
    # numpy types dtype.fields as optional; a record dtype has them
    src = np.frombuffer(data, np.int8)[_BODY.fields["src"][1]:][:count]  # type: ignore[index]
    return np.flatnonzero((ts >= 0) & (ts <= MAX_TS_MS) & (src >= 0) & (src < SOURCE_CODES))


def _rows(body: np.ndarray, lost: int = 0, torn: int = 0, bad: int = 0) -> Replay:
    return Replay(body["ts"].copy(), body["ohlcv"].copy().reshape(-1, 5), body["src"].copy(), lost, torn, bad)


def _sound(data: bytes, recs: np.ndarray) -> np.ndarray:
    """Per aligned record: CRC matches and the values could be ours (an open time on a whole minute, a known
    source, a consistent candle: low <= open, close <= high, positive prices, volume >= 0)."""
    crc = np.fromiter((zlib.crc32(data[i * RECORD_SIZE:i * RECORD_SIZE + _BODY_SIZE]) for i in range(len(recs))),
                      np.uint32, len(recs))
    body = recs["body"]
    o, h, l, c, v = (body["ohlcv"][:, i] for i in range(5))
    with np.errstate(invalid="ignore"):  # NaN compares False: refused below either way
        candle = ((l <= np.minimum(o, c)) & (np.maximum(o, c) <= h) & (v >= 0) & (l > 0)
                  & np.isfinite(body["ohlcv"]).all(axis=1))
    sound: np.ndarray = ((crc == recs["crc"]) & (body["ts"] >= 0) & (body["ts"] <= MAX_TS_MS)
                         & (body["ts"] % 60_000 == 0) & (body["src"] >= 0) & (body["src"] < SOURCE_CODES) & candle)
    return sound


def _sound_at(data: bytes, pos: int) -> bool:
    crc = int.from_bytes(data[pos + _BODY_SIZE:pos + RECORD_SIZE], "little")
    if zlib.crc32(data[pos:pos + _BODY_SIZE]) != crc:
        return False
    rec = np.frombuffer(data, _RECORD, count=1, offset=pos)
    return bool(_sound(data[pos:pos + RECORD_SIZE], rec)[0])
