"""A trader's own order (the ticket, the chart, `twinstar order`), checked field by field before anything leaves
the app: size in base units or in the quote currency, put on the lot; prices that must already be on the tick
grid; post-only, stop and TP/SL on the right side of the market; reduce-only no larger than the position.

`prepare()` answers an OrderRequest (owner "manual") with what it will cost, or a FieldError naming the field
that is wrong and why. The executors check again when the order is placed (the market may have moved).
"""
from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from decimal import Decimal

from .base import (
    BUY,
    LIMIT,
    MANUAL,
    MARKET,
    MAX_NUMBER,
    MIN_STEP,
    SELL,
    STOP,
    InstrumentRules,
    OrderRefused,
    OrderRequest,
    check_resting,
    check_tpsl,
)

#: the fields a refusal can name (the ticket marks that field, the CLI names its flag)
FIELDS = ("side", "type", "qty", "notional", "price", "post_only", "reduce_only", "take_profit", "stop_loss")


class FieldError(OrderRefused):
    """A manual order refused at one of its fields (see FIELDS)."""

    def __init__(self, symbol: str, field: str, message: str) -> None:
        super().__init__(symbol, message)
        self.field = field


@dataclass(frozen=True, slots=True)
class ManualOrder:
    """What the trader asked for. Exactly one of `qty` (base units, e.g. BTC) and `notional` (quote currency)."""

    symbol: str  # the exchange's native id
    side: str
    type: str = MARKET
    qty: float | None = None
    notional: float | None = None
    price: float | None = None  # limit price or stop trigger
    post_only: bool = False
    reduce_only: bool = False
    take_profit: float | None = None
    stop_loss: float | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    """A checked order: the request to send, and what it amounts to at `price` (the limit, the trigger, or the
    last price for a market order)."""

    request: OrderRequest
    qty: float
    price: float
    notional: float
    fee: float  # estimated, at the executor's fee rate
    currency: str


def manual_client_id() -> str:
    """A fresh id for a manual order: 32 letters and digits (OKX allows 32 alphanumerics, Bybit and Binance 36)."""
    return "TSm" + secrets.token_hex(15)[:29]


def prepare(order: ManualOrder, rules: InstrumentRules, last: float | None, position_qty: float = 0.0, *,
            fee_rate: float = 0.0, client_id: str | None = None, spot: bool = False) -> Prepared:
    """The order checked against the instrument's rules, the last price and the position (signed, base units).
    `spot`: a market where one sells only what one holds (the KRW venues). FieldError names the first field
    that is wrong."""
    sym = order.symbol

    def refuse(field: str, message: str) -> FieldError:
        return FieldError(sym, field, message)

    if last is not None and not (isinstance(last, (int, float)) and math.isfinite(last) and last >= MIN_STEP):
        last = None  # a price that is no price: as if none were known
    try:
        return _prepare(order, rules, None if last is None else float(last), float(position_qty), refuse,
                        fee_rate, client_id, spot)
    except (ArithmeticError, ValueError, TypeError) as exc:  # numbers beyond what the grid arithmetic takes
        if isinstance(exc, OrderRefused):
            raise
        raise refuse("qty", f"cannot put this order on {sym}'s grid: {type(exc).__name__}") from None


def _prepare(order: ManualOrder, rules: InstrumentRules, last: float | None, position_qty: float, refuse,
             fee_rate: float, client_id: str | None, spot: bool) -> Prepared:
    sym = order.symbol

    if order.side not in (BUY, SELL):
        raise refuse("side", f"side must be buy or sell, got {order.side!r}")
    if order.type not in (MARKET, LIMIT, STOP):
        raise refuse("type", f"order type must be market, limit or stop, got {order.type!r}")
    if (order.qty is None) == (order.notional is None):
        raise refuse("qty", "give the size either in base units or in the quote currency (one of the two)")
    price = None
    if order.type != MARKET:
        if order.price is None:
            raise refuse("price", f"a {order.type} order needs a price")
        price = _on_tick(rules, order.price, "price")
        try:
            check_resting(sym, order.side, order.type, price, last, post_only=order.post_only)
        except OrderRefused as exc:
            raise refuse("post_only" if order.type == LIMIT else "price", exc.reason) from None
    elif order.price is not None:
        raise refuse("price", "a market order takes no price (give one for a limit order)")
    if order.post_only and order.type != LIMIT:
        raise refuse("post_only", "post-only applies to limit orders only")
    ref = price if price is not None else last
    if ref is None:
        raise refuse("price", "no price known yet for this symbol; wait for market data or give a limit price")
    if order.qty is not None:
        qty = _positive(sym, "qty", order.qty, "size")
    else:
        qty = _positive(sym, "notional", order.notional, "order value") / ref
        if not qty <= MAX_NUMBER:
            raise refuse("notional", f"{fmt(order.notional or 0.0)} {rules.currency} at {fmt(ref)} is more than "
                                     f"{MAX_NUMBER:g} {sym}")
    field = "qty" if order.qty is not None else "notional"
    if field == "notional" and rules.round_qty(qty) < rules.min_qty:
        least = f"{fmt(rules.min_qty)} (about {fmt(rules.min_qty * ref)} {rules.currency})"
        raise refuse(field, f"{fmt(order.notional or 0.0)} {rules.currency} buys {fmt(rules.round_qty(qty))}, below "
                            f"the minimum size {least}")
    try:
        qty, _ = rules.check(qty, ref)
    except OrderRefused as exc:
        raise refuse(field, exc.reason) from None
    signed = qty if order.side == BUY else -qty
    if spot and order.side == SELL and qty > max(position_qty, 0.0) * (1 + 1e-9):
        raise refuse(field, f"a spot market sells only what is held: {fmt(max(position_qty, 0.0))} held, "
                            f"{fmt(qty)} asked")
    if order.reduce_only:
        if not position_qty or (position_qty > 0) == (signed > 0):
            held = "none" if not position_qty else "a long" if position_qty > 0 else "a short"
            needed = "short" if order.side == BUY else "long"
            raise refuse("reduce_only", f"reduce-only {order.side} needs a {needed} position to reduce; it has {held}")
        if qty > abs(position_qty) * (1 + 1e-9):
            raise refuse("reduce_only", f"reduce-only size {fmt(qty)} is larger than the position "
                                        f"{fmt(abs(position_qty))}")
        if order.take_profit is not None or order.stop_loss is not None:
            raise refuse("take_profit" if order.take_profit is not None else "stop_loss",
                         "a reduce-only order takes no take profit or stop loss")
    tp = None if order.take_profit is None else _on_tick(rules, order.take_profit, "take_profit")
    sl = None if order.stop_loss is None else _on_tick(rules, order.stop_loss, "stop_loss")
    try:
        check_tpsl(sym, order.side == BUY, tp, None, ref)
    except OrderRefused as exc:
        raise refuse("take_profit", exc.reason) from None
    try:
        check_tpsl(sym, order.side == BUY, None, sl, ref)
    except OrderRefused as exc:
        raise refuse("stop_loss", exc.reason) from None
    req = OrderRequest(sym, order.side, qty, client_id or manual_client_id(), order.type,
                       price if price is not None else last, order.reduce_only, MANUAL, tp, sl, order.post_only)
    notional = qty * ref
    return Prepared(req, qty, ref, notional, notional * fee_rate, rules.currency)


def fmt(value: float) -> str:
    """A price or size for a message, with every digit that matters (70000.05, not 7e+04)."""
    return f"{value:,.12g}" if abs(value) >= 1e6 else f"{value:.12g}"


def _positive(symbol: str, field: str, value: object, what: str) -> float:
    """A positive finite number up to MAX_NUMBER (a bool or a string is no number here)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and \
        0 < value <= MAX_NUMBER
    if not ok:
        raise FieldError(symbol, field, f"{what} must be a positive number up to {MAX_NUMBER:g}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def _on_tick(rules: InstrumentRules, value: float, field: str) -> float:
    """A price that must already be on the tick grid: off it, refused with the two nearest valid prices."""
    what = field.replace("_", " ")
    value = _positive(rules.symbol, field, value, what)
    tick = rules.tick_at(value) if rules.tick_table else rules.tick_size
    steps = Decimal(repr(value)) / Decimal(repr(tick))
    if steps != steps.to_integral_value():
        below = float(steps.to_integral_value(rounding="ROUND_FLOOR") * Decimal(repr(tick)))
        above = float(steps.to_integral_value(rounding="ROUND_CEILING") * Decimal(repr(tick)))
        raise FieldError(rules.symbol, field, f"{what} {fmt(value)} is off the tick grid (tick {fmt(tick)}): "
                                              f"{fmt(below)} or {fmt(above)}")
    return value
