"""AutoScanner (seed): stage 1 scans preset symbols by REST (15m -> 4h RSI), ranks the candidates and
stage 2 watches the best few by WebSocket; a trigger enters, and that symbol's watch is closed.
Re-scans periodically."""
from __future__ import annotations

import logging
import math

import numpy as np

from ..core.strategy import Setup, find_setup, signal_from
from ..execution.base import symbols_in_play
from .base import Bot, BotContext, Candidate, setups_ranked, tradable

log = logging.getLogger(__name__)
RETRY_SCAN_S = 30.0  # a stage 1 in which every symbol failed is tried again this soon


class AutoScanner(Bot):
    kind = "scanner"

    def __init__(self, name: str, ctx: BotContext, symbols: list[str], *, watch_count: int = 8,
                 rescan_every_s: float = 900.0) -> None:
        super().__init__(name, ctx)
        if not 1 <= watch_count <= 50:
            raise ValueError(f"watch_count must be 1..50, got {watch_count}")
        self.presets = list(dict.fromkeys(symbols))  # as given: base assets, unified symbols or native ids
        self.symbols: list[str] = []  # the presets this exchange lists, native ids (resolved at each scan)
        self.not_listed: dict[str, str] = {}  # preset -> why it is not scanned here
        self.watch_count = watch_count
        self.rescan_every_s = rescan_every_s
        self.setups: dict[str, Setup] = {}  # stage 2: symbol -> its setup (trigger from its last closed candle)
        self.history: dict[str, np.ndarray] = {}
        self.last: dict[str, float] = {}
        self.entered: set[str] = set()
        self.scans = 0
        self.scan_errors: dict[str, str] = {}
        self._next_scan = 0.0
        self._stage1: dict[str, Setup] = {}

    def start(self) -> None:
        self.scan()

    def scan(self) -> None:
        """Stage 1 over every preset symbol, then stage 2 on the best `watch_count`."""
        market = self.ctx.market
        self._resolve_presets()
        self._set(detail=f"stage 1: scanning {len(self.symbols)} symbols by REST")
        data = market.fetch_klines(self.symbols, self.history_needed())
        found, self.scan_errors = [], {}
        for sym, arr in data.items():
            if isinstance(arr, Exception):
                self.scan_errors[sym] = str(arr)
                continue
            setup = tradable(find_setup(arr, self.strategy_of(sym), sym), self.ctx)
            if setup is not None:
                found.append(setup)
                self.history[sym] = arr
                self.last[sym] = float(arr[-1, 4])
        if self.scan_errors:
            self._error(f"stage 1: {len(self.scan_errors)} symbol(s) failed: "
                        + "; ".join(f"{self.shown(k)}: {v}" for k, v in list(self.scan_errors.items())[:3]))
        best = [s for s in setups_ranked(found) if s.symbol not in self.entered][: self.watch_count]
        keep = {s.symbol for s in best}
        for sym in list(self.setups):
            if sym not in keep:
                self.ctx.market.unwatch(sym, self.inbox)
                del self.setups[sym]
        for s in best:
            if s.symbol not in self.setups:
                live = self.ctx.market.watch(s.symbol, self.inbox)
                if len(live) and live[-1, 0] > self.history[s.symbol][-1, 0]:
                    self.history[s.symbol] = live
            self.setups[s.symbol] = s
        # every symbol failed (the exchange out of reach): try again soon, not at the next rescan
        every_one = bool(self.symbols) and len(self.scan_errors) == len(self.symbols)
        self._next_scan = self.ctx.clock() + (min(RETRY_SCAN_S, self.rescan_every_s) if every_one
                                              else self.rescan_every_s)
        self._refresh(found)
        self.scans += 1
        log.info("%s: scan %d: %d candidate(s) of %d; watching %s", self.name, self.scans, len(found),
                 len(self.symbols), ", ".join(map(self.shown, self.setups)) or "none")

    def _resolve_presets(self) -> None:
        """Presets -> this exchange's instruments, at every scan (a listing changes); those it does not list
        (delisted, renamed, absent) are dropped with one log line when that set changes."""
        wanted = list(self.ctx.presets) if self.ctx.presets else self.presets  # verified presets, when there are
        symbols, missing = self.ctx.market.resolve(wanted)
        if missing and missing.keys() != self.not_listed.keys():
            log.warning("%s: %d preset(s) not on %s, left out: %s", self.name, len(missing),
                        self.ctx.market.exchange, "; ".join(list(missing.values())[:5])
                        + (f"; and {len(missing) - 5} more" if len(missing) > 5 else ""))
        self.symbols, self.not_listed = symbols, missing

    def on_closed(self, symbol: str, candle, window=None) -> None:
        if symbol not in self.setups:
            return
        arr = self.history.get(symbol, np.empty((0, 6)))
        if len(arr) and candle.open_time <= arr[-1, 0]:
            return
        row = np.array([[candle.open_time, candle.open, candle.high, candle.low, candle.close, candle.volume]])
        strategy = self.strategy_of(symbol)
        self.history[symbol] = np.vstack([arr[-strategy.history_needed:], row])
        setup = tradable(find_setup(self.history[symbol], strategy, symbol), self.ctx)  # trigger moves
        if setup is None:
            self.ctx.market.unwatch(symbol, self.inbox)
            del self.setups[symbol]
        else:
            self.setups[symbol] = setup
        self._refresh()

    def on_price(self, symbol: str, price: float, time_ms: int) -> None:
        self.last[symbol] = price
        setup = self.setups.get(symbol)
        if setup is None or symbol in self.entered or not setup.triggered_by(price):
            return
        if self.busy_with(symbol):
            return
        signal = signal_from(setup, price, time_ms, self.strategy_of(symbol))
        if signal is not None and self.enter(signal, intent=(setup.ref_time, setup.side)) is not None:
            self.entered.add(symbol)
            del self.setups[symbol]
            self.ctx.market.unwatch(symbol, self.inbox)  # stage 2 is done for this one
        self._refresh()

    def on_timer(self, now: float) -> None:
        in_play = symbols_in_play(self.ctx.executor, entries_only=False)
        self.entered &= in_play  # a closed trade frees the symbol for later scans
        if now >= self._next_scan:
            self.scan()

    def shutdown(self) -> None:
        for sym in list(self.setups):
            self.ctx.market.unwatch(sym, self.inbox)
        self.setups.clear()

    def _refresh(self, stage1: list[Setup] | None = None) -> None:
        """The candidate table: every stage-1 candidate of the last scan, with its stage-2 state."""
        if stage1 is not None:
            self._stage1 = {s.symbol: s for s in stage1}
        rows = []
        for sym, first in self._stage1.items():
            s = self.setups.get(sym, first)
            price = self.last.get(sym, s.trigger)
            status = "entered" if sym in self.entered else "watching" if sym in self.setups else "stage 1"
            rows.append(Candidate(sym, self.ctx.market.exchange, s.rsi, s.side, s.trigger, price, s.distance(price),
                                  status, self.name, self.strategy_of(sym).rsi_timeframe.value,
                                  self.ctx.market.unified(sym)))
        rows.sort(key=lambda c: ({"entered": 0, "watching": 1}.get(c.status, 2), c.distance_pct))
        exchange = self.ctx.market.exchange
        rows += [Candidate(name, exchange, math.nan, "", math.nan, math.nan, math.nan, f"not on {exchange}", self.name,
                           "", name) for name in self.not_listed]
        self._set(candidates=rows, detail=f"scan {self.scans + (stage1 is not None)}: watching {len(self.setups)}, "
                                          f"{len(self.entered)} entered")
