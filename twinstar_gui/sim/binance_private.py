"""Binance USD-M futures signed API (one-way mode, USDT cross margin) for the simulator: orders, algo (conditional)
orders, positions, account, user trades, with Binance's error codes.

Authentication is Binance's HMAC scheme, checked for real: header X-MBX-APIKEY; `timestamp` (ms) and `recvWindow`
(default 5000, at most 60000) among the parameters; `signature` = hex(HMAC-SHA256(secret, totalParams)) as the last
parameter, where totalParams is the query string followed by the form body (without the signature). Timestamps are
checked against the wall clock (clients sign with their own clock), not the market's accelerated clock.

Errors: HTTP 400 (401 for the key) with {"code": <negative>, "msg": ...}: -2014 key format, -2015 unknown key,
-1021 timestamp outside recvWindow, -1131 recvWindow too large, -1022 bad signature, -1102 a mandatory parameter
missing, -1100 an illegal value, -1121 unknown symbol, -1116 / -1117 / -1115 order type / side / time in force,
-1111 more decimals than the symbol has, -4014 price not on the tick, -1013 quantity not on the lot (LOT_SIZE),
-4164 notional below 5 USDT, -2019 margin insufficient, -2022 reduce-only rejected, -5022 post-only (GTX) would
take, -4116 duplicate client order id, -2011 cancel of an unknown order, -2013 query of an unknown order, -5027
nothing to modify, -4120 a conditional type sent to /fapi/v1/order, -2021 a conditional order that would trigger at
once (its trigger on the wrong side of the last price), -4137 / -1106 a quantity / reduceOnly sent with
closePosition=true, -4130 a second closePosition order of the same type and side, -4509 a closePosition (GTE_GTC)
order with neither a position nor an open order on the symbol.

Orders (`/fapi/v1/order`): LIMIT (GTC/IOC/FOK/GTX), MARKET; PUT modifies a resting LIMIT order's price and
quantity. Conditional orders live in the Algo Service, as on Binance since 2025-12-09: `/fapi/v1/algoOrder`
(algoType CONDITIONAL, STOP_MARKET / TAKE_PROFIT_MARKET with triggerPrice), openAlgoOrders, algoOpenOrders (cancel
all); a triggered one becomes a MARKET order filled at the last price. A position's TP/SL (Binance has no attached
TP/SL) are such orders with closePosition=true (timeInForce GTE_GTC, no quantity, reduce-only): triggered, they close
the whole position; they expire (algoStatus EXPIRED) when the position is closed.

Documented simplifications: those of the shared matching engine (sim/account.py); fee 0.05 % taker / 0.02 %
maker; no hedge mode, no STOP / TAKE_PROFIT limit or trailing orders, no batch endpoints, IOC/FOK limits that
cannot fill at once expire without a partial fill; of the spot API, only what ccxt asks while loading markets
with keys: the coin list (sapi capital/config/getall: USDT only) and the cross-margin pairs (empty).
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

from .account import OPEN, MatchingEngine, SimOrder, SimPosition, same
from .listing import listed_usdt
from .market import decimals

MIN_NOTIONAL = 5.0
_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")  # Binance's newClientOrderId pattern
_STATUS = {"New": "NEW", "PartiallyFilled": "PARTIALLY_FILLED", "Filled": "FILLED", "Cancelled": "CANCELED",
           "Rejected": "EXPIRED"}
_ALGO_STATUS = {"Untriggered": "NEW", "Triggered": "FINISHED", "Deactivated": "CANCELED", "Cancelled": "CANCELED",
                "Expired": "EXPIRED"}


class BinanceError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def _missing(name: str) -> BinanceError:
    return BinanceError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


@dataclass
class BinanceAccount(MatchingEngine):
    """One API key's USD-M futures account."""

    _ids: itertools.count = field(default_factory=lambda: itertools.count(8_389_765_000_000_000_001), repr=False)
    taker_fee = 0.0005
    maker_fee = 0.0002

    # -- entry point ----------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, body: bytes, headers) -> tuple[int, dict | list]:
        now = int(time.time() * 1000)
        route = _ROUTES.get((method, path.rstrip("/")))
        if route is None:
            return 404, {"code": -5000, "msg": f"Path {path} not found"}
        try:
            params = self._authenticate(headers, query, body, now)
            with self._lock:
                self.requests.append((method, path))
                self._settle(self.market.now_ms())
                return 200, route(self, params, self.market.now_ms())
        except BinanceError as exc:
            return exc.status, {"code": exc.code, "msg": exc.msg}

    def _authenticate(self, headers, query: str, body: bytes, now: int) -> dict[str, str]:
        key = headers.get("X-MBX-APIKEY") or ""
        if not key:
            raise BinanceError(-2014, "API-key format invalid.", 401)
        if not same(key, self.api_key):
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action, request ip: 127.0.0.1", 401)
        try:
            form = body.decode()
        except UnicodeDecodeError:
            raise BinanceError(-1100, "Illegal characters found in a parameter.") from None
        signed, signature = _strip_signature(query, form)
        params = dict(parse_qsl(query, keep_blank_values=True)) | dict(parse_qsl(form, keep_blank_values=True))
        params.pop("signature", None)
        try:
            ts = int(params.get("timestamp") or "")
        except ValueError:
            raise _missing("timestamp") from None
        try:
            window = int(params.get("recvWindow") or 5000)
        except ValueError:
            raise BinanceError(-1100, "Illegal characters found in parameter 'recvWindow'.") from None
        if window > self.recv_window_max_ms or window <= 0:
            raise BinanceError(-1131, f"recvWindow must be less than {self.recv_window_max_ms}")
        if ts >= now + 1000:
            raise BinanceError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - ts > window:
            raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")
        if signature is None:
            raise _missing("signature")
        want = hmac.new(self.api_secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not same(signature.lower(), want):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        return params

    def _new_id(self) -> str:
        return str(next(self._ids))

    # -- parameters -------------------------------------------------------------------------------------------
    def _symbol(self, params: dict, required: bool = True) -> str | None:
        sym = params.get("symbol") or None
        if sym is None:
            if required:
                raise _missing("symbol")
            return None
        if not self.market.has_symbol(sym):
            raise BinanceError(-1121, "Invalid symbol.")
        return sym

    def _number(self, params: dict, name: str, step: float, *, tick: bool) -> float:
        """A price or quantity: at most the symbol's decimals (-1111), on its step (-4014 / -1013 LOT_SIZE)."""
        raw = params.get(name)
        if raw in (None, ""):
            raise _missing(name)
        try:
            value = Decimal(str(raw))
        except (InvalidOperation, ValueError):
            raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                      f"'^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.") from None
        if not value.is_finite() or value <= 0:
            raise BinanceError(-4003 if not tick else -4013, "Quantity less than or equal to zero." if not tick
                               else "Price less than min price.")
        if value > Decimal("1e12"):
            raise BinanceError(-4005 if not tick else -4016, "Quantity greater than max quantity." if not tick
                               else "Price greater than max price.")
        if -value.normalize().as_tuple().exponent > decimals(step):  # type: ignore[operator]
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
        if value % Decimal(repr(step)) != 0:
            if tick:
                raise BinanceError(-4014, "Price not increased by tick size.")
            raise BinanceError(-1013, "Filter failure: LOT_SIZE")
        return float(value)

    def _side(self, params: dict) -> str:
        side = params.get("side")
        if not side:
            raise _missing("side")
        if side not in ("BUY", "SELL"):
            raise BinanceError(-1117, "Invalid side.")
        return "Buy" if side == "BUY" else "Sell"

    def _client_id(self, params: dict, name: str) -> str:
        link = params.get(name) or f"sim{self._new_id()}"
        if not _CLIENT_ID.fullmatch(link):
            raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                                      f"'^[\\.A-Z\\:/a-z0-9_-]{{1,36}}$'.")
        if any(o.link_id == link for o in self.orders.values()):
            raise BinanceError(-4116, "ClientOrderId is duplicated.")
        return link

    def _check_funds(self, sym: str, side: str, qty: float, ref: float, reduce: bool, now: int) -> None:
        pos = self.positions.get(sym)
        pos_qty = pos.qty if pos else 0.0
        signed = qty if side == "Buy" else -qty
        if reduce and (not pos_qty or (pos_qty > 0) == (signed > 0)):
            raise BinanceError(-2022, "ReduceOnly Order is rejected.")
        if not reduce and qty * ref < MIN_NOTIONAL:
            raise BinanceError(-4164, f"Order's notional must be no smaller than {MIN_NOTIONAL:g} (unless you "
                                      "choose reduce only).")
        if not reduce and qty * ref / self.leverage > self.available(now):
            raise BinanceError(-2019, "Margin is insufficient.")

    # -- orders ---------------------------------------------------------------------------------------------
    def new_order(self, params: dict, now: int) -> dict:
        sym = self._symbol(params)
        assert sym is not None
        side = self._side(params)
        otype = params.get("type") or ""
        if not otype:
            raise _missing("type")
        if otype in ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"):
            raise BinanceError(-4120, "Order type not supported for this endpoint. Please use the Algo Order API "
                                      "endpoints instead.")
        if otype not in ("LIMIT", "MARKET"):
            raise BinanceError(-1116, "Invalid orderType.")
        spec = self.market.spec(sym)
        qty = self._number(params, "quantity", spec.lot, tick=False)
        tif = params.get("timeInForce") or ("GTC" if otype == "LIMIT" else "")
        if otype == "LIMIT":
            if not params.get("timeInForce"):
                raise _missing("timeInForce")
            if tif not in ("GTC", "IOC", "FOK", "GTX", "GTD"):
                raise BinanceError(-1115, "Invalid timeInForce.")
        price = self._number(params, "price", spec.tick, tick=True) if otype == "LIMIT" else 0.0
        reduce = str(params.get("reduceOnly", "false")).lower() == "true"
        last = self.market.last_price(sym, now)
        link = self._client_id(params, "newClientOrderId")
        self._check_funds(sym, side, qty, price or last, reduce, now)
        crosses = otype == "LIMIT" and ((side == "Buy" and last <= price) or (side == "Sell" and last >= price))
        if tif == "GTX" and crosses:
            raise BinanceError(-5022, "Due to the order could not be executed as maker, the Post Only order will be "
                                      "rejected. The order will not be recorded in the order history")
        o = SimOrder(self._new_id(), link, sym, side, "Market" if otype == "MARKET" else "Limit", qty, price, reduce,
                     0.0, 0.0, now, time_in_force=tif)
        self.orders[o.order_id] = o
        if otype == "MARKET" or crosses:
            self._fill(o, last, now, maker=False)
        elif tif in ("IOC", "FOK"):
            o.status, o.updated_ms = "Rejected", now  # nothing to fill at once: EXPIRED
        return self._order_json(o)

    def modify_order(self, params: dict, now: int) -> dict:
        sym = self._symbol(params)
        o = self._find(params, sym, -2013, "Order does not exist.")
        if o.status not in OPEN or o.type != "Limit":
            raise BinanceError(-2013, "Order does not exist.")
        side = self._side(params)
        if side != o.side:
            raise BinanceError(-1117, "Invalid side.")
        spec = self.market.spec(o.symbol)
        qty = self._number(params, "quantity", spec.lot, tick=False)
        price = self._number(params, "price", spec.tick, tick=True)
        if (qty, price) == (o.qty, o.price):
            raise BinanceError(-5027, "No need to modify the order.")
        last = self.market.last_price(o.symbol, now)
        if not o.reduce_only and qty * price < MIN_NOTIONAL:
            raise BinanceError(-4164, f"Order's notional must be no smaller than {MIN_NOTIONAL:g} (unless you "
                                      "choose reduce only).")
        if qty > o.qty and not o.reduce_only and (qty - o.qty) * price / self.leverage > self.available(now):
            raise BinanceError(-2019, "Margin is insufficient.")
        crosses = (o.side == "Buy" and last <= price) or (o.side == "Sell" and last >= price)
        if crosses and o.time_in_force == "GTX":
            raise BinanceError(-5022, "Due to the order could not be executed as maker, the Post Only order will be "
                                      "rejected. The order will not be recorded in the order history")
        o.qty, o.price, o.updated_ms = qty, price, now
        if crosses:
            self._fill(o, last, now, maker=False)
        return self._order_json(o)

    def cancel_order(self, params: dict, now: int) -> dict:
        sym = self._symbol(params)
        o = self._find(params, sym, -2011, "Unknown order sent.")
        if o.status not in OPEN or o.trigger:
            raise BinanceError(-2011, "Unknown order sent.")
        o.status, o.updated_ms = "Cancelled", now
        return self._order_json(o)

    def cancel_all(self, params: dict, now: int) -> dict:
        sym = self._symbol(params)
        for o in self.orders.values():
            if o.symbol == sym and o.status in OPEN and not o.trigger:
                o.status, o.updated_ms = "Cancelled", now
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def query_order(self, params: dict, now: int) -> dict:
        sym = self._symbol(params)
        o = self._find(params, sym, -2013, "Order does not exist.")
        if o.trigger:
            raise BinanceError(-2013, "Order does not exist.")
        return self._order_json(o)

    def open_orders(self, params: dict, now: int) -> list:
        sym = self._symbol(params, required=False)
        return [self._order_json(o) for o in self._rows(sym, algo=False) if o.status in OPEN]

    def all_orders(self, params: dict, now: int) -> list:
        sym = self._symbol(params)
        return [self._order_json(o) for o in self._rows(sym, algo=False)][-_limit(params, 500, 1000):]

    def user_trades(self, params: dict, now: int) -> list:
        sym = self._symbol(params)
        assert sym is not None
        rows = [e for e in self.executions if e.order.symbol == sym][-_limit(params, 500, 1000):]
        return [{"buyer": e.order.side == "Buy", "commission": f"{e.fee:.8f}", "commissionAsset": "USDT",
                 "id": int(e.exec_id), "maker": e.is_maker, "orderId": int(e.order.order_id),
                 "price": self.market.fmt_price(sym, e.price), "qty": self.market.fmt_qty(sym, e.qty),
                 "quoteQty": f"{e.qty * e.price:.8f}", "realizedPnl": "0", "side": e.order.side.upper(),
                 "positionSide": "BOTH", "symbol": sym, "time": e.time_ms} for e in rows]

    def _rows(self, sym: str | None, algo: bool) -> list[SimOrder]:
        return sorted((o for o in self.orders.values() if sym in (None, o.symbol) and bool(o.trigger) == algo),
                      key=lambda o: o.created_ms)

    def _find(self, params: dict, sym: str | None, code: int, msg: str, algo: bool = False) -> SimOrder:
        names = ("algoId", "clientAlgoId") if algo else ("orderId", "origClientOrderId")
        oid, link = (params.get(n) or "" for n in names)
        if not oid and not link:
            raise BinanceError(-1102, f"Param '{names[0]}' or '{names[1]}' must be sent, but both were empty/null!")
        for o in self.orders.values():
            if o.symbol == sym and ((oid and o.order_id == oid) or (link and o.link_id == link)):
                return o
        raise BinanceError(code, msg)

    def _order_json(self, o: SimOrder) -> dict:
        fp, fq = (lambda v: self.market.fmt_price(o.symbol, v)), (lambda v: self.market.fmt_qty(o.symbol, v))
        return {"orderId": int(o.order_id), "symbol": o.symbol, "status": _STATUS.get(o.status, o.status),
                "clientOrderId": o.link_id, "price": fp(o.price) if o.price else "0",
                "avgPrice": fp(o.avg_price) if o.filled else "0", "origQty": fq(o.qty), "executedQty": fq(o.filled),
                "cumQty": fq(o.filled), "cumQuote": f"{o.filled * o.avg_price:.8f}",
                "timeInForce": o.time_in_force or "GTC", "type": o.type.upper(), "reduceOnly": o.reduce_only,
                "closePosition": False, "side": o.side.upper(), "positionSide": "BOTH", "stopPrice": "0",
                "workingType": "CONTRACT_PRICE", "priceProtect": False, "origType": o.type.upper(),
                "priceMatch": "NONE", "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0,
                "time": o.created_ms, "updateTime": o.updated_ms or o.created_ms}

    # -- algo (conditional) orders ---------------------------------------------------------------------------------
    def new_algo_order(self, params: dict, now: int) -> dict:
        if (params.get("algoType") or "") != "CONDITIONAL":
            raise BinanceError(-1102 if not params.get("algoType") else -1100,
                               "Mandatory parameter 'algoType' was not sent, was empty/null, or malformed."
                               if not params.get("algoType") else "Illegal characters found in parameter 'algoType'.")
        sym = self._symbol(params)
        assert sym is not None
        side = self._side(params)
        otype = params.get("type") or ""
        if otype not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise BinanceError(-1116, "Invalid orderType.")
        spec = self.market.spec(sym)
        close = str(params.get("closePosition", "false")).lower() == "true"
        if close and params.get("quantity") not in (None, "", "0"):
            raise BinanceError(-4137, "Quantity must be zero with closePosition equals true.")
        if close and params.get("reduceOnly") not in (None, ""):
            raise BinanceError(-1106, "Parameter 'reduceOnly' sent when not required.")
        qty = 0.0 if close else self._number(params, "quantity", spec.lot, tick=False)
        trigger = self._number(params, "triggerPrice", spec.tick, tick=True)
        reduce = close or str(params.get("reduceOnly", "false")).lower() == "true"
        last = self.market.last_price(sym, now)
        # a buy stop waits for a rise, a sell stop for a fall; take-profits the other way round
        rising = (side == "Buy") == (otype == "STOP_MARKET")
        if (rising and trigger <= last) or (not rising and trigger >= last):
            raise BinanceError(-2021, "Order would immediately trigger.")
        link = self._client_id(params, "clientAlgoId")
        stop_type = "Stop" if otype == "STOP_MARKET" else "TakeProfit"
        if close:  # GTE_GTC: one per direction, and only beside a position or an open order
            if any(o.close_position and o.symbol == sym and o.side == side and o.stop_type == stop_type
                   and o.status == "Untriggered" for o in self.orders.values()):
                raise BinanceError(-4130, "An open stop or take profit order with GTE and closePosition in the "
                                          "direction is existing.")
            pos = self.positions.get(sym)
            if not (pos and pos.qty) and not any(o.symbol == sym and o.status in ("New", "PartiallyFilled")
                                                 for o in self.orders.values()):
                raise BinanceError(-4509, "TIF GTE can only be used with open positions or open orders.")
        else:
            self._check_funds(sym, side, qty, trigger, reduce, now)
        o = SimOrder(self._new_id(), link, sym, side, "Market", qty, 0.0, reduce, 0.0, 0.0, now,
                     status="Untriggered", stop_type=stop_type, trigger=trigger, trigger_direction=1 if rising else 2,
                     time_in_force="GTE_GTC" if close else "GTC", close_position=close)
        self.orders[o.order_id] = o
        return self._algo_json(o)

    def cancel_algo_order(self, params: dict, now: int) -> dict:
        o = self._find(params, params.get("symbol") or self._symbol_of(params), -2011, "Unknown order sent.",
                       algo=True)
        if o.status != "Untriggered":
            raise BinanceError(-2011, "Unknown order sent.")
        o.status, o.updated_ms = "Deactivated", now
        return {"algoId": int(o.order_id), "clientAlgoId": o.link_id, "code": "200", "msg": "success"}

    def _symbol_of(self, params: dict) -> str | None:
        """Algo cancels and queries name no symbol: the order's own."""
        wanted = {params.get("algoId"), params.get("clientAlgoId")} - {None, ""}
        return next((o.symbol for o in self.orders.values() if wanted & {o.order_id, o.link_id}), None)

    def cancel_all_algo(self, params: dict, now: int) -> dict:
        sym = self._symbol(params)
        for o in self.orders.values():
            if o.symbol == sym and o.status == "Untriggered":
                o.status, o.updated_ms = "Deactivated", now
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def query_algo_order(self, params: dict, now: int) -> dict:
        return self._algo_json(self._find(params, self._symbol_of(params), -2013, "Order does not exist.",
                                          algo=True))

    def open_algo_orders(self, params: dict, now: int) -> list:
        sym = self._symbol(params, required=False)
        return [self._algo_json(o) for o in self._rows(sym, algo=True) if o.status == "Untriggered"]

    def all_algo_orders(self, params: dict, now: int) -> list:
        sym = self._symbol(params)
        return [self._algo_json(o) for o in self._rows(sym, algo=True)][-_limit(params, 500, 1000):]

    def _algo_json(self, o: SimOrder) -> dict:
        fp, fq = (lambda v: self.market.fmt_price(o.symbol, v)), (lambda v: self.market.fmt_qty(o.symbol, v))
        triggered = o.status in ("Triggered", "Filled")
        return {"algoId": int(o.order_id), "clientAlgoId": o.link_id, "algoType": "CONDITIONAL",
                "orderType": "STOP_MARKET" if o.stop_type == "Stop" else "TAKE_PROFIT_MARKET", "symbol": o.symbol,
                "side": o.side.upper(), "positionSide": "BOTH", "timeInForce": o.time_in_force or "GTC",
                "quantity": fq(o.qty),
                "algoStatus": "FINISHED" if triggered else _ALGO_STATUS.get(o.status, "NEW"),
                "actualOrderId": o.order_id if triggered else "", "actualPrice": fp(o.avg_price) if triggered else "",
                "triggerPrice": fp(o.trigger), "price": "0", "icebergQuantity": None,
                "selfTradePreventionMode": "EXPIRE_MAKER", "workingType": "CONTRACT_PRICE", "priceMatch": "NONE",
                "closePosition": o.close_position, "priceProtect": False, "reduceOnly": o.reduce_only,
                "activatePrice": "",
                "callbackRate": "", "createTime": o.created_ms, "updateTime": o.updated_ms or o.created_ms,
                "triggerTime": o.updated_ms if triggered else 0, "goodTillDate": 0}

    # -- account --------------------------------------------------------------------------------------------------
    def _position_json(self, sym: str, now: int) -> dict:
        p = self.positions.get(sym) or SimPosition(sym)
        mark = self.market.last_price(sym, now)
        notional = p.qty * mark
        im = abs(notional) / self.leverage
        fp = (lambda v: self.market.fmt_price(sym, v))
        return {"symbol": sym, "positionSide": "BOTH", "positionAmt": self.market.fmt_qty(sym, p.qty),
                "entryPrice": fp(p.entry) if p.qty else "0.0", "breakEvenPrice": fp(p.entry) if p.qty else "0.0",
                "markPrice": fp(mark), "unRealizedProfit": f"{p.qty * (mark - p.entry):.8f}" if p.qty else "0.00000000",
                "liquidationPrice": "0", "isolatedMargin": "0", "notional": f"{notional:.8f}", "marginAsset": "USDT",
                "isolatedWallet": "0", "initialMargin": f"{im:.8f}", "maintMargin": f"{abs(notional) * 0.004:.8f}",
                "positionInitialMargin": f"{im:.8f}", "openOrderInitialMargin": "0", "adl": 2 if p.qty else 0,
                "bidNotional": "0", "askNotional": "0", "updateTime": p.updated_ms or 0}

    def position_risk(self, params: dict, now: int) -> list:
        sym = self._symbol(params, required=False)
        names = [sym] if sym else sorted(s for s, p in self.positions.items() if p.qty)
        return [self._position_json(s, now) for s in names]

    def _usdt(self, now: int) -> dict:
        upnl, im = self._upnl(now), self._used_margin(now)
        money = (lambda v: f"{v:.8f}")
        return {"asset": "USDT", "walletBalance": money(self.balance), "unrealizedProfit": money(upnl),
                "marginBalance": money(self.balance + upnl), "maintMargin": money(im * 0.04),
                "initialMargin": money(im), "positionInitialMargin": money(im), "openOrderInitialMargin": "0",
                "crossWalletBalance": money(self.balance), "crossUnPnl": money(upnl),
                "availableBalance": money(max(0.0, self.available(now))),
                "maxWithdrawAmount": money(max(0.0, self.available(now))), "marginAvailable": True,
                "updateTime": now}

    def account(self, params: dict, now: int) -> dict:
        usdt = self._usdt(now)
        return {"totalInitialMargin": usdt["initialMargin"], "totalMaintMargin": usdt["maintMargin"],
                "totalWalletBalance": usdt["walletBalance"], "totalUnrealizedProfit": usdt["unrealizedProfit"],
                "totalMarginBalance": usdt["marginBalance"], "totalPositionInitialMargin": usdt["initialMargin"],
                "totalOpenOrderInitialMargin": "0", "totalCrossWalletBalance": usdt["walletBalance"],
                "totalCrossUnPnl": usdt["unrealizedProfit"], "availableBalance": usdt["availableBalance"],
                "maxWithdrawAmount": usdt["maxWithdrawAmount"], "assets": [usdt],
                "positions": [{k: v for k, v in self._position_json(s, now).items()
                               if k in ("symbol", "positionSide", "positionAmt", "unRealizedProfit", "isolatedMargin",
                                        "notional", "isolatedWallet", "initialMargin", "maintMargin", "updateTime")}
                              for s in sorted(s for s, p in self.positions.items() if p.qty)]}

    def balance_list(self, params: dict, now: int) -> list:
        u = self._usdt(now)
        return [{"accountAlias": "SgsR", "asset": "USDT", "balance": u["walletBalance"],
                 "crossWalletBalance": u["crossWalletBalance"], "crossUnPnl": u["crossUnPnl"],
                 "availableBalance": u["availableBalance"], "maxWithdrawAmount": u["maxWithdrawAmount"],
                 "marginAvailable": True, "updateTime": now}]

    def leverage_brackets(self, params: dict, now: int) -> list:
        sym = self._symbol(params, required=False)
        names = [sym] if sym else [s for _base, s, _trading in listed_usdt(self.market)]
        bracket = {"bracket": 1, "initialLeverage": 125, "notionalCap": 50_000_000, "notionalFloor": 0,
                   "maintMarginRatio": 0.004, "cum": 0.0}
        return [{"symbol": s, "brackets": [bracket]} for s in names]

    def coins(self, params: dict, now: int) -> list:
        return [{"coin": "USDT", "depositAllEnable": True, "withdrawAllEnable": True, "name": "TetherUS",
                 "free": "0", "locked": "0", "freeze": "0", "withdrawing": "0", "ipoing": "0", "ipoable": "0",
                 "storage": "0", "isLegalMoney": False, "trading": True,
                 "networkList": [{"network": "ETH", "coin": "USDT", "withdrawIntegerMultiple": "0.000001",
                                  "isDefault": True, "depositEnable": True, "withdrawEnable": True,
                                  "name": "Ethereum (ERC20)", "withdrawFee": "1", "withdrawMin": "10",
                                  "withdrawMax": "10000000", "minConfirm": 6, "unLockConfirm": 64}]}]


    def margin_pairs(self, params: dict, now: int) -> list:
        return []  # spot margin is not simulated: an empty, well-formed list


def _strip_signature(query: str, form: str) -> tuple[str, str | None]:
    """(totalParams as signed, the signature): the signature is the last parameter of the query or the body."""
    for part in ("form", "query"):
        text = form if part == "form" else query
        head, sep, sig = text.rpartition("signature=")
        if sep and (not head or head.endswith("&")) and "&" not in sig:
            head = head[:-1] if head.endswith("&") else head
            return (query + head if part == "form" else head + form), sig
    return query + form, None


def _limit(params: dict, default: int, cap: int) -> int:
    try:
        return max(1, min(cap, int(params.get("limit") or default)))
    except ValueError:
        raise BinanceError(-1100, "Illegal characters found in parameter 'limit'.") from None


_ROUTES: dict[tuple[str, str], Callable[..., dict | list]] = {
    ("POST", "/fapi/v1/order"): BinanceAccount.new_order,
    ("PUT", "/fapi/v1/order"): BinanceAccount.modify_order,
    ("DELETE", "/fapi/v1/order"): BinanceAccount.cancel_order,
    ("GET", "/fapi/v1/order"): BinanceAccount.query_order,
    ("DELETE", "/fapi/v1/allOpenOrders"): BinanceAccount.cancel_all,
    ("GET", "/fapi/v1/openOrders"): BinanceAccount.open_orders,
    ("GET", "/fapi/v1/allOrders"): BinanceAccount.all_orders,
    ("GET", "/fapi/v1/userTrades"): BinanceAccount.user_trades,
    ("POST", "/fapi/v1/algoOrder"): BinanceAccount.new_algo_order,
    ("DELETE", "/fapi/v1/algoOrder"): BinanceAccount.cancel_algo_order,
    ("GET", "/fapi/v1/algoOrder"): BinanceAccount.query_algo_order,
    ("GET", "/fapi/v1/openAlgoOrders"): BinanceAccount.open_algo_orders,
    ("GET", "/fapi/v1/allAlgoOrders"): BinanceAccount.all_algo_orders,
    ("DELETE", "/fapi/v1/algoOpenOrders"): BinanceAccount.cancel_all_algo,
    ("GET", "/fapi/v2/positionRisk"): BinanceAccount.position_risk,
    ("GET", "/fapi/v3/positionRisk"): BinanceAccount.position_risk,
    ("GET", "/fapi/v2/account"): BinanceAccount.account,
    ("GET", "/fapi/v3/account"): BinanceAccount.account,
    ("GET", "/fapi/v2/balance"): BinanceAccount.balance_list,
    ("GET", "/fapi/v3/balance"): BinanceAccount.balance_list,
    ("GET", "/fapi/v1/leverageBracket"): BinanceAccount.leverage_brackets,
    ("GET", "/sapi/v1/capital/config/getall"): BinanceAccount.coins,
    ("GET", "/sapi/v1/margin/allPairs"): BinanceAccount.margin_pairs,
}
PRIVATE_PATHS = frozenset(path for _, path in _ROUTES)
