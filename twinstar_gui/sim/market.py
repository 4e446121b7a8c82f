"""A seeded synthetic market: one random-walk price path per symbol, sampled every `step_ms` of simulated time.

Every candle, ticker and trade the simulator serves is an aggregate of these steps, so all of them agree.

* Steps are stored as integers (price in ticks, quantity in lots), so prices are exact multiples of the tick
  and their text never shows float noise.
* Step i happens at `genesis + i * step_ms`. `genesis` is the clock start minus `history_days`, rounded down to
  00:00 UTC so the first daily bucket of the history is already complete.
* Steps are generated lazily in fixed chunks (one day at 10 s steps), each on its own, so that years of history
  cost nothing until asked for (`twinstar sim --history-days 730` starts as fast as with 30 days). The price at
  each chunk's end (its "anchor") is a slow random walk pulled back towards the symbol's starting price (a
  year of history stays in a believable range), drawn in blocks of days from generators seeded with
  (seed, symbol, block); chunk k's steps are a random walk from anchor k to anchor k + 1 (a Brownian bridge)
  drawn from a generator seeded with (seed, symbol, k). The same seed and clock start always give the same
  steps, in whatever order or at whatever time they are asked for, and a past step never changes. Only the
  chunks used lately are kept in memory.
* A bucket's open is its FIRST step's price (not the previous bucket's close), like an exchange where the
  first trade inside a candle sets its open; high/low/close are the max/min/last step prices, volume is the sum
  of step quantities and turnover the sum of price * quantity.
"""
from __future__ import annotations

import math
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .clock import SimClock

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
CHUNK_STEPS = 8_640  # steps per generated chunk: one day at 10 s
FUNDING_MS = 8 * HOUR_MS
ANCHOR_BLOCK = 256  # chunk anchors drawn per generator
REVERSION = 0.01  # per chunk: how hard the anchors are pulled back towards the starting price
KEPT_CHUNKS = 12  # per symbol: the chunks used last stay in memory (a kline page of 1000 15m candles spans 11)


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    price: float  # starting price
    tick: float  # price step
    lot: float  # quantity step
    volume_per_step: float = 0.0  # mean traded quantity per step; 0 -> about 150k quote units of notional

    def mean_lots(self) -> float:
        per_step = self.volume_per_step if self.volume_per_step > 0 else 150_000.0 / self.price
        return max(5.0, per_step / self.lot)


DEFAULT_SYMBOLS: dict[str, SymbolSpec] = {
    "BTCUSDT": SymbolSpec(65000.0, 0.1, 0.001, 3.0),
    "ETHUSDT": SymbolSpec(1900.0, 0.01, 0.01, 40.0),
    "SOLUSDT": SymbolSpec(77.0, 0.001, 0.1, 900.0),
    "DOGEUSDT": SymbolSpec(0.07, 0.00001, 1.0, 400_000.0),
    "XRPUSDT": SymbolSpec(0.5, 0.0001, 1.0, 60_000.0),
    "BNBUSDT": SymbolSpec(580.0, 0.01, 0.01, 20.0),
    "ADAUSDT": SymbolSpec(0.35, 0.0001, 1.0, 90_000.0),
    "AVAXUSDT": SymbolSpec(21.0, 0.001, 0.1, 800.0),
    "LINKUSDT": SymbolSpec(11.0, 0.001, 0.1, 1_500.0),
    "LTCUSDT": SymbolSpec(64.0, 0.01, 0.1, 300.0),
    "1000PEPEUSDT": SymbolSpec(0.009, 0.0000001, 100.0, 3_000_000.0),  # a prefixed base, as on Bybit
}
# A wider universe for scanners and `top:N` (50+ symbols): price, tick, lot; volumes spread over two
# orders of magnitude so a ranking by 24 h quote volume is meaningful.
_MORE = (
    ("DOTUSDT", 5.2, 0.001, 0.1), ("TRXUSDT", 0.12, 0.00001, 1), ("MATICUSDT", 0.55, 0.0001, 1),
    ("ATOMUSDT", 6.8, 0.001, 0.1), ("NEARUSDT", 4.1, 0.001, 0.1), ("APTUSDT", 7.3, 0.001, 0.01),
    ("ARBUSDT", 0.8, 0.0001, 0.1), ("OPUSDT", 1.6, 0.0001, 0.1), ("FILUSDT", 4.0, 0.001, 0.1),
    ("ETCUSDT", 20.0, 0.001, 0.1), ("BCHUSDT", 350.0, 0.05, 0.01), ("UNIUSDT", 7.0, 0.001, 0.1),
    ("AAVEUSDT", 95.0, 0.01, 0.01), ("INJUSDT", 21.0, 0.001, 0.1), ("SUIUSDT", 1.1, 0.0001, 10),
    ("SEIUSDT", 0.4, 0.0001, 1), ("TIAUSDT", 8.0, 0.001, 0.1), ("WIFUSDT", 1.9, 0.0001, 1),
    ("LDOUSDT", 1.8, 0.0001, 0.1), ("RNDRUSDT", 6.5, 0.001, 0.1), ("FTMUSDT", 0.6, 0.0001, 1),
    ("ALGOUSDT", 0.17, 0.0001, 1), ("XLMUSDT", 0.11, 0.00001, 1), ("VETUSDT", 0.03, 0.000001, 1),
    ("HBARUSDT", 0.08, 0.00001, 1), ("ICPUSDT", 10.0, 0.001, 0.1), ("SANDUSDT", 0.4, 0.0001, 1),
    ("MANAUSDT", 0.42, 0.0001, 1), ("AXSUSDT", 6.5, 0.001, 0.1), ("GALAUSDT", 0.025, 0.00001, 1),
    ("EOSUSDT", 0.7, 0.0001, 0.1), ("THETAUSDT", 1.4, 0.0001, 0.1), ("EGLDUSDT", 35.0, 0.01, 0.01),
    ("FLOWUSDT", 0.7, 0.0001, 0.1), ("CHZUSDT", 0.08, 0.00001, 1), ("CRVUSDT", 0.45, 0.0001, 0.1),
    ("DYDXUSDT", 1.7, 0.0001, 0.1), ("GMXUSDT", 30.0, 0.01, 0.01), ("KAVAUSDT", 0.6, 0.0001, 0.1),
    ("ZECUSDT", 25.0, 0.01, 0.01), ("DASHUSDT", 28.0, 0.01, 0.01), ("XMRUSDT", 130.0, 0.01, 0.01),
    ("COMPUSDT", 50.0, 0.01, 0.01), ("MKRUSDT", 1500.0, 0.1, 0.001), ("SNXUSDT", 2.5, 0.001, 0.1),
    ("RUNEUSDT", 5.0, 0.001, 0.1), ("STXUSDT", 1.8, 0.0001, 0.1), ("IMXUSDT", 1.9, 0.0001, 0.1),
    ("ORDIUSDT", 40.0, 0.001, 0.01), ("JUPUSDT", 0.9, 0.0001, 1), ("ENAUSDT", 0.6, 0.0001, 1),
    ("TONUSDT", 5.5, 0.0001, 0.1),
)
for _i, (_name, _price, _tick, _lot) in enumerate(_MORE):
    # notional per 10 s step from ~3k to ~120k quote units, varied by position so rankings differ
    DEFAULT_SYMBOLS[_name] = SymbolSpec(_price, _tick, _lot, (3_000.0 + 117_000.0 * ((_i * 37) % 53) / 52) / _price)


class Candle(NamedTuple):
    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    turnover: float
    closed: bool


class Trade(NamedTuple):
    time_ms: int
    price: float
    qty: float
    direction: int  # +1 price up vs the previous step, -1 down, 0 unchanged
    seq: int  # step index: unique and increasing per symbol


def decimals(step: float) -> int:
    """Decimal places of a tick/lot size: 0.001 -> 3, 1 -> 0, 0.05 -> 2."""
    text = f"{step:.12f}".rstrip("0")
    return len(text.split(".", 1)[1]) if "." in text else 0


def _as_spec(value: SymbolSpec | tuple) -> SymbolSpec:
    if isinstance(value, SymbolSpec):
        return value
    spec = SymbolSpec(*(float(v) for v in value))
    if not (spec.price > 0 and spec.tick > 0 and spec.lot > 0):
        raise ValueError(f"symbol spec needs price, tick and lot > 0, got {value!r}")
    return spec


class _Scale:
    """Integer steps -> exact floats: ticks * units / 10**places is the double nearest the decimal value."""

    def __init__(self, step: float) -> None:
        self.places = decimals(step)
        self.units = int(round(step * 10 ** self.places))
        self.div = float(10 ** self.places)

    def floats(self, counts: np.ndarray) -> np.ndarray:
        return (counts * self.units).astype(np.float64) / self.div

    def one(self, count: int) -> float:
        return (int(count) * self.units) / self.div


class _Path:
    """Prices (ticks) and quantities (lots) of one symbol, chunk by chunk, any chunk on its own."""

    def __init__(self, seed: int, name: str, spec: SymbolSpec, sigma: float) -> None:
        self.key = [int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode())]
        self.spec = spec
        self.sigma = sigma
        self.home = math.log(spec.price)
        self.anchors = [self.home]  # log price at the end of chunk k - 1 (the start of chunk k)
        self.regimes: list[float] = []  # chunk k's volatility factor: calm and busy days
        self.chunks: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.script: tuple[np.ndarray, np.ndarray, int, int] | None = None  # times, prices, genesis, step

    def _grow_anchors(self, chunks: int) -> None:
        """Anchors up to chunk `chunks` (regimes of chunks 0..chunks-1)."""
        while len(self.regimes) < chunks:
            block = len(self.regimes) // ANCHOR_BLOCK
            rng = np.random.default_rng(self.key + [block, 0xA4C])
            regimes = rng.lognormal(0.0, 0.35, ANCHOR_BLOCK)
            moves = rng.standard_normal(ANCHOR_BLOCK) * self.sigma * math.sqrt(CHUNK_STEPS) * regimes
            a = self.anchors[-1]
            for m in moves.tolist():
                a += REVERSION * (self.home - a) + m
                self.anchors.append(a)
            self.regimes += regimes.tolist()

    def chunk(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Ticks and lots of the CHUNK_STEPS steps of chunk k (arrays never mutated: readers keep them)."""
        got = self.chunks.get(k)
        if got is not None:
            self.chunks.move_to_end(k)
            return got
        self._grow_anchors(k + 1)
        rng = np.random.default_rng(self.key + [k])
        z = rng.standard_normal(CHUNK_STEPS)
        walk = np.cumsum(z * self.sigma * self.regimes[k])
        a0, a1 = self.anchors[k], self.anchors[k + 1]
        logp = a0 + walk - np.arange(1, CHUNK_STEPS + 1) / CHUNK_STEPS * (walk[-1] - (a1 - a0))  # ends on a1
        ticks = np.maximum(1, np.rint(np.exp(logp) / self.spec.tick)).astype(np.int64)
        size = rng.gamma(2.0, self.spec.mean_lots() / 2.0, CHUNK_STEPS) * (0.6 + 0.4 * np.abs(z))
        lots = np.maximum(1, np.rint(size)).astype(np.int64)
        if self.script is not None:
            self._apply_script(k, ticks)
        self.chunks[k] = (ticks, lots)
        if len(self.chunks) > KEPT_CHUNKS:
            self.chunks.popitem(last=False)
        return ticks, lots

    def _apply_script(self, k: int, ticks: np.ndarray) -> None:
        """Steps of chunk k from the script's first time on follow the scripted path (flat after its last point)."""
        assert self.script is not None
        times, prices, genesis, step = self.script
        t = genesis + (k * CHUNK_STEPS + np.arange(CHUNK_STEPS, dtype=np.int64)) * step
        on = t >= times[0]
        if on.any():
            ticks[on] = np.maximum(1, np.rint(np.interp(t[on], times, prices) / self.spec.tick)).astype(np.int64)

    def steps(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Ticks and lots of steps lo..hi-1 (0 <= lo <= hi)."""
        if hi <= lo:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        first, last = lo // CHUNK_STEPS, (hi - 1) // CHUNK_STEPS
        parts = [self.chunk(k) for k in range(first, last + 1)]
        cut = lo - first * CHUNK_STEPS
        if len(parts) == 1:
            t, q = parts[0]
            return t[cut:cut + hi - lo], q[cut:cut + hi - lo]
        t = np.concatenate([p[0] for p in parts])[cut:cut + hi - lo]
        q = np.concatenate([p[1] for p in parts])[cut:cut + hi - lo]
        return t, q


class Market:
    """Deterministic candles, tickers and trades for a set of symbols, driven by `clock`."""

    def __init__(self, clock: SimClock, seed: int = 7, symbols: dict[str, SymbolSpec | tuple] | None = None,
                 history_days: float = 30, step_ms: int = 10_000, sigma_15m: float = 0.0025) -> None:
        if step_ms <= 0 or DAY_MS % step_ms:
            raise ValueError(f"step_ms must divide one day, got {step_ms}")
        self.clock = clock
        self.seed = seed
        self.step_ms = int(step_ms)
        self.specs: dict[str, SymbolSpec] = {k: _as_spec(v) for k, v in (symbols or DEFAULT_SYMBOLS).items()}
        start = clock.start_ms - int(history_days * DAY_MS)
        self.genesis = start - start % DAY_MS
        sigma = sigma_15m / math.sqrt(900_000 / self.step_ms)
        self._paths = {name: _Path(seed, name, spec, sigma) for name, spec in self.specs.items()}
        self._price_scale = {name: _Scale(spec.tick) for name, spec in self.specs.items()}
        self._qty_scale = {name: _Scale(spec.lot) for name, spec in self.specs.items()}
        self._lock = threading.Lock()
        self._format_specs: dict[str, tuple[str, str, str]] = {}
        self.outages: list[tuple[int, int]] = []  # [start, end) ms: the exchange kept no candles then (add_outage)

    def __repr__(self) -> str:
        return f"Market(seed={self.seed}, genesis={self.genesis}, symbols={len(self.specs)}, clock={self.clock!r})"

    # -- symbols ----------------------------------------------------------------------------------------
    @property
    def symbols(self) -> list[str]:
        return list(self.specs)

    def has_symbol(self, symbol: str) -> bool:
        return symbol in self.specs

    def spec(self, symbol: str) -> SymbolSpec:
        try:
            return self.specs[symbol]
        except KeyError:
            raise KeyError(f"simulated market has no symbol {symbol!r}") from None

    def tick_size(self, symbol: str) -> float:
        return self.spec(symbol).tick

    def lot_size(self, symbol: str) -> float:
        return self.spec(symbol).lot

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def script(self, symbol: str, times_ms, prices) -> None:
        """Make a symbol's price follow a path: linear between (time, price) points, flat after the last.
        Set it before serving the times it covers (tests script a known entry and exit this way)."""
        t = np.asarray(times_ms, dtype=np.int64)
        p = np.asarray(prices, dtype=np.float64)
        if len(t) < 2 or len(t) != len(p) or (np.diff(t) <= 0).any() or (p <= 0).any():
            raise ValueError("a script needs >= 2 points with increasing times and positive prices")
        self.spec(symbol)
        with self._lock:
            path = self._paths[symbol]
            path.script = (t, p, self.genesis, self.step_ms)
            path.chunks.clear()  # made again, with the script, when next asked for

    def add_outage(self, start_ms: int, end_ms: int) -> None:
        """A hole in the exchange's own history, as after a maintenance: no candle opens in [start_ms, end_ms)."""
        if end_ms <= start_ms:
            raise ValueError("an outage needs start < end")
        self.outages.append((int(start_ms), int(end_ms)))

    # -- text, exactly as an exchange prints it ---------------------------------------------------------
    def price_decimals(self, symbol: str) -> int:
        self.spec(symbol)
        return self._price_scale[symbol].places

    def qty_decimals(self, symbol: str) -> int:
        self.spec(symbol)
        return self._qty_scale[symbol].places

    def fmt_price(self, symbol: str, value: float) -> str:
        return format(value, self.formats(symbol)[0])

    def fmt_qty(self, symbol: str, value: float) -> str:
        return format(value, self.formats(symbol)[1])

    def formats(self, symbol: str) -> tuple[str, str, str]:
        """Format specs of price, quantity and turnover (a kline page formats thousands of values)."""
        specs = self._format_specs.get(symbol)
        if specs is None:
            specs = self._format_specs[symbol] = (f".{self.price_decimals(symbol)}f", f".{self.qty_decimals(symbol)}f",
                                                  f".{self.turnover_decimals(symbol)}f")
        return specs

    def turnover_decimals(self, symbol: str) -> int:
        """Turnover is a sum of price * qty: the decimals of tick * lot are exact (BTC 0.1 * 0.001 -> 4)."""
        self.spec(symbol)
        ps, qs = self._price_scale[symbol], self._qty_scale[symbol]
        units, places = ps.units * qs.units, ps.places + qs.places
        while places and units % 10 == 0:
            units, places = units // 10, places - 1
        return places

    def fmt_turnover(self, symbol: str, value: float) -> str:
        return format(value, self.formats(symbol)[2])

    # -- steps ----------------------------------------------------------------------------------------
    def _count(self, upto_ms: int) -> int:
        """How many steps happened at time <= upto_ms."""
        return (upto_ms - self.genesis) // self.step_ms + 1 if upto_ms >= self.genesis else 0

    def _range(self, symbol: str, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Ticks and lots of steps lo..hi-1."""
        path = self._paths.get(symbol)
        if path is None:
            self.spec(symbol)  # KeyError naming the symbol
            raise KeyError(symbol)  # (a symbol with a spec has a path)
        with self._lock:
            return path.steps(max(0, lo), hi)

    def last_price(self, symbol: str, now_ms: int | None = None) -> float:
        n = self._count(self.now_ms() if now_ms is None else now_ms)
        if not n:
            self.spec(symbol)
            return self.spec(symbol).price
        ticks, _ = self._range(symbol, n - 1, n)
        return self._price_scale[symbol].one(ticks[-1])

    def trades(self, symbol: str, after_ms: int, upto_ms: int, limit: int = 1000) -> list[Trade]:
        """The newest `limit` steps with after_ms < time <= upto_ms, oldest first, as trades."""
        n = self._count(upto_ms)
        first = max(1, self._count(after_ms), n - limit)
        if first >= n:
            self.spec(symbol)
            return []
        t, lots = self._range(symbol, first - 1, n)
        prices = self._price_scale[symbol].floats(t[1:])
        qtys = self._qty_scale[symbol].floats(lots[1:])
        moves = np.sign(np.diff(t)).tolist()
        return [Trade(self.genesis + i * self.step_ms, p, q, int(d), i)
                for i, p, q, d in zip(range(first, n), prices.tolist(), qtys.tolist(), moves)]

    # -- candles --------------------------------------------------------------------------------------
    def candles(self, symbol: str, interval_ms: int, start_ms: int, end_ms: int,
                now_ms: int | None = None) -> list[Candle]:
        """Buckets aligned to interval_ms (UTC epoch) with open_time in [start_ms, end_ms] and <= now, oldest
        first. The still-forming bucket (open_time + interval > now) comes last with closed=False and the
        values of its steps so far. `now_ms` pins "now" (default: the clock)."""
        if interval_ms <= 0 or interval_ms % self.step_ms:
            raise ValueError(f"interval {interval_ms} ms is not a positive multiple of the {self.step_ms} ms step")
        self.spec(symbol)
        now = self.now_ms() if now_ms is None else now_ms
        first = max(start_ms, self.genesis)
        first += -first % interval_ms
        last = min(end_ms, now)
        last -= last % interval_ms
        if last < first:
            return []
        i0 = (first - self.genesis) // self.step_ms
        t, q = self._range(symbol, i0, self._count(min(now, last + interval_ms - 1)))
        per = interval_ms // self.step_ms
        edges = np.arange(0, len(t), per)
        if not len(edges):
            return []
        ps, qs = self._price_scale[symbol], self._qty_scale[symbol]
        opens = ps.floats(t[edges])
        highs = ps.floats(np.maximum.reduceat(t, edges))
        lows = ps.floats(np.minimum.reduceat(t, edges))
        closes = ps.floats(t[np.minimum(edges + per, len(t)) - 1])
        vols = qs.floats(np.add.reduceat(q, edges))
        turn = np.add.reduceat(t * q, edges).astype(np.float64) * (ps.units * qs.units) / (ps.div * qs.div)
        times = (first + np.arange(len(edges), dtype=np.int64) * interval_ms).tolist()
        rows = [Candle(ot, o, h, lo, c, v, tv, ot + interval_ms <= now) for ot, o, h, lo, c, v, tv in zip(
            times, opens.tolist(), highs.tolist(), lows.tolist(), closes.tolist(), vols.tolist(), turn.tolist())]
        if self.outages:
            rows = [c for c in rows if not any(a <= c.open_time < b for a, b in self.outages)]
        return rows

    def closed_candles(self, symbol: str, interval_ms: int, start_ms: int, end_ms: int) -> list[Candle]:
        """Ground truth: only the closed buckets of candles()."""
        return [c for c in self.candles(symbol, interval_ms, start_ms, end_ms) if c.closed]

    # -- 24 h statistics ----------------------------------------------------------------------------------
    def ticker(self, symbol: str, now_ms: int | None = None) -> dict:
        """24 h statistics under Bybit's field names, as numbers (the exchange module formats them).

        Window = steps in (now - 24 h, now]; prevPrice24h/prevPrice1h = price of the last step at or before
        now - 24 h / now - 1 h; bid = last - one tick, ask = last; mark and index follow the last price.
        """
        now = self.now_ms() if now_ms is None else now_ms
        ps, qs = self._price_scale[symbol], self._qty_scale[symbol]
        n = max(1, self._count(now))  # asked about a time before genesis: its first step
        day = DAY_MS // self.step_ms
        lo = max(0, n - 1 - day)  # the step at or before now - 24 h, then the day's window
        ticks, lots = self._range(symbol, lo, n)
        w_t, w_q = ticks[max(0, n - day) - lo:], lots[max(0, n - day) - lo:]
        last = int(ticks[-1])
        prev24 = int(ticks[0])
        prev1h = int(ticks[max(0, n - 1 - HOUR_MS // self.step_ms) - lo])
        move = int(np.sign(ticks[-1] - ticks[-2])) if len(ticks) > 1 else 0
        volume = int(w_q.sum())
        turnover = float(int((w_t * w_q).sum())) * ps.units * qs.units / (ps.div * qs.div)
        return {
            "symbol": symbol, "lastPrice": ps.one(last), "prevPrice24h": ps.one(prev24),
            "price24hPcnt": (last - prev24) / prev24, "highPrice24h": ps.one(int(w_t.max())),
            "lowPrice24h": ps.one(int(w_t.min())), "prevPrice1h": ps.one(prev1h), "direction": move,
            "volume24h": qs.one(volume), "turnover24h": turnover,
            "bid1Price": ps.one(max(1, last - 1)), "bid1Size": qs.one(int(lots[-1]) // 3 + 1),
            "ask1Price": ps.one(last), "ask1Size": qs.one(int(lots[-2 if n > 1 else -1]) // 3 + 1),
            "markPrice": ps.one(last), "indexPrice": ps.one(last),
            "openInterest": qs.one(volume * 3 // 4), "openInterestValue": ps.one(last) * qs.one(volume * 3 // 4),
            "fundingRate": 0.0001, "nextFundingTime": now - now % FUNDING_MS + FUNDING_MS,
            "seq": self.genesis // self.step_ms + n,  # grows with every step: Bybit's `cs`
        }
