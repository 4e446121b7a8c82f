"""Parquet candle dataset: <root>/exchange=<x>/symbol=<s>/tf=<tf>/<yyyy-mm>.parquet, zstd, atomic writes."""
from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

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
_ENCODING = {"timestamp": "DELTA_BINARY_PACKED", **{c: "BYTE_STREAM_SPLIT" for c in PRICE_COLUMNS}}
_MONTH_MS_FORMAT = "%Y-%m"


def to_ms(values: pd.Series | np.ndarray | Iterable) -> np.ndarray:
    """Open times as int64 ms, whether given as ints or as datetime64 of any unit/zone."""
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    if isinstance(s.dtype, pd.DatetimeTZDtype) or np.issubdtype(s.dtype, np.datetime64):
        return s.astype("datetime64[ms, UTC]").astype("int64").to_numpy() if isinstance(s.dtype, pd.DatetimeTZDtype) \
            else s.astype("datetime64[ms]").astype("int64").to_numpy()
    return s.to_numpy(dtype=np.int64)


def normalise_rows(frame: pd.DataFrame, source: str | None = None) -> pd.DataFrame:
    """Frame with int64 `ts` (ms) + OHLCV + source, in the store's canonical dtypes."""
    out = pd.DataFrame({"ts": to_ms(frame["timestamp"] if "timestamp" in frame else frame["ts"])})
    for c in PRICE_COLUMNS:
        out[c] = frame[c].to_numpy(dtype=np.float64)
    if source is not None:
        out["source"] = source
    elif "source" in frame:
        out["source"] = frame["source"].astype(str).to_numpy()
    else:
        raise ValueError("rows need a source (ws/rest/backfill)")
    bad = sorted(set(out["source"]) - SOURCE_RANK.keys())
    if bad:
        raise ValueError(f"unknown candle source(s) {bad}; valid: {', '.join(SOURCE_RANK)}")
    return out


def merge_rows(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Union of two normalised frames, unique by ts with the source rule, sorted ascending."""
    both = pd.concat([old, new], ignore_index=True) if len(old) else new
    rank = both["source"].map(SOURCE_RANK).to_numpy()
    order = np.lexsort((np.arange(len(both)), rank, both["ts"].to_numpy()))
    both = both.iloc[order]
    keep = np.ones(len(both), dtype=bool)
    ts = both["ts"].to_numpy()
    keep[:-1] = ts[:-1] != ts[1:]  # last of each ts group = highest rank, latest write
    return both[keep].reset_index(drop=True)


class CandleStore:
    """Reads and writes the dataset. Thread-safe; callers should write from one writer thread."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        # The open month is rewritten on each append; caching its rows saves re-reading the file.
        self._cache: dict[Path, pd.DataFrame] = {}

    def __repr__(self) -> str:
        return f"CandleStore({str(self.root)!r})"

    # -- layout -----------------------------------------------------------------------------------
    def series_dir(self, exchange: str, symbol: str, tf: str = "15m") -> Path:
        return self.root / f"exchange={exchange}" / f"symbol={symbol}" / f"tf={tf}"

    def month_path(self, exchange: str, symbol: str, month: str, tf: str = "15m") -> Path:
        return self.series_dir(exchange, symbol, tf) / f"{month}.parquet"

    def months(self, exchange: str, symbol: str, tf: str = "15m") -> list[str]:
        d = self.series_dir(exchange, symbol, tf)
        if not d.is_dir():
            return []
        return sorted(p.stem for p in d.glob("*.parquet") if not p.name.startswith("."))

    # -- writing ----------------------------------------------------------------------------------
    def append(self, exchange: str, symbol: str, rows: pd.DataFrame, tf: str = "15m",
               source: str | None = None) -> list[str]:
        """Merge rows into their month files (only those months are touched). Returns months written."""
        new = normalise_rows(rows, source)
        if new.empty:
            return []
        month = pd.to_datetime(new["ts"], unit="ms", utc=True).dt.strftime(_MONTH_MS_FORMAT).to_numpy()
        written = []
        with self._lock:
            for m in sorted(set(month)):
                path = self.month_path(exchange, symbol, m, tf)
                merged = merge_rows(self._read_month(path), new[month == m])
                self._write_atomic(path, merged)
                self._cache = {path: merged}  # keep only the latest month hot
                written.append(m)
        return written

    def _write_atomic(self, path: Path, rows: pd.DataFrame) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.table({
            "timestamp": pa.array(rows["ts"].to_numpy(), pa.timestamp("ms", tz="UTC")),
            **{c: pa.array(rows[c].to_numpy(), pa.float64()) for c in PRICE_COLUMNS},
            "source": pa.array(rows["source"].to_numpy(dtype=object), pa.string()),
        }, schema=SCHEMA)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "wb") as fh:
                pq.write_table(table, fh, compression="zstd", use_dictionary=["source"],
                               column_encoding=_ENCODING, write_statistics=["timestamp"])
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)  # atomic: readers see the old file or the new one, never a torn one
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)

    # -- reading ----------------------------------------------------------------------------------
    def _read_month(self, path: Path) -> pd.DataFrame:
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        if not path.exists():
            return normalise_rows(pd.DataFrame({"ts": [], **{c: [] for c in PRICE_COLUMNS}, "source": []}))
        table = pq.read_table(path)
        return pd.DataFrame({
            "ts": table.column("timestamp").cast(pa.int64()).to_numpy(),
            **{c: table.column(c).to_numpy() for c in PRICE_COLUMNS},
            "source": table.column("source").to_numpy(zero_copy_only=False),
        })

    def load(self, exchange: str, symbol: str, tf: str = "15m", start_ms: int | None = None,
             end_ms: int | None = None) -> pd.DataFrame:
        """All stored candles in [start_ms, end_ms] as timestamp(datetime64[ms, UTC]) + OHLCV + source."""
        months = self.months(exchange, symbol, tf)
        if start_ms is not None:
            first = pd.Timestamp(start_ms, unit="ms", tz="UTC").strftime(_MONTH_MS_FORMAT)
            months = [m for m in months if m >= first]
        if end_ms is not None:
            last = pd.Timestamp(end_ms, unit="ms", tz="UTC").strftime(_MONTH_MS_FORMAT)
            months = [m for m in months if m <= last]
        frame = self._frame_of(exchange, symbol, tf, months)
        if start_ms is not None or end_ms is not None:
            ts = frame["timestamp"].astype("int64")
            lo = start_ms if start_ms is not None else ts.min()
            hi = end_ms if end_ms is not None else ts.max()
            frame = frame[(ts >= lo) & (ts <= hi)].reset_index(drop=True)
        return frame

    def load_last(self, exchange: str, symbol: str, n: int, tf: str = "15m") -> pd.DataFrame:
        """The newest `n` stored candles, reading months from the newest backwards only as needed."""
        months = self.months(exchange, symbol, tf)
        chosen: list[str] = []
        count = 0
        for m in reversed(months):
            chosen.insert(0, m)
            count += pq.ParquetFile(self.month_path(exchange, symbol, m, tf)).metadata.num_rows
            if count >= n:
                break
        frame = self._frame_of(exchange, symbol, tf, chosen)
        return frame.iloc[-n:].reset_index(drop=True) if n > 0 else frame.iloc[0:0]

    def last_timestamp(self, exchange: str, symbol: str, tf: str = "15m") -> int | None:
        months = self.months(exchange, symbol, tf)
        if not months:
            return None
        path = self.month_path(exchange, symbol, months[-1], tf)
        ts = pq.read_table(path, columns=["timestamp"]).column("timestamp")
        return int(ts.cast(pa.int64()).to_numpy().max()) if len(ts) else None

    def _frame_of(self, exchange: str, symbol: str, tf: str, months: list[str]) -> pd.DataFrame:
        tables = [pq.read_table(self.month_path(exchange, symbol, m, tf)) for m in months]
        if not tables:
            return pd.DataFrame({"timestamp": pd.Series([], dtype="datetime64[ms, UTC]"),
                                 **{c: pd.Series([], dtype="float64") for c in PRICE_COLUMNS},
                                 "source": pd.Series([], dtype=object)})
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        frame = table.to_pandas()
        frame["source"] = frame["source"].astype(object)
        return frame


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
