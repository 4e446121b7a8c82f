"""Parquet candle dataset: <root>/exchange=<x>/symbol=<s>/tf=<tf>/<yyyy-mm>.parquet, zstd, atomic writes.

Writing and `load_last_rows` go through pyarrow.parquet and numpy only: pandas (`load`, `load_last`) and pyarrow's
dataset layer (their fast multi-file scan) are imported on first use. Arrow's own `pa.array` and `to_numpy` import
pandas, so the columns go to and from Arrow by their buffers here."""
from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import stat
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..core.models import Candle
from ..core.names import BadName, check_exchange, check_symbol, check_timeframe
from .candle_wal import JOURNAL_NAME, SeriesJournal

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow.dataset as ds

try:
    import fcntl
except ImportError:  # Windows: one process per data dir is the user's job there
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

JOURNAL_MAX_ROWS = 64  # bigger batches (backfills) go straight to the month files

SCHEMA_VERSION = "1"
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
SCHEMA = pa.schema(
    [pa.field("timestamp", pa.timestamp("ms", tz="UTC"), nullable=False)]
    + [pa.field(c, pa.float64(), nullable=False) for c in PRICE_COLUMNS]
    + [pa.field("source", pa.string(), nullable=False)],
    metadata={"twinstar.schema_version": SCHEMA_VERSION, "twinstar.timestamp": "candle open time, UTC"},
)
# Same-timestamp rule: the higher rank wins; on a tie the later write wins.
SOURCE_RANK = {"ws": 2, "rest": 1, "backfill": 1}
# Doubles split by byte plane + zstd compress OHLCV about 2x better than plain; timestamps are a delta run.
_ENCODING = {"timestamp": "DELTA_BINARY_PACKED", **dict.fromkeys(PRICE_COLUMNS, "BYTE_STREAM_SPLIT")}


def to_ms(values: Any) -> np.ndarray:
    """Open times as int64 ms, whether given as ints or as datetime64 of any unit/zone."""
    import pandas as pd  # a frame's column came in: pandas is loaded already

    s = values if isinstance(values, pd.Series) else pd.Series(values)
    ms: np.ndarray
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        ms = s.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ms]").to_numpy().view(np.int64)
    elif np.issubdtype(s.dtype, np.datetime64):
        ms = s.astype("datetime64[ms]").to_numpy().view(np.int64)
    else:
        ms = s.to_numpy(dtype=np.int64)
    return ms


QUARANTINE_DIR = "_quarantine"  # at the root; names starting with "_" are skipped by Parquet dataset readers
_MONTH_FILE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])\.parquet$")


LOCK_NAME = ".writer.lock"


class SeriesBusy(OSError):
    """Another process (or another store object) is writing this series."""

    def __init__(self, exchange: str, symbol: str, tf: str, holder: str) -> None:
        super().__init__(f"{exchange} {symbol} {tf}: already being written by {holder or 'another process'}")
        self.exchange, self.symbol, self.tf, self.holder = exchange, symbol, tf, holder


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A file that was in the way of the dataset: where it was, where it went, and why."""

    path: Path
    moved_to: Path
    reason: str


SOURCES = tuple(SOURCE_RANK)  # codes 0, 1, 2 in memory
_RANK_OF_CODE = np.array([SOURCE_RANK[s] for s in SOURCES], dtype=np.int8)
_CODE_OF = {name: code for code, name in enumerate(SOURCES)}  # a label we do not know reads as code 0, as ever
_SOURCE_LENGTHS = np.array([len(s.encode()) for s in SOURCES], dtype=np.int32)
_TIMESTAMP = pa.timestamp("ms", tz="UTC")


class Rows:
    """Column arrays of one month: ts (int64 ms), OHLCV (float64), source codes (int8). Cheap to merge."""

    __slots__ = ("ts", "ohlcv", "src")

    def __init__(self, ts: np.ndarray, ohlcv: np.ndarray, src: np.ndarray) -> None:
        self.ts, self.ohlcv, self.src = ts, ohlcv, src

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def empty(cls) -> Rows:
        return cls(np.empty(0, np.int64), np.empty((0, 5)), np.empty(0, np.int8))

    @classmethod
    def from_candles(cls, candles: Sequence[Candle], source: str) -> Rows:
        """Candle-like objects (open_time + OHLCV attributes) of one source, without a DataFrame."""
        if source not in SOURCE_RANK:
            raise ValueError(f"unknown candle source {source!r}; valid: {', '.join(SOURCE_RANK)}")
        ts = np.fromiter((c.open_time for c in candles), np.int64, len(candles))
        ohlcv = np.array([(c.open, c.high, c.low, c.close, c.volume) for c in candles], np.float64).reshape(-1, 5)
        return cls(ts, ohlcv, np.full(len(ts), SOURCES.index(source), np.int8))

    @classmethod
    def concat(cls, parts: list[Rows]) -> Rows:
        return cls(np.concatenate([p.ts for p in parts]), np.concatenate([p.ohlcv for p in parts]),
                   np.concatenate([p.src for p in parts]))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, source: str | None = None) -> Rows:
        ts = to_ms(frame["timestamp"] if "timestamp" in frame else frame["ts"])
        ohlcv = np.column_stack([frame[c].to_numpy(dtype=np.float64) for c in PRICE_COLUMNS]).reshape(-1, 5)
        if source is None and "source" not in frame:
            raise ValueError("rows need a source (ws/rest/backfill)")
        labels = np.asarray([source] * len(ts) if source is not None else frame["source"].to_numpy(), dtype=object)
        bad = sorted(set(labels.tolist()) - SOURCE_RANK.keys())
        if bad:
            raise ValueError(f"unknown candle source(s) {bad}; valid: {', '.join(SOURCE_RANK)}")
        src = np.zeros(len(ts), np.int8)
        for code, name in enumerate(SOURCES):
            src[labels == name] = code
        return cls(ts, ohlcv, src)

    def take(self, idx: np.ndarray) -> Rows:
        return Rows(self.ts[idx], self.ohlcv[idx], self.src[idx])

    def merge(self, new: Rows) -> Rows:
        """Union unique by ts: higher source rank wins, on a tie the newer write wins; sorted ascending."""
        if not len(self):
            base = new
        elif len(new) and new.ts[0] > self.ts[-1] and (len(new) == 1 or (np.diff(new.ts) > 0).all()):
            # the common case: closed candles newer than anything stored; no sort needed
            return Rows(np.concatenate([self.ts, new.ts]), np.concatenate([self.ohlcv, new.ohlcv]),
                        np.concatenate([self.src, new.src]))
        else:
            base = Rows(np.concatenate([self.ts, new.ts]), np.concatenate([self.ohlcv, new.ohlcv]),
                        np.concatenate([self.src, new.src]))
        order = np.lexsort((np.arange(len(base)), _RANK_OF_CODE[base.src], base.ts))
        ts = base.ts[order]
        keep = np.ones(len(ts), dtype=bool)
        keep[:-1] = ts[:-1] != ts[1:]  # last of each ts group = highest rank, latest write
        return base.take(order[keep])

    def to_table(self) -> pa.Table:
        return pa.Table.from_arrays(
            [_arrow_of(self.ts, np.int64, _TIMESTAMP)]
            + [_arrow_of(self.ohlcv[:, i], np.float64, pa.float64()) for i in range(5)] + [_source_array(self.src)],
            schema=SCHEMA)

    @classmethod
    def from_table(cls, table: pa.Table) -> Rows:
        """A table of our columns (`source` plain or dictionary-encoded); ValueError for other column types or
        nulls in any of them."""
        types = {f.name: f.type for f in table.schema}
        if types.get("timestamp") != _TIMESTAMP or any(types.get(c) != pa.float64() for c in PRICE_COLUMNS) \
                or "source" not in types:
            raise ValueError(f"foreign columns: {', '.join(f'{n}:{t}' for n, t in types.items())}")
        ts = _numpy_of(table.column("timestamp"), np.int64)
        ohlcv = np.column_stack([_numpy_of(table.column(c), np.float64) for c in PRICE_COLUMNS]).reshape(-1, 5)
        return cls(ts, ohlcv, _source_codes(table.column("source")))


class CandleStore:
    """Reads and writes the dataset. Thread-safe; callers should write from one writer thread."""

    def __init__(self, root: str | os.PathLike[str], *, journaling: bool = True,
                 on_quarantine: Callable[[Quarantined], None] | None = None) -> None:
        self.root = Path(root)
        self.on_quarantine = on_quarantine
        self.quarantined: list[Quarantined] = []
        self._checked: dict[Path, tuple[int, int]] = {}  # month file -> (mtime_ns, size) when found sound
        self._checked_series: set[Path] = set()
        self._lock = threading.Lock()
        # The open month is rewritten on each append; caching its rows saves re-reading the file.
        self._cache: dict[Path, Rows] = {}
        self.journaling = journaling
        self._journals: dict[tuple[str, str, str], SeriesJournal] = {}
        self._dirty: set[tuple[str, str, str]] = set()
        self._locks: dict[tuple[str, str, str], TextIO] = {}  # open lock files, one per series we write
        self._copied: dict[Path, tuple[int, int]] = {}  # damaged journals copied aside: (size, mtime) when copied

    def __repr__(self) -> str:
        return f"CandleStore({str(self.root)!r})"

    # -- layout -----------------------------------------------------------------------------------
    def series_dir(self, exchange: str, symbol: str, tf: str = "15m") -> Path:
        """The series' folder. Names are checked first (BadName): a name from the wire never leaves the tree."""
        d = (self.root / f"exchange={check_exchange(exchange)}" / f"symbol={check_symbol(symbol)}"
             / f"tf={check_timeframe(tf)}")
        if os.path.normpath(d) != str(d) or not d.is_relative_to(self.root):  # belt and braces for the patterns
            raise BadName(f"{exchange} {symbol} {tf}: path {d} leaves the dataset at {self.root}")
        return d

    def month_path(self, exchange: str, symbol: str, month: str, tf: str = "15m") -> Path:
        return self.series_dir(exchange, symbol, tf) / f"{month}.parquet"

    def months(self, exchange: str, symbol: str, tf: str = "15m") -> list[str]:
        d = self.series_dir(exchange, symbol, tf)
        if not d.is_dir():
            return []
        if d not in self._checked_series:
            with self._lock:
                self.check_series(exchange, symbol, tf)
        return sorted(p.stem for p in d.glob("*.parquet") if _MONTH_FILE.match(p.name))

    # -- damaged and foreign files ------------------------------------------------------------------
    def check_series(self, exchange: str, symbol: str, tf: str = "15m", deep: bool = False) -> list[Quarantined]:
        """Quarantine Parquet files of one series that are not month files; with `deep`, also open each
        (footer, schema, month of the rows). Loads check content as they read (see `_frame_of`)."""
        d = self.series_dir(exchange, symbol, tf)
        found = []
        for path in sorted(d.glob("*.parquet")) if d.is_dir() else []:
            reason = self._problem_of(path) if deep else (
                "not a regular file" if not _regular(path) else
                None if _MONTH_FILE.match(path.name) else "not a month file (expected <yyyy-mm>.parquet)")
            if reason:
                found.append(self._quarantine(path, reason))
        self._checked_series.add(d)
        return found

    def check_tree(self) -> list[Quarantined]:
        """Check the whole dataset: every series, plus Parquet files lying where no series is."""
        found = []
        for path in sorted(self.root.rglob("*.parquet")) if self.root.is_dir() else []:
            rel = path.relative_to(self.root).parts
            if rel[0].startswith((".", "_")) or any(part.startswith(".") for part in rel):
                continue  # quarantine, journals, temp files
            layout_ok = (len(rel) == 4 and rel[0].startswith("exchange=") and rel[1].startswith("symbol=")
                         and rel[2].startswith("tf="))
            reason = self._problem_of(path) if layout_ok else "not in the exchange=/symbol=/tf= layout"
            if reason:
                found.append(self._quarantine(path, reason))
        return found

    def _problem_of(self, path: Path) -> str | None:
        """None for a sound month file of ours; else what is wrong with it (footer-only checks, cached)."""
        try:
            st = path.stat()
        except OSError as exc:
            return f"cannot stat: {exc}"
        if self._checked.get(path) == (st.st_mtime_ns, st.st_size):
            return None
        if not stat.S_ISREG(st.st_mode):  # a FIFO would block the reader for ever, a folder cannot be read
            return "not a regular file"
        if not _MONTH_FILE.match(path.name):
            return "not a month file (expected <yyyy-mm>.parquet)"
        try:
            meta = pq.ParquetFile(path).metadata
            schema = meta.schema.to_arrow_schema()
        except Exception as exc:  # noqa: BLE001 - any reader error means the file is unusable
            return f"unreadable Parquet: {type(exc).__name__}: {exc}"
        if not _same_columns(schema, SCHEMA):
            return f"foreign schema: {', '.join(f'{f.name}:{f.type}' for f in schema)}"
        month = path.name[:7]
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(0).statistics
            if stats is not None and stats.has_min_max:
                # the raw ints (ms, the column's checked type): the decoded min/max would import pandas
                lo, hi = (_month_name(int(_month_index(np.array([int(v)]))[0])) for v in (stats.min_raw, stats.max_raw))
                if lo != month or hi != month:
                    return f"rows of {lo}..{hi} in the file of {month}"
        self._checked[path] = (st.st_mtime_ns, st.st_size)
        return None

    def _quarantine(self, path: Path, reason: str, copy: bool = False) -> Quarantined:
        """Move a bad file out of the dataset (renamed, never deleted) and tell whoever listens. With `copy`,
        a durable copy is made and the original stays for the caller to repair (a journal)."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        rel = path.relative_to(self.root) if path.is_relative_to(self.root) else Path(path.name)
        dest = self.root / QUARANTINE_DIR / rel.parent / f"{rel.name.lstrip('.')}.{stamp}-{uuid.uuid4().hex[:6]}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        if copy:
            with open(path, "rb") as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
                out.flush()
                os.fsync(out.fileno())
            _fsync_dir(dest.parent)
        else:
            os.replace(path, dest)
        self._checked.pop(path, None)
        self._cache.pop(path, None)
        item = Quarantined(path, dest, reason)
        self.quarantined.append(item)
        log.error("quarantined %s: %s (%s %s; the rest of the dataset loads)", path, reason,
                  "copied to" if copy else "moved to", dest)
        if self.on_quarantine is not None:
            try:
                self.on_quarantine(item)
            except Exception:
                log.exception("quarantine callback failed")
        return item

    # -- writing ----------------------------------------------------------------------------------
    def append(self, exchange: str, symbol: str, rows: pd.DataFrame | Rows, tf: str = "15m",
               source: str | None = None) -> list[str]:
        """Make rows durable. Small batches (live closes) go to the series journal and reach their month
        files at the next `compact()`; large ones (backfills) are merged into the month files directly.
        `rows`: a frame (timestamp + OHLCV + source) or ready `Rows`. Returns the months written directly
        ([] when journaled)."""
        new = rows if isinstance(rows, Rows) else Rows.from_frame(rows, source)
        if not len(new):
            return []
        key = (exchange, symbol, tf)
        with self._lock:
            if self.journaling and len(new) <= JOURNAL_MAX_ROWS:
                self._journal(key).append(new.ts, new.ohlcv, new.src)
                self._dirty.add(key)
                return []
            self._compact_series(key)  # keep write order: older journaled rows first
            return self._merge_into_months(key, new)

    def compact(self, deadline: float | None = None) -> int:
        """Fold every journal into its month files, or as many as fit before `deadline` (time.monotonic; the
        rest stay in their journals, durable); returns the number of series compacted."""
        done = 0
        with self._lock:
            for key in list(self._dirty):
                if deadline is not None and time.monotonic() > deadline:
                    break
                self._compact_series(key)
                done += 1
        return done

    @property
    def pending_series(self) -> int:
        return len(self._dirty)

    def claim(self, exchange: str, symbol: str, tf: str = "15m") -> None:
        """Become the only writer of a series (an advisory lock the OS drops when the process dies), so
        several collectors can share one dataset tree without two of them writing one series.
        Raises SeriesBusy naming the holder. Idempotent; every write claims implicitly."""
        key = (exchange, symbol, tf)
        if key in self._locks:
            return
        d = self.series_dir(*key)
        d.mkdir(parents=True, exist_ok=True)
        fh = open(d / LOCK_NAME, "a+")
        if fcntl is not None:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip()
                fh.close()
                raise SeriesBusy(exchange, symbol, tf, holder) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {_hostname()}")
        fh.flush()
        self._locks[key] = fh

    def close(self) -> None:
        """Give up the series this store writes (the journals stay; the next writer replays them). A file that
        cannot be closed cleanly (a failing disk) is logged; the others are still closed."""
        with self._lock:
            files: list[SeriesJournal | TextIO] = [*self._journals.values(), *self._locks.values()]
            for f in files:
                try:
                    f.close()
                except OSError as exc:
                    log.error("closing %s: %s", getattr(f, "path", getattr(f, "name", f)), exc)
            self._journals.clear()
            self._locks.clear()

    def _journal(self, key: tuple[str, str, str]) -> SeriesJournal:
        j = self._journals.get(key)
        if j is None:
            self.claim(*key)
            self._remove_stale_temps(self.series_dir(*key))  # first use here: temps of a killed writer
            j = SeriesJournal(self.series_dir(*key))
            self._move_aside_if_not_a_file(j.path)
            self._journals[key] = j
        return j

    def _move_aside_if_not_a_file(self, path: Path) -> None:
        """A journal path holding a FIFO (opening it blocks for ever) or a folder is moved to the quarantine."""
        if (path.exists() or path.is_symlink()) and not _regular(path):
            self._quarantine(path, "not a regular file")

    @staticmethod
    def _remove_stale_temps(directory: Path) -> None:
        """A process killed mid-write leaves `.<month>.parquet.<id>.tmp`; the month file itself is intact.
        One writer per series (the writer thread), so any temp found before our first write is stale."""
        for tmp in directory.glob(".*.parquet.*.tmp"):
            try:
                tmp.unlink()
                log.info("removed a temp file left by an interrupted write: %s", tmp)
            except OSError as exc:
                log.warning("could not remove stale temp file %s: %s", tmp, exc)

    def _compact_series(self, key: tuple[str, str, str]) -> None:
        journal = self._journal(key)
        if key in self._dirty or journal.has_records():
            replay = journal.replay()
            if replay.damaged and self._copied.get(journal.path) != _identity(journal.path):
                journal.close()  # copied aside (once: a fold that fails is retried) before it is emptied
                self._quarantine(journal.path, f"damaged journal: {replay.reason()}", copy=True)
                self._copied[journal.path] = _identity(journal.path)
            if len(replay.ts):
                self._merge_into_months(key, Rows(replay.ts, replay.ohlcv, replay.src))
            journal.clear()
        self._dirty.discard(key)

    def _merge_into_months(self, key: tuple[str, str, str], new: Rows) -> list[str]:
        exchange, symbol, tf = key
        month_idx = _month_index(new.ts)
        months = np.unique(month_idx)
        written = []
        for m in months:
            month = _month_name(int(m))
            path = self.month_path(exchange, symbol, month, tf)
            part = new if len(months) == 1 else new.take(month_idx == m)
            merged = self._read_month(path).merge(part)
            self._write_atomic(path, merged)
            self._cache = {path: merged}  # keep only the latest month hot
            written.append(month)
        return written

    def _settle(self, exchange: str, symbol: str, tf: str) -> Rows | None:
        """Readers see journaled rows too (also those a crash left behind): folded into the month files
        when we may write the series, else (another process writes it) returned to merge in memory."""
        key = (exchange, symbol, tf)
        if key in self._dirty or (self.series_dir(*key) / JOURNAL_NAME).exists():
            with self._lock:
                try:
                    self._journal(key)
                except SeriesBusy:
                    other = SeriesJournal(self.series_dir(*key))
                    if not _regular(other.path):
                        return None
                    ts, ohlcv, src = other.read()
                    return Rows(ts, ohlcv, src) if len(ts) else None
                self._compact_series(key)
        return None

    @staticmethod
    def _plus_rows(rows: Rows, extra: Rows | None) -> Rows:
        return rows if extra is None else rows.merge(extra)

    @staticmethod
    def _plus(frame: pd.DataFrame, extra: Rows | None) -> pd.DataFrame:
        if extra is None:
            return frame
        merged = Rows.from_frame(frame).merge(extra) if len(frame) else Rows.empty().merge(extra)
        return merged.to_table().to_pandas()

    def _write_atomic(self, path: Path, rows: Rows) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "wb") as fh:
                pq.write_table(rows.to_table(), fh, compression="zstd", use_dictionary=["source"],
                               column_encoding=_ENCODING, write_statistics=["timestamp"])
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)  # atomic: readers see the old file or the new one, never a torn one
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        st = path.stat()
        self._checked[path] = (st.st_mtime_ns, st.st_size)  # ours, just written: no need to re-open it

    # -- reading ----------------------------------------------------------------------------------
    def _read_month(self, path: Path) -> Rows:
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        if not path.exists():
            return Rows.empty()
        reason = self._problem_of(path)
        if reason is None:
            try:
                return Rows.from_table(_read_file(path))
            except Exception as exc:  # noqa: BLE001 - damaged pages: the footer was fine, the data is not
                reason = f"unreadable Parquet: {type(exc).__name__}: {exc}"
        self._quarantine(path, reason)
        return Rows.empty()

    def load(self, exchange: str, symbol: str, tf: str = "15m", start_ms: int | None = None,
             end_ms: int | None = None) -> pd.DataFrame:
        """Stored candles in [start_ms, end_ms] as timestamp(datetime64[ms, UTC]) + OHLCV + source."""
        extra = self._settle(exchange, symbol, tf)
        months = self.months(exchange, symbol, tf)
        if start_ms is not None:
            months = [m for m in months if m >= _month_name(int(_month_index(np.array([start_ms]))[0]))]
        if end_ms is not None:
            months = [m for m in months if m <= _month_name(int(_month_index(np.array([end_ms]))[0]))]
        frame = self._plus(self._frame_of(exchange, symbol, tf, months), extra)
        if start_ms is not None or end_ms is not None:
            ts = frame["timestamp"].astype("int64").to_numpy()
            lo = start_ms if start_ms is not None else np.iinfo(np.int64).min
            hi = end_ms if end_ms is not None else np.iinfo(np.int64).max
            frame = frame[(ts >= lo) & (ts <= hi)].reset_index(drop=True)
        return frame

    def load_last(self, exchange: str, symbol: str, n: int, tf: str = "15m") -> pd.DataFrame:
        """The newest `n` stored candles, reading months from the newest backwards only as needed."""
        extra = self._settle(exchange, symbol, tf)
        frame = self._plus(self._frame_of(exchange, symbol, tf, self._newest_months(exchange, symbol, n, tf)), extra)
        return frame.iloc[-n:].reset_index(drop=True) if n > 0 else frame.iloc[0:0]

    def load_last_rows(self, exchange: str, symbol: str, n: int, tf: str = "15m") -> np.ndarray:
        """The newest `n` stored candles (fewer if fewer are stored), oldest first, as an (m, 6) float64 array of
        [open time ms, open, high, low, close, volume]: what `load_last` gives, through pyarrow.parquet and numpy
        alone (no pandas, no dataset layer), with the same checks (a damaged month is quarantined, the rest loads)
        and journaled rows merged in."""
        extra = self._settle(exchange, symbol, tf)
        rows = self._plus_rows(self._rows_of(exchange, symbol, tf, self._newest_months(exchange, symbol, n, tf)), extra)
        if n <= 0:
            return np.empty((0, 6), np.float64)
        rows = rows.take(np.arange(max(0, len(rows) - n), len(rows)))
        return np.column_stack([rows.ts.astype(np.float64), rows.ohlcv]).reshape(-1, 6)

    def _newest_months(self, exchange: str, symbol: str, n: int, tf: str) -> list[str]:
        """The newest months holding at least `n` rows between them (by their footers); a file whose footer cannot
        be read is quarantined and skipped."""
        months = self.months(exchange, symbol, tf)
        chosen: list[str] = []
        count = 0
        for m in reversed(months):
            path = self.month_path(exchange, symbol, m, tf)
            try:
                if not _regular(path):
                    raise OSError("not a regular file")
                count += pq.ParquetFile(path).metadata.num_rows
            except Exception as exc:  # noqa: BLE001 - an unreadable footer: move it away, keep going
                with self._lock:
                    if path.exists():
                        self._quarantine(path, f"unreadable Parquet: {type(exc).__name__}: {exc}")
                continue
            chosen.insert(0, m)
            if count >= n:
                break
        return chosen

    def last_timestamp(self, exchange: str, symbol: str, tf: str = "15m") -> int | None:
        extra = self._settle(exchange, symbol, tf)
        months = self.months(exchange, symbol, tf)
        rows = self._plus_rows(self._rows_of(exchange, symbol, tf, months[-1:]), extra)
        return int(rows.ts[-1]) if len(rows) else None

    def _frame_of(self, exchange: str, symbol: str, tf: str, months: list[str]) -> pd.DataFrame:
        if not months:
            return _READ_SCHEMA.empty_table().to_pandas()
        import pyarrow.dataset as ds  # ~50 MiB of libraries: only where a frame of many months is read

        paths = [self.month_path(exchange, symbol, m, tf) for m in months]
        try:
            # One dataset scan over the month files is ~2x cheaper than read_table per file; `source` comes
            # back as a categorical (3-4x cheaper than millions of Python strings).
            table = ds.dataset([str(p) for p in paths], format=_read_format(), schema=_READ_SCHEMA).to_table()
            if table.column("timestamp").null_count or table.column("close").null_count:
                raise ValueError("columns missing")  # a foreign file: missing columns come back null
            if not _looks_whole(_numpy_of(table.column("timestamp"), np.int64), months):
                raise ValueError("rows out of place")
        except Exception:  # noqa: BLE001 - a damaged or foreign file: find it, move it away, load the rest
            good = [t for _, t in self._read_checked(paths)]
            table = pa.concat_tables(good).cast(_READ_SCHEMA) if good else _READ_SCHEMA.empty_table()
        return table.to_pandas()

    def _rows_of(self, exchange: str, symbol: str, tf: str, months: list[str]) -> Rows:
        """The rows of these month files, read one by one (footer + pages) without the dataset layer."""
        if not months:
            return Rows.empty()
        paths = [self.month_path(exchange, symbol, m, tf) for m in months]
        try:
            rows = Rows.concat([Rows.from_table(_read_file(p)) for p in paths])
            if not _looks_whole(rows.ts, months):
                raise ValueError("rows out of place")
            return rows
        except Exception:  # noqa: BLE001 - a damaged or foreign file: find it, move it away, load the rest
            pass
        parts = []
        for path, table in self._read_checked(paths):
            try:
                parts.append(Rows.from_table(table))
            except ValueError as exc:  # nulls or odd types behind a sound footer and schema
                with self._lock:
                    self._quarantine(path, f"unusable rows: {exc}")
        return Rows.concat(parts) if parts else Rows.empty()

    def _read_checked(self, paths: list[Path]) -> list[tuple[Path, pa.Table]]:
        """The slow, careful read: each file opened and checked on its own; bad ones quarantined."""
        good = []
        for p in paths:
            with self._lock:
                if not p.exists():
                    continue
                reason = self._problem_of(p)
                if reason is None:
                    try:
                        good.append((p, _read_file(p)))
                        continue
                    except Exception as exc:  # noqa: BLE001 - damaged pages behind a sound footer
                        reason = f"unreadable Parquet: {type(exc).__name__}: {exc}"
                self._quarantine(p, reason)
        return good


_READ_SCHEMA = pa.schema([pa.field("source", pa.dictionary(pa.int32(), pa.string()), nullable=False)
                          if f.name == "source" else f for f in SCHEMA], metadata=SCHEMA.metadata)


@functools.cache
def _read_format() -> ds.ParquetFileFormat:
    import pyarrow.dataset as ds

    return ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=["source"]))


def _read_file(path: Path) -> pa.Table:
    """One month file's columns as stored (`source` dictionary-encoded); no dataset layer."""
    with pq.ParquetFile(path, read_dictionary=["source"]) as f:
        return f.read(columns=list(SCHEMA.names))


def _numpy_of(column: pa.ChunkedArray | pa.Array, dtype: type[np.generic]) -> np.ndarray:
    """A fixed-width column without nulls as a numpy array (a copy), read from its buffers."""
    dt = np.dtype(dtype)
    parts = []
    for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        if chunk.null_count:
            raise ValueError(f"{chunk.null_count} null(s) in a {chunk.type} column")
        if chunk.type.bit_width != dt.itemsize * 8:
            raise ValueError(f"a {chunk.type} column read as {dt}")
        parts.append(np.frombuffer(chunk.buffers()[1], dt, len(chunk), chunk.offset * dt.itemsize))
    return np.concatenate(parts) if parts else np.empty(0, dt)


def _arrow_of(values: np.ndarray, dtype: type[np.generic], arrow_type: pa.DataType) -> pa.Array:
    """A numpy column as an Arrow array of `arrow_type` sharing its memory."""
    data = np.ascontiguousarray(values, dtype=dtype)
    return pa.Array.from_buffers(arrow_type, len(data), [None, pa.py_buffer(data)])


def _source_array(codes: np.ndarray) -> pa.Array:
    """Source codes -> the `source` strings column."""
    offsets = np.zeros(len(codes) + 1, np.int32)
    np.cumsum(_SOURCE_LENGTHS[codes], out=offsets[1:])
    data = "".join([SOURCES[c] for c in codes.tolist()]).encode()
    return pa.Array.from_buffers(pa.string(), len(codes), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _source_codes(column: pa.ChunkedArray) -> np.ndarray:
    """The `source` column (plain or dictionary-encoded strings) -> codes; a label we do not know reads as 0."""
    parts = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            lut = np.array([_CODE_OF.get(s, 0) for s in chunk.dictionary.to_pylist()] or [0], np.int8)
            width = chunk.type.index_type.bit_width
            parts.append(lut[_numpy_of(chunk.indices, np.dtype(f"int{width}").type)])
        else:
            parts.append(np.array([_CODE_OF.get(s, 0) for s in chunk.to_pylist()], np.int8).reshape(-1))
    return np.concatenate(parts) if parts else np.empty(0, np.int8)


def _looks_whole(t: np.ndarray, months: list[str]) -> bool:
    """Cheap check after a fast read (open times in ms): strictly increasing, first and last in the months asked
    for. Misplaced rows fail it."""
    if len(t) == 0:
        return True
    if not (t[1:] > t[:-1]).all():
        return False
    first, last = (_month_name(int(m)) for m in _month_index(t[[0, -1]]))
    return first == months[0] and last == months[-1] if len(months) == 1 else months[0] <= first and last <= months[-1]


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _identity(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def _hostname() -> str:
    try:
        return os.uname().nodename
    except AttributeError:
        return os.environ.get("COMPUTERNAME", "?")


def _same_columns(a: pa.Schema, b: pa.Schema) -> bool:
    return [(f.name, f.type) for f in a] == [(f.name, f.type) for f in b]


def _month_index(ts_ms: np.ndarray) -> np.ndarray:
    """Months since 1970-01 for each UTC ms timestamp."""
    return ts_ms.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)


def _month_name(index: int) -> str:
    return str(np.datetime64(index, "M"))


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
