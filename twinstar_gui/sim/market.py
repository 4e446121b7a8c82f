"""One seeded price process per symbol, sampled every `step_ms` of simulated time; candles are aggregates of it.

Deterministic: steps are generated in fixed-size chunks, each from its own seeded generator, so the same seed
and clock start always give the same candles, however and whenever they are asked for. A bucket's open is its
first step's price (not the previous close), as on an exchange where the first trade of a candle sets its open.
"""
from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass

import numpy as np

from .clock import SimClock

DAY_MS = 86_400_000
CHUNK = 8_640  # steps per generated chunk (one day at 10 s)


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    price: float  # starting price
    tick: float  # price step
    lot: float  # quantity step
    volume_per_step: float  # mean traded quantity per step


DEFAULT_SYMBOLS: dict[str, SymbolSpec] = {
    "BTCUSDT": SymbolSpec(65000.0, 0.1, 0.001, 3.0),
    "ETHUSDT": SymbolSpec(1900.0, 0.01, 0.01, 40.0),
    "SOLUSDT": SymbolSpec(77.0, 0.001, 0.1, 900.0),
    "XRPUSDT": SymbolSpec(0.5, 0.0001, 1.0, 60_000.0),
    "DOGEUSDT": SymbolSpec(0.07, 0.00001, 1.0, 400_000.0),
    "BNBUSDT": SymbolSpec(580.0, 0.01, 0.01, 20.0),
    "ADAUSDT": SymbolSpec(0.35, 0.0001, 1.0, 90_000.0),
    "AVAXUSDT": SymbolSpec(21.0, 0.001, 0.1, 800.0),
    "LINKUSDT": SymbolSpec(11.0, 0.001, 0.1, 1500.0),
    "LTCUSDT": SymbolSpec(64.0, 0.01, 0.1, 300.0),
}


def decimals(step: float) -> int:
    text = f"{step:.10f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


class _Path:
    """Prices (in ticks) and quantities (in lots) of one symbol, extended chunk by chunk."""

    def __init__(self, seed: int, name: str, spec: SymbolSpec, sigma_per_step: float) -> None:
        self.key = [seed, zlib.crc32(name.encode())]
        self.spec = spec
        self.sigma = sigma_per_step
        self.ticks = np.empty(0, np.int64)
        self.lots = np.empty(0, np.int64)
        self._log_price = float(np.log(spec.price))

    def ensure(self, n: int) -> None:
        while len(self.ticks) < n:
            chunk = len(self.ticks) // CHUNK
            rng = np.random.default_rng(self.key + [chunk])
            logp = self._log_price + np.cumsum(rng.normal(0.0, self.sigma, CHUNK))
            self._log_price = float(logp[-1])
            ticks = np.maximum(1, np.round(np.exp(logp) / self.spec.tick)).astype(np.int64)
            mean_lots = max(1.0, self.spec.volume_per_step / self.spec.lot)
            lots = np.maximum(1, np.round(rng.gamma(2.0, mean_lots / 2.0, CHUNK))).astype(np.int64)
            self.ticks = np.concatenate([self.ticks, ticks])
            self.lots = np.concatenate([self.lots, lots])


class Market:
    def __init__(self, clock: SimClock, seed: int = 7, symbols: dict[str, SymbolSpec] | None = None,
                 history_days: float = 30, step_ms: int = 10_000, sigma_15m: float = 0.0025) -> None:
        self.clock = clock
        self.seed = seed
        self.step_ms = step_ms
        self.specs = dict(symbols or DEFAULT_SYMBOLS)
        start = clock.start_ms - int(history_days * DAY_MS)
        self.genesis = start - start % DAY_MS  # whole days, so every bucket of the history is complete
        sigma = sigma_15m / np.sqrt(900_000 / step_ms)
        self._paths = {name: _Path(seed, name, spec, sigma) for name, spec in self.specs.items()}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Market(seed={self.seed}, symbols={list(self.specs)})"

    @property
    def symbols(self) -> list[str]:
        return list(self.specs)

    def has_symbol(self, symbol: str) -> bool:
        return symbol in self.specs

    def spec(self, symbol: str) -> SymbolSpec:
        try:
            return self.specs[symbol]
        except KeyError:
            raise KeyError(f"simulator has no symbol {symbol!r}") from None

    def tick_size(self, symbol: str) -> float:
        return self.spec(symbol).tick

    def now_ms(self) -> int:
        return self.clock.now_ms()

    # -- steps ----------------------------------------------------------------------------------------
    def _steps(self, symbol: str, upto_ms: int) -> tuple[np.ndarray, np.ndarray]:
        """Ticks and lots of every step with time <= upto_ms (step i is at genesis + i*step_ms)."""
        self.spec(symbol)  # KeyError naming the symbol
        path = self._paths[symbol]
        n = max(0, (upto_ms - self.genesis) // self.step_ms + 1)
        with self._lock:
            path.ensure(n)
            return path.ticks[:n], path.lots[:n]

    def last_price(self, symbol: str) -> float:
        ticks, _ = self._steps(symbol, self.now_ms())
        return float(ticks[-1]) * self.spec(symbol).tick

    # -- candles --------------------------------------------------------------------------------------
    def candles(self, symbol: str, interval_ms: int, start_ms: int, end_ms: int, now_ms: int | None = None) -> list[tuple]:
        """(open_time, open, high, low, close, volume, turnover, closed) for buckets with open in [start, end], <= now.

        Prices and volumes are exact multiples of tick/lot, returned as floats; `fmt_price` gives the wire text.
        """
        if interval_ms % self.step_ms:
            raise ValueError(f"interval {interval_ms} ms is not a multiple of the {self.step_ms} ms step")
        now = self.now_ms() if now_ms is None else now_ms
        spec = self.spec(symbol)
        first = max(start_ms - start_ms % interval_ms, self.genesis)
        if first < start_ms:
            first += interval_ms
        last = min(end_ms, now)
        last -= last % interval_ms
        if last < first:
            return []
        ticks, lots = self._steps(symbol, min(now, last + interval_ms - 1))
        per = interval_ms // self.step_ms
        i0 = (first - self.genesis) // self.step_ms
        t, q = ticks[i0:], lots[i0:]
        edges = np.arange(0, len(t), per)
        if not len(edges):
            return []
        o = t[edges]
        h = np.maximum.reduceat(t, edges)
        lo = np.minimum.reduceat(t, edges)
        c = t[np.minimum(edges + per, len(t)) - 1]
        v = np.add.reduceat(q, edges)
        turnover = np.add.reduceat(t * q, edges) * spec.tick * spec.lot
        out = []
        for k, e in enumerate(edges):
            open_time = first + k * interval_ms
            out.append((open_time, o[k] * spec.tick, h[k] * spec.tick, lo[k] * spec.tick, c[k] * spec.tick,
                        v[k] * spec.lot, float(turnover[k]), open_time + interval_ms <= now))
        return [_exact(row, spec) for row in out]

    def closed_candles(self, symbol: str, interval_ms: int, start_ms: int, end_ms: int) -> list[tuple]:
        return [r for r in self.candles(symbol, interval_ms, start_ms, end_ms) if r[7]]

    def fmt_price(self, symbol: str, value: float) -> str:
        return f"{value:.{decimals(self.spec(symbol).tick)}f}"

    def fmt_qty(self, symbol: str, value: float) -> str:
        return f"{value:.{decimals(self.spec(symbol).lot)}f}"

    def ticker(self, symbol: str) -> dict:
        now = self.now_ms()
        day = self.candles(symbol, 3_600_000, now - DAY_MS + 1, now)
        last = self.last_price(symbol)
        prev = day[0][1] if day else last
        high = max([r[2] for r in day] or [last])
        low = min([r[3] for r in day] or [last])
        vol = sum(r[5] for r in day)
        turnover = sum(r[6] for r in day)
        return {"last": last, "prev24h": prev, "high24h": high, "low24h": low, "volume24h": vol,
                "turnover24h": turnover, "change": (last - prev) / prev if prev else 0.0}


def _exact(row: tuple, spec: SymbolSpec) -> tuple:
    """Round float noise away: 651143 * 0.1 must read back as 65114.3 exactly."""
    pd_, qd = decimals(spec.tick), decimals(spec.lot)
    t, o, h, l, c, v, turnover, closed = row
    return (int(t), round(o, pd_), round(h, pd_), round(l, pd_), round(c, pd_), round(v, qd), round(turnover, 4), closed)
