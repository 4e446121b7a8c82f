"""The simulator's matching engine shared by its signed trading APIs (Bybit, Binance USD-M, OKX): orders,
positions, fills and margin of one account, in one vocabulary (Bybit's: Buy/Sell, Market/Limit, New/Untriggered/
Filled/Cancelled); each venue's module translates its wire format to and from it.

Documented simplifications: fills happen at the market's last price when a request comes in (market orders at
once; a resting limit order, a triggered stop and a position's take-profit / stop-loss when the price has crossed
it at the next private request), there is no order book, cross margin with one leverage for all symbols, no
funding, no liquidation. A close-position conditional order (Binance's closePosition) closes the whole position
on its other side when triggered, expires if nothing is held then, and expires when the position is closed.
"""
from __future__ import annotations

import hmac
import threading
import uuid
from dataclasses import dataclass, field

from .market import Market

TAKER_FEE = 0.00055
MAKER_FEE = 0.0002
OPEN = ("New", "PartiallyFilled", "Untriggered")


def same(given: object, expected: str) -> bool:
    """A key, passphrase or signature from a request against ours, in constant time; any text (headers arrive
    decoded as latin-1: non-ASCII is possible) compares as UTF-8 bytes instead of raising."""
    return hmac.compare_digest(str(given).encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


@dataclass
class SimOrder:
    order_id: str
    link_id: str
    symbol: str
    side: str  # Buy / Sell
    type: str  # Market / Limit
    qty: float
    price: float  # 0 for market orders
    reduce_only: bool
    take_profit: float
    stop_loss: float
    created_ms: int
    status: str = "New"
    filled: float = 0.0
    avg_price: float = 0.0
    fee: float = 0.0
    updated_ms: int = 0
    reject_reason: str = "EC_NoError"
    stop_type: str = ""
    trigger: float = 0.0  # conditional orders: the trigger price
    trigger_direction: int = 0  # 1: when the price rises to it, 2: when it falls to it
    time_in_force: str = ""
    close_position: bool = False  # a conditional order closing the whole position when triggered (any size)


@dataclass
class SimPosition:
    symbol: str
    qty: float = 0.0  # signed: > 0 long
    entry: float = 0.0
    take_profit: float = 0.0
    stop_loss: float = 0.0
    realised: float = 0.0
    created_ms: int = 0
    updated_ms: int = 0


@dataclass
class SimExecution:
    exec_id: str
    order: SimOrder
    price: float
    qty: float
    fee: float
    time_ms: int
    is_maker: bool


@dataclass
class MatchingEngine:
    """One API key's account: what every venue's account keeps (each venue's module adds its wire format)."""

    market: Market
    api_key: str
    api_secret: str = field(repr=False)
    balance: float = 10_000.0  # USDT wallet balance
    leverage: float = 10.0
    recv_window_max_ms: int = 60_000
    orders: dict[str, SimOrder] = field(default_factory=dict, repr=False)
    positions: dict[str, SimPosition] = field(default_factory=dict, repr=False)
    executions: list[SimExecution] = field(default_factory=list, repr=False)
    requests: list[tuple[str, str]] = field(default_factory=list, repr=False)  # (method, path) served
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    taker_fee = TAKER_FEE
    maker_fee = MAKER_FEE

    # -- the matching engine (lazy: runs on each private request) ------------------------------------------
    def _settle(self, now: int) -> None:
        for o in list(self.orders.values()):
            if o.status == "Untriggered":
                last = self.market.last_price(o.symbol, now)
                if (o.trigger_direction == 1 and last >= o.trigger) or (o.trigger_direction == 2 and last <= o.trigger):
                    o.status = "Triggered"
                    if o.close_position:  # closes what is held on the other side; nothing held: it expires
                        pos = self.positions.get(o.symbol)
                        held = pos.qty if pos else 0.0
                        if not held or (held > 0) != (o.side == "Sell"):
                            o.status, o.updated_ms = "Expired", now
                            continue
                        o.qty = abs(held)
                    self._fill(o, last, now, maker=False)
                continue
            if o.status == "New" and o.type == "Limit":
                last = self.market.last_price(o.symbol, now)
                if (o.side == "Buy" and last <= o.price) or (o.side == "Sell" and last >= o.price):
                    self._fill(o, o.price, now, maker=True)
        for pos in list(self.positions.values()):
            if not pos.qty:
                continue
            last = self.market.last_price(pos.symbol, now)
            long = pos.qty > 0
            hit_tp = pos.take_profit and (last >= pos.take_profit if long else last <= pos.take_profit)
            hit_sl = pos.stop_loss and (last <= pos.stop_loss if long else last >= pos.stop_loss)
            if hit_tp or hit_sl:
                trigger = pos.take_profit if hit_tp else pos.stop_loss
                close = SimOrder(self._new_id(), "", pos.symbol, "Sell" if long else "Buy", "Market", abs(pos.qty),
                                 0.0, True, 0.0, 0.0, now, stop_type="TakeProfit" if hit_tp else "StopLoss")
                self.orders[close.order_id] = close
                self._fill(close, trigger, now, maker=False)

    def _fill(self, o: SimOrder, price: float, now: int, maker: bool) -> None:
        qty = o.qty - o.filled
        fee = qty * price * (self.maker_fee if maker else self.taker_fee)
        pos = self.positions.setdefault(o.symbol, SimPosition(o.symbol, created_ms=now))
        signed = qty if o.side == "Buy" else -qty
        if pos.qty and (pos.qty > 0) != (signed > 0):  # closing (part of) the position
            closed = min(qty, abs(pos.qty))
            pnl = closed * (price - pos.entry) * (1 if pos.qty > 0 else -1)
            pos.realised += pnl
            self.balance += pnl
            flipped = qty - closed
            if flipped > 1e-12:  # more than the position: the rest opens the other side
                pos.qty, pos.entry = (flipped if signed > 0 else -flipped), price
                pos.take_profit, pos.stop_loss = o.take_profit, o.stop_loss
            else:
                lot = self.market.spec(o.symbol).lot
                pos.qty = round((pos.qty + signed) / lot) * lot
            if not pos.qty:
                pos.entry, pos.take_profit, pos.stop_loss = 0.0, 0.0, 0.0
                for other in self.orders.values():  # a flat position's close-position orders expire with it
                    if other.close_position and other.symbol == o.symbol and other.status == "Untriggered":
                        other.status, other.updated_ms = "Expired", now
        else:
            total = abs(pos.qty) + qty
            pos.entry = (abs(pos.qty) * pos.entry + qty * price) / total
            pos.qty += signed
            if o.take_profit:
                pos.take_profit = o.take_profit
            if o.stop_loss:
                pos.stop_loss = o.stop_loss
        pos.updated_ms = now
        self.balance -= fee
        o.avg_price = ((o.avg_price * o.filled) + price * qty) / (o.filled + qty)
        o.filled, o.fee, o.status, o.updated_ms = o.qty, o.fee + fee, "Filled", now
        self.executions.append(SimExecution(self._new_id(), o, price, qty, fee, now, maker))

    def _new_id(self) -> str:
        return str(uuid.uuid4())

    # -- margin -------------------------------------------------------------------------------------------
    def _used_margin(self, now: int) -> float:
        im = sum(abs(p.qty) * self.market.last_price(p.symbol, now) for p in self.positions.values() if p.qty)
        im += sum((o.qty - o.filled) * (o.price or o.trigger) for o in self.orders.values()
                  if o.status in OPEN and not o.reduce_only)
        return im / self.leverage

    def _upnl(self, now: int) -> float:
        return sum(p.qty * (self.market.last_price(p.symbol, now) - p.entry) for p in self.positions.values() if p.qty)

    def available(self, now: int) -> float:
        return self.balance + min(0.0, self._upnl(now)) - self._used_margin(now)
