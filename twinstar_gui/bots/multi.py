"""MultiTrader (seed): the top symbols by 24 h volume, scanned every 30 s (15m candles, RSI rule); enters
the strongest candidate whose trigger the current price has crossed, checks the position every second,
lets TP/SL close it, then looks for the next."""
from __future__ import annotations

import logging
from collections.abc import Set

from ..core.strategy import find_setup, signal_from
from ..execution.base import symbols_in_play
from .base import Bot, BotContext, Candidate, setups_ranked, tradable

log = logging.getLogger(__name__)


class MultiTrader(Bot):
    kind = "multi"

    def __init__(self, name: str, ctx: BotContext, *, top_n: int = 50, scan_every_s: float = 30.0,
                 max_positions: int = 1, symbols: list[str] | None = None) -> None:
        super().__init__(name, ctx)
        self.top_n = top_n
        self.scan_every_s = scan_every_s
        self.max_positions = max_positions
        self.fixed_symbols = symbols
        self.scans = 0
        self.trades_closed = 0
        self._next_scan = 0.0
        self._held: set[str] = set()
        self._missing: dict[str, str] = {}  # fixed symbols this exchange does not list (said once)

    def on_timer(self, now: float) -> None:
        held = symbols_in_play(self.ctx.executor, bot=self.name)
        closed = self._held - held
        if closed:
            self.trades_closed += len(closed)
            log.info("%s: position(s) closed: %s; looking for the next", self.name,
                     ", ".join(sorted(map(self.shown, closed))))
            self._next_scan = now
        self._held = held
        if held:
            pos = self.own_positions()
            self._set(detail="; ".join(f"{self.shown(p.symbol)} {p.side} {abs(p.qty):g} @ "
                                       f"{self.price_shown(p.symbol, p.entry_price)} uPnL {p.unrealized_pnl:+,.2f}"
                                       for p in pos))
        if len(held) >= self.max_positions or now < self._next_scan:
            return
        self._next_scan = now + self.scan_every_s
        self.scan(exclude=held)

    def scan(self, exclude: Set[str] = frozenset()) -> None:
        market = self.ctx.market
        if self.ctx.presets:  # verified presets: only those symbols, each with its own parameters
            symbols, _ = market.resolve(list(self.ctx.presets))
        elif self.fixed_symbols:  # as typed (unified, native, base assets): those this exchange lists
            symbols, missing = market.resolve(self.fixed_symbols)
            if missing and missing.keys() != self._missing.keys():
                log.warning("%s: left out, not on %s: %s", self.name, market.exchange, "; ".join(missing.values()))
            self._missing = missing
        else:
            symbols = market.top_symbols(self.top_n)
        data = market.fetch_klines(symbols, self.history_needed())
        prices = market.last_prices()
        setups, rows = [], []
        for sym, arr in data.items():
            if isinstance(arr, Exception) or sym in exclude:
                continue
            cfg = self.strategy_of(sym)
            setup = tradable(find_setup(arr, cfg, sym), self.ctx)
            if setup is None:
                continue
            price = prices.get(sym, float(arr[-1, 4]))
            setups.append((setup, price))
            rows.append(Candidate(sym, market.exchange, setup.rsi, setup.side, setup.trigger, price,
                                  setup.distance(price), "triggered" if setup.triggered_by(price) else "candidate",
                                  self.name, cfg.rsi_timeframe.value))
        self.scans += 1
        rows.sort(key=lambda c: c.distance_pct)
        self._set(candidates=rows, detail=f"scan {self.scans}: {len(setups)} candidate(s) in {len(symbols)} symbols")
        ready = [(s, p) for s, p in setups if s.triggered_by(p)]
        if not ready:
            return
        strongest = {s.symbol: (s, p) for s, p in ready}
        setup, price = strongest[setups_ranked([s for s, _ in ready])[0].symbol]
        signal = signal_from(setup, price, int(self.ctx.market.clock()), self.strategy_of(setup.symbol))
        if signal is not None and self.enter(signal, intent=(setup.ref_time, setup.side)) is not None:
            self._held.add(setup.symbol)
