"""OKX v5 signed API (SWAP, net mode, cross margin) for the simulator: orders, trigger (algo) orders, positions,
balance, fills, with OKX's error codes.

Authentication is OKX's scheme, checked for real: headers OK-ACCESS-KEY, OK-ACCESS-PASSPHRASE, OK-ACCESS-TIMESTAMP
(ISO 8601 UTC with ms) and OK-ACCESS-SIGN = base64(HMAC-SHA256(secret, timestamp + METHOD + requestPath (with the
query) + body)); a timestamp more than 30 s from the wall clock is refused.

Errors: auth failures answer HTTP 401 {"code": "5011x", "msg", "data": []}: 50103 / 50104 / 50106 / 50107 a header
missing, 50111 unknown key, 50105 wrong passphrase, 50112 unreadable timestamp, 50102 expired timestamp, 50113 bad
signature. Orders answer HTTP 200 with top-level code "1" (every order failed) and each order's sCode/sMsg: 51000
parameter error (also a price off the tick), 51001 unknown instrument, 51121 size not a lot multiple, 51008
insufficient margin, 51016 duplicate clOrdId, 51205 reduce-only with nothing to reduce, 51400 cancel failed, 51503
amend failed, 51279 / 51280 (long) and 51277 / 51278 (short) a position TP / SL trigger on the wrong side of the
last price, 51088 a second TP/SL for the whole position, 51169 a close-position algo with no position to close,
51328 closeFraction without reduceOnly.

Sizes are in contracts of ctVal (okx.CT_VAL base units). Orders: market, limit, post_only (accepted, then cancelled
at once if it would take, as OKX does), attached TP/SL (attachAlgoOrds: they
become the position's TP/SL), amend (newSz, newPx), cancel, cancel-batch, batch place; trigger orders (ordType
trigger, market execution: orderPx -1) through order-algo, orders-algo-pending, amend-algos, cancel-algos; the
position's TP/SL as one conditional (TP or SL) / oco (both) algo order placed with closeFraction "1" and reduceOnly
(no sz; tpOrdPx / slOrdPx -1, market execution), listed by orders-algo-pending (ordType conditional,oco) and in the
position's closeOrderAlgo, removed by cancel-algos.

Documented simplifications: those of the shared matching engine (sim/account.py); fee 0.05 % taker / 0.02 %
maker; net mode and cross margin only (account/config says so); a position has one TP/SL slot: the TP/SL attached
to its entries and the one placed with closeFraction are that same algo order (OKX keeps attached ones as algo
orders of their own, sized as the entry, and lists only closeFraction ones in closeOrderAlgo); conditional / oco
orders only for the whole position (closeFraction 1, not sized ones), not amendable (cancel and place again), and
not in orders-algo-history; no iceberg / twap / trailing algo types; history endpoints return everything kept in
memory.
"""
from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

from .account import OPEN, MatchingEngine, SimOrder, SimPosition, same
from .market import Market
from .okx import CT_VAL, market_symbol

MAX_SKEW_MS = 30_000
_CLIENT_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_STATE = {"New": "live", "PartiallyFilled": "partially_filled", "Filled": "filled", "Cancelled": "canceled"}
_ALGO_STATE = {"Untriggered": "live", "Triggered": "effective", "Filled": "effective", "Deactivated": "canceled"}


class OkxError(Exception):
    def __init__(self, code: str, msg: str, status: int = 200) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def _param_error(name: str) -> OkxError:
    return OkxError("51000", f"Parameter {name} error")


@dataclass
class OkxAccount(MatchingEngine):
    """One API key's trading account (SWAP, net mode)."""

    passphrase: str = field(default="", repr=False)
    close_algos: dict[str, dict] = field(default_factory=dict, repr=False)  # symbol -> its position's TP/SL algo
    _ids: itertools.count = field(default_factory=lambda: itertools.count(612_345_678_901_234_567), repr=False)
    taker_fee = 0.0005
    maker_fee = 0.0002

    # -- entry point ----------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, body: bytes, headers) -> tuple[int, dict]:
        now = int(time.time() * 1000)
        route = _ROUTES.get((method, path.rstrip("/")))
        if route is None:
            return 404, {"code": "50000", "msg": f"{method} {path} not found", "data": []}
        try:
            text = body.decode()
        except UnicodeDecodeError:
            return 200, {"code": "50002", "msg": "Json data format error", "data": []}
        try:
            self._authenticate(headers, method, path + (f"?{query}" if query else ""), text, now)
            if method == "POST":
                try:
                    params = json.loads(text or "{}", parse_int=Decimal, parse_float=Decimal)
                except ValueError:
                    raise OkxError("50002", "Json data format error") from None
            else:
                params = dict(parse_qsl(query, keep_blank_values=True))
            with self._lock:
                self.requests.append((method, path))
                self._settle(self.market.now_ms())
                data = route(self, params, self.market.now_ms())
        except OkxError as exc:
            return exc.status, {"code": exc.code, "msg": exc.msg, "data": []}
        failed = [d for d in data if d.get("sCode", "0") != "0"]
        if failed and len(failed) == len(data):
            return 200, {"code": "1", "msg": "All operations failed", "data": data}
        if failed:
            return 200, {"code": "2", "msg": "Batch operation partially succeeded", "data": data}
        return 200, {"code": "0", "msg": "", "data": data}

    def _authenticate(self, headers, method: str, request_path: str, body: str, now: int) -> None:
        key, phrase, stamp, sign = (headers.get(h) or "" for h in (
            "OK-ACCESS-KEY", "OK-ACCESS-PASSPHRASE", "OK-ACCESS-TIMESTAMP", "OK-ACCESS-SIGN"))
        for value, code, name in ((key, "50103", "KEY"), (phrase, "50104", "PASSPHRASE"),
                                  (stamp, "50107", "TIMESTAMP"), (sign, "50106", "SIGN")):
            if not value:
                raise OkxError(code, f"Request header OK-ACCESS-{name} cannot be empty.", 401)
        if not same(key, self.api_key):
            raise OkxError("50111", "Invalid OK-ACCESS-KEY.", 401)
        if not same(phrase, self.passphrase):
            raise OkxError("50105", "Request header OK-ACCESS-PASSPHRASE incorrect.", 401)
        try:
            when = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
        except ValueError:
            raise OkxError("50112", "Invalid OK-ACCESS-TIMESTAMP.", 401) from None
        if abs(now - when.timestamp() * 1000) > MAX_SKEW_MS:
            raise OkxError("50102", "Timestamp request expired.", 401)
        want = base64.b64encode(hmac.new(self.api_secret.encode(), f"{stamp}{method}{request_path}{body}".encode(),
                                         hashlib.sha256).digest()).decode()
        if not same(sign, want):
            raise OkxError("50113", "Invalid signature.", 401)

    def _new_id(self) -> str:
        return str(next(self._ids))

    # -- parameters -------------------------------------------------------------------------------------------
    def _inst(self, params: dict, required: bool = True) -> str | None:
        inst = params.get("instId")
        if not inst:
            if required:
                raise _param_error("instId")
            return None
        sym = market_symbol(self.market, str(inst))
        if sym is None:
            raise OkxError("51001", "Instrument ID does not exist.")
        return sym

    def _decimal(self, raw, name: str) -> Decimal:
        try:
            value = Decimal(str(raw))
        except (InvalidOperation, ValueError):
            raise _param_error(name) from None
        if not value.is_finite() or value <= 0 or value > Decimal("1e12"):
            raise _param_error(name)
        return value

    def _contracts(self, raw, sym: str, name: str = "sz") -> float:
        """A size in contracts -> base units; it must be a multiple of the lot (in contracts)."""
        if raw in (None, ""):
            raise _param_error(name)
        value = self._decimal(raw, name)
        lot = Decimal(repr(self.market.spec(sym).lot)) / Decimal(repr(CT_VAL))
        if value % lot != 0:
            raise OkxError("51121", f"Order quantity must be a multiple of the lot size ({lot.normalize():f}).")
        return float(value * Decimal(repr(CT_VAL)))

    def _price(self, raw, sym: str, name: str = "px") -> float:
        if raw in (None, ""):
            raise _param_error(name)
        value = self._decimal(raw, name)
        if value % Decimal(repr(self.market.spec(sym).tick)) != 0:
            raise _param_error(name)
        return float(value)

    def _client_id(self, params: dict, name: str) -> str:
        link = str(params.get(name) or "")
        if link and not _CLIENT_ID.fullmatch(link):
            raise _param_error(name)
        if link and any(o.link_id == link for o in self.orders.values()):
            raise OkxError("51016", "Duplicated client order ID")
        return link or f"sim{self._new_id()}"

    def _funds(self, sym: str, side: str, qty: float, ref: float, reduce: bool, now: int) -> None:
        pos = self.positions.get(sym)
        pos_qty = pos.qty if pos else 0.0
        signed = qty if side == "Buy" else -qty
        if reduce and (not pos_qty or (pos_qty > 0) == (signed > 0)):
            raise OkxError("51205", "Reduce Only is not available.")
        if not reduce and qty * ref / self.leverage > self.available(now):
            raise OkxError("51008", "Order failed. Insufficient USDT margin in account")

    # -- orders ---------------------------------------------------------------------------------------------
    def place(self, params: dict, now: int) -> list:
        return [self._one(lambda: self._place(params, now), params)]

    def place_batch(self, params, now: int) -> list:
        if not isinstance(params, list) or not 1 <= len(params) <= 20:
            raise OkxError("51000", "Parameter orders error")
        return [self._one(functools.partial(self._place, p, now), p) for p in params]

    def _one(self, work: Callable[[], dict], params) -> dict:
        """One order's answer: its own sCode/sMsg (OKX answers each order of a request apart)."""
        try:
            return work()
        except OkxError as exc:
            if exc.status != 200:
                raise
            ids = params if isinstance(params, dict) else {}
            return {"ordId": "", "clOrdId": str(ids.get("clOrdId") or ""), "tag": "",
                    "ts": str(int(time.time() * 1000)), "sCode": exc.code, "sMsg": exc.msg}

    def _place(self, params, now: int) -> dict:
        if not isinstance(params, dict):
            raise _param_error("order")
        sym = self._inst(params)
        assert sym is not None
        side = {"buy": "Buy", "sell": "Sell"}.get(str(params.get("side")))
        if side is None:
            raise _param_error("side")
        if params.get("tdMode") not in ("cross", "isolated"):
            raise _param_error("tdMode")
        if params.get("posSide") not in (None, "", "net"):
            raise _param_error("posSide")
        otype = str(params.get("ordType") or "")
        if otype not in ("market", "limit", "post_only"):
            raise _param_error("ordType")
        qty = self._contracts(params.get("sz"), sym)
        price = self._price(params.get("px"), sym) if otype != "market" else 0.0
        reduce = str(params.get("reduceOnly", "false")).lower() == "true"
        tp = sl = 0.0
        attached = params.get("attachAlgoOrds") or []
        if not isinstance(attached, list):
            raise _param_error("attachAlgoOrds")
        for a in attached:
            if not isinstance(a, dict):
                raise _param_error("attachAlgoOrds")
            if a.get("tpTriggerPx") not in (None, ""):
                tp = self._price(a["tpTriggerPx"], sym, "tpTriggerPx")
            if a.get("slTriggerPx") not in (None, ""):
                sl = self._price(a["slTriggerPx"], sym, "slTriggerPx")
        link = self._client_id(params, "clOrdId")
        last = self.market.last_price(sym, now)
        self._funds(sym, side, qty, price or last, reduce, now)
        o = SimOrder(self._new_id(), link, sym, side, "Market" if otype == "market" else "Limit", qty, price, reduce,
                     tp, sl, now, time_in_force="PostOnly" if otype == "post_only" else "GTC")
        self.orders[o.order_id] = o
        crosses = otype != "market" and ((side == "Buy" and last <= price) or (side == "Sell" and last >= price))
        if otype == "post_only" and crosses:
            o.status, o.updated_ms = "Cancelled", now  # OKX takes it, then cancels it: it would have taken
        elif otype == "market" or crosses:
            self._fill(o, last, now, maker=False)
        return {"ordId": o.order_id, "clOrdId": o.link_id, "tag": "", "ts": str(now), "sCode": "0",
                "sMsg": "Order placed"}

    def _find(self, params: dict, sym: str, code: str, msg: str, algo: bool = False) -> SimOrder:
        names = ("algoId", "algoClOrdId") if algo else ("ordId", "clOrdId")
        oid, link = (str(params.get(n) or "") for n in names)
        if not oid and not link:
            raise _param_error(names[0])
        for o in self.orders.values():
            if o.symbol == sym and bool(o.trigger) == algo and (
                    (oid and o.order_id == oid) or (link and o.link_id == link)):
                return o
        raise OkxError(code, msg)

    def amend(self, params: dict, now: int) -> list:
        return [self._one(lambda: self._amend(params, now), params)]

    def _amend(self, params: dict, now: int) -> dict:
        if not isinstance(params, dict):
            raise _param_error("order")
        sym = self._inst(params)
        assert sym is not None
        failed = "Order modification failed as the order has been filled, canceled, or does not exist."
        o = self._find(params, sym, "51503", failed)
        if o.status not in OPEN or o.type != "Limit":
            raise OkxError("51503", failed)
        qty = self._contracts(params["newSz"], sym, "newSz") if params.get("newSz") not in (None, "") else o.qty
        price = self._price(params["newPx"], sym, "newPx") if params.get("newPx") not in (None, "") else o.price
        if (qty, price) == (o.qty, o.price):
            raise _param_error("newSz")
        if qty > o.qty and not o.reduce_only and (qty - o.qty) * price / self.leverage > self.available(now):
            raise OkxError("51008", "Order failed. Insufficient USDT margin in account")
        last = self.market.last_price(sym, now)
        o.qty, o.price, o.updated_ms = qty, price, now
        if (o.side == "Buy" and last <= price) or (o.side == "Sell" and last >= price):
            if o.time_in_force == "PostOnly":
                o.status = "Cancelled"
            else:
                self._fill(o, last, now, maker=False)
        return {"ordId": o.order_id, "clOrdId": o.link_id, "reqId": str(params.get("reqId") or ""), "ts": str(now),
                "sCode": "0", "sMsg": ""}

    def cancel(self, params: dict, now: int) -> list:
        return [self._one(lambda: self._cancel(params, now), params)]

    def cancel_batch(self, params, now: int) -> list:
        return self._batch(params, 20, "orders", functools.partial(self._cancel, now=now))

    def _cancel(self, params, now: int) -> dict:
        if not isinstance(params, dict):
            raise _param_error("order")
        sym = self._inst(params)
        assert sym is not None
        failed = "Order cancellation failed as the order has been filled, canceled or does not exist."
        o = self._find(params, sym, "51400", failed)
        if o.status not in OPEN:
            raise OkxError("51400", failed)
        o.status, o.updated_ms = "Cancelled", now
        return {"ordId": o.order_id, "clOrdId": o.link_id, "ts": str(now), "sCode": "0", "sMsg": ""}

    def _pick(self, params: dict, algo: bool) -> list[SimOrder]:
        if params.get("instType") not in (None, "", "SWAP"):
            return []
        sym = self._inst(params, required=False)
        rows = [o for o in self.orders.values() if sym in (None, o.symbol) and bool(o.trigger) == algo]
        return sorted(rows, key=lambda o: o.created_ms, reverse=True)

    def pending(self, params: dict, now: int) -> list:
        return [self._order_json(o) for o in self._pick(params, algo=False) if o.status in OPEN][:_limit(params)]

    def history(self, params: dict, now: int) -> list:
        return [self._order_json(o) for o in self._pick(params, algo=False) if o.status not in OPEN][:_limit(params)]

    def order(self, params: dict, now: int) -> list:
        sym = self._inst(params)
        assert sym is not None
        return [self._order_json(self._find(params, sym, "51603", "Order does not exist"))]

    def fills(self, params: dict, now: int) -> list:
        sym = self._inst(params, required=False)
        rows = [e for e in reversed(self.executions) if sym in (None, e.order.symbol)][:_limit(params)]
        return [{"instType": "SWAP", "instId": _inst_id(e.order.symbol), "tradeId": e.exec_id,
                 "ordId": e.order.order_id, "clOrdId": e.order.link_id, "billId": e.exec_id, "tag": "",
                 "fillPx": self.market.fmt_price(e.order.symbol, e.price), "fillSz": _sz(self.market, e.order.symbol,
                                                                                          e.qty),
                 "side": e.order.side.lower(), "posSide": "net", "execType": "M" if e.is_maker else "T",
                 "feeCcy": "USDT", "fee": f"{-e.fee:.8f}", "ts": str(e.time_ms), "fillTime": str(e.time_ms)}
                for e in rows]

    def _order_json(self, o: SimOrder) -> dict:
        fp = (lambda v: self.market.fmt_price(o.symbol, v) if v else "")
        kind = "market" if o.type == "Market" else ("post_only" if o.time_in_force == "PostOnly" else "limit")
        attach = [{"attachAlgoId": "", "attachAlgoClOrdId": "", "tpTriggerPx": fp(o.take_profit), "tpOrdPx": "-1"
                   if o.take_profit else "", "slTriggerPx": fp(o.stop_loss), "slOrdPx": "-1" if o.stop_loss else "",
                   "tpTriggerPxType": "last", "slTriggerPxType": "last"}] if o.take_profit or o.stop_loss else []
        return {"instType": "SWAP", "instId": _inst_id(o.symbol), "ordId": o.order_id, "clOrdId": o.link_id,
                "tag": "", "px": fp(o.price), "sz": _sz(self.market, o.symbol, o.qty), "ordType": kind,
                "side": o.side.lower(), "posSide": "net", "tdMode": "cross",
                "accFillSz": _sz(self.market, o.symbol, o.filled), "fillPx": fp(o.avg_price),
                "avgPx": fp(o.avg_price), "state": _STATE.get(o.status, "canceled"), "lever": f"{self.leverage:g}",
                "feeCcy": "USDT", "fee": f"{-o.fee:.8f}", "pnl": "0", "reduceOnly": "true" if o.reduce_only else
                "false", "attachAlgoOrds": attach, "cancelSource": "1" if o.status == "Cancelled" else "",
                "category": "normal", "cTime": str(o.created_ms), "uTime": str(o.updated_ms or o.created_ms),
                "fillTime": str(o.updated_ms) if o.filled else ""}

    # -- trigger (algo) orders ------------------------------------------------------------------------------------
    def place_algo(self, params: dict, now: int) -> list:
        return [self._one(lambda: self._place_algo(params, now), params)]

    def _place_algo(self, params: dict, now: int) -> dict:
        if not isinstance(params, dict):
            raise _param_error("order")
        sym = self._inst(params)
        assert sym is not None
        side = {"buy": "Buy", "sell": "Sell"}.get(str(params.get("side")))
        if side is None:
            raise _param_error("side")
        if params.get("ordType") in ("conditional", "oco"):
            return self._place_close_algo(params, sym, side, now)
        if params.get("ordType") != "trigger":
            raise _param_error("ordType")
        if params.get("tdMode") not in ("cross", "isolated"):
            raise _param_error("tdMode")
        if str(params.get("orderPx", "-1")) != "-1":
            raise _param_error("orderPx")  # market execution only here
        qty = self._contracts(params.get("sz"), sym)
        trigger = self._price(params.get("triggerPx"), sym, "triggerPx")
        last = self.market.last_price(sym, now)
        reduce = str(params.get("reduceOnly", "false")).lower() == "true"
        link = str(params.get("algoClOrdId") or params.get("clOrdId") or "")
        if link and not _CLIENT_ID.fullmatch(link):
            raise _param_error("algoClOrdId")
        if link and any(o.link_id == link for o in self.orders.values()):
            raise OkxError("51016", "Duplicated client order ID")
        self._funds(sym, side, qty, trigger, reduce, now)
        # OKX's trigger order fires when the last price reaches it from either side: above -> rising
        o = SimOrder(self._new_id(), link or f"sim{self._new_id()}", sym, side, "Market", qty, 0.0, reduce, 0.0,
                     0.0, now, status="Untriggered", stop_type="Stop", trigger=trigger,
                     trigger_direction=1 if trigger > last else 2)
        self.orders[o.order_id] = o
        return {"algoId": o.order_id, "algoClOrdId": o.link_id, "clOrdId": o.link_id, "tag": "", "sCode": "0",
                "sMsg": ""}

    def _place_close_algo(self, params: dict, sym: str, side: str, now: int) -> dict:
        """A conditional (TP or SL) / oco (both) order closing the whole position (closeFraction 1): it becomes the
        position's TP/SL."""
        kind = str(params["ordType"])
        if params.get("tdMode") not in ("cross", "isolated"):
            raise _param_error("tdMode")
        if str(params.get("closeFraction") or "") != "1":
            raise _param_error("closeFraction")  # only whole-position TP/SL are simulated
        if str(params.get("reduceOnly", "false")).lower() != "true":
            raise OkxError("51328", "closeFraction is only available for reduceOnly orders.")
        if params.get("sz") not in (None, ""):
            raise _param_error("sz")
        tp = self._price(params["tpTriggerPx"], sym, "tpTriggerPx") if params.get("tpTriggerPx") not in (None, "") \
            else 0.0
        sl = self._price(params["slTriggerPx"], sym, "slTriggerPx") if params.get("slTriggerPx") not in (None, "") \
            else 0.0
        if (kind == "oco" and not (tp and sl)) or not (tp or sl):
            raise _param_error("tpTriggerPx" if not tp else "slTriggerPx")
        for name, px in (("tpOrdPx", tp), ("slOrdPx", sl)):
            if px and str(params.get(name, "-1")) != "-1":
                raise _param_error(name)  # market execution only here
        pos = self.positions.get(sym)
        if not pos or not pos.qty or (pos.qty > 0) != (side == "Sell"):
            raise OkxError("51169", "Order failed because you don't have any positions in this direction for this "
                                    "contract.")
        if pos.take_profit or pos.stop_loss:
            raise OkxError("51088", "You can only place 1 TP/SL order to close an entire position")
        last = self.market.last_price(sym, now)
        long = pos.qty > 0
        if tp and (tp <= last if long else tp >= last):
            raise OkxError("51279" if long else "51277", f"TP trigger price cannot be {'lower' if long else 'higher'} "
                                                           "than the last price")
        if sl and (sl >= last if long else sl <= last):
            raise OkxError("51280" if long else "51278", f"SL trigger price cannot be {'higher' if long else 'lower'} "
                                                           "than the last price")
        link = str(params.get("algoClOrdId") or "")
        if link and not _CLIENT_ID.fullmatch(link):
            raise _param_error("algoClOrdId")
        pos.take_profit, pos.stop_loss = tp, sl
        algo = self._close_algo(sym, link)
        return {"algoId": algo["algoId"], "algoClOrdId": algo["algoClOrdId"], "clOrdId": "", "tag": "", "sCode": "0",
                "sMsg": ""}

    def _close_algo(self, sym: str, link: str = "") -> dict:
        """The algo order that is the position's TP/SL (placed with closeFraction or attached to its entry), with a
        stable id while the TP/SL stay the same."""
        pos = self.positions[sym]
        held = self.close_algos.get(sym)
        if held is None or (held["tp"], held["sl"]) != (pos.take_profit, pos.stop_loss):
            held = self.close_algos[sym] = {"algoId": self._new_id(), "algoClOrdId": link, "tp": pos.take_profit,
                                            "sl": pos.stop_loss, "cTime": self.market.now_ms()}
        return held

    def _close_algo_json(self, sym: str) -> dict:
        pos = self.positions[sym]
        algo = self._close_algo(sym)
        fp = (lambda v: self.market.fmt_price(sym, v) if v else "")
        return {"instType": "SWAP", "instId": _inst_id(sym), "algoId": algo["algoId"],
                "algoClOrdId": algo["algoClOrdId"], "clOrdId": "", "ordType": "oco" if pos.take_profit and
                pos.stop_loss else "conditional", "side": "sell" if pos.qty > 0 else "buy", "posSide": "net",
                "tdMode": "cross", "sz": "", "closeFraction": "1", "triggerPx": "", "ordPx": "",
                "tpTriggerPx": fp(pos.take_profit), "tpTriggerPxType": "last", "tpOrdPx": "-1" if pos.take_profit
                else "", "slTriggerPx": fp(pos.stop_loss), "slTriggerPxType": "last", "slOrdPx": "-1" if
                pos.stop_loss else "", "state": "live", "actualSz": "", "actualPx": "", "actualSide": "",
                "lever": f"{self.leverage:g}", "reduceOnly": "true", "ordId": "", "cTime": str(algo["cTime"]),
                "uTime": str(algo["cTime"]), "triggerTime": ""}

    def _close_algo_rows(self, params: dict) -> list[dict]:
        if params.get("instType") not in (None, "", "SWAP"):
            return []
        sym = self._inst(params, required=False)
        return [self._close_algo_json(s) for s, p in sorted(self.positions.items())
                if sym in (None, s) and p.qty and (p.take_profit or p.stop_loss)]

    def amend_algo(self, params: dict, now: int) -> list:
        return [self._one(lambda: self._amend_algo(params, now), params)]

    def _amend_algo(self, params: dict, now: int) -> dict:
        if not isinstance(params, dict):
            raise _param_error("order")
        sym = self._inst(params)
        assert sym is not None
        o = self._find(params, sym, "51503", "Order modification failed as the order has been filled, canceled, "
                                             "or does not exist.", algo=True)
        if o.status != "Untriggered":
            raise OkxError("51503", "Order modification failed as the order has been filled, canceled, or does "
                                    "not exist.")
        qty = self._contracts(params["newSz"], sym, "newSz") if params.get("newSz") not in (None, "") else o.qty
        trigger = (self._price(params["newTriggerPx"], sym, "newTriggerPx")
                   if params.get("newTriggerPx") not in (None, "") else o.trigger)
        last = self.market.last_price(sym, now)
        o.qty, o.trigger, o.updated_ms = qty, trigger, now
        o.trigger_direction = 1 if trigger > last else 2
        return {"algoId": o.order_id, "algoClOrdId": o.link_id, "reqId": "", "sCode": "0", "sMsg": ""}

    def cancel_algos(self, params, now: int) -> list:
        return self._batch(params, 10, "algoId", functools.partial(self._cancel_algo, now=now))

    def _batch(self, params, most: int, what: str, each) -> list:
        """A list of 1..`most` items, each answered on its own (sCode / sMsg)."""
        if not isinstance(params, list) or not 1 <= len(params) <= most:
            raise OkxError("51000", f"Parameter {what} error")
        return [self._one(functools.partial(each, p), p) for p in params]

    def _cancel_algo(self, params, now: int) -> dict:
        if not isinstance(params, dict):
            raise _param_error("algoId")
        sym = self._inst(params)
        assert sym is not None
        pos = self.positions.get(sym)
        held = self.close_algos.get(sym)
        if pos and pos.qty and (pos.take_profit or pos.stop_loss) and held and str(params.get("algoId") or "") == \
                held["algoId"] and (held["tp"], held["sl"]) == (pos.take_profit, pos.stop_loss):
            pos.take_profit, pos.stop_loss = 0.0, 0.0  # the position's TP/SL algo: the position keeps none
            del self.close_algos[sym]
            return {"algoId": held["algoId"], "sCode": "0", "sMsg": ""}
        o = self._find(params, sym, "51400", "Order cancellation failed as the order has been filled, canceled or "
                                             "does not exist.", algo=True)
        if o.status != "Untriggered":
            raise OkxError("51400", "Order cancellation failed as the order has been filled, canceled or does not "
                                    "exist.")
        o.status, o.updated_ms = "Deactivated", now
        return {"algoId": o.order_id, "sCode": "0", "sMsg": ""}

    def algo_pending(self, params: dict, now: int) -> list:
        if params.get("ordType") in (None, ""):
            raise _param_error("ordType")
        kinds = set(str(params["ordType"]).split(","))
        rows = self._close_algo_rows(params) if kinds & {"conditional", "oco"} else []
        if "trigger" in kinds:
            rows += [self._algo_json(o) for o in self._pick(params, algo=True) if o.status == "Untriggered"]
        return rows

    def algo_history(self, params: dict, now: int) -> list:
        if params.get("ordType") in (None, ""):
            raise _param_error("ordType")
        return [self._algo_json(o) for o in self._pick(params, algo=True) if o.status != "Untriggered"]

    def _algo_json(self, o: SimOrder) -> dict:
        fp = (lambda v: self.market.fmt_price(o.symbol, v))
        return {"instType": "SWAP", "instId": _inst_id(o.symbol), "algoId": o.order_id, "algoClOrdId": o.link_id,
                "clOrdId": o.link_id, "ordType": "trigger", "side": o.side.lower(), "posSide": "net",
                "tdMode": "cross", "sz": _sz(self.market, o.symbol, o.qty), "triggerPx": fp(o.trigger),
                "triggerPxType": "last", "ordPx": "-1", "state": _ALGO_STATE.get(o.status, "canceled"),
                "actualSz": _sz(self.market, o.symbol, o.filled) if o.filled else "", "actualPx": fp(o.avg_price)
                if o.filled else "", "actualSide": "", "lever": f"{self.leverage:g}",
                "reduceOnly": "true" if o.reduce_only else "false", "ordId": o.order_id if o.filled else "",
                "cTime": str(o.created_ms), "uTime": str(o.updated_ms or o.created_ms),
                "triggerTime": str(o.updated_ms) if o.filled else ""}

    # -- account --------------------------------------------------------------------------------------------------
    def account_balance(self, params: dict, now: int) -> list:
        upnl, im = self._upnl(now), self._used_margin(now)
        money = (lambda v: f"{v:.8f}")
        eq = self.balance + upnl
        avail = max(0.0, self.available(now))
        detail = {"ccy": "USDT", "eq": money(eq), "cashBal": money(self.balance), "availBal": money(avail),
                  "availEq": money(avail), "frozenBal": money(im), "ordFrozen": "0", "upl": money(upnl),
                  "isoEq": "0", "disEq": money(eq), "eqUsd": money(eq), "mgnRatio": "", "imr": money(im),
                  "mmr": money(im * 0.04), "notionalLever": "", "liab": "0", "interest": "0",
                  "uTime": str(now)}
        return [{"uTime": str(now), "totalEq": money(eq), "adjEq": money(eq), "imr": money(im), "mmr": money(im * 0.04),
                 "isoEq": "0", "ordFroz": "0", "notionalUsd": money(im * self.leverage), "mgnRatio": "",
                 "details": [detail]}]

    def account_positions(self, params: dict, now: int) -> list:
        if params.get("instType") not in (None, "", "SWAP"):
            return []
        sym = self._inst(params, required=False)
        names = [sym] if sym else sorted(s for s, p in self.positions.items() if p.qty)
        out = []
        for s in names:
            p = self.positions.get(s) or SimPosition(s)
            if not p.qty:
                continue
            mark = self.market.last_price(s, now)
            fp = (lambda v, s=s: self.market.fmt_price(s, v))
            notional = abs(p.qty) * mark
            close = [{"algoId": self._close_algo(s)["algoId"],
                      "tpTriggerPx": fp(p.take_profit) if p.take_profit else "",
                      "slTriggerPx": fp(p.stop_loss) if p.stop_loss else "", "closeFraction": "1"}] \
                if p.take_profit or p.stop_loss else []
            out.append({"instType": "SWAP", "instId": _inst_id(s), "posId": s, "posSide": "net", "mgnMode": "cross",
                        "pos": ("-" if p.qty < 0 else "") + _sz(self.market, s, abs(p.qty)), "posCcy": "",
                        "ccy": "USDT", "avgPx": fp(p.entry), "markPx": fp(mark), "last": fp(mark),
                        "upl": f"{p.qty * (mark - p.entry):.8f}", "uplRatio": "0", "lever": f"{self.leverage:g}",
                        "liqPx": "", "imr": f"{notional / self.leverage:.8f}", "margin": "",
                        "mmr": f"{notional * 0.004:.8f}", "notionalUsd": f"{notional:.8f}", "realizedPnl":
                            f"{p.realised:.8f}", "adl": "1", "closeOrderAlgo": close,
                        "cTime": str(p.created_ms or now), "uTime": str(p.updated_ms or now)})
        return out

    def account_config(self, params: dict, now: int) -> list:
        return [{"uid": "44705892343619584", "mainUid": "44705892343619584", "acctLv": "2", "posMode": "net_mode",
                 "autoLoan": False, "greeksType": "PA", "level": "Lv1", "levelTmp": "", "ctIsoMode": "automatic",
                 "mgnIsoMode": "automatic", "spotOffsetType": "", "roleType": "0", "traderInsts": [],
                 "opAuth": "0", "kycLv": "2", "label": "twinstar simulator", "ip": "", "perm": "read_only,trade"}]

    def currencies(self, params: dict, now: int) -> list:
        return [{"ccy": "USDT", "name": "Tether", "chain": "USDT-ERC20", "canDep": True, "canWd": True,
                 "canInternal": True, "minDep": "0.00000001", "minWd": "2", "maxWd": "10000000", "wdTickSz": "6",
                 "wdQuota": "10000000", "usedWdQuota": "0", "minFee": "1", "maxFee": "2", "mainNet": False,
                 "needTag": False, "minDepArrivalConfirm": "64", "minWdUnlockConfirm": "96",
                 "depQuotaFixed": "", "usedDepQuotaFixed": "", "depQuoteDailyLayer2": "", "logoLink": ""}]


def _inst_id(sym: str) -> str:
    return f"{sym[:-4]}-USDT-SWAP"


def _sz(market: Market, sym: str, base_qty: float) -> str:
    """Base units -> contracts, as OKX prints sizes ("1", "0.1")."""
    return format((Decimal(market.fmt_qty(sym, base_qty)) / Decimal(repr(CT_VAL))).normalize(), "f")


def _limit(params: dict) -> int:
    try:
        return max(1, min(100, int(params.get("limit") or 100)))
    except ValueError:
        raise _param_error("limit") from None


_ROUTES: dict[tuple[str, str], Callable[..., list]] = {
    ("POST", "/api/v5/trade/order"): OkxAccount.place,
    ("POST", "/api/v5/trade/batch-orders"): OkxAccount.place_batch,
    ("POST", "/api/v5/trade/amend-order"): OkxAccount.amend,
    ("POST", "/api/v5/trade/cancel-order"): OkxAccount.cancel,
    ("POST", "/api/v5/trade/cancel-batch-orders"): OkxAccount.cancel_batch,
    ("GET", "/api/v5/trade/orders-pending"): OkxAccount.pending,
    ("GET", "/api/v5/trade/orders-history"): OkxAccount.history,
    ("GET", "/api/v5/trade/orders-history-archive"): OkxAccount.history,
    ("GET", "/api/v5/trade/order"): OkxAccount.order,
    ("GET", "/api/v5/trade/fills"): OkxAccount.fills,
    ("POST", "/api/v5/trade/order-algo"): OkxAccount.place_algo,
    ("POST", "/api/v5/trade/amend-algos"): OkxAccount.amend_algo,
    ("POST", "/api/v5/trade/cancel-algos"): OkxAccount.cancel_algos,
    ("GET", "/api/v5/trade/orders-algo-pending"): OkxAccount.algo_pending,
    ("GET", "/api/v5/trade/orders-algo-history"): OkxAccount.algo_history,
    ("GET", "/api/v5/account/balance"): OkxAccount.account_balance,
    ("GET", "/api/v5/account/positions"): OkxAccount.account_positions,
    ("GET", "/api/v5/account/config"): OkxAccount.account_config,
    ("GET", "/api/v5/asset/currencies"): OkxAccount.currencies,
}
PRIVATE_PATHS = frozenset(path for _, path in _ROUTES)
