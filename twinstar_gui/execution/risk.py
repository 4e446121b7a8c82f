"""Risk limits in front of any executor: position size, number of positions, and a daily loss limit
whose breach trips a kill switch (no new entries, positions closed at market, bots told to stop)."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from ..core.risk_limits import RiskLimits
from .base import (
    BUY,
    SELL,
    Executor,
    Fill,
    InstrumentRules,
    Order,
    OrderRefused,
    OrderRequest,
    Position,
    symbols_in_play,
)
from .trade_journal import Journal

if TYPE_CHECKING:
    from .live import LiveExecutor

log = logging.getLogger(__name__)
DAY_MS = 86_400_000
IDLE_CHECK_S = 0.25  # the daily loss on prices that cannot move it: read this often at most


class RiskGuard:
    """An Executor that checks every order against the limits before passing it on."""

    def __init__(self, executor: Executor, journal: Journal, limits: RiskLimits, *,
                 clock: Callable[[], int] | None = None, currency: str = "USDT") -> None:
        self.inner = executor
        self.currency = currency  # the venue's quote: what its limits, balance and PnL are counted in
        self.name = executor.name
        self.journal = journal
        self.limits = limits
        self.clock = clock or getattr(executor, "clock", None)
        self.on_kill: list[Callable[[str], None]] = []
        self._lock = threading.RLock()  # an entry's check and placement; the kill switch's flattening
        self._switch = threading.Lock()  # the switch's check-and-set only: never held across the network
        self._flattening: threading.Thread | None = None
        self._no_equity_said = False
        # live: fills (TP/SL too) happen at the exchange, not in our journal, and orders are round trips
        self._at_exchange = getattr(executor, "fills_at_exchange", False)
        self._next_idle_check = 0.0  # monotonic time the daily loss is next read on a price that cannot move it
        self._holds = getattr(executor, "holds", None)  # one symbol's question without copying every position
        self._in_play = getattr(executor, "in_play", None)
        self._keys: dict[str, str] = {}  # _account_key's answers (asked on every price of a held symbol)

    def __repr__(self) -> str:
        return f"RiskGuard({self.inner!r}, {self.limits})"

    # -- the kill switch ------------------------------------------------------------------------------
    @property
    def kill_switch(self) -> dict | None:
        """{'reason':..., 'time_ms':...} while tripped (it survives restarts until reset)."""
        return self.journal.get_state(f"{self.name}.kill_switch")

    def trip(self, reason: str) -> None:
        """Record the switch (entries are refused from now), cancel entries not filled yet, close every
        position, tell the listeners (the bots stop). Returns at once for a live executor: its cancels and
        closes are round trips, sent from a thread of their own (the caller may be the GUI's thread)."""
        with self._switch:
            if self.kill_switch is not None:
                return
            now = self._now()
            self.journal.set_state(f"{self.name}.kill_switch", {"reason": reason, "time_ms": now})
        log.error("KILL SWITCH (%s): %s; closing every position, no new entries", self.name, reason)
        if self._at_exchange:
            self._flattening = threading.Thread(target=self._flatten, args=(now,), name=f"kill-{self.name}")
            self._flattening.start()
        else:
            self._flatten(now)
        for fn in list(self.on_kill):
            try:
                fn(reason)
            except Exception:
                log.exception("kill switch listener failed")

    def _flatten(self, now: int) -> None:
        """Cancel entries not filled yet (they would open positions after the trip), close every position.
        A failure on one order is said and the next is tried: nothing may stop the closes."""
        with self._lock:  # after any entry being placed right now: it is cancelled or closed here too
            try:
                orders = self.inner.open_orders()
            except Exception:
                log.exception("kill switch could not read the open orders (%s)", self.name)
                orders = []
            for order in orders:
                if not order.reduce_only:
                    try:
                        self.inner.cancel(order.id)
                    except Exception as exc:  # noqa: BLE001 - e.g. filled meanwhile: closed below with the others
                        log.warning("kill switch could not cancel %s %s: %s", order.symbol, order.id, exc)
            refresh = getattr(self.inner, "refresh", None)  # live: an entry that filled meanwhile shows now
            if refresh is not None:
                try:
                    refresh()
                except Exception as exc:  # noqa: BLE001 - close what the last snapshot shows
                    log.warning("kill switch could not refresh the account (%s): %s", self.name, exc)
            for pos in self.inner.positions():
                req = OrderRequest(pos.symbol, SELL if pos.qty > 0 else BUY, abs(pos.qty),
                                   f"kill-{pos.symbol}-{now}", reduce_only=True, bot="kill switch",
                                   price=pos.mark_price or pos.entry_price)
                try:
                    self.inner.place(req)
                except Exception as exc:  # noqa: BLE001 - say it and go on with the next position
                    log.error("kill switch could not close %s: %s", pos.symbol, exc)

    def wait_flattened(self, timeout: float = 30.0) -> bool:
        """Block until a live flattening in progress is done (before the journal closes); False on timeout."""
        t = self._flattening
        if t is not None:
            t.join(timeout)
            return not t.is_alive()
        return True

    def reset(self) -> None:
        """The user's reset: entries allowed again, and the daily loss limit counts from now (the day's result
        so far is accepted; without that the next price would trip the switch again)."""
        now = self._now()
        day = now - now % DAY_MS
        so_far = self._pnl_since_midnight(day) if self._measurable() else None  # None: taken at the first sync
        with self._switch:
            self.journal.set_state(self._account_key("accepted"), {"day_ms": day, "pnl": so_far})
            self.journal.set_state(f"{self.name}.kill_switch", None)
        log.warning("kill switch reset by the user (%s); the daily loss limit counts from now (%s before)",
                    self.name, "not known yet" if so_far is None else f"{so_far:+,.2f} {self.currency}")

    def daily_pnl(self, exact: bool = True) -> float:
        """Realized (net of fees) + unrealized since 00:00 UTC, or since the last reset of the kill switch.
        `exact=False`: a paper account's unrealized part as kept mark by mark (see unrealized_total)."""
        now = self._now()
        day = now - now % DAY_MS
        pnl = self._pnl_since_midnight(day, exact)
        key = self._account_key("accepted")
        accepted = self.journal.get_state(key)
        if not accepted or accepted.get("day_ms") != day:
            return pnl
        if accepted.get("pnl") is None:  # reset before the account's first reading: this is the first one
            if not self._measurable():
                return 0.0
            self.journal.set_state(key, {"day_ms": day, "pnl": pnl})
            return 0.0
        return pnl - accepted["pnl"]

    def _measurable(self) -> bool:
        """False while a live account has not been read yet (its equity is not known)."""
        return not self._at_exchange or getattr(self.inner, "synced", True)

    def _pnl_since_midnight(self, day: int, exact: bool = True) -> float:
        """A paper executor journals its fills, so the journal has the realized part. A live one's fills
        happen at the exchange (TP/SL included): its equity against the first reading of the day, kept per
        account in the journal so a restart keeps it (transfers in or out count as results too). Where the
        exchange gives no equity we can trust, only open positions count (said once)."""
        total = getattr(self.inner, "unrealized_total", None)
        unrealized = total(exact) if total is not None else sum(p.unrealized_pnl for p in self.inner.positions())
        if not self._at_exchange:
            return self.journal.realized_since(self.name, day) + unrealized
        if not self._measurable():
            return unrealized  # no balance read yet: no baseline to set from a zero
        equity = cast("LiveExecutor", self.inner).equity()  # fills at the exchange: a live executor
        if equity is None:
            if not self._no_equity_said:
                self._no_equity_said = True
                log.warning("%s: the exchange's balance does not tell its equity; the daily loss limit counts "
                            "open positions only", self.name)
            return unrealized
        key = self._account_key("day_start")
        start = self.journal.get_state(key)
        if not start or start.get("day_ms") != day:
            start = {"day_ms": day, "equity": equity}
            self.journal.set_state(key, start)
        return equity - start["equity"]

    def _account_key(self, what: str) -> str:
        """A journal state key of this executor's account (live: key + endpoint; paper: its name)."""
        account = getattr(self.inner, "account_id", "")
        key = self._keys.get(what + account)
        if key is None:
            key = self._keys[what + account] = f"{self.name}.{what}.{account}" if account else f"{self.name}.{what}"
        return key

    # -- Executor ---------------------------------------------------------------------------------------
    def place(self, req: OrderRequest) -> Order:
        if req.reduce_only:
            return self.inner.place(req)
        self.inner.rules(req.symbol)  # a first lookup may be a REST call: not while holding the lock below
        with self._lock:  # checked and placed as one: two bots' entries, or a trip, cannot slip in between
            self._check_entry(req)
            return self.inner.place(req)

    def _check_entry(self, req: OrderRequest) -> None:
        ks = self.kill_switch
        if ks is not None:
            raise OrderRefused(req.symbol, f"kill switch is on ({ks['reason']}); no new entries until it is reset")
        at_once = getattr(self.inner, "symbols_in_play", None)
        if at_once is not None:  # a paper account: read at once, without copying every position
            in_play = at_once()
            held = self.position(req.symbol)
            positions = {} if held is None else {req.symbol: held}
        else:
            in_play = symbols_in_play(self.inner)  # before the positions: an entry filling now is counted once
            positions = {p.symbol: p for p in self.inner.positions()}
            in_play |= set(positions)
        if req.symbol not in positions and len(in_play) >= self.limits.max_open_positions:
            raise OrderRefused(req.symbol, f"max open positions reached ({self.limits.max_open_positions})")
        self._check_size(req.symbol, req.qty if req.side == BUY else -req.qty, req.price, positions)

    def _check_size(self, symbol: str, signed: float, price: float | None, positions: dict[str, Position]) -> None:
        """A position that grows by `signed` (base units, < 0 sells) at `price` (else the last price) stays within the
        size limit; an order against the position (a sell while long) only reduces it, or turns it over by the rest."""
        price = price or getattr(self.inner, "last_price", {}).get(symbol)
        if price:
            before = positions[symbol].qty if symbol in positions else 0.0
            after = abs(before + signed) * price
            cap = self.limits.max_position(self.currency)
            if abs(before + signed) > abs(before) and after > cap * (1 + 1e-9):
                raise OrderRefused(symbol, f"position would be {after:,.2f} {self.currency}, over "
                                           f"the limit of {cap:,g} {self.currency}")

    def on_price(self, symbol: str, price: float, time_ms: int) -> list[Fill]:
        fills: list[Fill] = []
        try:
            fills = self.inner.on_price(symbol, price, time_ms)
            return fills
        finally:  # also when a fill could not be journaled: the daily loss limit is still watched
            if self._may_move_pnl(symbol, fills):
                self._check_daily_loss()

    def _may_move_pnl(self, symbol: str, fills: list[Fill]) -> bool:
        """Whether this price can have moved the day's result: a fill, or a position in that symbol. Other prices
        (most of them: every streamed series sends its forming candles here) read the journal at most every
        IDLE_CHECK_S, which still watches a live account's equity as its sync updates it. Reading the journal on
        each of them cost about a quarter of the GUI thread with 350 series streaming (bench/bench_gui.py)."""
        if fills:
            return True
        holds = self._holds
        if holds(symbol) if holds is not None else any(p.symbol == symbol for p in self.inner.positions()):
            return True
        now = time.monotonic()
        if now < self._next_idle_check:
            return False
        self._next_idle_check = now + IDLE_CHECK_S
        return True

    def check_daily_loss(self) -> None:
        """The daily loss limit checked now (trips the switch when reached): for a fill that did not come through
        on_price (a backtest's close before a hole in the data)."""
        self._check_daily_loss()

    def _check_daily_loss(self) -> None:
        if self.kill_switch is None:
            pnl = self.daily_pnl(exact=False)  # on every price of a held symbol: not a sum over every position
            limit = self.limits.daily_loss_limit(self.currency)
            if pnl <= -limit * (1 - 1e-6):  # near the limit: decided on the exact sum
                pnl = self.daily_pnl()
            if pnl <= -limit:
                self.trip(f"daily loss {pnl:,.2f} {self.currency} reached the limit of -{limit:,g}")

    def cancel(self, order_id: str) -> Order:
        return self.inner.cancel(order_id)

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        return self.inner.cancel_all(symbol)

    def amend(self, order_id: str, *, price: float | None = None, qty: float | None = None) -> Order:
        """An entry whose value grows (a larger size, or a price further up) is checked as a new entry would be
        (kill switch, size limit)."""
        order = next((o for o in self.inner.open_orders() if o.id == order_id), None)
        if order is None or order.reduce_only:
            return self.inner.amend(order_id, price=price, qty=qty)
        new_qty = order.qty if qty is None else qty
        new_price = order.price if price is None else price
        if not new_qty * (new_price or 0.0) > order.qty * (order.price or 0.0):
            return self.inner.amend(order_id, price=price, qty=qty)
        qty = new_qty
        with self._lock:
            ks = self.kill_switch
            if ks is not None:
                raise OrderRefused(order.symbol, f"kill switch is on ({ks['reason']}); entries cannot grow")
            positions = {p.symbol: p for p in self.inner.positions()}
            self._check_size(order.symbol, qty if order.side == BUY else -qty, price or order.price, positions)
            return self.inner.amend(order_id, price=price, qty=qty)

    def set_tpsl(self, symbol: str, take_profit: float | None, stop_loss: float | None) -> Position:
        return self.inner.set_tpsl(symbol, take_profit, stop_loss)

    def positions(self) -> list[Position]:
        return self.inner.positions()

    def position(self, symbol: str) -> Position | None:
        one = getattr(self.inner, "position", None)
        return one(symbol) if one is not None else next((p for p in self.inner.positions() if p.symbol == symbol),
                                                        None)

    def balance(self) -> float:
        return self.inner.balance()

    def in_play(self, symbol: str) -> bool:
        one = self._in_play
        return one(symbol) if one is not None else symbol in symbols_in_play(self.inner)

    def open_orders(self) -> list[Order]:
        return self.inner.open_orders()

    def rules(self, symbol: str) -> InstrumentRules:
        return self.inner.rules(symbol)

    @property
    def last_price(self) -> dict[str, float]:
        return getattr(self.inner, "last_price", {})

    def _now(self) -> int:
        return self.clock() if self.clock else int(time.time() * 1000)
