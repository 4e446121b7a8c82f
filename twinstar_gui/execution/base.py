"""What every executor speaks: order requests, orders, positions, instrument rules, the Executor protocol."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Protocol, runtime_checkable

BUY, SELL = "buy", "sell"
# order states
NEW, FILLED, CANCELLED, REJECTED = "new", "filled", "cancelled", "rejected"


class OrderRefused(ValueError):
    """An order that must not leave the app (or that the exchange refused), with the reason for the user."""

    def __init__(self, symbol: str, message: str, *, exchange: str = "", code: object = None) -> None:
        where = f"{exchange} " if exchange else ""
        super().__init__(f"{where}{symbol}: {message}")
        self.symbol, self.reason, self.exchange, self.code = symbol, message, exchange, code


@dataclass(frozen=True, slots=True)
class InstrumentRules:
    """Precision and minimums of one symbol (from the exchange's market info)."""

    symbol: str
    tick_size: float
    lot_size: float
    min_qty: float
    min_notional: float = 0.0
    #: (lowest price, step) pairs, highest first, where the step depends on the price (the KRW venues)
    tick_table: tuple[tuple[float, float], ...] = ()
    currency: str = "USDT"  # what prices and order values are counted in

    def tick_at(self, price: float) -> float:
        for floor, tick in self.tick_table:
            if price >= floor:
                return tick
        return self.tick_size if not self.tick_table else self.tick_table[-1][1]

    def round_price(self, price: float) -> float:
        return _to_step(price, self.tick_at(price) if self.tick_table else self.tick_size, ROUND_HALF_UP)

    def round_qty(self, qty: float) -> float:
        return _to_step(qty, self.lot_size, ROUND_DOWN)

    def check(self, qty: float, price: float) -> tuple[float, float]:
        """(qty, price) on the exchange's grid: price to the nearest tick, quantity down to the lot
        (never more than asked); refused with a clear message when that leaves less than the minimums."""
        if not (math.isfinite(qty) and qty > 0):
            raise OrderRefused(self.symbol, f"quantity must be a positive number, got {qty!r}")
        if not (math.isfinite(price) and price > 0):
            raise OrderRefused(self.symbol, f"price must be a positive number, got {price!r}")
        q, p = self.round_qty(qty), self.round_price(price)
        if q < self.min_qty:
            raise OrderRefused(self.symbol, f"quantity {qty:g} is below the minimum {self.min_qty:g} "
                                            f"(lot {self.lot_size:g})")
        if self.min_notional and q * p < self.min_notional:
            raise OrderRefused(self.symbol, f"order value {q * p:,.2f} {self.currency} is below the minimum "
                                            f"{self.min_notional:,g} {self.currency}")
        return q, p


def _to_step(value: float, step: float, rounding: str) -> float:
    d, s = Decimal(repr(value)), Decimal(repr(step))
    return float((d / s).quantize(Decimal(1), rounding=rounding) * s)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: str  # buy / sell
    qty: float
    client_id: str  # idempotency key: the same id is never placed twice
    type: str = "market"
    price: float | None = None  # limit price; for market orders the reference price (sizing, checks)
    reduce_only: bool = False
    bot: str = ""
    take_profit: float | None = None
    stop_loss: float | None = None

    def __post_init__(self) -> None:
        if self.side not in (BUY, SELL):
            raise OrderRefused(self.symbol, f"side must be buy or sell, got {self.side!r}")
        if self.type not in ("market", "limit"):
            raise OrderRefused(self.symbol, f"order type must be market or limit, got {self.type!r}")
        if self.type == "limit" and self.price is None:
            raise OrderRefused(self.symbol, "a limit order needs a price")
        if not self.client_id:
            raise OrderRefused(self.symbol, "an order needs a client id (idempotency key)")


@dataclass(slots=True)
class Order:
    id: str
    client_id: str
    symbol: str
    side: str
    qty: float
    type: str
    price: float | None
    status: str = NEW
    filled_qty: float = 0.0
    avg_price: float = 0.0
    fee: float = 0.0
    created_ms: int = 0
    updated_ms: int = 0
    reduce_only: bool = False
    bot: str = ""
    reason: str = ""  # why rejected/cancelled, in the exchange's or our words
    take_profit: float | None = None
    stop_loss: float | None = None

    @property
    def done(self) -> bool:
        return self.status in (FILLED, CANCELLED, REJECTED)


@dataclass(slots=True)
class Position:
    """One-way position: qty > 0 long, < 0 short."""

    symbol: str
    qty: float
    entry_price: float
    opened_ms: int
    bot: str = ""
    take_profit: float | None = None
    stop_loss: float | None = None
    mark_price: float = 0.0
    realized_pnl: float = 0.0

    @property
    def side(self) -> str:
        return "long" if self.qty > 0 else "short"

    @property
    def unrealized_pnl(self) -> float:
        return 0.0 if not self.mark_price else (self.mark_price - self.entry_price) * self.qty

    def copy(self) -> Position:
        return replace(self)


@dataclass(frozen=True, slots=True)
class Fill:
    order_id: str
    client_id: str
    symbol: str
    side: str
    qty: float
    price: float
    fee: float
    time_ms: int
    realized_pnl: float = 0.0
    bot: str = ""


@runtime_checkable
class Executor(Protocol):
    """Where orders go. Paper (default) and live executors implement it; bots only see this."""

    name: str

    def place(self, req: OrderRequest) -> Order: ...
    def cancel(self, order_id: str) -> Order: ...
    def positions(self) -> list[Position]: ...
    def balance(self) -> float: ...
    def open_orders(self) -> list[Order]: ...
    def rules(self, symbol: str) -> InstrumentRules: ...
    def on_price(self, symbol: str, price: float, time_ms: int) -> list[Fill]: ...


def symbols_in_play(executor: Executor, *, bot: str | None = None, entries_only: bool = True) -> set[str]:
    """Symbols with a position or an open order (only entry orders unless `entries_only` is False), of
    `bot` if given.

    Open orders are read before positions. A fill turns an open order into a position in one step (the
    paper executor's lock; the exchange for a live one), so read in this order a symbol being filled is
    seen at least once. Read the other way round, a fill landing between the two reads hid it from both,
    and a bot took an entry being filled for a trade already closed.
    """
    orders = executor.open_orders()
    positions = executor.positions()
    held = {o.symbol for o in orders if (bot is None or o.bot == bot) and not (entries_only and o.reduce_only)}
    return held | {p.symbol for p in positions if bot is None or p.bot == bot}
