"""Paper trading (the default): orders fill on the next price the market shows, with fees and slippage.

Market orders wait for the next price update of their symbol and fill there, worse by `slippage_bps`;
limit orders fill when the price reaches them (at the limit price); stop orders turn into market orders when
the price reaches their trigger and fill at that price, worse by the slippage (as a stop-market would).
Quantities and prices are put on the instrument's grid first and refused below its minimums. Orders, fills
and positions go to the journal, so open positions and the balance come back after a restart. Thread-safe
(bots call it from their threads).
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import random
import threading
import time
from collections.abc import Callable

from ..core.strategy import LONG, SHORT, exit_reason
from .base import (
    BUY,
    CANCELLED,
    FILLED,
    LIMIT,
    MARKET,
    NEW,
    REJECTED,
    Fill,
    InstrumentRules,
    Order,
    OrderRefused,
    OrderRequest,
    Position,
    check_resting,
    check_tpsl,
    crosses,
)
from .trade_journal import Journal

log = logging.getLogger(__name__)


def default_rules(symbol: str) -> InstrumentRules:
    """When the exchange's market info is not at hand: a fine grid and no minimum beyond one lot."""
    return InstrumentRules(symbol, tick_size=1e-8, lot_size=1e-6, min_qty=1e-6)


class PaperExecutor:
    def __init__(self, journal: Journal, *, name: str = "paper", balance: float = 10_000.0,
                 fee_rate: float = 0.00055, slippage_bps: float = 2.0, leverage: float = 1.0,
                 rules: Callable[[str], InstrumentRules] = default_rules,
                 clock: Callable[[], int] = lambda: int(time.time() * 1000), currency: str = "USDT") -> None:
        if fee_rate < 0 or slippage_bps < 0 or leverage <= 0:
            raise ValueError("fee_rate and slippage_bps must be >= 0 and leverage > 0")
        self.name = name
        self.currency = currency  # the venue's quote: balance, margin, fees and PnL are counted in it
        self.journal = journal
        self.fee_rate = fee_rate
        self.slippage = slippage_bps / 10_000
        self.leverage = leverage
        self._rules_of = rules
        self._rules: dict[str, InstrumentRules] = {}
        self.clock = clock
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._salt = random.Random(os.urandom(8))  # two runs' ids in one ms differ (not a syscall per order)
        self.last_price: dict[str, float] = {}
        # restore: balance, open positions and resting orders from the journal
        self._balance = float(journal.get_state(f"{name}.balance", balance))
        self._positions = {p.symbol: p for p in journal.positions(name)}
        self._unrealized = 0.0  # the positions' unrealized PnL, kept as marks move and fills change them
        self._fills_since_sum = 0
        self._open = {o.id: o for o in journal.orders(name, open_only=True)}
        if self._positions or self._open:
            log.info("%s: restored %d open position(s) and %d open order(s) from the journal", name,
                     len(self._positions), len(self._open))

    def __repr__(self) -> str:
        return (f"PaperExecutor({self.name}, balance={self._balance:.2f} {self.currency}, "
                f"positions={len(self._positions)})")

    # -- Executor -------------------------------------------------------------------------------------
    def rules(self, symbol: str) -> InstrumentRules:
        r = self._rules.get(symbol)
        if r is None:
            r = self._rules[symbol] = self._rules_of(symbol)
        return r

    def balance(self) -> float:
        return self._balance

    def positions(self) -> list[Position]:
        with self._lock:
            return [p.copy() for p in self._positions.values()]

    def position(self, symbol: str) -> Position | None:
        """One symbol's position (a copy), without copying the others."""
        with self._lock:
            p = self._positions.get(symbol)
            return None if p is None else p.copy()

    def open_orders(self) -> list[Order]:
        with self._lock:
            return list(self._open.values())

    # the three below answer what a bot or the risk guard asks on every candle or price, without copying every
    # position (a backtest with 50 open positions asked that of positions() about a million times)
    def in_play(self, symbol: str) -> bool:
        """A position in `symbol`, or an entry order of it not filled yet (symbols_in_play's question, read at
        once under the lock: a fill between two reads cannot hide it)."""
        with self._lock:
            return symbol in self._positions or any(o.symbol == symbol and not o.reduce_only
                                                    for o in self._open.values())

    def symbols_in_play(self) -> set[str]:
        """The symbols with a position or an entry order not filled yet (execution.base.symbols_in_play, read at
        once under the lock, without copies)."""
        with self._lock:
            return {o.symbol for o in self._open.values() if not o.reduce_only} | self._positions.keys()

    def unrealized_total(self, exact: bool = False) -> float:
        """The open positions' unrealized PnL at their marks: kept as each mark moves (it may differ from the exact
        sum in the last bits), or summed now when `exact`."""
        with self._lock:
            return sum(p.unrealized_pnl for p in self._positions.values()) if exact else self._unrealized

    def peek(self, symbol: str) -> Position | None:
        """The position itself, not a copy: for a reader on the one thread that drives this account and changes
        nothing (a backtest's engine, between two prices)."""
        return self._positions.get(symbol)

    def holds(self, symbol: str) -> bool:
        return symbol in self._positions

    def position_count(self) -> int:
        return len(self._positions)

    def place(self, req: OrderRequest) -> Order:
        self.rules(req.symbol)  # outside the lock: a symbol's first lookup may ask the exchange (REST)
        with self._lock:
            known = self.journal.known_order(self.name, req)
            if known is not None:  # a retry of an order we already have: never a second one
                return known
            now = self.clock()
            order = Order(f"P{now}-{next(self._ids)}-{self._salt.getrandbits(16):04x}", req.client_id, req.symbol,
                          req.side, req.qty, req.type, req.price, NEW, created_ms=now, updated_ms=now,
                          reduce_only=req.reduce_only, bot=req.bot, take_profit=req.take_profit,
                          stop_loss=req.stop_loss, post_only=req.post_only)
            try:
                self._check(req, order)
            except OrderRefused as exc:
                order.status, order.reason = REJECTED, exc.reason
                self.journal.save_order(self.name, order)
                raise
            self._open[order.id] = order
            self.journal.save_order(self.name, order)
            log.info("%s: %s %s %g %s%s (%s)", self.name, req.side, req.symbol, order.qty, req.type,
                     f" @ {order.price:g}" if req.type != MARKET else "", req.bot or "manual")
            return order

    def amend(self, order_id: str, *, price: float | None = None, qty: float | None = None) -> Order:
        """A resting order's new price and/or size, put on the grid and checked as a new order would be; the
        order keeps its id and client id. Refused (the order unchanged) with the reason."""
        with self._lock:
            order = self._open.get(order_id)
            if order is None:
                raise OrderRefused("", f"no open order {order_id}")
            if order.type == MARKET:
                raise OrderRefused(order.symbol, "a market order cannot be amended")
            rules = self.rules(order.symbol)
            new_qty, new_price = rules.check(order.qty if qty is None else qty,
                                             order.price if price is None else price)  # type: ignore[arg-type]
            check_resting(order.symbol, order.side, order.type, new_price, self.last_price.get(order.symbol),
                          post_only=order.post_only)
            if not order.reduce_only and new_qty > order.qty:
                pos = self._positions.get(order.symbol)
                grows = pos is None or (pos.qty > 0) == (order.side == BUY)
                if grows:
                    self._check_margin(order.symbol, new_qty - order.qty, new_price)
            was = order.copy()
            order.qty, order.price, order.updated_ms = new_qty, new_price, self.clock()
            try:
                self.journal.save_order(self.name, order)
            except BaseException:
                _put_back(order, was)
                raise
            log.info("%s: amended %s %s %s -> %g @ %g", self.name, order.symbol, order.side, order.id, order.qty,
                     new_price)
            return order.copy()

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Every open order (of `symbol`, if given) cancelled; the cancelled orders."""
        with self._lock:
            ids = [o.id for o in self._open.values() if symbol is None or o.symbol == symbol]
            return [self.cancel(i) for i in ids]

    def set_tpsl(self, symbol: str, take_profit: float | None, stop_loss: float | None) -> Position:
        """The position's take profit and stop loss (None: none), on the tick grid, each on its side of the
        last price (a level already passed would close the position at once: refused instead)."""
        with self._lock:
            pos = self._positions.get(symbol)
            if pos is None:
                raise OrderRefused(symbol, "no open position to set a take profit or stop loss on")
            rules = self.rules(symbol)
            tp = None if take_profit is None else rules.check_price(take_profit, "take profit")
            sl = None if stop_loss is None else rules.check_price(stop_loss, "stop loss")
            check_tpsl(symbol, pos.qty > 0, tp, sl, self.last_price.get(symbol) or pos.mark_price or pos.entry_price)
            was = pos.copy()
            pos.take_profit, pos.stop_loss = tp, sl
            try:
                self.journal.save_position(self.name, pos)
            except BaseException:
                _put_back(pos, was)
                raise
            log.info("%s: %s take profit %s, stop loss %s", self.name, symbol, _level(tp), _level(sl))
            return pos.copy()

    def cancel(self, order_id: str) -> Order:
        with self._lock:
            order = self._open.pop(order_id, None)
            if order is None:
                raise OrderRefused("", f"no open order {order_id}")
            order.status, order.updated_ms, order.reason = CANCELLED, self.clock(), "cancelled"
            self.journal.save_order(self.name, order)
            return order

    def on_price(self, symbol: str, price: float, time_ms: int) -> list[Fill]:
        """A new market price: fills waiting orders of that symbol, marks its position, and closes it at
        market when the price touches its take profit or stop loss (as the exchange's TP/SL would)."""
        fills, failed = [], None
        with self._lock:
            self.last_price[symbol] = price
            for order in [o for o in self._open.values() if o.symbol == symbol] if self._open else ():
                fill_price = self._fill_price(order, price)
                if fill_price is not None:
                    try:
                        if order.reduce_only and not self._still_reduces(order, time_ms):
                            continue
                        fills.append(self._fill(order, fill_price, time_ms))
                    except Exception as exc:  # noqa: BLE001 - the order waits; TP/SL must still be watched
                        failed = failed or exc
            pos = self._positions.get(symbol)
            if pos is not None:
                was = pos.unrealized_pnl
                pos.mark_price = price
                self._unrealized += pos.unrealized_pnl - was
                self._tpsl(pos, price)
        if failed is not None:
            raise failed
        return fills

    def _tpsl(self, pos: Position, price: float) -> None:
        if pos.take_profit is None and pos.stop_loss is None:
            return
        long = pos.qty > 0
        reason = exit_reason(LONG if long else SHORT, pos.take_profit, pos.stop_loss, price)
        if reason is None:
            return
        hit = "take profit" if reason == "tp" else "stop loss"
        req = OrderRequest(pos.symbol, "sell" if long else BUY, abs(pos.qty), f"tpsl-{pos.symbol}-{pos.opened_ms}",
                           reduce_only=True, bot=pos.bot, price=price)
        if self.journal.order_by_client_id(self.name, req.client_id) is None:
            log.info("%s: %s %s hit at %g; closing at market", self.name, pos.symbol, hit, price)
            self.place(req)

    # -- internals ------------------------------------------------------------------------------------
    def _check(self, req: OrderRequest, order: Order) -> None:
        rules = self.rules(req.symbol)
        ref = req.price if req.price is not None else self.last_price.get(req.symbol)
        if ref is None:
            raise OrderRefused(req.symbol, "no price known yet for this symbol; wait for market data")
        order.qty, p = rules.check(req.qty, ref)
        if req.type != MARKET:
            order.price = p
            if req.post_only and req.symbol not in self.last_price:
                raise OrderRefused(req.symbol, "post-only needs the market's price first; wait for market data")
            check_resting(req.symbol, req.side, req.type, p, self.last_price.get(req.symbol),
                          post_only=req.post_only)
        pos = self._positions.get(req.symbol)
        signed = order.qty if req.side == BUY else -order.qty
        if req.reduce_only:
            if pos is None or pos.qty * signed >= 0:
                raise OrderRefused(req.symbol, "reduce-only order but no position to reduce on that side")
            order.qty = min(order.qty, abs(pos.qty))
            return
        current = 0.0 if pos is None else pos.qty
        if abs(current + signed) > abs(current):
            self._check_margin(req.symbol, abs(signed), ref)

    def _check_margin(self, symbol: str, qty: float, price: float) -> None:
        """Refused when opening `qty` more at `price` needs more margin than is free."""
        margin_used = sum(abs(x.qty) * x.entry_price for x in self._positions.values()) / self.leverage
        need = qty * price / self.leverage
        free = self._balance - margin_used
        if need > free:
            raise OrderRefused(symbol, f"insufficient balance: order needs {need:,.2f} {self.currency} "
                                       f"margin, {free:,.2f} available")

    def _lots(self, symbol: str, qty: float) -> float:
        """A sum of quantities back on the lot grid when it is off by a float residue only (0.009 - 0.008 is
        0.0009999999999999992); a quantity really off the grid (a position restored under other rules) is kept."""
        snapped = self.rules(symbol).snap_qty(qty)
        return snapped if abs(snapped - qty) <= 1e-9 * max(abs(qty), self.rules(symbol).lot_size) else qty

    def _still_reduces(self, order: Order, time_ms: int) -> bool:
        """A reduce-only order is checked again when it fills, as the exchange does: another close may have
        filled first (TP/SL, the kill switch and a manual close can meet on one price). It is cut to what is
        left of the position, or cancelled when nothing is; it never opens the other side."""
        pos = self._positions.get(order.symbol)
        signed = order.qty if order.side == BUY else -order.qty
        if pos is not None and pos.qty * signed < 0:
            order.qty = min(order.qty, abs(pos.qty))
            return True
        order_was = order.copy()
        order.status, order.updated_ms, order.reason = CANCELLED, time_ms, "nothing left to reduce"
        try:
            self.journal.save_order(self.name, order)
        except BaseException:
            _put_back(order, order_was)
            raise
        del self._open[order.id]
        log.info("%s: reduce-only %s %s %g cancelled: the position is already closed", self.name, order.side,
                 order.symbol, order.qty)
        return False

    def _fill_price(self, order: Order, price: float) -> float | None:
        rules = self.rules(order.symbol)
        if order.type != MARKET:
            assert order.price is not None
            if not crosses(order.side, order.type, order.price, price):
                return None
            if order.type == LIMIT:  # at its price, or better when the market is already past it
                return min(order.price, price) if order.side == BUY else max(order.price, price)
        worse = price * (1 + self.slippage) if order.side == BUY else price * (1 - self.slippage)
        return rules.round_price(worse)  # market, or a stop reached: taken at this price, worse by the slippage

    def _fill(self, order: Order, price: float, time_ms: int) -> Fill:
        """Fill `order` at `price`; if the journal cannot record it (disk full, ...), memory is put back as it
        was, the order stays open and the next price tries again: the journal and memory never disagree."""
        order_was, balance_was = order.copy(), self._balance
        pos = self._positions.get(order.symbol)
        pos_was = pos.copy() if pos is not None else None
        committed: list[bool] = []
        try:
            return self._apply_fill(order, price, time_ms, committed)
        except BaseException:
            if not committed:  # the journal has no fill: memory goes back (else it keeps it: never filled twice)
                _put_back(order, order_was)
                if pos is None:
                    self._positions.pop(order.symbol, None)
                else:
                    _put_back(pos, pos_was)
                    self._positions[order.symbol] = pos
                self._balance = balance_was
                self._open[order.id] = order
            self._unrealized = self.unrealized_total(exact=True)
            raise

    def _apply_fill(self, order: Order, price: float, time_ms: int, committed: list[bool]) -> Fill:
        signed = order.qty if order.side == BUY else -order.qty
        fee = abs(signed) * price * self.fee_rate
        pos = self._positions.get(order.symbol)
        was_unrealized = pos.unrealized_pnl if pos is not None else 0.0
        realized = 0.0
        if pos is None:
            pos = Position(order.symbol, signed, price, time_ms, order.bot, order.take_profit, order.stop_loss, price)
            self._positions[order.symbol] = pos
        elif pos.qty * signed > 0:  # adding: average the entry
            total = self._lots(order.symbol, pos.qty + signed)
            pos.entry_price = (pos.entry_price * pos.qty + price * signed) / total
            pos.qty = total
        else:  # reducing, closing or flipping
            closing = min(abs(signed), abs(pos.qty))
            realized = (price - pos.entry_price) * closing * (1 if pos.qty > 0 else -1)
            rest = self._lots(order.symbol, pos.qty + signed)  # on the lot grid: closable by an order
            if rest == 0 or rest * pos.qty > 0:
                pos.qty = rest
            else:  # flipped: the remainder opens the other way at this price, with this order's levels only
                pos.qty, pos.entry_price, pos.opened_ms = rest, price, time_ms
                pos.take_profit, pos.stop_loss = order.take_profit, order.stop_loss
            pos.realized_pnl += realized
        pos.mark_price = price
        if (order.take_profit is not None or order.stop_loss is not None) and not order.reduce_only:
            pos.take_profit, pos.stop_loss = order.take_profit, order.stop_loss
        self._balance += realized - fee
        order.status, order.filled_qty, order.avg_price = FILLED, order.qty, price
        order.fee, order.updated_ms = fee, time_ms
        self._open.pop(order.id, None)
        fill = Fill(order.id, order.client_id, order.symbol, order.side, order.qty, price, fee, time_ms, realized,
                    order.bot)
        with self.journal.transaction():  # the fill, its order, the position and the balance: all or none
            self.journal.save_order(self.name, order)
            self.journal.add_fill(self.name, fill)
            self.journal.save_position(self.name, pos)
            self.journal.set_state(f"{self.name}.balance", self._balance)
        committed.append(True)
        if pos.qty == 0:
            del self._positions[order.symbol]
        self._fills_since_sum += 1
        if self._fills_since_sum >= 256:  # summed again now and then: what the running total drifts stays tiny
            self._unrealized, self._fills_since_sum = self.unrealized_total(exact=True), 0
        else:  # the position filled is the only one whose unrealized PnL changed
            self._unrealized += (pos.unrealized_pnl if pos.qty else 0.0) - was_unrealized
        log.info("%s: filled %s %s %g @ %g (fee %.4f, realized %.4f)", self.name, order.side, order.symbol,
                 order.qty, price, fee, realized)
        return fill


def _level(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def _put_back(obj, saved) -> None:
    """Restore a slotted dataclass in place (callers may hold a reference to it)."""
    for f in dataclasses.fields(obj):
        setattr(obj, f.name, getattr(saved, f.name))
