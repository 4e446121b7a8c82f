"""The series on the chart when the window last closed, kept in the data dir so that the next start paints it
before the market data back end is even imported (numpy and the standard library only here).

`last-view.npz` holds the window's candles as an (n, 6) float array (open time ms, O, H, L, C, V) and a JSON
text naming the series. The file comes from disk, so it is checked as untrusted input: a damaged, oversized or
odd file is said in the log and ignored (the chart then waits for the stored history as before)."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.timeframe import CHART_TIMEFRAMES

log = logging.getLogger(__name__)

FILE_NAME = "last-view.npz"
MAX_ROWS = 20_000  # more than any window the chart keeps; the file stays small (~1 MB)
MAX_BYTES = 4 * 1024 * 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9/:_.\-]{0,63}")
_TIMEFRAMES = {tf.label for tf in CHART_TIMEFRAMES}


@dataclass(frozen=True)
class LastView:
    exchange: str
    symbol: str  # the exchange's native id
    unified: str  # as the trader reads it
    timeframe: str
    rows: np.ndarray  # (n, 6): open time ms, O, H, L, C, V; oldest first

    def choices(self) -> dict[str, list[str]]:
        return {self.exchange: [self.symbol]}

    def name_of(self, exchange: str, native: str) -> str:
        return self.unified if (exchange, native) == (self.exchange, self.symbol) else native


def save_last_view(data_dir: str | Path, view: LastView) -> bool:
    """Write it atomically (a crash never leaves half a file). False (logged) when it cannot be written."""
    rows = np.ascontiguousarray(view.rows[-MAX_ROWS:], dtype=np.float64)
    meta = json.dumps({"exchange": view.exchange, "symbol": view.symbol, "unified": view.unified,
                       "timeframe": view.timeframe})
    path = Path(data_dir) / FILE_NAME
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, rows=rows, meta=np.array(meta))
        os.replace(tmp, path)
        return True
    except OSError as exc:
        log.warning("could not keep the chart's last view in %s: %s", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return False


def load_last_view(data_dir: str | Path) -> LastView | None:
    """The view saved last, or None (none yet, or a file that does not pass the checks: said in the log)."""
    path = Path(data_dir) / FILE_NAME
    try:
        size = path.stat().st_size
    except OSError:
        return None
    try:
        if size > MAX_BYTES:
            raise ValueError(f"{size} bytes, more than the {MAX_BYTES} such a file has")
        with np.load(path, allow_pickle=False) as npz:
            rows, meta_text = npz["rows"], str(npz["meta"][()])
        meta = json.loads(meta_text)
        if not isinstance(meta, dict):
            raise ValueError("its description is not an object")
        names: list[str] = []
        for key in ("exchange", "symbol", "unified", "timeframe"):
            value = meta.get(key)
            if not isinstance(value, str) or not _NAME.fullmatch(value):
                raise ValueError(f"{key} {str(value)[:40]!r} is not a name")
            names.append(value)
        if names[3] not in _TIMEFRAMES:
            raise ValueError(f"timeframe {names[3]!r} is not one the chart shows")
        if rows.dtype != np.float64 or rows.ndim != 2 or rows.shape[1] != 6 or not 0 < len(rows) <= MAX_ROWS:
            raise ValueError(f"candles of shape {rows.shape} and type {rows.dtype}, not (n <= {MAX_ROWS}, 6) floats")
        if not np.isfinite(rows).all() or (rows[:, 1:] < 0).any():
            raise ValueError("candles with values that are not finite or are negative")
        if len(rows) > 1 and not (np.diff(rows[:, 0]) > 0).all():
            raise ValueError("candle times not in increasing order")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("ignored the chart's last view in %s: %s", path, exc)
        return None
    rows.flags.writeable = False
    return LastView(names[0], names[1], names[2], names[3], rows)
