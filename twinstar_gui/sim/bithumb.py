"""Bithumb wire formats: v1 candles (Upbit-style objects) and market list, legacy /public/ticker/ALL_KRW, and the
legacy /pub/ws stream of trades (`transaction`) and tickers. There are no WebSocket candles on Bithumb.

Served under /bithumb; KRW prices come from the shared USDT process (see krw.py); trade times are KST wall
time, as Bithumb sends them.
"""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Container
from datetime import datetime

from .kline_endpoints import BadParam, limit_param
from .krw import KST, KrwBook, candles_page, market_list, parse_to
from .market import Market

NAME = "bithumb"
DEFAULT_WS_PATH = "/pub/ws"
UNITS = {1, 3, 5, 10, 15, 30, 60, 240}


def _usdt(book: KrwBook, symbol: str) -> str | None:
    base, _, quote = symbol.partition("_")
    return book.usdt(base) if quote == "KRW" else None


def handle_rest(market: Market, path: str, query: dict[str, str]) -> tuple[int, dict | list]:
    book = KrwBook(market)
    try:
        if path.startswith("/v1/candles/minutes/") and path.rsplit("/", 1)[1].isdigit():
            unit = int(path.rsplit("/", 1)[1])
            code = query.get("market", "")
            quote, _, base = code.partition("-")
            usdt = book.usdt(base) if quote == "KRW" else None
            if unit not in UNITS or usdt is None:
                return 404, {"error": {"name": "404", "message": "Code not found"}}
            count = limit_param(query, "count", 1, 200)
            return 200, candles_page(book, code, usdt, unit * 60_000, count, parse_to(query.get("to"), market.now_ms()))
        if path == "/v1/market/all":
            return 200, market_list(book, query, lambda base: {"market_warning": "NONE"})
        if path == "/public/ticker/ALL_KRW":
            data = {b: _ticker(book, f"{b}_KRW") for b in book.bases()}
            return 200, {"status": "0000", "data": {**data, "date": str(market.now_ms())}}
    except (BadParam, ValueError) as exc:
        return 200, {"status": "5500", "message": f"Invalid Parameter: {exc}"}
    return 404, {"status": "5300", "message": "Invalid Apikey or path"}


def fault_response(status: int, now_ms: int) -> tuple[dict, dict[str, str]]:
    return {"status": "5600", "message": "Please try again" if status != 429 else "Too many requests"}, {}


def _ticker(book: KrwBook, symbol: str) -> dict:
    usdt = _usdt(book, symbol)
    assert usdt is not None, symbol  # callers pass listed KRW markets only
    t = book.market.ticker(usdt)
    return {"closing_price": f"{book.price(t['lastPrice']):g}", "opening_price": f"{book.price(t['prevPrice24h']):g}",
            "max_price": f"{book.price(t['highPrice24h']):g}", "min_price": f"{book.price(t['lowPrice24h']):g}",
            "units_traded_24H": f"{t['volume24h']:g}", "acc_trade_value_24H": f"{t['turnover24h'] * 1400.0:.4f}"}


def _kst(ms: int, fmt: str) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=KST).strftime(fmt)


class BithumbPubSession:
    IDLE_TIMEOUT_S: float | None = None  # undocumented; clients use ping frames

    def __init__(self, market: Market, rejected: Container[str] = frozenset()) -> None:
        self.market = market
        self.book = KrwBook(market)
        self.rejected = rejected
        self.conn_id = secrets.token_hex(4)
        self.last_client_message = time.monotonic()
        self.trades: dict[str, int] = {}  # symbol -> sim time of the newest trade sent
        self.tickers: dict[str, str | None] = {}
        self._greeted = False

    def on_message(self, raw: str | bytes) -> list[str]:
        self.last_client_message = time.monotonic()
        try:
            msg = json.loads(raw)
            kind, symbols = msg["type"], msg["symbols"]
            assert isinstance(symbols, list) and kind in ("transaction", "ticker")
        except (ValueError, TypeError, KeyError, AssertionError):
            return [json.dumps({"status": "5100", "resmsg": "Invalid Filter Syntax"})]
        if any(_usdt(self.book, s) is None or f"{kind}:{s}" in self.rejected for s in symbols):
            return [json.dumps({"status": "5100", "resmsg": "Invalid Filter Syntax"})]
        for s in symbols:
            if kind == "transaction":
                self.trades.setdefault(s, self.market.now_ms())
            else:
                self.tickers.setdefault(s, None)
        return [json.dumps({"status": "0000", "resmsg": "Filter Registered Successfully"})]

    def push(self) -> list[str]:
        frames = []
        if not self._greeted:
            self._greeted = True
            frames.append(json.dumps({"status": "0000", "resmsg": "Connected Successfully"}))
        now = self.market.now_ms()
        for sym, since in self.trades.items():
            usdt = _usdt(self.book, sym)
            assert usdt is not None, sym  # checked when it was subscribed
            trades = self.market.trades(usdt, since, now, limit=500)
            if not trades:
                continue
            self.trades[sym] = trades[-1].time_ms
            frames.append(json.dumps({"type": "transaction", "content": {"list": [{
                "symbol": sym, "buySellGb": "2" if t.direction >= 0 else "1",
                "contPrice": f"{self.book.price(t.price):g}", "contQty": f"{t.qty:g}",
                "contAmt": f"{self.book.price(t.price) * t.qty:.4f}",
                "contDtm": _kst(t.time_ms, "%Y-%m-%d %H:%M:%S.%f"), "updn": "up" if t.direction >= 0 else "dn"}
                for t in trades]}}))
        for sym, last in self.tickers.items():
            t = _ticker(self.book, sym)
            if t["closing_price"] != last:
                self.tickers[sym] = t["closing_price"]
                frames.append(json.dumps({"type": "ticker", "content": {
                    "symbol": sym, "tickType": "30M", "date": _kst(now, "%Y%m%d"), "time": _kst(now, "%H%M%S"),
                    "closePrice": t["closing_price"], "openPrice": t["opening_price"], "highPrice": t["max_price"],
                    "lowPrice": t["min_price"], "volume": t["units_traded_24H"], "value": t["acc_trade_value_24H"]}}))
        return frames


WS_SESSIONS = {"/pub/ws": BithumbPubSession}
