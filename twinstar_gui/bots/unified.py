"""UnifiedBot (seed): one symbol; load history, stream 15m; on each closed candle detect the signal and
enter through the executor; live prices mark the position; every 5 min check the stream's health and
catch up by REST when it is unhealthy."""
from __future__ import annotations

import logging
import math

import numpy as np

from ..core.strategy import SHORT, detect_signal
from ..core.timeframe import BASE_TIMEFRAME
from .base import Bot, BotContext

log = logging.getLogger(__name__)
# a close older than this (from its candle's end to now) is caught-up history: its signal's price and levels are
# stale (an entry on one placed a stop loss the market was already past, closed at once at a loss)
MAX_CLOSE_AGE_MS = STEP_MS = BASE_TIMEFRAME.ms


class UnifiedBot(Bot):
    kind = "unified"
    reads_other_prices = False  # its own symbol's closes and prices only

    def __init__(self, name: str, ctx: BotContext, symbol: str, *, health_every_s: float = 300.0) -> None:
        super().__init__(name, ctx)
        self.symbol = symbol
        self.health_every_s = health_every_s
        self.history = np.empty((0, 6))
        self._next_health = 0.0
        self.health_checks = 0
        self.rest_polls = 0
        self._need_of: object = None  # the strategy whose history_needed is self._need
        self._need = 0

    def start(self) -> None:
        market, need = self.ctx.market, self.strategy_of(self.symbol).history_needed
        self.history = market.watch(self.symbol, self.inbox)
        if len(self.history) < need:  # not enough on disk yet: fetch by REST (the series backfills too)
            got = market.fetch_klines([self.symbol], need)[self.symbol]
            if isinstance(got, Exception):
                raise got
            self.history = _merge(got, self.history)
        # a replay (backtest) has no stream whose health could be checked
        self._next_health = self.ctx.clock() + self.health_every_s if getattr(market, "streams", True) else math.inf
        self._set(detail=f"{self.shown(self.symbol)}: {len(self.history)} candles loaded; waiting for the next close")

    def on_closed(self, symbol: str, candle, window=None) -> None:
        if symbol != self.symbol:
            return
        strategy = self.strategy_of(symbol)
        if strategy is not self._need_of:  # asked on every closed candle: once per strategy object
            self._need_of, self._need = strategy, strategy.history_needed
        need = self._need
        if window is not None and len(window) >= need and window[-1, 0] == candle.open_time:
            history = window  # the stream's own window: no copy kept here between candles
            if len(self.history):
                self.history = np.empty((0, 6))
        else:  # the window is still short (fresh symbol): keep our REST-seeded copy growing
            if len(self.history) and candle.open_time <= self.history[-1, 0]:
                return  # already have it
            row = np.array([[candle.open_time, candle.open, candle.high, candle.low, candle.close, candle.volume]])
            history = self.history = np.vstack([self.history[-need:], row])
        if self.busy_with(symbol):
            return  # in a trade (its TP/SL manage the exit) or the entry is not filled yet
        late = self.ctx.market.clock() - (candle.open_time + STEP_MS)
        if late > MAX_CLOSE_AGE_MS:  # a catch-up (backfill) delivers old closes: history, not a reason to trade now
            return
        signal = detect_signal(history[-need:], strategy, symbol)
        if signal is not None and self.ctx.long_only and signal.side == SHORT:
            self._set(detail=f"{self.shown(symbol)}: short signal left alone: a spot market cannot be sold short")
        elif signal is not None:
            self.enter(signal, intent=signal.time_ms)

    def on_price(self, symbol: str, price: float, time_ms: int) -> None:
        if symbol != self.symbol:
            return
        pos = self.position(symbol)
        if pos is not None:
            self._set_detail_later(
                lambda: f"{self.shown(symbol)} {pos.side} {abs(pos.qty):g} @ "
                        f"{self.price_shown(symbol, pos.entry_price)}, last {self.price_shown(symbol, price)}, "
                        f"unrealized {(price - pos.entry_price) * pos.qty:+,.2f} "
                        f"{getattr(self.ctx.executor, 'currency', 'USDT')}")

    def on_timer(self, now: float) -> None:
        if now < self._next_health:
            return
        self._next_health = now + self.health_every_s
        self.health_checks += 1
        if not self.ctx.market.stream_healthy(self.symbol):
            self.rest_polls += 1
            self.ctx.market.poll_rest(self.symbol)
            self._set(detail=f"{self.shown(self.symbol)}: stream unhealthy; catching up by REST")
            log.warning("%s: %s stream unhealthy at the health check; polling REST", self.name, self.shown(self.symbol))

    def timer_due(self) -> float:
        return self._next_health

    def shutdown(self) -> None:
        self.ctx.market.unwatch(self.symbol, self.inbox)


def _merge(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Union of two candle arrays by open time (b wins), ascending."""
    if not len(a):
        return b
    if not len(b):
        return a
    both = np.vstack([a, b])
    _, idx = np.unique(both[::-1, 0], return_index=True)
    return both[::-1][idx]
