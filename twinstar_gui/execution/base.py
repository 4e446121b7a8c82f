"""What every executor speaks: order requests, orders, positions, instrument rules, the Executor protocol."""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Protocol, runtime_checkable

BUY, SELL = "buy", "sell"
MARKET, LIMIT, STOP = "market", "limit", "stop"  # stop: a market order sent when the price reaches `price`
ORDER_TYPES = (MARKET, LIMIT, STOP)
#: no price or quantity of any instrument comes near (1e12 BTC; a price of 1e12 KRW): beyond it a number is a typo
#: or hostile, and the grid arithmetic (28 significant digits) would fail on it
MAX_NUMBER = 1e12
MIN_STEP = 1e-12  # the finest tick or lot we take (1e12 / 1e-12 = 1e24 steps: within Decimal's 28 digits)
MANUAL = "manual"  # the owner of an order a trader placed by hand (bots' orders carry the bot's name)
# order states
NEW, FILLED, CANCELLED, REJECTED = "new", "filled", "cancelled", "rejected"


class OrderRefused(ValueError):
    """An order that must not leave the app (or that the exchange refused), with the reason for the user."""

    def __init__(self, symbol: str, message: str, *, exchange: str = "", code: object = None) -> None:
        where = " ".join(part for part in (exchange, symbol) if part)
        super().__init__(f"{where}: {message}" if where else message)
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

    def __post_init__(self) -> None:
        steps = [self.tick_size, self.lot_size] + [tick for _floor, tick in self.tick_table]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and MIN_STEP <= v <= MAX_NUMBER for v in steps):
            raise ValueError(f"{self.symbol}: tick and lot must be finite numbers from {MIN_STEP:g} to "
                             f"{MAX_NUMBER:g}, got tick {self.tick_size!r}, lot {self.lot_size!r}, "
                             f"table {self.tick_table!r}")

    def tick_at(self, price: float) -> float:
        for floor, tick in self.tick_table:
            if price >= floor:
                return tick
        return self.tick_size if not self.tick_table else self.tick_table[-1][1]

    def round_price(self, price: float) -> float:
        return _to_step(price, self.tick_at(price) if self.tick_table else self.tick_size, ROUND_HALF_UP)

    def round_qty(self, qty: float) -> float:
        return _to_step(qty, self.lot_size, ROUND_DOWN)

    def snap_qty(self, qty: float) -> float:
        """A held quantity (signed) back on the lot grid after float sums: 0.003 - 0.002 is 0.0009999999999999998,
        which an order to close would round down to nothing."""
        return _to_step(qty, self.lot_size, ROUND_HALF_UP)

    def check_price(self, price: float, what: str = "price") -> float:
        """A price on the tick grid; refused unless a positive finite number."""
        if not (math.isfinite(price) and 0 < price <= MAX_NUMBER):
            raise OrderRefused(self.symbol, f"{what} must be a positive number up to {MAX_NUMBER:g}, got {price!r}")
        return self.round_price(price)

    def check(self, qty: float, price: float) -> tuple[float, float]:
        """(qty, price) on the exchange's grid: price to the nearest tick, quantity down to the lot
        (never more than asked); refused with a clear message when that leaves less than the minimums."""
        if not (math.isfinite(qty) and 0 < qty <= MAX_NUMBER):
            raise OrderRefused(self.symbol, f"quantity must be a positive number up to {MAX_NUMBER:g}, got {qty!r}")
        q, p = self.round_qty(qty), self.check_price(price)
        if q < self.min_qty:
            raise OrderRefused(self.symbol, f"quantity {qty:g} is below the minimum {self.min_qty:g} "
                                            f"(lot {self.lot_size:g})")
        if self.min_notional and q * p < self.min_notional:
            raise OrderRefused(self.symbol, f"order value {q * p:,.2f} {self.currency} is below the minimum "
                                            f"{self.min_notional:,g} {self.currency}")
        return q, p


def times(step: float, size: float) -> float:
    """A step in contracts times the contract size, in decimal (0.1 x 0.1 is 0.01, not 0.010000000000000002:
    a lot a hair too big rounds 0.03 down to 0.02)."""
    return float(Decimal(repr(float(step))) * Decimal(repr(float(size))))


def _to_step(value: float, step: float, rounding: str) -> float:
    """`value` on the grid of `step` (both checked finite and in range by the callers: steps >= MIN_STEP,
    values <= MAX_NUMBER, so the quotient fits Decimal's 28 digits)."""
    d, s = Decimal(repr(float(value))), Decimal(repr(float(step)))
    return float((d / s).quantize(Decimal(1), rounding=rounding) * s)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: str  # buy / sell
    qty: float
    client_id: str  # idempotency key: the same id is never placed twice
    type: str = MARKET
    #: limit: the limit price; stop: the trigger price; market: the reference price (sizing, checks)
    price: float | None = None
    reduce_only: bool = False
    bot: str = ""
    take_profit: float | None = None
    stop_loss: float | None = None
    post_only: bool = False  # limit only: refused rather than taking liquidity

    def __post_init__(self) -> None:
        if self.side not in (BUY, SELL):
            raise OrderRefused(self.symbol, f"side must be buy or sell, got {self.side!r}")
        if self.type not in ORDER_TYPES:
            raise OrderRefused(self.symbol, f"order type must be market, limit or stop, got {self.type!r}")
        if self.type != MARKET and self.price is None:
            raise OrderRefused(self.symbol, f"a {self.type} order needs a price")
        if self.post_only and self.type != LIMIT:
            raise OrderRefused(self.symbol, "post-only applies to limit orders only")
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
    post_only: bool = False

    @property
    def done(self) -> bool:
        return self.status in (FILLED, CANCELLED, REJECTED)

    def copy(self) -> Order:
        """A full copy (numbers and strings inside); copy.copy costs several times more on a slotted dataclass."""
        return Order(self.id, self.client_id, self.symbol, self.side, self.qty, self.type, self.price, self.status,
                     self.filled_qty, self.avg_price, self.fee, self.created_ms, self.updated_ms, self.reduce_only,
                     self.bot, self.reason, self.take_profit, self.stop_loss, self.post_only)


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
        # only numbers and strings inside: the fields passed on are a full copy (copy.copy and replace cost 5-20x
        # more on a slotted dataclass; a backtest copies positions at every price)
        return Position(self.symbol, self.qty, self.entry_price, self.opened_ms, self.bot, self.take_profit,
                        self.stop_loss, self.mark_price, self.realized_pnl)


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
    def cancel_all(self, symbol: str | None = None) -> list[Order]: ...
    def amend(self, order_id: str, *, price: float | None = None, qty: float | None = None) -> Order: ...
    def set_tpsl(self, symbol: str, take_profit: float | None, stop_loss: float | None) -> Position: ...
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


def crosses(side: str, order_type: str, trigger: float, price: float) -> bool:
    """Whether `price` reaches a resting order: a limit buys at or below its price and sells at or above it; a
    stop buys once the price has risen to its trigger and sells once it has fallen to it."""
    if order_type == STOP:
        return price >= trigger if side == BUY else price <= trigger
    return price <= trigger if side == BUY else price >= trigger


def check_resting(symbol: str, side: str, order_type: str, price: float, last: float | None, *,
                  post_only: bool = False) -> None:
    """A resting order's price against the last price: a stop on the wrong side would fire at once, a post-only
    limit that would take is refused (the exchange would cancel it). Nothing to check without a last price."""
    if last is None or order_type == MARKET:
        return
    if order_type == STOP and crosses(side, STOP, price, last):
        where = "above" if side == BUY else "below"
        raise OrderRefused(symbol, f"a {side} stop must be {where} the last price {last:.12g}, got {price:.12g}")
    if order_type == LIMIT and post_only and crosses(side, LIMIT, price, last):
        where = "below" if side == BUY else "above"
        raise OrderRefused(symbol, f"post-only {side} limit at {price:.12g} would take liquidity: it must be "
                                   f"{where} the last price {last:.12g}")


def check_tpsl(symbol: str, long: bool, take_profit: float | None, stop_loss: float | None, ref: float) -> None:
    """Take profit on the winning side of `ref` (entry or last price), stop loss on the losing side."""
    if take_profit is not None and (take_profit <= ref if long else take_profit >= ref):
        raise OrderRefused(symbol, f"take profit {take_profit:.12g} must be {'above' if long else 'below'} {ref:.12g} "
                                   f"for a {'long' if long else 'short'}")
    if stop_loss is not None and (stop_loss >= ref if long else stop_loss <= ref):
        raise OrderRefused(symbol, f"stop loss {stop_loss:.12g} must be {'below' if long else 'above'} {ref:.12g} "
                                   f"for a {'long' if long else 'short'}")
