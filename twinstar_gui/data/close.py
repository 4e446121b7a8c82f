"""The close detector: one mechanism for every exchange to tell when a candle is final.

Inputs are what a stream says (a candle with or without the exchange's close flag, a trade, a last price) and
the clock (a deadline check); each returns what follows from it, in order:

- `Forming(candle)`: the candle still forming moved (for the chart; never stored, never traded on).
- `StreamClosed(candle)`: the exchange flagged this candle closed (Bybit `confirm`, Binance `k.x`, OKX `confirm`).
- `ConfirmByRest(reason)`: a bucket is over but its final values are not known from the stream (a newer bucket
  began on an exchange with no close flag, a trade opened the next bucket, or the deadline passed with no
  close on a silent stream): the series fetches them by REST. Never a guess from the last push.

The series tells the detector which candles it has accepted as closed (`closed_through`), so a late or repeated
frame of a final candle is not taken for a forming one, and what the exchange's REST clock said
(`server_clock`). A candle from the future (by the exchange's clock, plus a bounded skew) is ignored, once
logged; a stream that keeps going bucket after bucket ahead of our clock is followed (our clock is off).

Pure bookkeeping: no I/O, no threads, no asyncio. It is used by one series at a time (not thread-safe).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ..core.models import Candle
from ..core.timeframe import BASE_TIMEFRAME, Timeframe
from ..core.trades import TradeCandles

log = logging.getLogger(__name__)

MAX_CLOCK_SKEW_MS = 10 * 60_000  # a stream candle may be this far ahead of the exchange's clock as we know it
MAX_STREAM_LEAD_MS = 6 * BASE_TIMEFRAME.ms  # ... or this far past the last closed candle
STREAK_TO_FOLLOW = 3  # buckets in a row ahead of our clock before the stream's clock is believed


@dataclass(frozen=True, slots=True)
class Forming:
    candle: Candle


@dataclass(frozen=True, slots=True)
class StreamClosed:
    candle: Candle


@dataclass(frozen=True, slots=True)
class ConfirmByRest:
    reason: str  # "rollover", "trade rollover", "deadline"


Verdict = Forming | StreamClosed | ConfirmByRest


class CloseDetector:
    """Close detection of one series (see the module's doc)."""

    def __init__(self, label: str, now_ms: Callable[[], int], tf: Timeframe = BASE_TIMEFRAME) -> None:
        self.label = label  # "okx BTC/USDT:USDT": how log lines name the series
        self.now_ms = now_ms
        self.tf = tf
        self.last_closed: int | None = None  # open time of the newest candle the series accepted as closed
        self.forming: Candle | None = None
        self.clock_offset_ms = 0  # exchange clock - ours: REST server times and the stream's forming candles
        self._server_offset_ms = 0  # the same from REST answers only (a stream cannot move it)
        self._deadline_done: int | None = None  # the forming candle the deadline already asked REST about
        self._trades = TradeCandles(tf)
        self._future_said: int | None = None  # the newest future candle logged (said once, not per frame)
        self._future_bucket: int | None = None  # the stream's bucket when it last looked ahead of our clock
        self._future_streak = 0  # consecutive buckets it did so

    # -- what the series tells it ------------------------------------------------------------------------------
    def closed_through(self, open_time: int) -> None:
        """The series accepted the candle opening at `open_time` as closed (from the stream, REST or disk)."""
        if self.last_closed is None or open_time > self.last_closed:
            self.last_closed = open_time

    def server_clock(self, server_ms: int) -> None:
        """The exchange's REST answer said what time it is."""
        self.clock_offset_ms = self._server_offset_ms = int(server_ms) - self.now_ms()

    def exchange_now(self) -> int:
        """Our clock moved by what the exchange said of its own."""
        return self.now_ms() + self.clock_offset_ms

    # -- what the stream says ----------------------------------------------------------------------------------
    def kline(self, candle: Candle, closed: bool | None) -> list[Verdict]:
        """A candle of this timeframe from the stream; `closed`: the exchange's flag, None where it has none."""
        if not self._plausible(candle.open_time, bool(closed)):
            return []
        out: list[Verdict] = []
        if closed is None and self.forming is not None and candle.open_time > self.forming.open_time:
            # a newer bucket means the previous one is over, but its last push may predate its last trades
            out.append(ConfirmByRest("rollover"))
        if closed:
            out.append(StreamClosed(candle))
            if self.forming is not None and self.forming.open_time <= candle.open_time:
                self.forming = None
        elif self.last_closed is None or candle.open_time > self.last_closed:
            # the exchange's clock is at least this candle's open
            self.clock_offset_ms = max(self.clock_offset_ms, candle.open_time - self.now_ms())
            self.forming = candle
            out.append(Forming(candle))
        return out

    def trade(self, price: float, size: float, time_ms: int) -> list[Verdict]:
        """A trade (where the exchange streams no candles, trades build the forming one)."""
        bucket = self.tf.bucket_start(time_ms)
        if self.last_closed is not None and bucket <= self.last_closed:
            return []  # a late trade of a candle already final
        if not self._plausible(bucket, False):
            return []
        out: list[Verdict] = []
        if self._trades.add(price, size, time_ms) is not None:
            out.append(ConfirmByRest("trade rollover"))  # that bucket is over: its final values come from REST
        built = self._trades.forming
        if built is not None and built != self.forming:
            self.forming = built
            out.append(Forming(built))
        return out

    def price(self, price: float, time_ms: int) -> list[Verdict]:
        """A last price (ticker): moves the forming candle's close, high and low."""
        f = self.forming
        if f is None or not (f.open_time <= time_ms < f.open_time + self.tf.ms):
            return []
        self.forming = Candle(f.open_time, f.open, max(f.high, price), min(f.low, price), price, f.volume)
        return [Forming(self.forming)]

    def deadline(self, grace_ms: int) -> list[Verdict]:
        """Once the forming candle's bucket has ended (+ grace) by the exchange's clock and no close came (a quiet
        market, a silent stream): confirm it by REST. Once per candle."""
        f = self.forming
        if f is None or self._deadline_done == f.open_time:
            return []
        if self.last_closed is not None and self.last_closed >= f.open_time:
            return []
        if self.exchange_now() < f.open_time + self.tf.ms + grace_ms:
            return []
        self._deadline_done = f.open_time
        log.info("%s: no close for %s by its deadline; confirming by REST", self.label, _fmt(f.open_time))
        return [ConfirmByRest("deadline")]

    # -- the clock's sanity ------------------------------------------------------------------------------------
    def _plausible(self, open_time: int, closed: bool) -> bool:
        """A candle from the stream must not lie in the future: a closed one must have ended, a forming one must
        have begun, by the exchange's clock (ours plus the offset its REST answers gave, plus MAX_CLOCK_SKEW_MS)
        or at most MAX_STREAM_LEAD_MS after the last closed candle. One forged frame dated 2099 would otherwise
        close the series' future and poison its clock. Before any history the stream is the only clock there is
        (a simulated exchange runs faster than ours); a stream that keeps going, bucket after bucket, beyond our
        clock is followed after STREAK_TO_FOLLOW buckets (our clock is the one that is off)."""
        if self.last_closed is None:
            return True
        horizon = max(self.now_ms() + max(0, self._server_offset_ms) + MAX_CLOCK_SKEW_MS,
                      self.last_closed + MAX_STREAM_LEAD_MS)
        if open_time + (self.tf.ms if closed else 0) <= horizon:
            return True
        bucket = open_time if not closed else open_time + self.tf.ms  # the bucket the stream is in
        last = self._future_bucket
        if last is not None and bucket == last + self.tf.ms:
            self._future_streak += 1
        elif bucket != last:
            self._future_streak = 0
        self._future_bucket = bucket
        if self._future_streak >= STREAK_TO_FOLLOW:
            self._server_offset_ms = bucket - self.now_ms()
            log.warning("%s: the stream is %s ahead of our clock, bucket after bucket; following it",
                        self.label, _span(bucket - self.now_ms()))
            return True
        if self._future_said is None or self._future_said < open_time:
            self._future_said = open_time
            log.warning("%s: ignored a %s candle from the future (%s): the stream is not to be trusted on it",
                        self.label, "closed" if closed else "forming", _fmt(open_time))
        return False


def _fmt(ms: int) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


def _span(ms: int) -> str:
    hours = ms / 3_600_000
    return f"{hours:.1f} h" if abs(hours) < 48 else f"{hours / 24:.1f} days"
