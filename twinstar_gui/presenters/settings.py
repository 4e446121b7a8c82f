"""Settings dialog's helpers off the GUI thread: each exchange's symbol list, the stored-keys status, storing
and removing keys, and the API-key connection test.

Each runs its blocking work (requests, ccxt, the OS keyring) in the shared background pool and hands the result
back through a queued signal to its GUI-thread object, which re-emits it; the GUI never waits on them.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from ..core.instrument import Catalog
from ..secrets import KeyStoreError

log = logging.getLogger(__name__)

FetchSymbols = Callable[[str, "str | None"], object]


def fetch_symbols(exchange: str, rest_url: str | None) -> Catalog:
    """The exchange's instrument catalog from its own endpoint. Blocking; CatalogError when it cannot be had."""
    from ..data.catalogs import CatalogError, fetch_book

    book = fetch_book(exchange, rest_url, None, retries=1, timeout=10.0)
    if book.error:
        raise CatalogError(book.load_failure())
    return book.catalog


class _Job(QRunnable):
    """Runs `work()` in the pool and reports (tag, ok, result) on `done` (a signal of a GUI-thread object)."""

    def __init__(self, done, tag: str, work: Callable[[], object], scrub: Callable[[str], str]) -> None:
        super().__init__()
        self._done, self._tag, self._work, self._scrub = done, tag, work, scrub

    def __repr__(self) -> str:
        return f"_Job({self._tag})"

    def run(self) -> None:
        try:
            ok, result = True, self._work()
        except Exception as exc:  # noqa: BLE001 - reported to the user, scrubbed of secrets
            ok, result = False, self._scrub(str(exc) or type(exc).__name__)
        with contextlib.suppress(RuntimeError):  # the receiver is gone (window closed meanwhile): nobody to tell
            self._done.emit(self._tag, ok, result)


_POOL: QThreadPool | None = None


def background_pool() -> QThreadPool:
    """One pool for the settings' background jobs, owned by no dialog: destroying a pool waits for its jobs,
    so a dialog-owned pool made closing the dialog wait for a hanging keyring read or a slow connection test
    on the GUI thread. A late result finds its receiver gone and is dropped (see _Job)."""
    global _POOL
    if _POOL is None:
        _POOL = QThreadPool()
        _POOL.setMaxThreadCount(8)
    return _POOL


class _Background(QObject):
    """Runs jobs in the background pool; each (tag, ok, result) comes back to `_on_done` on the GUI thread."""

    _done = Signal(str, bool, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = background_pool()
        self._done.connect(self._on_done)

    def _submit(self, tag: str, work: Callable[[], object], scrub: Callable[[str], str] = lambda t: t) -> None:
        self.pool.start(_Job(self._done, tag, work, scrub))

    def _on_done(self, tag: str, ok: bool, result: object) -> None:
        raise NotImplementedError


class SymbolCatalog(_Background):
    """{exchange: set of listed symbols}, fetched on request in the background, kept for the session."""

    changed = Signal(str)  # exchange whose list arrived or failed

    def __init__(self, fetch: FetchSymbols = fetch_symbols, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fetch = fetch
        self._lists: dict[str, Catalog | frozenset[str]] = {}
        self._errors: dict[str, str] = {}
        self._pending: set[str] = set()

    def symbols(self, exchange: str) -> Catalog | frozenset[str] | None:
        """The exchange's catalog (a plain set of names from a simpler source), or None while unknown (call
        `request`; `changed` fires when it arrives)."""
        return self._lists.get(exchange)

    __call__ = symbols  # the dialog's `symbol_lists` callable

    def error(self, exchange: str) -> str:
        return self._errors.get(exchange, "")

    def loading(self, exchange: str) -> bool:
        return exchange in self._pending

    def request(self, exchange: str, rest_url: str | None = None, *, refresh: bool = False) -> None:
        """Fetch the list unless it is known, loading, or failed (a failure is retried only with refresh)."""
        if exchange in self._pending or ((exchange in self._lists or exchange in self._errors) and not refresh):
            return
        self._pending.add(exchange)
        self._errors.pop(exchange, None)
        self._lists.pop(exchange, None)  # a refresh: the old list may be another server's
        self._submit(exchange, lambda: self._fetch(exchange, rest_url))

    @Slot(str, bool, object)
    def _on_done(self, exchange: str, ok: bool, result: Any) -> None:
        self._pending.discard(exchange)
        if ok:
            self._lists[exchange] = result if isinstance(result, Catalog) else frozenset(str(s).upper() for s in result)
        else:
            self._errors[exchange] = str(result)
            log.warning("%s: could not load the symbol list: %s", exchange, result)
        self.changed.emit(exchange)


class KeyStatus(_Background):
    """Whether each exchange has stored API keys, read in a worker: an OS keyring can block (a locked
    keyring's unlock prompt, a slow D-Bus) and the dialog must open at once. One job reads them all in turn,
    so a hanging keyring holds one pool thread, not one per exchange."""

    changed = Signal(str, str, str)  # exchange, "yes" / "none" / "unknown", error for the user ("" if none)

    def __init__(self, load_keys: Callable[[str], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._load = load_keys

    def request(self, exchanges: list[str]) -> None:
        self._submit("keys", lambda: [self._read(exchange) for exchange in exchanges])

    def _read(self, exchange: str) -> tuple[str, str, str]:
        try:
            return exchange, "yes" if self._load(exchange) is not None else "none", ""
        except Exception as exc:  # noqa: BLE001 - the keyring refused or failed: told at the field
            return exchange, "unknown", str(exc) or type(exc).__name__

    @Slot(str, bool, object)
    def _on_done(self, _tag: str, ok: bool, result: Any) -> None:
        if ok:
            for exchange, status, error in result:
                self.changed.emit(exchange, status, error)


class KeyWriter(_Background):
    """Stores or removes API keys in a worker. An OS keyring can block (an unlock prompt waiting for the user)
    and the GUI thread also runs the streams' event loop: a save there froze the window and starved the
    heartbeats. The dialog runs one job at a time."""

    finished = Signal(str, object)  # "save" or "remove", [(exchange, error or "")] in order; stops at an error

    def __init__(self, store: Callable[..., None], remove: Callable[[str], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store, self._remove = store, remove

    def save(self, keys: list, plaintext_file=None) -> None:
        """`keys`: ApiKeys to store in turn (the first refusal stops the rest)."""
        def work() -> list[tuple[str, str]]:
            done = []
            for k in keys:
                try:
                    self._store(k, plaintext_file=plaintext_file)
                except (KeyStoreError, ValueError) as exc:
                    done.append((k.exchange, str(exc)))
                    break
                done.append((k.exchange, ""))
            return done
        self._submit(f"save:{keys[0].exchange if keys else ''}", work,
                     scrubber(*(v for k in keys for v in (k.key, k.secret, k.passphrase))))

    def remove(self, exchange: str) -> None:
        def work() -> list[tuple[str, str]]:
            try:
                self._remove(exchange)
            except KeyStoreError as exc:
                return [(exchange, str(exc))]
            return [(exchange, "")]
        self._submit(f"remove:{exchange}", work)

    @Slot(str, bool, object)
    def _on_done(self, tag: str, ok: bool, result: object) -> None:
        job, _, first = tag.partition(":")  # a failure outside the keyring calls: told against the first exchange
        self.finished.emit(job, result if ok else [(first, str(result))])


def scrubber(*secrets: str) -> Callable[[str], str]:
    """A function that replaces every given secret (and the key) in a text with ***."""
    hide = sorted((s for s in secrets if s), key=len, reverse=True)

    def scrub(text: str) -> str:
        for s in hide:
            text = text.replace(s, "***")
        return text
    return scrub


class ConnectionTester(_Background):
    """Signs real requests with the keys (ccxt through LiveExecutor) and says OK or why not."""

    finished = Signal(str, bool, str)  # exchange, ok, message for the user (never a secret)

    def __init__(self, load_keys: Callable[[str], object] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._load_keys = load_keys  # for "test the stored keys": read in the worker, never on the GUI thread
        self.busy: set[str] = set()

    def __repr__(self) -> str:
        return f"ConnectionTester(busy={sorted(self.busy)})"

    def test(self, exchange: str, keys=None, rest_url: str | None = None) -> bool:
        """Test `keys` (an ApiKeys), or the stored keys when None; False if a test of that exchange runs."""
        if exchange in self.busy:
            return False
        self.busy.add(exchange)
        self._submit(exchange, lambda: _check_keys(exchange, keys, rest_url, self._load_keys))
        return True

    @Slot(str, bool, object)
    def _on_done(self, exchange: str, ok: bool, result: Any) -> None:
        self.busy.discard(exchange)
        passed, text = result if ok else (False, str(result))
        log.info("%s: connection test %s: %s", exchange, "passed" if passed else "failed", text)
        self.finished.emit(exchange, passed, text)


def _check_keys(exchange: str, keys, rest_url: str | None, load) -> tuple[bool, str]:
    """(ok, message); every failure is caught here so the message can be scrubbed of the keys."""
    if keys is None:
        try:
            keys = load(exchange) if load is not None else None
        except Exception as exc:  # noqa: BLE001 - KeyStoreError: its text never holds a secret
            return False, str(exc)
        if keys is None:
            return False, f"no API keys stored for {exchange}"
    scrub = scrubber(keys.key, keys.secret, keys.passphrase)
    try:
        from ..execution.live import LiveExecutor

        executor = LiveExecutor.connect(exchange, keys, rest_url=rest_url)
        try:
            executor.refresh()  # positions, orders, balance: signed on every exchange, unlike some market loads
        finally:
            executor.stop()
    except Exception as exc:  # noqa: BLE001 - ccxt's and our errors, worded for the user
        return False, scrub(str(exc) or type(exc).__name__)
    return True, f"OK: {exchange} accepted the keys (balance {executor.balance():,.2f})"
