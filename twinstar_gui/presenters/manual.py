"""Manual trading presenter: the order ticket's checks, orders placed, amended and cancelled by hand (the ticket,
the chart, the orders panel), the open orders of every owner, and the levels the chart draws (open orders, the
position's entry, TP and SL) for the series on screen.

Orders go through the same risk guard, journal and executor (paper or live) as the bots' orders, owner "manual".
Round trips run off the GUI thread; what the panels and the chart show is always read back from the executor,
so an amend the exchange refuses snaps back, and the refusal is said.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import astuple, dataclass
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from ..core.instrument import SPOT, SymbolError
from ..exchanges.registry import VENUES
from ..execution.base import MARKET, InstrumentRules, Order, OrderRefused
from ..execution.instruments import rules_of
from ..execution.manual import FieldError, ManualOrder, Prepared, prepare
from .trading import Listing, TradingPresenter

log = logging.getLogger(__name__)
POLL_MS = 250


@dataclass(frozen=True)
class OrderView:
    listing: Listing
    order: Order
    live: bool


@dataclass(frozen=True)
class Level:
    """A horizontal line on the chart: an open order (kind "order", key = its id), the position's "entry", "tp"
    or "sl" (key = the symbol). `draggable`: moving it amends the order or the TP/SL."""

    kind: str
    key: str
    price: float
    side: str
    text: str
    draggable: bool


@dataclass(frozen=True)
class Ticket:
    """What the ticket needs to check an order at each keystroke, read from memory (no network)."""

    exchange: str
    native: str
    unified: str
    rules: InstrumentRules
    last: float | None
    position_qty: float
    spot: bool
    fee_rate: float
    live: bool


class ManualTradingPresenter(QObject):
    orders = Signal(object)  # list[OrderView]: open orders of every owner, every exchange
    levels = Signal(object)  # list[Level] of the chart's series
    done = Signal(str)  # an order placed / amended / cancelled: what the exchange (or paper) answered
    refused = Signal(str)  # a refusal, with the exchange's code and words
    timing = Signal(str, float)  # (what, seconds from the user's intent to the executor's answer): the bench
    settled = Signal()  # a change asked is done or refused: the chart's dragged lines follow the executor again

    def __init__(self, trading: TradingPresenter, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.trading = trading
        self.series: tuple[str, str] = ("", "")  # (exchange, native) on the chart
        self._tasks: set[asyncio.Future] = set()
        self._shown: tuple[list, list] | None = None  # (orders key, levels) last emitted
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._timer.start()

    def close(self) -> None:
        """Stop polling; orders still waiting for the exchange's answer are not waited for (the exchange keeps
        what it received: the executor's state is read again at the next start)."""
        self._timer.stop()
        for task in list(self._tasks):
            task.cancel()

    # -- what the ticket checks ------------------------------------------------------------------------------
    def ticket(self, exchange: str, symbol_text: str) -> Ticket:
        """The instrument and market state an order on (exchange, what the user typed) is checked against.
        FieldError("symbol") when there is no such exchange or instrument, or no rules known for it yet."""
        stack = self.trading.tradings.get(exchange)
        if stack is None or stack.market is None:
            raise FieldError(symbol_text, "symbol", f"{exchange or 'no exchange'}: not connected; enable it in "
                                                    "the settings")
        text = symbol_text.strip()
        if not text:
            raise FieldError("", "symbol", "type a symbol (BTC/USDT:USDT, btc, BTC/KRW)")
        try:
            native = stack.market.catalog.resolve(text).native
        except SymbolError as exc:
            raise FieldError(text, "symbol", str(exc)) from None
        live = self.trading.live.get(exchange, False)
        inst = stack.market.listed(native)
        if live:
            try:
                rules = stack.executor.rules(native)  # the exchange's own market info (in memory)
            except OrderRefused as exc:
                raise FieldError(native, "symbol", exc.reason) from None
        elif inst is not None:
            rules = rules_of(inst)
        else:
            raise FieldError(native, "symbol", f"{exchange} {native}: not in the instrument list (yet); its tick "
                                               "and minimums are unknown")
        pos = next((p for p in stack.executor.positions() if p.symbol == native), None)
        fee = getattr(stack.executor.inner, "fee_rate", 0.0)
        return Ticket(exchange, native, inst.symbol if inst is not None else native, rules,
                      stack.executor.last_price.get(native), pos.qty if pos is not None else 0.0,
                      VENUES[exchange].kind == SPOT, fee, live)

    def check(self, exchange: str, symbol_text: str, order: dict[str, Any]) -> tuple[Ticket, Prepared]:
        """The ticket's fields -> a checked order (FieldError names the field that is wrong). `order`: side,
        type, qty or notional, price, post_only, reduce_only, take_profit, stop_loss."""
        t = self.ticket(exchange, symbol_text)
        intent = ManualOrder(t.native, **order)
        return t, prepare(intent, t.rules, t.last, t.position_qty, fee_rate=t.fee_rate, spot=t.spot)

    # -- intents (each a round trip off the GUI thread) -----------------------------------------------------------
    def place(self, exchange: str, prepared: Prepared) -> None:
        stack = self.trading.tradings.get(exchange)
        if stack is None:
            self.refused.emit(f"{exchange}: not connected")
            return
        req = prepared.request
        self._run("place", exchange, lambda: stack.executor.place(req),
                  lambda o: f"{exchange} {self._name(exchange, o.symbol)}: {o.side} {o.type} "
                            f"{o.qty:.12g} {o.status}" + ("" if o.type == MARKET else f" @ {o.price:.12g}"))

    def amend(self, exchange: str, order_id: str, *, price: float | None = None, qty: float | None = None) -> None:
        stack = self.trading.tradings.get(exchange)
        if stack is None:
            return
        self._run("amend", exchange, lambda: stack.executor.amend(order_id, price=price, qty=qty),
                  lambda o: f"{exchange} {self._name(exchange, o.symbol)}: order moved to {o.price:.12g} "
                            f"x {o.qty:.12g}")

    def cancel(self, exchange: str, order_id: str) -> None:
        stack = self.trading.tradings.get(exchange)
        if stack is None:
            return
        self._run("cancel", exchange, lambda: stack.executor.cancel(order_id),
                  lambda o: f"{exchange} {self._name(exchange, o.symbol)}: order {o.id} cancelled")

    def cancel_all(self, exchange: str, symbol: str | None = None) -> None:
        stack = self.trading.tradings.get(exchange)
        if stack is None:
            return
        self._run("cancel all", exchange, lambda: stack.executor.cancel_all(symbol),
                  lambda done: f"{exchange}: {len(done)} order(s) cancelled"
                               + (f" on {self._name(exchange, symbol)}" if symbol else ""))

    def set_tpsl(self, exchange: str, symbol: str, take_profit: float | None, stop_loss: float | None) -> None:
        stack = self.trading.tradings.get(exchange)
        if stack is None:
            return
        self._run("tp/sl", exchange, lambda: stack.executor.set_tpsl(symbol, take_profit, stop_loss),
                  lambda p: f"{exchange} {self._name(exchange, symbol)}: take profit "
                            f"{'none' if p.take_profit is None else f'{p.take_profit:.12g}'}, stop loss "
                            f"{'none' if p.stop_loss is None else f'{p.stop_loss:.12g}'}")

    def move_level(self, level: Level, price: float) -> None:
        """The chart's line dragged to `price`: the order amended, or the position's TP / SL moved."""
        exchange, symbol = self.series
        if level.kind == "order":
            self.amend(exchange, level.key, price=price)
            return
        stack = self.trading.tradings.get(exchange)
        pos = next((p for p in stack.executor.positions() if p.symbol == symbol), None) if stack else None
        if pos is None:
            self.refused.emit(f"{exchange} {symbol}: no open position")
            self.poll(force=True)
            return
        if level.kind == "tp":
            self.set_tpsl(exchange, symbol, price, pos.stop_loss)
        elif level.kind == "sl":
            self.set_tpsl(exchange, symbol, pos.take_profit, price)

    def remove_level(self, level: Level) -> None:
        """The chart's cancel control: the order cancelled, or the TP / SL removed."""
        exchange, symbol = self.series
        if level.kind == "order":
            self.cancel(exchange, level.key)
            return
        stack = self.trading.tradings.get(exchange)
        pos = next((p for p in stack.executor.positions() if p.symbol == symbol), None) if stack else None
        if pos is not None and level.kind in ("tp", "sl"):
            self.set_tpsl(exchange, symbol, None if level.kind == "tp" else pos.take_profit,
                          None if level.kind == "sl" else pos.stop_loss)

    def _run(self, what: str, exchange: str, call: Callable[[], Any], said: Callable[[Any], str]) -> None:
        started = time.perf_counter()

        async def go() -> None:
            try:
                result = await asyncio.to_thread(call)
            except OrderRefused as exc:
                code = f" (code {exc.code})" if exc.code not in (None, "") else ""
                self.refused.emit(f"{what} refused: {exc}{code}")
            except Exception as exc:
                log.exception("%s %s failed", exchange, what)
                self.refused.emit(f"{exchange}: {what} failed: {exc}")
            else:
                self.timing.emit(what, time.perf_counter() - started)
                self.done.emit(said(result))
            self.settled.emit()
            self.poll(force=True)  # what the executor has now: a refused change snaps back

        task = asyncio.ensure_future(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _name(self, exchange: str, native: str | None) -> str:
        return self.trading.listing(exchange, native).unified if native else ""

    # -- what the panels and the chart show -----------------------------------------------------------------------
    def history(self, limit: int = 500) -> list[OrderView]:
        """The newest `limit` orders of every exchange's journal (every status, every owner), newest first."""
        out: list[OrderView] = []
        for name, stack in self.trading.tradings.items():
            live = self.trading.live.get(name, False)
            out += [OrderView(self.trading.listing(name, o.symbol), o, live)
                    for o in stack.journal.orders(stack.executor.name, limit=limit)]
        return sorted(out, key=lambda v: -(v.order.updated_ms or v.order.created_ms))[:limit]

    def show_series(self, exchange: str, native: str, _tf: str = "") -> None:
        self.series = (exchange, native)
        self.poll(force=True)

    def poll(self, force: bool = False) -> None:
        """Read the executors' open orders and positions; tell the panels and the chart when something changed
        (`force`: tell them anyway, e.g. to put back a line dragged to a change that was refused)."""
        views: list[OrderView] = []
        levels: list[Level] = []
        for name, stack in self.trading.tradings.items():
            live = self.trading.live.get(name, False)
            for o in stack.executor.open_orders():
                listing = self.trading.listing(name, o.symbol)
                views.append(OrderView(listing, o, live))
                if (name, o.symbol) == self.series and o.price is not None:
                    label = f"{o.side} {o.type} {listing.size(o.qty)} @ {listing.price(o.price)} ({o.bot or 'manual'})"
                    levels.append(Level("order", o.id, o.price, o.side, label, True))
            if name == self.series[0]:
                levels += self._position_levels(name, stack)
        # an Order may be the executor's own mutable object: compare copies of its fields, not the object
        key = [(v.listing.exchange, v.live, astuple(v.order)) for v in views]
        if not force and self._shown is not None and self._shown == (key, levels):
            return
        self._shown = (key, levels)
        self.orders.emit(views)
        self.levels.emit(levels)

    def _position_levels(self, exchange: str, stack) -> list[Level]:
        symbol = self.series[1]
        pos = next((p for p in stack.executor.positions() if p.symbol == symbol), None)
        if pos is None:
            return []
        at = self.trading.listing(exchange, symbol)
        out = [Level("entry", symbol, pos.entry_price, "buy" if pos.qty > 0 else "sell",
                     f"{pos.side} {at.size(abs(pos.qty))} @ {at.price(pos.entry_price)}  "
                     f"uPnL {pos.unrealized_pnl:+,.2f}", False)]
        if pos.take_profit is not None:
            out.append(Level("tp", symbol, pos.take_profit, "tp", f"TP {at.price(pos.take_profit)}", True))
        if pos.stop_loss is not None:
            out.append(Level("sl", symbol, pos.stop_loss, "sl", f"SL {at.price(pos.stop_loss)}", True))
        return out
