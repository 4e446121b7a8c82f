"""The trading rule all three bots share, as pure functions of closed 15m candles (no I/O, no clocks).

Rule (every number is a `StrategyConfig` field):
1. RSI(`rsi_period`, Wilder) on `rsi_timeframe` candles built from *complete* 15m groups only.
2. Candidate when rsi_low < RSI < rsi_high (default 30 < RSI < 70: not yet overbought/oversold).
3. Direction = the RSI's direction: the last complete group's RSI above the previous one -> long,
   below -> short, equal -> none.
4. Trigger ("breakout"): a long enters when the price goes above the high of the reference 15m candle,
   a short when it goes below its low. On a closed candle the reference is the candle before it (the
   close must break it); on a live price the reference is the last closed candle.
5. Exits: take profit at entry x (1 +/- take_profit_pct %), stop loss at entry x (1 -/+ stop_loss_pct %),
   whichever the price touches first.
Strength (used to rank candidates) = |RSI - previous RSI|: how hard the RSI is moving.
"""
from __future__ import annotations

import functools
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias, TypeGuard

import numpy as np

from .indicators import rsi_wilder
from .models import Candle
from .timeframe import BASE_TIMEFRAME, Timeframe

if TYPE_CHECKING:  # a frame is one accepted form of history; pandas is never imported here for it
    import pandas as pd

LONG, SHORT = "long", "short"


@dataclass(frozen=True, slots=True)
class StrategyConfig:
    rsi_period: int = 14
    rsi_timeframe: Timeframe = Timeframe.H4
    rsi_low: float = 30.0
    rsi_high: float = 70.0
    take_profit_pct: float = 2.0
    stop_loss_pct: float = 1.0

    def __post_init__(self) -> None:
        problems = []
        if not 2 <= self.rsi_period <= 200:
            problems.append(f"rsi_period must be 2..200, got {self.rsi_period}")
        if not 0 <= self.rsi_low < self.rsi_high <= 100:
            problems.append(f"need 0 <= rsi_low < rsi_high <= 100, got {self.rsi_low}, {self.rsi_high}")
        for name in ("take_profit_pct", "stop_loss_pct"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value < 100):
                problems.append(f"{name} must be between 0 and 100 (percent), got {value}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def history_needed(self) -> int:
        """15m candles for a settled RSI: period + 1 complete groups, plus as many again to warm up
        Wilder's smoothing, plus one partial group."""
        return _history_needed(self.rsi_period, self.rsi_timeframe)


@functools.lru_cache(maxsize=256)
def _history_needed(period: int, tf: Timeframe) -> int:  # asked on every closed candle
    ratio = tf.ratio_to(BASE_TIMEFRAME)
    return max(100, (2 * period + 2) * ratio + ratio)


@dataclass(frozen=True, slots=True)
class Setup:
    """A candidate: RSI in band and moving; waits for the price to cross `trigger`."""

    symbol: str
    side: str
    rsi: float
    rsi_prev: float
    trigger: float  # price level to cross (above for long, below for short)
    ref_time: int  # open time of the 15m candle that set the trigger

    @property
    def strength(self) -> float:
        return abs(self.rsi - self.rsi_prev)

    def distance(self, price: float) -> float:
        """How far the price still is from the trigger, in % of price (<= 0: triggered)."""
        gap = self.trigger - price if self.side == LONG else price - self.trigger
        return 100.0 * gap / price

    def triggered_by(self, price: float) -> bool:
        return price > self.trigger if self.side == LONG else price < self.trigger


@dataclass(frozen=True, slots=True)
class Signal:
    """Enter now: side, price and the exit levels."""

    symbol: str
    side: str
    entry: float
    take_profit: float
    stop_loss: float
    rsi: float
    time_ms: int
    reason: str


#: closed 15m candles: an (n, 6) array, a frame with timestamp + OHLCV, or Candles (see as_array)
History: TypeAlias = "np.ndarray | pd.DataFrame | Sequence[Candle]"


def as_array(history: History) -> np.ndarray:
    """Closed 15m candles as an (n, 6) float array: open_time ms, O, H, L, C, V (oldest first).
    Accepts such an array, a frame with timestamp (int ms, or datetimes: naive ones are UTC) + OHLCV, or a sequence
    of Candle."""
    if isinstance(history, np.ndarray):
        return history
    if _is_frame(history):
        import pandas as pd  # loaded already: the caller made a frame

        ts = history["timestamp"]
        if isinstance(ts.dtype, pd.DatetimeTZDtype) or np.issubdtype(ts.dtype, np.datetime64):
            ms = pd.to_datetime(ts, utc=True).astype("datetime64[ms, UTC]").astype("int64").to_numpy()  # naive: UTC
        else:
            ms = ts.to_numpy(np.int64)
        return np.column_stack([ms.astype(np.float64)] + [history[c].to_numpy(np.float64)
                                                           for c in ("open", "high", "low", "close", "volume")])
    return np.array([(c.open_time, c.open, c.high, c.low, c.close, c.volume) for c in history],
                    dtype=np.float64).reshape(-1, 6)


def _is_frame(history: object) -> TypeGuard[pd.DataFrame]:
    """A pandas DataFrame, told without importing pandas (no frame can exist before it is imported)."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(history, pd.DataFrame)


def group_closes(arr: np.ndarray, tf: Timeframe) -> np.ndarray:
    """Closes of the complete `tf` groups in 15m candles (unique, ascending open times)."""
    if tf == BASE_TIMEFRAME:
        return arr[:, 4]
    n = len(arr)
    if not n:
        return np.empty(0)
    step, first_ms = BASE_TIMEFRAME.ms, int(arr[0, 0])
    if first_ms % step == 0 and int(arr[-1, 0]) - first_ms == (n - 1) * step:
        # unbroken 15m candles (the usual window): the complete groups are every ratio-th candle from the first
        # that opens a group, by arithmetic (the general case below costs ~10x more, on every closed candle)
        ratio = tf.ratio_to(BASE_TIMEFRAME)
        head = (-first_ms % tf.ms) // step  # candles before the first group start: a partial group
        return arr[head + ratio - 1::ratio, 4]
    ms = arr[:, 0].astype(np.int64)
    group = ms - ms % tf.ms
    starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
    counts = np.diff(np.append(starts, len(ms)))
    ends = starts + counts - 1
    complete = counts == tf.ratio_to(BASE_TIMEFRAME)
    closes: np.ndarray = arr[ends[complete], 4]
    return closes


def rsi_pair(arr: np.ndarray, cfg: StrategyConfig) -> tuple[float, float] | None:
    """(previous, last) RSI of the complete groups, or None without enough history."""
    closes = group_closes(arr, cfg.rsi_timeframe)
    if len(closes) < cfg.rsi_period + 2:
        return None
    key = (cfg.rsi_period, closes.tobytes())
    known = _RSI_PAIRS.get(key, _UNKNOWN)
    if known is not _UNKNOWN:
        return known  # type: ignore[return-value]
    rsi = rsi_wilder(closes, cfg.rsi_period)
    prev, last = float(rsi[-2]), float(rsi[-1])
    pair = None if math.isnan(prev) or math.isnan(last) else (prev, last)
    if len(_RSI_PAIRS) >= _RSI_PAIRS_KEPT:
        _RSI_PAIRS.clear()
    _RSI_PAIRS[key] = pair
    return pair


# (period, the group closes' bytes) -> rsi_pair's answer. The closes of a 4h RSI change once per 16 closed 15m
# candles, and the same window is asked about on each of them: recomputing Wilder's RSI every time was a fifth of
# a backtest. Keyed by the closes themselves, so a revised candle is a new key; bounded (cleared when full).
_RSI_PAIRS: dict[tuple[int, bytes], tuple[float, float] | None] = {}
_RSI_PAIRS_KEPT = 4096
_UNKNOWN = object()


def find_setup(history: History, cfg: StrategyConfig, symbol: str = "", *, upto: int | None = None) -> Setup | None:
    """The candidate on the candles (up to index `upto`, exclusive), with the last of them as reference."""
    arr = as_array(history)
    if upto is not None:
        arr = arr[:upto]
    if not len(arr):
        return None
    pair = rsi_pair(arr, cfg)
    if pair is None:
        return None
    prev, last = pair
    if not cfg.rsi_low < last < cfg.rsi_high or last == prev:
        return None
    side = LONG if last > prev else SHORT
    ref = arr[-1]
    return Setup(symbol, side, last, prev, float(ref[2] if side == LONG else ref[3]), int(ref[0]))


def signal_from(setup: Setup, price: float, time_ms: int, cfg: StrategyConfig) -> Signal | None:
    """Enter when the price crosses the setup's trigger."""
    if not setup.triggered_by(price):
        return None
    tp, sl = exit_levels(setup.side, price, cfg)
    word = "above the high" if setup.side == LONG else "below the low"
    reason = (f"{cfg.rsi_timeframe.label} RSI {setup.rsi_prev:.1f} -> {setup.rsi:.1f} in ({cfg.rsi_low:g}, "
              f"{cfg.rsi_high:g}); price {price:g} {word} {setup.trigger:g} of the 15m candle at {setup.ref_time}")
    return Signal(setup.symbol, setup.side, price, tp, sl, setup.rsi, time_ms, reason)


def detect_signal(history: History, cfg: StrategyConfig | None = None, symbol: str = "",
                  price: float | None = None, time_ms: int | None = None) -> Signal | None:
    """On a closed candle (price None): does its close break the previous candle in the RSI's direction?
    On a live price: does `price` break the last closed candle? RSI from the candles the reference
    candle closes (no look-ahead)."""
    cfg = cfg or StrategyConfig()
    arr = as_array(history)
    if price is None:
        if len(arr) < 2:
            return None
        last = arr[-1]
        if not (last[4] > arr[-2, 2] or last[4] < arr[-2, 3]):
            return None  # the close breaks neither the high nor the low of the candle before it: no trigger either way
        setup = find_setup(arr, cfg, symbol, upto=len(arr) - 1)
        price, when = float(last[4]), int(last[0]) + BASE_TIMEFRAME.ms
    else:
        setup = find_setup(arr, cfg, symbol)
        when = int(time_ms) if time_ms is not None else (int(arr[-1, 0]) + BASE_TIMEFRAME.ms if len(arr) else 0)
    if setup is None:
        return None
    return signal_from(setup, price, when, cfg)


def exit_levels(side: str, entry: float, cfg: StrategyConfig) -> tuple[float, float]:
    up, down = 1 + cfg.take_profit_pct / 100, 1 - cfg.stop_loss_pct / 100
    if side == LONG:
        return entry * up, entry * down
    return entry * (2 - up), entry * (2 - down)


def exit_reason(side: str, take_profit: float | None, stop_loss: float | None, price: float) -> str | None:
    """'tp' / 'sl' when the price touches a level (a level left out never is), else None."""
    sign = 1 if side == LONG else -1
    if take_profit is not None and sign * (price - take_profit) >= 0:
        return "tp"
    if stop_loss is not None and sign * (stop_loss - price) >= 0:
        return "sl"
    return None
