"""SQLite (WAL) journal of orders, fills, positions and bot state: what survives a restart.

One file (`<data>/journal.sqlite3` by default), one connection shared by the bot threads behind a lock.
Every write is committed before it returns (synchronous=FULL); writes that belong together (a fill, its order,
the position and the balance) commit as one transaction, so a crash leaves all of them or none.
"""
from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .base import REJECTED, Fill, Order, OrderRefused, OrderRequest, Position

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, executor TEXT NOT NULL, client_id TEXT NOT NULL, symbol TEXT NOT NULL,
    side TEXT NOT NULL, qty REAL NOT NULL, type TEXT NOT NULL, price REAL, status TEXT NOT NULL,
    filled_qty REAL NOT NULL, avg_price REAL NOT NULL, fee REAL NOT NULL, created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL, reduce_only INTEGER NOT NULL, bot TEXT NOT NULL, reason TEXT NOT NULL,
    take_profit REAL, stop_loss REAL, post_only INTEGER NOT NULL DEFAULT 0,
    UNIQUE (executor, client_id)
);
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, executor TEXT NOT NULL, order_id TEXT NOT NULL,
    client_id TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL, qty REAL NOT NULL, price REAL NOT NULL,
    fee REAL NOT NULL, time_ms INTEGER NOT NULL, realized_pnl REAL NOT NULL, bot TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS positions (
    executor TEXT NOT NULL, symbol TEXT NOT NULL, qty REAL NOT NULL, entry_price REAL NOT NULL,
    opened_ms INTEGER NOT NULL, bot TEXT NOT NULL, take_profit REAL, stop_loss REAL, realized_pnl REAL NOT NULL,
    PRIMARY KEY (executor, symbol)
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS fills_time ON fills (executor, time_ms);
"""
_ORDER_FIELDS = ("id", "client_id", "symbol", "side", "qty", "type", "price", "status", "filled_qty", "avg_price",
                 "fee", "created_ms", "updated_ms", "reduce_only", "bot", "reason", "take_profit", "stop_loss",
                 "post_only")
# columns added since the first journals: (name, definition) added to a journal that lacks them
_ADDED_ORDER_COLUMNS = (("post_only", "INTEGER NOT NULL DEFAULT 0"),)


class Journal:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            have = {row[1] for row in self._db.execute("PRAGMA table_info(orders)")}
            for name, definition in _ADDED_ORDER_COLUMNS:
                if name not in have:
                    self._db.execute(f"ALTER TABLE orders ADD COLUMN {name} {definition}")

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes inside commit together (one fsync, all or nothing); nests."""
        with self._lock:
            if self._db.in_transaction:
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back already (disk full, I/O error): then a ROLLBACK would raise
                # "no transaction is active" and hide the real error
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _run(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- orders -------------------------------------------------------------------------------------
    def save_order(self, executor: str, order: Order) -> None:
        values = tuple(getattr(order, f) for f in _ORDER_FIELDS)
        cols = ", ".join(_ORDER_FIELDS)
        marks = ", ".join("?" * len(_ORDER_FIELDS))
        # one row per client id: a live order is journaled as "pending-<client id>" before it is sent and
        # takes the exchange's id when the answer comes
        updates = ", ".join(f"{f}=excluded.{f}" for f in _ORDER_FIELDS if f != "client_id")
        self._run(f"INSERT INTO orders (executor, {cols}) VALUES (?, {marks}) "
                  f"ON CONFLICT(executor, client_id) DO UPDATE SET {updates}", (executor, *values))

    def order_by_client_id(self, executor: str, client_id: str) -> Order | None:
        rows = self._run(f"SELECT {', '.join(_ORDER_FIELDS)} FROM orders WHERE executor=? AND client_id=?",
                         (executor, client_id))
        return _order(rows[0]) if rows else None


    def known_order(self, executor: str, req: OrderRequest, *, exchange: str = "") -> Order | None:
        """The order a request's client id already made (a retry, or a restarted bot: never placed twice),
        None for a new id. One that was refused is refused again with its reason: nothing is retried blindly."""
        known = self.order_by_client_id(executor, req.client_id)
        if known is None:
            return None
        if known.status == REJECTED:
            raise OrderRefused(req.symbol, f"refused before, not retried: {known.reason}", exchange=exchange)
        log.info("%s: order %s already placed (%s); not sending it again", executor, req.client_id, known.status)
        return known
    def orders(self, executor: str, *, open_only: bool = False, limit: int = 1000) -> list[Order]:
        where = "executor=?" + (" AND status='new'" if open_only else "")
        rows = self._run(f"SELECT {', '.join(_ORDER_FIELDS)} FROM orders WHERE {where} "
                         f"ORDER BY created_ms DESC, rowid DESC LIMIT ?", (executor, limit))
        return [_order(r) for r in rows]

    # -- fills --------------------------------------------------------------------------------------
    def add_fill(self, executor: str, fill: Fill) -> None:
        d = asdict(fill)
        cols = list(d)
        self._run(f"INSERT INTO fills (executor, {', '.join(cols)}) VALUES (?, {', '.join('?' * len(cols))})",
                  (executor, *d.values()))

    def fills(self, executor: str, since_ms: int = 0, limit: int = 10_000) -> list[Fill]:
        rows = self._run("SELECT order_id, client_id, symbol, side, qty, price, fee, time_ms, realized_pnl, bot "
                         "FROM fills WHERE executor=? AND time_ms>=? ORDER BY seq DESC LIMIT ?",
                         (executor, since_ms, limit))
        return [Fill(*r) for r in rows]

    def realized_since(self, executor: str, since_ms: int) -> float:
        """Realized PnL net of fees since a time (the daily loss limit's measure)."""
        (value,) = self._run("SELECT COALESCE(SUM(realized_pnl - fee), 0) FROM fills WHERE executor=? AND time_ms>=?",
                             (executor, since_ms))[0]
        return float(value)

    # -- positions ----------------------------------------------------------------------------------
    def save_position(self, executor: str, pos: Position) -> None:
        if pos.qty == 0:
            self._run("DELETE FROM positions WHERE executor=? AND symbol=?", (executor, pos.symbol))
            return
        self._run("INSERT OR REPLACE INTO positions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (executor, pos.symbol, pos.qty, pos.entry_price, pos.opened_ms, pos.bot, pos.take_profit,
                   pos.stop_loss, pos.realized_pnl))

    def positions(self, executor: str) -> list[Position]:
        rows = self._run("SELECT symbol, qty, entry_price, opened_ms, bot, take_profit, stop_loss, realized_pnl "
                         "FROM positions WHERE executor=? ORDER BY opened_ms", (executor,))
        return [Position(s, q, e, o, b, tp, sl, 0.0, r) for s, q, e, o, b, tp, sl, r in rows]

    # -- state --------------------------------------------------------------------------------------
    def set_state(self, key: str, value: Any) -> None:
        self._run("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, json.dumps(value)))

    def get_state(self, key: str, default: Any = None) -> Any:
        rows = self._run("SELECT value FROM state WHERE key=?", (key,))
        return json.loads(rows[0][0]) if rows else default


def _order(row: tuple) -> Order:
    d = dict(zip(_ORDER_FIELDS, row))
    d["reduce_only"], d["post_only"] = bool(d["reduce_only"]), bool(d["post_only"])
    return Order(**d)
