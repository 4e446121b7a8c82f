"""Bybit v5 private API (linear, one-way mode, unified account) for the simulator: signed requests, orders,
positions, wallet balance, executions, with Bybit's error codes.

Authentication is Bybit's HMAC scheme, checked for real: headers X-BAPI-API-KEY, X-BAPI-TIMESTAMP,
X-BAPI-RECV-WINDOW, X-BAPI-SIGN = hex(HMAC-SHA256(secret, timestamp + key + recvWindow + payload)) where the
payload is the raw query string of a GET and the raw JSON body of a POST. Timestamps are checked against the
wall clock (clients sign with their own clock), not the market's accelerated clock.

Errors (HTTP 200, Bybit envelope): 10003 unknown key, 10004 bad signature, 10002 timestamp outside the
receive window, 10001 bad parameters, 110001 unknown order, 110007 insufficient balance, 110072 duplicate
orderLinkId, 110017 reduce-only that would open a position, 110092 / 110093 a rising / falling trigger
already passed, 10005 no trading account configured.

Orders: market, limit (timeInForce PostOnly: cancelled instead of taking, as Bybit does), conditional
market orders (triggerPrice + triggerDirection: "Untriggered" until the last price reaches the trigger),
amend (price, qty, triggerPrice), cancel, cancel-all, a position's TP/SL (trading-stop). Open orders with
orderFilter=Order or StopOrder list one kind; without it, every open order.

Documented simplifications: those of the shared matching engine (sim/account.py: fills at the last price on
the next private request, no order book, one cross-margin leverage, no funding); fee 0.055 % taker / 0.02 % maker.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal, overload
from urllib.parse import parse_qsl

from .account import MAKER_FEE, OPEN, TAKER_FEE, MatchingEngine, SimOrder, SimPosition, same
from .bybit import envelope


class BybitError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


@dataclass
class BybitAccount(MatchingEngine):
    """One API key's unified trading account."""

    # -- entry point ----------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, body: bytes, headers) -> tuple[int, dict]:
        now = int(time.time() * 1000)
        route = _ROUTES.get((method, path.rstrip("/")))
        if route is None:
            return 404, envelope(None, now, 404, f"path not found: {method} {path}")
        try:
            payload = body.decode() if method == "POST" else query
            self._authenticate(headers, payload, now)
            if method == "POST":
                try:
                    params = json.loads(payload or "{}")
                except ValueError:
                    raise BybitError(10001, "params error: request body is not JSON") from None
                if not isinstance(params, dict):
                    raise BybitError(10001, "params error: request body is not a JSON object")
            else:
                params = dict(parse_qsl(query, keep_blank_values=True))
            with self._lock:
                self.requests.append((method, path))
                self._settle(self.market.now_ms())
                result = route(self, params, self.market.now_ms())
        except BybitError as exc:
            return 200, envelope(None, now, exc.code, exc.msg)
        return 200, envelope(result, now)

    def _authenticate(self, headers, payload: str, now: int) -> None:
        key = headers.get("X-BAPI-API-KEY") or ""
        if not key or not same(key, self.api_key):
            raise BybitError(10003, "API key is invalid.")
        ts, window, sign = (headers.get(h) or "" for h in ("X-BAPI-TIMESTAMP", "X-BAPI-RECV-WINDOW", "X-BAPI-SIGN"))
        try:
            ts_ms, window_ms = int(ts), int(window or 5000)
        except ValueError:
            raise BybitError(10002, "invalid request, please check your timestamp and recv_window param") from None
        if not (now - window_ms <= ts_ms < now + 1000) or window_ms > self.recv_window_max_ms:
            raise BybitError(10002, f"invalid request, please check your server timestamp or recv_window param. "
                                    f"req_timestamp[{ts_ms}],server_timestamp[{now}],recv_window[{window_ms}]")
        origin = f"{ts}{key}{window}{payload}"
        want = hmac.new(self.api_secret.encode(), origin.encode(), hashlib.sha256).hexdigest()
        if not same(sign.lower(), want):
            raise BybitError(10004, f"error sign! origin_string[{origin}]")

    # -- endpoints ------------------------------------------------------------------------------------------
    @overload
    def _symbol(self, params: dict, required: Literal[True] = True) -> str: ...
    @overload
    def _symbol(self, params: dict, required: bool) -> str | None: ...
    def _symbol(self, params: dict, required: bool = True) -> str | None:
        if (params.get("category") or "") != "linear":
            raise BybitError(10001, "params error: category only support linear here")
        sym = params.get("symbol") or None
        if sym is None:
            if required:
                raise BybitError(10001, "params error: symbol is required")
            return None
        if not isinstance(sym, str) or not self.market.has_symbol(sym):
            raise BybitError(10001, f"params error: symbol invalid: {sym}")
        return sym

    def create_order(self, params: dict, now: int) -> dict:
        sym = self._symbol(params)
        side, otype = params.get("side"), params.get("orderType")
        if side not in ("Buy", "Sell"):
            raise BybitError(10001, f"params error: side invalid: {side!r}")
        if otype not in ("Market", "Limit"):
            raise BybitError(10001, f"params error: orderType invalid: {otype!r}")
        link = str(params.get("orderLinkId") or "")
        if len(link) > 36:
            raise BybitError(10001, "params error: orderLinkId is too long (max 36)")
        if link and any(o.link_id == link for o in self.orders.values()):
            raise BybitError(110072, "OrderLinkedID is duplicate")
        spec = self.market.spec(sym)
        qty = _on_grid(params.get("qty"), spec.lot, "Qty")
        if qty < spec.lot:
            raise BybitError(10001, f"The number of contracts exceeds minimum limit allowed (min {spec.lot:g})")
        price = _on_grid(params.get("price"), spec.tick, "Price") if otype == "Limit" else 0.0
        tp = _optional_price(params.get("takeProfit"), spec.tick, "takeProfit")
        sl = _optional_price(params.get("stopLoss"), spec.tick, "stopLoss")
        reduce = params.get("reduceOnly") in (True, "true", "True")
        last = self.market.last_price(sym, now)
        trigger = _optional_price(params.get("triggerPrice"), spec.tick, "triggerPrice") or 0.0
        direction = 0
        if trigger:
            direction = _trigger_direction(params.get("triggerDirection"))
            _check_trigger(trigger, direction, last)
        ref = price or trigger or last
        pos = self.positions.get(sym)
        pos_qty = pos.qty if pos else 0.0
        signed = qty if side == "Buy" else -qty
        if reduce and (not pos_qty or (pos_qty > 0) == (signed > 0) or qty > abs(pos_qty) + 1e-12):
            raise BybitError(110017, "Reduce-only rule not satisfied")
        if qty * ref < 5 and not reduce:
            raise BybitError(110094, "Order does not meet minimum order value 5USDT")
        long = signed > 0
        _check_tpsl(tp, sl, long, ref)
        opening = not pos_qty or (pos_qty > 0) == long
        if opening and not reduce:
            need = qty * ref / self.leverage + qty * ref * TAKER_FEE
            if need > self.available(now):
                raise BybitError(110007, "ab not enough for new order")
        tif = str(params.get("timeInForce") or "")
        order = SimOrder(self._new_id(), link, sym, side, otype, qty, price, reduce, tp or 0.0, sl or 0.0, now,
                         updated_ms=now, trigger=trigger, trigger_direction=direction, time_in_force=tif)
        self.orders[order.order_id] = order
        marketable = (side == "Buy" and last <= price) or (side == "Sell" and last >= price)
        if trigger:
            order.status, order.stop_type = "Untriggered", "Stop"
        elif otype == "Market":
            self._fill(order, last, now, maker=False)
        elif marketable and tif == "PostOnly":  # Bybit accepts it, then cancels it rather than let it take
            order.status, order.reject_reason = "Cancelled", "EC_PostOnlyWillTakeLiquidity"
        elif marketable:
            self._fill(order, last, now, maker=False)  # marketable limit: takes at the last price
        return {"orderId": order.order_id, "orderLinkId": order.link_id}

    def amend_order(self, params: dict, now: int) -> dict:
        sym = self._symbol(params)
        o = self._find(params)
        if o.symbol != sym or o.status not in OPEN:
            raise BybitError(110001, "order not exists or too late to replace")
        spec = self.market.spec(sym)
        last = self.market.last_price(sym, now)
        qty = _on_grid(params["qty"], spec.lot, "Qty") if params.get("qty") not in (None, "") else o.qty
        price = _on_grid(params["price"], spec.tick, "Price") if params.get("price") not in (None, "") else o.price
        trigger = o.trigger
        if params.get("triggerPrice") not in (None, ""):
            if o.status != "Untriggered":
                raise BybitError(10001, "params error: triggerPrice can only be modified on a conditional order")
            trigger = _on_grid(params["triggerPrice"], spec.tick, "triggerPrice")
            _check_trigger(trigger, o.trigger_direction, last)
        if (qty, price, trigger) == (o.qty, o.price, o.trigger):
            raise BybitError(10001, "The order remains unchanged as the parameters entered match the existing ones.")
        if qty < spec.lot:
            raise BybitError(10001, f"The number of contracts exceeds minimum limit allowed (min {spec.lot:g})")
        if qty > o.qty and not o.reduce_only:
            need = (qty - o.qty) * (price or trigger or last) / self.leverage
            if need > self.available(now):
                raise BybitError(110007, "ab not enough for new order")
        o.qty, o.price, o.trigger, o.updated_ms = qty, price, trigger, now
        if o.type == "Limit" and o.status == "New" and (
                (o.side == "Buy" and last <= price) or (o.side == "Sell" and last >= price)):
            if o.time_in_force == "PostOnly":
                o.status, o.reject_reason = "Cancelled", "EC_PostOnlyWillTakeLiquidity"
            else:
                self._fill(o, last, now, maker=False)
        return {"orderId": o.order_id, "orderLinkId": o.link_id}

    def cancel_all(self, params: dict, now: int) -> dict:
        sym = self._symbol(params, required=False)
        if sym is None and not params.get("settleCoin") and not params.get("baseCoin"):
            raise BybitError(10001, "params error: symbol, settleCoin or baseCoin is required")
        kind = params.get("orderFilter") or ""
        done = [o for o in self.orders.values() if o.status in OPEN and sym in (None, o.symbol) and _kind_ok(o, kind)]
        for o in done:
            o.status, o.updated_ms = ("Deactivated" if o.status == "Untriggered" else "Cancelled"), now
        return {"list": [{"orderId": o.order_id, "orderLinkId": o.link_id} for o in done], "success": "1"}

    def trading_stop(self, params: dict, now: int) -> dict:
        sym = self._symbol(params)
        pos = self.positions.get(sym)
        if pos is None or not pos.qty:
            raise BybitError(10001, "can not set tp/sl/ts for zero position")
        spec = self.market.spec(sym)
        last = self.market.last_price(sym, now)
        long = pos.qty > 0
        tp, sl = pos.take_profit, pos.stop_loss
        if params.get("takeProfit") not in (None, ""):
            tp = _optional_price(params["takeProfit"], spec.tick, "takeProfit") or 0.0
        if params.get("stopLoss") not in (None, ""):
            sl = _optional_price(params["stopLoss"], spec.tick, "stopLoss") or 0.0
        _check_tpsl(tp, sl, long, last)
        pos.take_profit, pos.stop_loss, pos.updated_ms = tp, sl, now
        return {}

    def _find(self, params: dict) -> SimOrder:
        oid, link = params.get("orderId") or "", params.get("orderLinkId") or ""
        if not oid and not link:
            raise BybitError(10001, "params error: orderId or orderLinkId is required")
        for o in self.orders.values():
            if (oid and o.order_id == oid) or (link and o.link_id == link):
                return o
        raise BybitError(110001, "Order does not exist.")

    def cancel_order(self, params: dict, now: int) -> dict:
        sym = self._symbol(params)
        o = self._find(params)
        if o.symbol != sym or o.status not in OPEN:
            raise BybitError(110001, "Order does not exist.")
        o.status, o.updated_ms = "Cancelled", now
        return {"orderId": o.order_id, "orderLinkId": o.link_id}

    def open_orders(self, params: dict, now: int) -> dict:
        sym = self._symbol(params, required=False)
        if sym is None and not params.get("settleCoin") and not params.get("baseCoin"):
            raise BybitError(10001, "params error: symbol, settleCoin or baseCoin is required")
        wanted = params.get("orderId") or params.get("orderLinkId")
        kind = params.get("orderFilter") or ""
        rows = [o for o in self.orders.values() if sym in (None, o.symbol) and _kind_ok(o, kind)]
        if wanted:  # by id: recent closed orders too, as Bybit does
            rows = [o for o in rows if wanted in (o.order_id, o.link_id)]
        else:
            rows = [o for o in rows if o.status in OPEN]
        return self._order_page(rows, params)

    def order_history(self, params: dict, now: int) -> dict:
        sym = self._symbol(params, required=False)
        wanted = params.get("orderId") or params.get("orderLinkId")
        status = params.get("orderStatus")
        rows = [o for o in self.orders.values() if sym in (None, o.symbol) and o.status not in OPEN]
        if wanted:
            rows = [o for o in rows if wanted in (o.order_id, o.link_id)]
        if status:
            rows = [o for o in rows if o.status in status.split(",")]
        return self._order_page(rows, params)

    def _order_page(self, rows: list[SimOrder], params: dict) -> dict:
        limit = _limit(params, 20, 50)
        rows = sorted(rows, key=lambda o: o.created_ms, reverse=True)[:limit]
        return {"category": "linear", "list": [self._order_json(o) for o in rows], "nextPageCursor": ""}

    def _order_json(self, o: SimOrder) -> dict:
        fp, fq = (lambda v: self.market.fmt_price(o.symbol, v) if v else "0"), \
                 (lambda v: self.market.fmt_qty(o.symbol, v))
        value = o.filled * o.avg_price
        return {
            "orderId": o.order_id, "orderLinkId": o.link_id, "blockTradeId": "", "symbol": o.symbol,
            "price": fp(o.price), "qty": fq(o.qty), "side": o.side, "isLeverage": "", "positionIdx": 0,
            "orderStatus": o.status, "cancelType": "CancelByUser" if o.status == "Cancelled" else "UNKNOWN",
            "rejectReason": o.reject_reason, "avgPrice": fp(o.avg_price) if o.filled else "",
            "leavesQty": fq(o.qty - o.filled if o.status in OPEN else 0.0),
            "leavesValue": f"{(o.qty - o.filled) * o.price:.8f}" if o.status in OPEN else "0",
            "cumExecQty": fq(o.filled), "cumExecValue": f"{value:.8f}", "cumExecFee": f"{o.fee:.8f}",
            "timeInForce": "IOC" if o.type == "Market" else (o.time_in_force or "GTC"), "orderType": o.type,
            "stopOrderType": o.stop_type, "orderIv": "", "triggerPrice": fp(o.trigger) if o.trigger else "",
            "takeProfit": fp(o.take_profit),
            "stopLoss": fp(o.stop_loss), "tpTriggerBy": "LastPrice" if o.take_profit else "",
            "slTriggerBy": "LastPrice" if o.stop_loss else "", "triggerDirection": o.trigger_direction,
            "triggerBy": "LastPrice" if o.trigger else "",
            "lastPriceOnCreated": "", "reduceOnly": o.reduce_only, "closeOnTrigger": bool(o.stop_type),
            "smpType": "None", "smpGroup": 0, "smpOrderId": "", "tpslMode": "Full" if o.take_profit or o.stop_loss
            else "", "tpLimitPrice": "", "slLimitPrice": "", "placeType": "", "createdTime": str(o.created_ms),
            "updatedTime": str(o.updated_ms or o.created_ms),
        }

    def position_list(self, params: dict, now: int) -> dict:
        sym = self._symbol(params, required=False)
        if sym is None and not params.get("settleCoin") and not params.get("baseCoin"):
            raise BybitError(10001, "params error: symbol or settleCoin is required")
        names = [sym] if sym else sorted(p.symbol for p in self.positions.values() if p.qty)
        return {"category": "linear", "list": [self._position_json(s, now) for s in names], "nextPageCursor": ""}

    def _position_json(self, sym: str, now: int) -> dict:
        p = self.positions.get(sym) or SimPosition(sym)
        mark = self.market.last_price(sym, now)
        fp = (lambda v: self.market.fmt_price(sym, v) if v else "0")
        size, value = abs(p.qty), abs(p.qty) * p.entry
        return {
            "positionIdx": 0, "riskId": 1, "riskLimitValue": "2000000", "symbol": sym,
            "side": "" if not p.qty else ("Buy" if p.qty > 0 else "Sell"), "size": self.market.fmt_qty(sym, size),
            "avgPrice": fp(p.entry), "positionValue": f"{value:.8f}", "tradeMode": 0, "positionStatus": "Normal",
            "autoAddMargin": 0, "adlRankIndicator": 2 if p.qty else 0, "leverage": f"{self.leverage:g}",
            "positionBalance": f"{value / self.leverage:.8f}", "markPrice": fp(mark), "liqPrice": "",
            "bustPrice": "", "positionMM": f"{value * 0.005:.8f}", "positionIM": f"{value / self.leverage:.8f}",
            "tpslMode": "Full", "takeProfit": fp(p.take_profit), "stopLoss": fp(p.stop_loss),
            "trailingStop": "0", "unrealisedPnl": f"{p.qty * (mark - p.entry):.8f}" if p.qty else "0",
            "curRealisedPnl": f"{p.realised:.8f}", "cumRealisedPnl": f"{p.realised:.8f}", "sessionAvgPrice": "",
            "createdTime": str(p.created_ms or now), "updatedTime": str(p.updated_ms or now), "seq": 1,
            "isReduceOnly": False, "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "",
        }

    def wallet_balance(self, params: dict, now: int) -> dict:
        if (params.get("accountType") or "") not in ("UNIFIED", "CONTRACT"):
            raise BybitError(10001, "params error: accountType only support UNIFIED")
        upnl, im = self._upnl(now), self._used_margin(now)
        equity = self.balance + upnl
        money = (lambda v: f"{v:.8f}")
        coin = {"coin": "USDT", "equity": money(equity), "usdValue": money(equity), "walletBalance":
                money(self.balance), "free": "", "locked": "0", "spotHedgingQty": "0", "borrowAmount": "0",
                "availableToWithdraw": money(max(0.0, self.available(now))), "availableToBorrow": "",
                "accruedInterest": "0", "totalOrderIM": "0", "totalPositionIM": money(im), "totalPositionMM":
                money(im * 0.05), "unrealisedPnl": money(upnl), "cumRealisedPnl": money(sum(
                    p.realised for p in self.positions.values())), "bonus": "0", "marginCollateral": True,
                "collateralSwitch": True}
        return {"list": [{"accountType": "UNIFIED", "accountLTV": "0", "accountIMRate": money(im / equity if equity
                                                                                               else 0),
                          "accountMMRate": "0", "totalEquity": money(equity), "totalWalletBalance":
                              money(self.balance), "totalMarginBalance": money(equity), "totalAvailableBalance":
                              money(max(0.0, self.available(now))), "totalPerpUPL": money(upnl),
                          "totalInitialMargin": money(im), "totalMaintenanceMargin": money(im * 0.05),
                          "coin": [coin]}]}

    def executions_list(self, params: dict, now: int) -> dict:
        sym = self._symbol(params, required=False)
        rows = [e for e in reversed(self.executions) if sym in (None, e.order.symbol)][:_limit(params, 50, 100)]
        return {"category": "linear", "nextPageCursor": "", "list": [{
            "symbol": e.order.symbol, "orderId": e.order.order_id, "orderLinkId": e.order.link_id,
            "side": e.order.side, "orderPrice": self.market.fmt_price(e.order.symbol, e.order.price or e.price),
            "orderQty": self.market.fmt_qty(e.order.symbol, e.order.qty), "leavesQty": "0",
            "orderType": e.order.type, "stopOrderType": e.order.stop_type, "execFee": f"{e.fee:.8f}",
            "execId": e.exec_id, "execPrice": self.market.fmt_price(e.order.symbol, e.price),
            "execQty": self.market.fmt_qty(e.order.symbol, e.qty), "execType": "Trade",
            "execValue": f"{e.qty * e.price:.8f}", "execTime": str(e.time_ms), "isMaker": e.is_maker,
            "feeRate": f"{MAKER_FEE if e.is_maker else TAKER_FEE:g}", "markPrice": "", "closedSize": "",
            "seq": i + 1, "feeCurrency": "USDT"} for i, e in enumerate(rows)]}

    def api_key_info(self, params: dict, now: int) -> dict:
        return {"id": "1", "note": "twinstar simulator", "apiKey": self.api_key, "readOnly": 0, "secret": "",
                "permissions": {"ContractTrade": ["Order", "Position"], "Spot": [], "Wallet": ["AccountTransfer"],
                                "Options": [], "Derivatives": [], "CopyTrading": [], "BlockTrade": [],
                                "Exchange": [], "NFT": []},
                "ips": ["*"], "type": 1, "deadlineDay": 90, "expiredAt": "", "createdAt": "", "unified": 1,
                "uta": 1, "userID": 1, "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0",
                "affiliateID": 0, "rsaPublicKey": "", "isMaster": True}

    def account_info(self, params: dict, now: int) -> dict:
        return {"unifiedMarginStatus": 6, "marginMode": "REGULAR_MARGIN", "isMasterTrader": False,
                "spotHedgingStatus": "OFF", "updatedTime": str(now), "dcpStatus": "OFF", "timeWindow": 10,
                "smpGroup": 0}

    def coin_info(self, params: dict, now: int) -> dict:
        chain = {"chainType": "ETH", "confirmation": "12", "withdrawFee": "1", "depositMin": "0",
                 "withdrawMin": "2", "chain": "ETH", "chainDeposit": "1", "chainWithdraw": "1",
                 "minAccuracy": "6", "withdrawPercentageFee": "0", "contractAddress": ""}
        return {"rows": [{"name": "USDT", "coin": "USDT", "remainAmount": "1000000", "chains": [chain]}]}


MAX_PARAM = 1e12  # beyond any price or size: Decimal's remainder past 28 digits would raise, Bybit says "invalid"


def _on_grid(raw, step: float, what: str) -> float:
    """A quantity or price string that must be a positive multiple of `step` (Bybit refuses others)."""
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise BybitError(10001, f"params error: {what} invalid: {raw!r}") from None
    if not value.is_finite() or value <= 0 or value > MAX_PARAM:
        raise BybitError(10001, f"params error: {what} must be positive and at most {MAX_PARAM:g}: {str(raw)[:40]!r}")
    if value % Decimal(repr(step)) != 0:
        raise BybitError(10001, f"params error: {what} {raw} is not a multiple of {step:g}")
    return float(value)


def _optional_price(raw, tick: float, what: str) -> float | None:
    if raw in (None, "", "0", 0):
        return None
    return _on_grid(raw, tick, what)


def _check_tpsl(tp: float | None, sl: float | None, long: bool, base: float) -> None:
    """Bybit's check of a take profit / stop loss against the base price (the order's, or the last)."""
    if tp and (tp <= base if long else tp >= base):
        raise BybitError(10001, f"TakeProfit:{tp:g} set for {'Buy' if long else 'Sell'} position should be "
                                f"{'higher' if long else 'lower'} than base_price:{base:g}??LastPrice")
    if sl and (sl >= base if long else sl <= base):
        raise BybitError(10001, f"StopLoss:{sl:g} set for {'Buy' if long else 'Sell'} position should be "
                                f"{'lower' if long else 'higher'} than base_price:{base:g}??LastPrice")


def _trigger_direction(raw) -> int:
    if str(raw) in ("1", "2"):
        return int(str(raw))
    raise BybitError(10001, f"params error: triggerDirection must be 1 (rise) or 2 (fall), got {raw!r}")


def _check_trigger(trigger: float, direction: int, last: float) -> None:
    """A rising trigger must be above the last price, a falling one below (else it would fire at once)."""
    if direction == 1 and trigger <= last:
        raise BybitError(110092, f"expect Rising, but trigger_price[{trigger:g}] <= current[{last:g}]??LastPrice")
    if direction == 2 and trigger >= last:
        raise BybitError(110093, f"expect Falling, but trigger_price[{trigger:g}] >= current[{last:g}]??LastPrice")


def _kind_ok(o: SimOrder, order_filter: str) -> bool:
    """orderFilter: Order (active orders), StopOrder (conditional ones); none: both."""
    if order_filter == "StopOrder":
        return bool(o.stop_type == "Stop")
    if order_filter == "Order":
        return o.stop_type != "Stop"
    return True


def _limit(params: dict, default: int, cap: int) -> int:
    try:
        return max(1, min(cap, int(params.get("limit") or default)))
    except ValueError:
        raise BybitError(10001, f"params error: limit invalid: {params.get('limit')!r}") from None


_ROUTES = {
    ("POST", "/v5/order/create"): BybitAccount.create_order,
    ("POST", "/v5/order/cancel"): BybitAccount.cancel_order,
    ("POST", "/v5/order/amend"): BybitAccount.amend_order,
    ("POST", "/v5/order/cancel-all"): BybitAccount.cancel_all,
    ("POST", "/v5/position/trading-stop"): BybitAccount.trading_stop,
    ("GET", "/v5/order/realtime"): BybitAccount.open_orders,
    ("GET", "/v5/order/history"): BybitAccount.order_history,
    ("GET", "/v5/position/list"): BybitAccount.position_list,
    ("GET", "/v5/account/wallet-balance"): BybitAccount.wallet_balance,
    ("GET", "/v5/execution/list"): BybitAccount.executions_list,
    ("GET", "/v5/user/query-api"): BybitAccount.api_key_info,
    ("GET", "/v5/account/info"): BybitAccount.account_info,
    ("GET", "/v5/asset/coin/query-info"): BybitAccount.coin_info,
}
PRIVATE_PATHS = frozenset(path for _, path in _ROUTES)
