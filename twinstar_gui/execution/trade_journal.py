"""SQLite (WAL) journal of orders, fills, positions and bot state: what survives a restart.

One file (`<data>/journal.sqlite3` by default), one connection shared by the bot threads behind a lock.
Every write is committed before it returns (synchronous=FULL); writes that belong together (a fill, its order,
the position and the balance) commit as one transaction, so a crash leaves all of them or none.

MemoryJournal answers the same calls from Python dicts, for a run that needs nothing to survive it (a backtest): no
SQL per order, fill and price. tests/execution/test_memory_journal.py holds the two to the same answers.
"""
from __future__ import annotations

import bisect
import contextlib
import dataclasses
import functools
import json
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

from .base import NEW, REJECTED, Fill, Order, OrderRefused, OrderRequest, Position

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
_SAVE_ORDER = (f"INSERT INTO orders (executor, {', '.join(_ORDER_FIELDS)}) "
               f"VALUES (?, {', '.join('?' * len(_ORDER_FIELDS))}) ON CONFLICT(executor, client_id) DO UPDATE SET "
               + ", ".join(f"{f}=excluded.{f}" for f in _ORDER_FIELDS if f != "client_id"))
_FILL_FIELDS = tuple(f.name for f in fields(Fill))
_ADD_FILL = f"INSERT INTO fills (executor, {', '.join(_FILL_FIELDS)}) VALUES (?, {', '.join('?' * len(_FILL_FIELDS))})"
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
        # one row per client id: a live order is journaled as "pending-<client id>" before it is sent and
        # takes the exchange's id when the answer comes
        self._run(_SAVE_ORDER, (executor, *(getattr(order, f) for f in _ORDER_FIELDS)))

    def order_by_client_id(self, executor: str, client_id: str) -> Order | None:
        rows = self._run(f"SELECT {', '.join(_ORDER_FIELDS)} FROM orders WHERE executor=? AND client_id=?",
                         (executor, client_id))
        return _order(rows[0]) if rows else None


    def known_order(self, executor: str, req: OrderRequest, *, exchange: str = "") -> Order | None:
        """The order a request's client id already made (a retry, or a restarted bot: never placed twice),
        None for a new id. One that was refused is refused again with its reason: nothing is retried blindly."""
        return _known(executor, req, self.order_by_client_id(executor, req.client_id), exchange)
    def orders(self, executor: str, *, open_only: bool = False, limit: int = 1000) -> list[Order]:
        where = "executor=?" + (" AND status='new'" if open_only else "")
        rows = self._run(f"SELECT {', '.join(_ORDER_FIELDS)} FROM orders WHERE {where} "
                         f"ORDER BY created_ms DESC, rowid DESC LIMIT ?", (executor, limit))
        return [_order(r) for r in rows]

    # -- fills --------------------------------------------------------------------------------------
    def add_fill(self, executor: str, fill: Fill) -> None:
        self._run(_ADD_FILL, (executor, *(getattr(fill, f) for f in _FILL_FIELDS)))

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


def _drop_last(items: list) -> None:
    items.pop()


def _known(executor: str, req: OrderRequest, known: Order | None, exchange: str) -> Order | None:
    if known is None:
        return None
    if known.status == REJECTED:
        raise OrderRefused(req.symbol, f"refused before, not retried: {known.reason}", exchange=exchange)
    log.info("%s: order %s already placed (%s); not sending it again", executor, req.client_id, known.status)
    return known


class MemoryJournal(Journal):
    """Journal's calls answered from memory (nothing survives the process): a backtest's account. Values are kept as
    copies (a caller changing an Order it passed or got back changes nothing here), state as JSON text, as in the
    file. A transaction that fails is undone, as SQLite's is. realized_since adds in time order, as SQLite's SUM
    does up to 3.42 (3.43 and newer compensate: the last bits may differ there). A Journal by type, with every call
    of it overridden (no SQLite connection behind it: a call not overridden here fails loudly)."""

    def __init__(self) -> None:  # no super().__init__: there is no database
        self.path = Path(":memory:")
        self._lock = threading.RLock()
        self._orders: dict[tuple[str, str], Order] = {}  # (executor, client id) -> order; insertion order = rowid
        self._fills: dict[str, list[Fill]] = {}  # executor -> fills, oldest first
        self._fill_times: dict[str, list[int]] = {}  # executor -> their times, in the same order
        self._unsorted: set[str] = set()  # executors with a fill older than one before it
        self._positions: dict[tuple[str, str], Position] = {}
        self._state: dict[str, str] = {}
        self._realized: dict[tuple[str, int], float] = {}  # realized_since's answers, kept up to date by add_fill
        self._undo: list[Callable[[], None]] | None = None  # inside a transaction: how to take its writes back

    def __repr__(self) -> str:
        return "MemoryJournal()"

    def close(self) -> None:
        pass

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._undo is not None:
                yield
                return
            self._undo = []
            try:
                yield
            except BaseException:
                for undo in reversed(self._undo):
                    undo()
                raise
            finally:
                self._undo = None

    def _keep(self, table: dict, key: Any, value: Any) -> None:
        """table[key] = value (None: delete), undone with the transaction it is in."""
        if self._undo is not None:
            had, was = key in table, table.get(key)
            self._undo.append(lambda: table.__setitem__(key, was) if had else table.pop(key, None))
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value

    # -- orders -------------------------------------------------------------------------------------
    def save_order(self, executor: str, order: Order) -> None:
        with self._lock:
            self._keep(self._orders, (executor, order.client_id), order.copy())

    def order_by_client_id(self, executor: str, client_id: str) -> Order | None:
        with self._lock:
            o = self._orders.get((executor, client_id))
            return None if o is None else o.copy()

    def known_order(self, executor: str, req: OrderRequest, *, exchange: str = "") -> Order | None:
        return _known(executor, req, self.order_by_client_id(executor, req.client_id), exchange)

    def orders(self, executor: str, *, open_only: bool = False, limit: int = 1000) -> list[Order]:
        with self._lock:
            mine = [o for (ex, _), o in self._orders.items() if ex == executor and (not open_only or o.status == NEW)]
        mine.reverse()  # newest row first among equal times, as "rowid DESC"
        mine.sort(key=lambda o: o.created_ms, reverse=True)  # stable: keeps that order among equal times
        return [o.copy() for o in mine[:limit]]

    # -- fills --------------------------------------------------------------------------------------
    def add_fill(self, executor: str, fill: Fill) -> None:
        with self._lock:
            fills = self._fills.setdefault(executor, [])
            times = self._fill_times.setdefault(executor, [])
            late = bool(times) and fill.time_ms < times[-1]
            if fill.realized_pnl == 0.0 and math.copysign(1.0, fill.realized_pnl) < 0:  # SQLite keeps -0.0 as 0.0
                fill = dataclasses.replace(fill, realized_pnl=0.0)
            fills.append(fill)  # a Fill is frozen: kept as it is
            times.append(fill.time_ms)
            if late:  # older than the last: the sums are made again, in time order, as the query adds them
                self._unsorted.add(executor)
                self._realized.clear()
            for key in self._realized:  # the sums it belongs to: it is the newest, added last as the query would
                if key[0] == executor and fill.time_ms >= key[1]:
                    self._realized[key] += fill.realized_pnl - fill.fee
            if self._undo is not None:
                self._undo += [functools.partial(_drop_last, fills), functools.partial(_drop_last, times),
                               self._realized.clear]

    def fills(self, executor: str, since_ms: int = 0, limit: int = 10_000) -> list[Fill]:
        with self._lock:
            out = [f for f in reversed(self._fills.get(executor, [])) if f.time_ms >= since_ms]
        return out[:limit]

    def realized_since(self, executor: str, since_ms: int) -> float:
        with self._lock:
            known = self._realized.get((executor, since_ms))
            if known is None:
                known = 0.0
                fills = self._fills.get(executor, [])
                if executor in self._unsorted:  # in time order, as the query reads them (its index: executor, time)
                    since = sorted((f for f in fills if f.time_ms >= since_ms), key=lambda f: f.time_ms)
                else:  # in time order already (a backtest's): only those since the time, not a year of them per day
                    since = fills[bisect.bisect_left(self._fill_times[executor], since_ms):] if fills else []
                for f in since:
                    known += f.realized_pnl - f.fee
                if len(self._realized) >= 16:  # the risk guard asks for today: yesterday's sums are let go
                    del self._realized[next(iter(self._realized))]
                self._realized[(executor, since_ms)] = known
            return known

    # -- positions ----------------------------------------------------------------------------------
    def save_position(self, executor: str, pos: Position) -> None:
        with self._lock:
            self._keep(self._positions, (executor, pos.symbol), None if pos.qty == 0 else
                       Position(pos.symbol, pos.qty, pos.entry_price, pos.opened_ms, pos.bot, pos.take_profit,
                                pos.stop_loss, 0.0, pos.realized_pnl + 0.0))  # as the file keeps it: no mark, no -0

    def positions(self, executor: str) -> list[Position]:
        with self._lock:
            mine = [p.copy() for (ex, _), p in self._positions.items() if ex == executor]
        return sorted(mine, key=lambda p: (p.opened_ms, p.symbol))  # SQLite reads its (executor, symbol) index

    # -- state --------------------------------------------------------------------------------------
    def set_state(self, key: str, value: Any) -> None:
        # a balance after every fill: a finite float's JSON is its repr
        text = repr(value) if type(value) is float and math.isfinite(value) else json.dumps(value)
        with self._lock:
            self._keep(self._state, key, text)

    def get_state(self, key: str, default: Any = None) -> Any:
        text = self._state.get(key)
        if text is None:
            return default
        return None if text == "null" else json.loads(text)  # the kill switch's "null": read on every price
