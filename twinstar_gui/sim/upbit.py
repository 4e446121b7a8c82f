"""Upbit wire formats: /v1/candles (minutes, days), /v1/ticker/all, /v1/market/all and the /websocket/v1
binary-frame stream.

Served under /upbit; KRW prices come from the shared USDT process (see krw.py). No subscribe ack exists on
Upbit: the first data frame confirms a request, which replaces the whole subscription set. Text `PING` is
answered with {"status":"UP"}. Candle pushes carry no close flag.
"""
from __future__ import annotations

import json
import secrets
import time
from collections.abc import Container

from .kline_endpoints import BadParam, KlineFeed, limit_param
from .krw import KrwBook, candle_object, candles_page, market_list, parse_to
from .market import Market

NAME = "upbit"
DEFAULT_WS_PATH = "/websocket/v1"
UNITS = {1, 3, 5, 10, 15, 30, 60, 240}
WS_TYPES = {"candle.1m": 60_000, "candle.5m": 300_000, "candle.15m": 900_000, "candle.60m": 3_600_000,
            "candle.240m": 14_400_000}


def _error(name: str, message: str, status: int = 400) -> tuple[int, dict]:
    return status, {"error": {"name": name, "message": message}}


def _code(book: KrwBook, code: str) -> str | None:
    quote, _, base = code.partition("-")
    return book.usdt(base) if quote == "KRW" else None


def handle_rest(market: Market, path: str, query: dict[str, str]) -> tuple[int, dict | list]:
    book = KrwBook(market)
    try:
        if path.startswith("/v1/candles/"):
            kind = path[len("/v1/candles/"):]
            if kind == "days":
                ms = 86_400_000
            elif kind.startswith("minutes/") and kind[8:].isdigit() and int(kind[8:]) in UNITS:
                ms = int(kind[8:]) * 60_000
            else:
                return _error("invalid_parameter", f"unknown candle unit in {path}", 404)
            code = query.get("market", "")
            usdt = _code(book, code)
            if usdt is None:
                return _error("404", "Code not found", 404)
            count = limit_param(query, "count", 1, 200)
            return 200, candles_page(book, code, usdt, ms, count, parse_to(query.get("to"), market.now_ms()))
        if path == "/v1/market/all":
            return 200, market_list(book, query, _market_event)
        if path in ("/v1/ticker/all", "/v1/ticker"):
            codes = query.get("markets", "").split(",") if query.get("markets") else [f"KRW-{b}" for b in book.bases()]
            return 200, [_ticker(book, c) for c in codes if _code(book, c)]
    except (BadParam, ValueError) as exc:
        return _error("invalid_parameter", str(exc))
    return _error("not_found", f"{path} not found", 404)


def _market_event(base: str) -> dict:
    """isDetails=true: Upbit's warning (investment caution) and caution alerts; none is raised here."""
    return {"market_event": {"warning": False, "caution": {
        "PRICE_FLUCTUATIONS": False, "TRADING_VOLUME_SOARING": False, "DEPOSIT_AMOUNT_SOARING": False,
        "GLOBAL_PRICE_DIFFERENCES": False, "CONCENTRATION_OF_SMALL_ACCOUNTS": False}}}


def fault_response(status: int, now_ms: int) -> tuple[dict, dict[str, str]]:
    if status == 429:
        return ({"error": {"name": "too_many_requests", "message": "Too many API requests."}},
                {"Remaining-Req": "group=candles; min=0; sec=0"})
    return {"error": {"name": "server_error", "message": "internal error"}}, {}


def _ticker(book: KrwBook, code: str) -> dict:
    usdt = _code(book, code)
    assert usdt is not None, code  # callers pass listed KRW markets only
    t = book.market.ticker(usdt)
    return {"market": code, "trade_price": book.price(t["lastPrice"]),
            "opening_price": book.price(t["prevPrice24h"]), "high_price": book.price(t["highPrice24h"]),
            "low_price": book.price(t["lowPrice24h"]), "acc_trade_volume_24h": t["volume24h"],
            "acc_trade_price_24h": round(t["turnover24h"] * 1400.0, 4), "timestamp": book.market.now_ms()}


class UpbitSession:
    IDLE_TIMEOUT_S: float | None = 120.0  # idle timeout 120 s

    def __init__(self, market: Market, rejected: Container[str] = frozenset()) -> None:
        self.market = market
        self.book = KrwBook(market)
        self.rejected = rejected
        self.conn_id = secrets.token_hex(4)
        self.last_client_message = time.monotonic()
        self.feeds: dict[tuple[str, str], KlineFeed] = {}
        self.tickers: dict[str, float | None] = {}

    def on_message(self, raw: str | bytes) -> list[bytes]:
        self.last_client_message = time.monotonic()
        if raw in ("PING", b"PING"):
            return [b'{"status":"UP"}']
        try:
            req = json.loads(raw)
            assert isinstance(req, list) and any(isinstance(x, dict) and "ticket" in x for x in req)
        except (ValueError, TypeError, AssertionError):
            return [json.dumps({"error": {"name": "WRONG_FORMAT", "message": "요청 포맷 오류"}}).encode()]
        feeds, tickers = {}, {}
        for item in req:
            if not isinstance(item, dict) or "type" not in item:
                continue
            kind, codes = item["type"], item.get("codes", [])
            if not codes:
                return [json.dumps({"error": {"name": "NO_CODES", "message": "codes 필드 없음"}}).encode()]
            for code in codes:
                usdt = _code(self.book, code)
                if usdt is None or f"{kind}:{code}" in self.rejected:
                    return [json.dumps({"error": {"name": "INVALID_CODE", "message": str(code)}}).encode()]
                if kind in WS_TYPES:
                    feeds[(kind, code)] = self.feeds.get((kind, code)) or KlineFeed(usdt, WS_TYPES[kind])
                elif kind == "ticker":
                    tickers[code] = self.tickers.get(code)
                else:
                    return [json.dumps({"error": {"name": "INVALID_TYPE", "message": str(kind)}}).encode()]
        self.feeds, self.tickers = feeds, tickers  # a request replaces the whole set
        return []

    def push(self) -> list[bytes]:
        frames = []
        for (kind, code), feed in self.feeds.items():
            rows, _ = feed.due(self.market)
            for c in rows:
                obj = {"type": kind, "code": code, **candle_object(self.book, code, feed.symbol,
                                                                   self.book.candle(c), None),
                       "stream_type": "REALTIME"}
                obj.pop("market")
                frames.append(json.dumps(obj).encode())
        for code, last in self.tickers.items():
            t = _ticker(self.book, code)
            if t["trade_price"] != last:
                self.tickers[code] = t["trade_price"]
                frames.append(json.dumps({"type": "ticker", "code": code,
                                          **{k: v for k, v in t.items() if k != "market"},
                                          "stream_type": "REALTIME"}).encode())
        return frames


WS_SESSIONS = {"/websocket/v1": UpbitSession}
