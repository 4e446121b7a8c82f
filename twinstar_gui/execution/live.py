"""Live orders through ccxt (signed REST for all seven exchanges), opt-in only.

- ccxt is imported lazily (`pip install 'twinstar[exchanges]'`); a missing ccxt or key is a clear refusal.
- Precision and minimums come from the exchange's market info (ccxt's load_markets).
- Every order carries our client id; the journal records it before it is sent, so a retry (or a restart)
  never places it twice, and a network error is answered by looking the id up, never by sending again.
- Positions, open orders and the balance are refreshed by a background thread: callers (bots, the GUI)
  read a snapshot and never wait on the network. `reconcile()` takes the exchange's view before trading.
"""
from __future__ import annotations

import hashlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ..exchanges.registry import VENUES
from .base import (
    BUY,
    CANCELLED,
    FILLED,
    LIMIT,
    MARKET,
    NEW,
    REJECTED,
    STOP,
    Fill,
    InstrumentRules,
    Order,
    OrderRefused,
    OrderRequest,
    Position,
    check_resting,
    check_tpsl,
    times,
)
from .trade_journal import Journal

log = logging.getLogger(__name__)

CCXT_IDS = {name: v.ccxt_id for name, v in VENUES.items()}  # the registry says which ccxt class
# venues that keep trigger (stop) orders in a book of their own: ccxt lists them with params {"trigger": True}
# (Binance USD-M's conditional orders live in its Algo Service since 2025-12: ccxt 4.5 sends them there)
TRIGGER_BOOK = frozenset(name for name, v in VENUES.items() if v.ccxt_trigger_book)
# venues where a position's take profit / stop loss cannot ride on the entry order (Binance USD-M has no
# attached TP/SL: it reads no such parameter and refuses the order): they are sent after the entry, as
# TAKE_PROFIT_MARKET / STOP_MARKET algo orders with closePosition=true (what Binance's own position TP/SL are)
NO_ATTACHED_TPSL = frozenset({"binance"})
# venues whose position TP/SL are conditional orders of their own, read from the trigger book (Binance's closePosition
# algo orders; OKX's conditional / oco algo orders, attached to an entry or placed with closeFraction 1)
TPSL_ORDERS = frozenset(name for name, v in VENUES.items() if v.ccxt_tpsl_orders)
# venues whose stop orders cannot be amended (Binance's Algo Service has no modify): cancelled and placed again
NO_STOP_AMEND = frozenset({"binance"})


class LiveExecutorError(RuntimeError):
    """Live trading cannot start; the message says why (never a secret)."""


class LiveExecutor:
    fills_at_exchange = True  # fills (TP/SL too) are not journaled here: the risk guard reads the equity

    def __init__(self, exchange: str, client, *, journal: Journal | None = None, refresh_s: float = 1.0,
                 clock: Callable[[], int] = lambda: int(time.time() * 1000), hide: tuple[str, ...] = (),
                 account_id: str = "") -> None:
        self.exchange = exchange
        self.currency = VENUES[exchange].quote if exchange in VENUES else "USDT"  # the venue's money
        self.account_id = account_id  # which account (key + endpoint), as a short hash: never the key itself
        self.name = f"live-{exchange}"
        self.client = client
        self.journal = journal
        self.refresh_s = refresh_s
        self.clock = clock
        self.last_price: dict[str, float] = {}
        self._lock = threading.RLock()
        self._positions: list[Position] = []
        self._orders: list[Order] = []
        self._tpsl: dict[str, list[dict]] = {}  # symbol -> its position's TP/SL orders at the exchange (ccxt's)
        self._balance = 0.0
        self._by_id: dict[str, dict[str, Any]] = {}  # native symbol -> ccxt market
        for m in client.markets.values():
            if m.get("spot") if self.currency == "KRW" else m.get("swap"):
                self._by_id.setdefault(m["id"], m)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._claiming = threading.Lock()  # a client id's journal lookup and its pending record, together
        self._refreshes = itertools.count(1)  # a refresh installs its snapshot only if none newer was installed
        self._installed = 0
        self._bot_of_order: dict[str, str] = {}  # client id -> bot (the exchange knows nothing of our bots)
        self._bot_of_symbol: dict[str, str] = {}  # symbol -> bot of its latest entry (positions carry no id)
        self._claimed_at: dict[str, int] = {}  # symbol -> the newest refresh started when an entry claimed it
        self._sizes: dict[str, float] = {}  # symbol -> position size at the last installed refresh
        self._refresh_started = 0
        self.synced = False  # True once a refresh has brought the exchange's balance and positions
        self.last_error = ""
        self._hide = hide  # key, secret, passphrase: scrubbed from every message we pass on

    def __repr__(self) -> str:  # the client holds the keys: never print it
        return f"LiveExecutor({self.exchange}, markets={len(self._by_id)})"

    # -- construction ---------------------------------------------------------------------------------
    @classmethod
    def connect(cls, exchange: str, keys, rest_url: str | None = None, *, journal: Journal | None = None,
                timeout_s: float = 10.0, refresh_s: float = 1.0) -> LiveExecutor:
        try:
            import ccxt
        except ImportError:
            raise LiveExecutorError("live trading needs ccxt: pip install 'twinstar[exchanges]'") from None
        # ccxt logs every request with its headers (the API key, the signature) at DEBUG: never let it
        logging.getLogger("ccxt").setLevel(logging.INFO)
        cid = CCXT_IDS.get(exchange)
        if cid is None:
            raise LiveExecutorError(f"no live trading for {exchange!r}")
        config = {"apiKey": keys.key, "secret": keys.secret, "enableRateLimit": True, "timeout": int(timeout_s * 1000),
                  "options": {"defaultType": "swap"}}
        if keys.passphrase:
            config["password"] = keys.passphrase
        client = getattr(ccxt, cid)(config)
        if rest_url:  # simulator or testnet: every API family at that base, each keeping its own path
            client.urls["api"] = _rebased(client.urls.get("api"), rest_url.rstrip("/"))
        if exchange == "bybit":
            client.options["fetchMarkets"] = {"types": ["linear"]}
        if exchange == "binance":  # every symbol's open orders in one request (the refresh asks for all)
            client.options["fetchOpenOrders"] = {**(client.options.get("fetchOpenOrders") or {}),
                                                 "warnWithoutSymbol": False}
        hide = tuple(s for s in (keys.key, keys.secret, keys.passphrase) if s)
        try:
            client.load_markets()
        except ccxt.AuthenticationError as exc:
            raise LiveExecutorError(f"{exchange} refused the API key: {_text(exc, hide)}") from None
        except ccxt.BaseError as exc:
            raise LiveExecutorError(f"{exchange}: cannot load market info: {_text(exc, hide)}") from None
        account_id = hashlib.sha256(f"{keys.key}@{rest_url or 'live'}".encode()).hexdigest()[:12]
        return cls(exchange, client, journal=journal, refresh_s=refresh_s, hide=hide, account_id=account_id)

    def attach_journal(self, journal: Journal) -> None:
        self.journal = journal

    # -- market info ------------------------------------------------------------------------------------
    def _market(self, symbol: str) -> dict:
        m = self._by_id.get(symbol)
        if m is None:
            raise OrderRefused(symbol, "not listed by the exchange", exchange=self.exchange)
        return m

    def rules(self, symbol: str) -> InstrumentRules:
        """In base units (BTC), as every executor counts: where the exchange counts contracts (OKX: 0.01 BTC
        each), its steps and minimums are multiplied by the contract size."""
        m = self._market(symbol)
        prec, limits = m.get("precision") or {}, m.get("limits") or {}
        size = _contract_size(m)
        tick = float(prec.get("price") or 1e-8)
        lot = times(float(prec.get("amount") or 1e-8), size)
        min_qty = times(float((limits.get("amount") or {}).get("min") or 0.0), size) or lot
        min_cost = float((limits.get("cost") or {}).get("min") or 0.0)
        return InstrumentRules(symbol, tick, lot, min_qty, min_cost, currency=self.currency)

    # -- the account, refreshed in the background ---------------------------------------------------------
    def start(self) -> None:
        """Background account sync (first refresh at once, on that thread: the caller may be the GUI's loop)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._sync, name=f"sync-{self.name}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _sync(self) -> None:
        first = True
        while first or not self._stop.wait(self.refresh_s):
            first = False
            try:
                self.refresh()
            except Exception as exc:  # noqa: BLE001 - keep the last snapshot, say what failed
                self.last_error = self._msg(exc)
                log.warning("%s: account refresh failed: %s", self.name, self.last_error)

    def refresh(self) -> None:
        """The exchange's open orders, positions and balance. Called by the sync thread and after each
        order, so two may overlap: only the newest started one is kept. Orders are fetched before positions:
        an order filling between the two calls is then seen at least once (as in symbols_in_play)."""
        seq = self._refresh_started = next(self._refreshes)
        raw_orders = self._fetch_open()
        tpsl: dict[str, list[dict]] = {}
        for o in raw_orders:
            if _tpsl_of(o) is not None:
                tpsl.setdefault(self._native(o["symbol"]), []).append(o)
        # a position's TP/SL are shown as the position's (its lines), never also as orders of their own
        orders = [self._order(o) for o in raw_orders if _tpsl_of(o) is None]
        raw_positions = self.client.fetch_positions()
        bal = self.client.fetch_balance()
        usdt = bal.get(self.currency) or {}
        with self._lock:
            if seq < self._installed:
                return  # a newer picture is already in place
            self._installed = seq
            self._follow_owners(orders, {self._native(p["symbol"]): _size(p) for p in raw_positions if _size(p)}, seq)
            self._tpsl = tpsl
            positions = [self._position(p) for p in raw_positions]
            self._positions = [p for p in positions if p is not None and p.qty]
            self._orders = orders
            self._balance = float(usdt.get("total") or 0.0)
            self.synced = True

    def reconcile(self) -> None:
        """The exchange's open orders and positions replace what the journal believed (after a restart,
        before any bot trades)."""
        self.refresh()
        if self.journal is None:
            return
        with self._lock:
            open_ids = {o.id for o in self._orders}
        ended = {}  # journal-open orders no longer open at the exchange: filled while we were away, or not
        for o in self.journal.orders(self.name, open_only=True):
            if o.id not in open_ids:
                found = self._find(self._by_id[o.symbol]["symbol"], o.client_id) if o.symbol in self._by_id else None
                ended[o.id] = (o, found)
        with self._lock, self.journal.transaction():
            for o, found in ended.values():
                filled = float((found or {}).get("filled") or 0.0)
                if filled > 0:
                    o.status, o.filled_qty, o.reason = FILLED, filled, "filled while the app was away"
                    o.avg_price = float((found or {}).get("average") or o.avg_price or 0.0)
                else:
                    o.status, o.reason = CANCELLED, "not open at the exchange after restart"
                self.journal.save_order(self.name, o)
            for o in self._orders:
                self.journal.save_order(self.name, o)
            self._bot_of_symbol.clear()  # owners again, now that the journal knows what filled meanwhile
            for p in self._positions:
                p.bot = self._bot_of_position(p.symbol)
            mine = {p.symbol for p in self._positions}
            for old in self.journal.positions(self.name):
                if old.symbol not in mine:
                    old.qty = 0.0
                    self.journal.save_position(self.name, old)
            for p in self._positions:
                self.journal.save_position(self.name, p)
        log.info("%s: reconciled with the exchange: %d position(s), %d open order(s)", self.name,
                 len(self._positions), len(self._orders))

    def positions(self) -> list[Position]:
        with self._lock:
            return [p.copy() for p in self._positions]

    def open_orders(self) -> list[Order]:
        with self._lock:
            return list(self._orders)

    def balance(self) -> float:
        return self._balance

    def equity(self) -> float | None:
        """Balance plus open positions' unrealized result, where the exchange's figures tell it; else None."""
        # (no equity from a venue where ccxt's total is neither: the daily loss limit sees open positions)
        kind = VENUES[self.exchange].ccxt_total if self.exchange in VENUES else ""
        if not kind:
            return None
        with self._lock:
            return self._balance + (sum(p.unrealized_pnl for p in self._positions) if kind == "wallet" else 0.0)

    def on_price(self, symbol: str, price: float, time_ms: int) -> list[Fill]:
        """Fills happen at the exchange; a price only marks our snapshot."""
        self.last_price[symbol] = price
        with self._lock:
            for p in self._positions:
                if p.symbol == symbol:
                    p.mark_price = price
        return []

    # -- orders -------------------------------------------------------------------------------------------
    def place(self, req: OrderRequest) -> Order:
        import ccxt

        with self._claiming:  # looked up and recorded as one: a client id sent from two threads goes once
            if self.journal is not None:
                known = self.journal.known_order(self.name, req, exchange=self.exchange)
                if known is not None:
                    return known
            market = self._market(req.symbol)
            rules = self.rules(req.symbol)
            ref = req.price if req.price is not None else self.last_price.get(req.symbol)
            now = self.clock()
            order = Order(f"pending-{req.client_id}", req.client_id, req.symbol, req.side, req.qty, req.type,
                          req.price, NEW, created_ms=now, updated_ms=now, reduce_only=req.reduce_only, bot=req.bot,
                          take_profit=req.take_profit, stop_loss=req.stop_loss, post_only=req.post_only)
            try:
                if ref is None:
                    raise OrderRefused(req.symbol, "no price known yet for this symbol", exchange=self.exchange)
                if req.take_profit is not None or req.stop_loss is not None:
                    if req.reduce_only and self.exchange in NO_ATTACHED_TPSL:
                        raise OrderRefused(req.symbol, "a reduce-only order takes no take profit / stop loss",
                                           exchange=self.exchange)
                    # winning / losing side of the entry; Binance's separate orders: of the last price
                    check_tpsl(req.symbol, req.side == BUY,
                               None if req.take_profit is None else rules.round_price(req.take_profit),
                               None if req.stop_loss is None else rules.round_price(req.stop_loss),
                               (self.last_price.get(req.symbol) or ref) if self.exchange in NO_ATTACHED_TPSL
                               else ref)
                order.qty, price = rules.check(req.qty, ref)
                if req.type != MARKET:
                    order.price = price
                    check_resting(req.symbol, req.side, req.type, price, self.last_price.get(req.symbol),
                                  post_only=req.post_only)
            except OrderRefused as exc:
                order.status, order.reason = REJECTED, exc.reason
                self._save(order)
                raise
            self._save(order)  # before sending: a crash now leaves a record to look up, not a blind resend
            self._bot_of_order[req.client_id] = req.bot
        params: dict[str, Any] = {"clientOrderId": req.client_id}
        if req.reduce_only:
            params["reduceOnly"] = True
        if req.post_only:
            params["postOnly"] = True
        if req.type == STOP:
            params.update(self._trigger_params(req.side, order.price))
        separate = self.exchange in NO_ATTACHED_TPSL  # sent after the entry, as orders of their own
        if req.take_profit is not None and not separate:
            params["takeProfit"] = {"triggerPrice": rules.round_price(req.take_profit)}
        if req.stop_loss is not None and not separate:
            params["stopLoss"] = {"triggerPrice": rules.round_price(req.stop_loss)}
        try:
            raw = self.client.create_order(market["symbol"], LIMIT if req.type == LIMIT else MARKET, req.side,
                                           self._contracts(market, order.qty),
                                           order.price if req.type == LIMIT else None, params)
        except (ccxt.NetworkError, ccxt.RequestTimeout) as exc:
            found = self._find(market["symbol"], req.client_id)
            if found is None:
                order.status, order.reason = REJECTED, f"no answer from {self.exchange} ({self._msg(exc)}); not resent"
                self._save(order)
                raise OrderRefused(req.symbol, order.reason, exchange=self.exchange) from None
            raw = found
        except ccxt.BaseError as exc:  # the exchange said no: show its words, never retry blindly
            order.status, order.reason = REJECTED, self._msg(exc)
            self._save(order)
            raise OrderRefused(req.symbol, order.reason, exchange=self.exchange, code=type(exc).__name__) from None
        if raw.get("status") is None:  # Bybit's create answers ids only: ask for the order's state
            raw = self._find(market["symbol"], req.client_id) or raw
        order.id = str(raw.get("id") or order.id)
        order.status = FILLED if raw.get("status") == "closed" else NEW
        order.filled_qty = float(raw.get("filled") or 0.0) * _contract_size(market)
        order.avg_price = float(raw.get("average") or 0.0)
        self._save(order)
        if not req.reduce_only and (order.filled_qty > 0 or not self._bot_of_symbol.get(req.symbol)):
            with self._lock:  # filled: its position is this bot's (or will be)
                self._bot_of_symbol[req.symbol] = req.bot
                # a refresh already under way may have read the account before this fill: it must not undo this
                self._claimed_at[req.symbol] = self._refresh_started
        log.info("%s: sent %s %s %g %s (%s) -> %s", self.name, req.side, req.symbol, order.qty, req.type,
                 req.bot or "manual", order.id)
        if separate and (req.take_profit is not None or req.stop_loss is not None):
            tp = None if req.take_profit is None else rules.round_price(req.take_profit)
            sl = None if req.stop_loss is None else rules.round_price(req.stop_loss)
            try:
                self._send_tpsl(market, req.side == BUY, tp, sl)
            except ccxt.BaseError as exc:  # the entry stands: say that its TP/SL did not go
                order.reason = f"entry sent; its take profit / stop loss were refused: {self._msg(exc)}"
                self._save(order)
                log.warning("%s: %s %s", self.name, req.symbol, order.reason)
        try:
            self.refresh()
        except Exception as exc:  # noqa: BLE001 - the background sync will catch up
            self.last_error = self._msg(exc)
        return order

    def cancel(self, order_id: str) -> Order:
        import ccxt

        order = next((o for o in self.open_orders() if o.id == order_id), None)
        if order is None:
            raise OrderRefused("", f"no open order {order_id}", exchange=self.exchange)
        try:
            self.client.cancel_order(order_id, self._market(order.symbol)["symbol"], self._trigger_flag(order))
        except ccxt.BaseError as exc:
            raise OrderRefused(order.symbol, self._msg(exc), exchange=self.exchange) from None
        order.status, order.updated_ms = CANCELLED, self.clock()
        self._save(order)
        self._forget([order])
        self._refresh_quietly()
        return order

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Open orders of `symbol` (or of every symbol) cancelled: by the exchange's cancel-all where ccxt has
        it (one request per symbol), else one by one (said in the log). The orders that were open."""
        import ccxt

        orders = [o for o in self.open_orders() if symbol is None or o.symbol == symbol]
        symbols = sorted({o.symbol for o in orders} | ({symbol} if symbol else set()))
        native_all = bool(self.client.has.get("cancelAllOrders"))
        if not native_all:
            log.info("%s: no cancel-all in this exchange's API; cancelling %d order(s) one by one", self.name,
                     len(orders))
        for sym in symbols:
            market = self._market(sym)
            try:
                if native_all:
                    self.client.cancel_all_orders(market["symbol"])
                    if sym in self._trigger_symbols(orders) and self._tpsl.get(sym):  # the position's TP/SL stay
                        for o in orders:
                            if o.symbol == sym and self._trigger_flag(o):
                                self.client.cancel_order(o.id, market["symbol"], self._trigger_flag(o))
                    elif sym in self._trigger_symbols(orders):
                        self.client.cancel_all_orders(market["symbol"], {"trigger": True})
                else:
                    for o in orders:
                        if o.symbol == sym:
                            self.client.cancel_order(o.id, market["symbol"], self._trigger_flag(o))
            except ccxt.BaseError as exc:
                self._refresh_quietly()
                raise OrderRefused(sym, self._msg(exc), exchange=self.exchange, code=type(exc).__name__) from None
        now = self.clock()
        for o in orders:
            o.status, o.updated_ms, o.reason = CANCELLED, now, "cancelled (all)"
            self._save(o)
        self._forget(orders)
        self._refresh_quietly()
        return orders

    def _forget(self, cancelled: list[Order]) -> None:
        """Orders the exchange confirmed cancelled leave the snapshot now, not at the next refresh (which may come
        late: ccxt paces Binance's every-symbol order list at weight 40, ~2 s)."""
        gone = {o.id for o in cancelled}
        with self._lock:
            self._orders = [o for o in self._orders if o.id not in gone]

    def amend(self, order_id: str, *, price: float | None = None, qty: float | None = None) -> Order:
        """A resting order's new price and/or size: the exchange's amend where ccxt has one (the order keeps its
        id), else cancel and place again with a new client id (said in the log). What the exchange answers is
        what the order is: a refusal leaves it as it was and says the exchange's words."""
        import ccxt

        order = next((o for o in self.open_orders() if o.id == order_id), None)
        if order is None:
            raise OrderRefused("", f"no open order {order_id}", exchange=self.exchange)
        if order.type == MARKET:
            raise OrderRefused(order.symbol, "a market order cannot be amended", exchange=self.exchange)
        market, rules = self._market(order.symbol), self.rules(order.symbol)
        new_qty, new_price = rules.check(order.qty if qty is None else qty,
                                         order.price if price is None else price)  # type: ignore[arg-type]
        check_resting(order.symbol, order.side, order.type, new_price, self.last_price.get(order.symbol),
                      post_only=order.post_only)
        if not self.client.has.get("editOrder") or self.client.has.get("editOrder") == "emulated" or (
                order.type == STOP and self.exchange in NO_STOP_AMEND):
            return self._replace(order, new_qty, new_price)
        params: dict[str, Any] = {}
        kind = LIMIT if order.type == LIMIT else MARKET
        if order.type == STOP:
            params.update(self._trigger_params(order.side, new_price))
            if self.exchange == "okx":  # ccxt amends OKX's trigger orders (amend-algos) when told their type
                kind = "trigger"
        try:
            self.client.edit_order(order.id, market["symbol"], kind, order.side,
                                   self._contracts(market, new_qty), new_price if order.type == LIMIT else None,
                                   params)
        except ccxt.BaseError as exc:
            self._refresh_quietly()
            raise OrderRefused(order.symbol, self._msg(exc), exchange=self.exchange,
                               code=type(exc).__name__) from None
        order.qty, order.price, order.updated_ms = new_qty, new_price, self.clock()
        self._save(order)
        log.info("%s: amended %s %s %s -> %g @ %g", self.name, order.symbol, order.side, order.id, new_qty, new_price)
        self._refresh_quietly()
        return order

    def _replace(self, order: Order, qty: float, price: float) -> Order:
        """Amend where the exchange has none: cancel, then the same order with the new values and a new client
        id. If the new one is refused, the old one is gone: said plainly."""
        log.info("%s: %s has no order amend; cancelling %s and placing it again at %g x %g", self.name,
                 self.exchange, order.id, price, qty)
        self.cancel(order.id)
        req = OrderRequest(order.symbol, order.side, qty, f"{order.client_id[:24]}-r{self.clock() % 100_000}",
                           order.type, price, order.reduce_only, order.bot, order.take_profit, order.stop_loss,
                           order.post_only)
        try:
            return self.place(req)
        except OrderRefused as exc:
            raise OrderRefused(order.symbol, f"the old order was cancelled, the new one refused: {exc.reason}",
                               exchange=self.exchange, code=exc.code) from None

    def set_tpsl(self, symbol: str, take_profit: float | None, stop_loss: float | None) -> Position:
        """The position's take profit and stop loss at the exchange (None: none): Bybit's trading-stop; Binance's
        closePosition TAKE_PROFIT_MARKET / STOP_MARKET algo orders and OKX's conditional / oco close-position algo
        order, cancelled and placed again; elsewhere not yet."""
        import ccxt

        pos = next((p for p in self.positions() if p.symbol == symbol), None)
        if pos is None:
            raise OrderRefused(symbol, "no open position to set a take profit or stop loss on", exchange=self.exchange)
        rules = self.rules(symbol)
        tp = None if take_profit is None else rules.check_price(take_profit, "take profit")
        sl = None if stop_loss is None else rules.check_price(stop_loss, "stop loss")
        check_tpsl(symbol, pos.qty > 0, tp, sl, self.last_price.get(symbol) or pos.mark_price or pos.entry_price)
        if self.exchange in TPSL_ORDERS:
            return self._replace_tpsl(pos, tp, sl)
        if self.exchange != "bybit":
            raise OrderRefused(symbol, "changing a live position's take profit / stop loss is not supported on "
                                       f"{self.exchange} yet; place a reduce-only stop or limit order instead",
                               exchange=self.exchange)
        market = self._market(symbol)
        try:
            self.client.private_post_v5_position_trading_stop({
                "category": "linear", "symbol": market["id"], "tpslMode": "Full", "positionIdx": 0,
                "takeProfit": self.client.price_to_precision(market["symbol"], tp) if tp else "0",
                "stopLoss": self.client.price_to_precision(market["symbol"], sl) if sl else "0"})
        except ccxt.BaseError as exc:
            raise OrderRefused(symbol, self._msg(exc), exchange=self.exchange, code=type(exc).__name__) from None
        self._refresh_quietly()
        with self._lock:
            pos = next((p for p in self._positions if p.symbol == symbol), pos)
            pos.take_profit, pos.stop_loss = tp, sl
            return pos.copy()

    def _replace_tpsl(self, pos: Position, tp: float | None, sl: float | None) -> Position:
        """The position's TP/SL orders replaced (cancelled, then placed: Binance has no amend in its Algo Service and
        takes one closePosition order per direction; OKX one TP/SL order for the whole position). A TP or SL that
        stays the same keeps its order on Binance. What the exchange then holds is what the position shows."""
        import ccxt

        symbol, market = pos.symbol, self._market(pos.symbol)
        self._refresh_quietly()  # the exchange's current TP/SL orders
        with self._lock:
            current = list(self._tpsl.get(symbol, []))
        keep_tp = keep_sl = False
        try:
            for o in current:
                otp, osl = _tpsl_of(o) or (None, None)
                if self.exchange == "binance" and (otp, osl) in ((tp, None), (None, sl)) and (otp or osl):
                    keep_tp, keep_sl = keep_tp or otp is not None, keep_sl or osl is not None
                    continue
                self.client.cancel_order(str(o.get("id")), market["symbol"], {"trigger": True})
            self._send_tpsl(market, pos.qty > 0, None if keep_tp else tp, None if keep_sl else sl)
        except ccxt.BaseError as exc:
            self._refresh_quietly()
            raise OrderRefused(symbol, self._msg(exc), exchange=self.exchange, code=type(exc).__name__) from None
        log.info("%s: %s take profit %s, stop loss %s", self.name, symbol, tp, sl)
        self._refresh_quietly()
        with self._lock:
            now = next((p for p in self._positions if p.symbol == symbol), None)
            return (now or pos).copy()

    def _send_tpsl(self, market: dict, long: bool, tp: float | None, sl: float | None) -> None:
        """A position's TP and/or SL as the exchange's close-the-position conditional orders (market execution)."""
        side = "sell" if long else BUY
        if self.exchange == "binance":  # one closePosition order each: no size, reduce-only by nature
            for key, price in (("takeProfitPrice", tp), ("stopLossPrice", sl)):
                if price is not None:
                    self.client.create_order(market["symbol"], MARKET, side, None, None,
                                             {key: price, "closePosition": True})
        elif self.exchange == "okx" and (tp is not None or sl is not None):  # conditional (one) or oco (both)
            params: dict[str, Any] = {"closeFraction": "1", "reduceOnly": True}
            if tp is not None:
                params["takeProfitPrice"] = tp
            if sl is not None:
                params["stopLossPrice"] = sl
            self.client.create_order(market["symbol"], MARKET, side, None, None, params)

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # noqa: BLE001 - the change is done; the background sync will catch up
            self.last_error = self._msg(exc)

    # -- helpers ------------------------------------------------------------------------------------------
    def _msg(self, exc: BaseException) -> str:
        return self.error_text(exc)

    def error_text(self, exc: BaseException) -> str:
        """An error's message for the user, with the key, secret and passphrase masked."""
        return _text(exc, self._hide)

    def _save(self, order: Order) -> None:
        if self.journal is not None:
            self.journal.save_order(self.name, order)

    def _find(self, symbol: str, client_id: str) -> dict | None:
        """An order by our client id, open or recently closed (after a network error)."""
        for fetch in (self.client.fetch_open_orders, self.client.fetch_closed_orders):
            try:
                for o in fetch(symbol):
                    if o.get("clientOrderId") == client_id:
                        return o
            except Exception as exc:  # noqa: BLE001
                log.warning("%s: looking up %s failed: %s", self.name, client_id, self._msg(exc))
        return None

    def _fetch_open(self) -> list[dict]:
        """Open orders, the trigger (stop) orders too where the exchange keeps them apart (one list, by id)."""
        found: dict[str, dict] = {}
        if self.exchange in TRIGGER_BOOK:
            found.update((str(o.get("id")), o) for o in self.client.fetch_open_orders(params={"trigger": True}))
        if self.exchange == "okx":  # the positions' TP/SL: conditional / oco algo orders, a list of their own
            found.update((str(o.get("id")), o) for o in self.client.fetch_open_orders(
                params={"trigger": True, "ordType": "conditional,oco"}))
        found.update((str(o.get("id")), o) for o in self.client.fetch_open_orders())
        return list(found.values())

    def _trigger_params(self, side: str, trigger: float | None) -> dict[str, Any]:
        """ccxt's parameters of a stop-market order: triggered when the price rises to a buy stop, falls to a sell."""
        params: dict[str, Any] = {"triggerPrice": trigger}
        if self.exchange == "bybit":
            params["triggerDirection"] = "ascending" if side == BUY else "descending"
        return params

    def _trigger_flag(self, order: Order) -> dict[str, Any]:
        return {"trigger": True} if order.type == STOP and self.exchange in TRIGGER_BOOK else {}

    def _trigger_symbols(self, orders: list[Order]) -> set[str]:
        return {o.symbol for o in orders if self._trigger_flag(o)}

    def _contracts(self, market: dict, qty: float) -> float:
        """Base units -> the exchange's amount (contracts where it counts them)."""
        return round(qty / _contract_size(market), 10)

    def _native(self, ccxt_symbol: str) -> str:
        m = self.client.markets.get(ccxt_symbol)
        return m["id"] if m else ccxt_symbol

    def _position(self, p: dict) -> Position | None:
        qty = _size(p)
        if not qty:
            return None
        if p.get("side") == "short":
            qty = -qty
        info = p.get("info") or {}
        symbol = self._native(p["symbol"])
        tp, sl = _num(p.get("takeProfitPrice") or info.get("takeProfit")), _num(p.get("stopLossPrice") or
                                                                                info.get("stopLoss"))
        if self.exchange in TPSL_ORDERS:  # from the orders that close this position (on its other side)
            closing = "sell" if qty > 0 else BUY
            for o in self._tpsl.get(symbol, []):
                otp, osl = _tpsl_of(o) or (None, None)
                if o.get("side") == closing:
                    tp, sl = otp if otp is not None else tp, osl if osl is not None else sl
        return Position(symbol, qty, float(p.get("entryPrice") or 0.0),
                        int(p.get("timestamp") or self.clock()), self._bot_of_position(symbol), tp, sl,
                        float(p.get("markPrice") or 0.0))

    def _order(self, o: dict) -> Order:
        oid = str(o.get("id"))  # orders placed elsewhere (the exchange's web page, a TP/SL) have no client id
        cid = str(o.get("clientOrderId") or f"exchange-{oid}")
        size = _contract_size(self.client.markets.get(o["symbol"]) or {})
        trigger = _num(o.get("triggerPrice"))
        kind = STOP if trigger and o.get("type") != LIMIT else (o.get("type") or LIMIT)
        return Order(oid, cid, self._native(o["symbol"]),
                     o.get("side") or BUY, float(o.get("amount") or 0.0) * size, kind,
                     trigger if kind == STOP else _num(o.get("price")), NEW, float(o.get("filled") or 0.0) * size,
                     float(o.get("average") or 0.0), created_ms=int(o.get("timestamp") or 0),
                     updated_ms=int(o.get("timestamp") or 0), reduce_only=bool(o.get("reduceOnly")),
                     bot=self._bot_of_client_id(cid), post_only=bool(o.get("postOnly")))

    def _bot_of_client_id(self, client_id: str) -> str:
        """Which of our bots sent an order, by its client id ("" for orders placed elsewhere); the journal
        answers after a restart."""
        bot = self._bot_of_order.get(client_id)
        if bot is None:
            known = self.journal.order_by_client_id(self.name, client_id) if self.journal is not None else None
            bot = self._bot_of_order[client_id] = known.bot if known is not None else ""
        return bot

    def _follow_owners(self, orders: list[Order], held: dict[str, float], seq: int) -> None:
        """Keep symbol -> bot up to date from one refresh to the next (`held`: symbol -> position size): an
        entry of ours that left the book while its symbol's position grew filled it (one cancelled beside
        another bot's position changes nothing); a flat symbol without an entry order has no owner ("" until
        an entry of ours, so a position opened elsewhere later is nobody's)."""
        now_open = {o.client_id for o in orders}
        for o in self._orders:
            grew = held.get(o.symbol, 0.0) > self._sizes.get(o.symbol, 0.0)
            if not o.reduce_only and o.bot and o.client_id not in now_open and grew:
                self._bot_of_symbol[o.symbol] = o.bot
        self._sizes = dict(held)
        entries = {o.symbol for o in orders if not o.reduce_only}
        for symbol in list(self._bot_of_symbol):
            if symbol not in held and symbol not in entries and seq > self._claimed_at.get(symbol, 0):
                self._bot_of_symbol[symbol] = ""

    def _bot_of_position(self, symbol: str) -> str:
        """The bot of the symbol's latest filled entry we sent (the journal's after a restart; else its latest
        entry still open); "" if none."""
        bot = self._bot_of_symbol.get(symbol)
        if bot is None:
            entries = [o for o in self.journal.orders(self.name) if o.symbol == symbol and not o.reduce_only
                       and o.status not in (REJECTED, CANCELLED)] if self.journal is not None else []
            filled = [o for o in entries if o.filled_qty > 0] or entries
            bot = self._bot_of_symbol[symbol] = max(filled, key=lambda o: o.created_ms).bot if filled else ""
        return bot


def _rebased(api: Any, base: str) -> Any:
    """ccxt's API URLs moved to `base`, each keeping its path (Binance's families differ only by it: /fapi/v1,
    /fapi/v2, /sapi/v1...; Bybit's and OKX's have none)."""
    if isinstance(api, dict):
        return {name: _rebased(url, base) for name, url in api.items()}
    if isinstance(api, str):
        return base + urlsplit(api.replace("{hostname}", "host")).path.rstrip("/")
    return base


def _tpsl_of(o: dict) -> tuple[float | None, float | None] | None:
    """(take profit, stop loss) of an order that is a position's TP/SL: Binance's closePosition TAKE_PROFIT_MARKET /
    STOP_MARKET, OKX's conditional / oco algo order; None for any other order."""
    info = o.get("info") or {}
    if str(info.get("closePosition")).lower() == "true":
        kind = str(info.get("orderType") or info.get("type") or "").upper()
        trigger = _num(o.get("triggerPrice") or info.get("triggerPrice") or info.get("stopPrice"))
        return (trigger, None) if kind.startswith("TAKE_PROFIT") else (None, trigger)
    if info.get("ordType") in ("conditional", "oco") and "algoId" in info:
        return _num(info.get("tpTriggerPx")), _num(info.get("slTriggerPx"))
    return None


def _contract_size(market: dict) -> float:
    """Base units per contract of a ccxt market (1 where the exchange counts in coins)."""
    try:
        size = float(market.get("contractSize") or 1.0)
    except (TypeError, ValueError):
        return 1.0
    return size if size > 0 else 1.0


def _size(p: dict) -> float:
    """A ccxt position's size in coins (contracts x contract size), unsigned."""
    return float(p.get("contracts") or 0.0) * float(p.get("contractSize") or 1.0)


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f else None


def _text(exc: BaseException, hide: tuple[str, ...] = ()) -> str:
    """ccxt's message for the user: the key, secret and passphrase masked (some exchanges echo the signed
    string, key included), and a long message cut at the URL's query (which may carry a signature)."""
    text = str(exc)
    for secret in hide:
        text = text.replace(secret, "***")
    # a URL's query carries the request's signature (not a secret, but nothing a user needs): never shown
    return text.split("?", 1)[0] + (" …" if "?" in text else "")
