"""The settings dialog's presenters: the settings file (load, checks, save, then applied to the running terminal:
SettingsPresenter) and the helpers off the GUI thread: each exchange's symbol list, the stored-keys status,
storing and removing keys, and the API-key connection test.

Each runs its blocking work (requests, ccxt, the OS keyring) in the shared background pool and hands the result
back through a queued signal to its GUI-thread object, which re-emits it; the GUI never waits on them.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from ..config import (
    Settings,
    SettingsError,
    load_settings,
    read_settings_file,
    save_settings,
    settings_from_dict,
    settings_to_dict,
    trading_from_dict,
)
from ..core.instrument import Catalog, SymbolError
from ..secrets import KeyStoreError

log = logging.getLogger(__name__)

FetchSymbols = Callable[[str, "str | None"], object]
# exchange -> its catalog (or a set of names); None while unknown
SymbolLists = Callable[[str], "Catalog | Collection[str] | None"]
# applies saved settings to the running terminal (gui.py: live_settings.apply_settings on the core) -> a change report
ApplySettings = Callable[[Settings], Awaitable[Any]]


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


class SettingsPresenter(QObject):
    """The settings file behind the dialog: loads it, checks values by config.py's rules (one field, the strategy's
    fields together, each exchange's symbols against its catalog, the whole form), writes it, and then applies it
    to the running terminal through `apply` (a coroutine function, run as a task on the running asyncio loop).
    The dialog only shows and edits fields and shows the refusals this returns.

    `saved(Settings)` once written; `applied(SettingsChange)` when applied; `apply_failed(str)` when applying
    raised (the file is written: a restart applies it)."""

    saved = Signal(object)
    applied = Signal(object)
    apply_failed = Signal(str)

    def __init__(self, settings_path: str | Path, symbol_lists: SymbolLists | None = None, *,
                 apply: ApplySettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings_path = Path(settings_path)
        self.symbol_lists: SymbolLists = symbol_lists or (lambda _exchange: None)
        self.apply = apply
        self.original = settings_from_dict({})
        self.file_data_dir: str | None = None
        self._tasks: set[asyncio.Task] = set()
        self.applying = False

    def __repr__(self) -> str:
        return f"SettingsPresenter({self.settings_path})"

    @property
    def applies_live(self) -> bool:
        return self.apply is not None

    # -- loading ----------------------------------------------------------------------------------------------
    def load(self) -> str:
        """Read the file (a small one, as the dialog opens); "" or why it could not be used (defaults shown)."""
        problem = ""
        try:
            self.original = load_settings(self.settings_path)
        except SettingsError as exc:
            problem = f"{exc}. Showing defaults; OK replaces the file."
            self.original = settings_from_dict({})
        data_dir = None
        if self.settings_path.exists():
            try:
                data_dir = read_settings_file(self.settings_path).get("data_dir")
            except SettingsError:
                data_dir = None
        self.file_data_dir = data_dir if isinstance(data_dir, str) else None
        return problem

    def base_dict(self) -> dict[str, Any]:
        """The loaded settings as the file's dict, with the file's own data dir (not an environment override)."""
        raw = settings_to_dict(self.original)
        raw.pop("data_dir", None)
        if self.file_data_dir is not None:
            raw["data_dir"] = self.file_data_dir
        return raw

    # -- checking ---------------------------------------------------------------------------------------------
    def check_value(self, path: tuple[str, ...], value: Any) -> str:
        """config.py's rule for one value (the others at their defaults): "" when accepted, else why not."""
        probe: dict[str, Any] = {}
        put_value(probe, path, value)
        try:
            if path[0] == "trading":
                trading_from_dict(probe["trading"])
            else:
                settings_from_dict(probe)
        except SettingsError as exc:
            return str(exc)
        return ""

    def check_strategy(self, values: dict[str, Any]) -> str:
        """The strategy's values depend on each other (rsi_low < rsi_high): "" or the refusal."""
        try:
            trading_from_dict({"strategy": values})
        except SettingsError as exc:
            return str(exc)
        return ""

    def check_symbols(self, exchange: str, names: list, enabled: bool) -> tuple[str, str]:
        """(verdict, message) for an exchange's symbols: "ok"; "refused" (not listed, ambiguous: with the close
        matches); "loading" (its list is not here yet: ask for it; the message is a note, not a refusal)."""
        message = self.check_value(("exchanges", exchange, "symbols"), names)
        if message:
            return "refused", message
        if not enabled or not names:
            return "ok", ""
        listed = self.symbol_lists(exchange)
        if listed is None:
            error = getattr(self.symbol_lists, "error", lambda _e: "")(exchange)
            return "loading", (f"not checked: {exchange}'s symbol list is not available ({error})" if error else
                               f"not checked yet: loading {exchange}'s symbol list…")
        if isinstance(listed, Catalog):  # each name resolved through the catalog: unknown/ambiguous, with matches
            problems = []
            for name in names:
                try:
                    listed.resolve(name)
                except SymbolError as exc:
                    problems.append(str(exc).removeprefix(f"{exchange}: "))
            return ("refused", f"not on {exchange}: " + "; ".join(problems)) if problems else ("ok", "")
        upper = {s.upper() for s in listed}
        unknown = [s for s in (v.strip().upper() for v in names) if s not in upper]
        return ("refused", f"not listed on {exchange}: {', '.join(unknown)}") if unknown else ("ok", "")

    def unified(self, exchange: str, names: list) -> list:
        """The names as unified symbols when the exchange's catalog resolves every one (what OK saves), else as
        typed (a list not loaded is saved unchecked)."""
        listed = self.symbol_lists(exchange)
        if not isinstance(listed, Catalog) or not isinstance(names, list):
            return names
        try:
            return list(dict.fromkeys(listed.resolve(n).symbol for n in names))
        except SymbolError:
            return names

    def check_form(self, raw: dict[str, Any]) -> str:
        """Each value passed alone: the whole file must pass too. "" or why not."""
        try:
            settings_from_dict(raw)
        except SettingsError as exc:
            return str(exc)
        return ""

    def settings_of(self, raw: dict[str, Any]) -> Settings:
        """The checked form's Settings; the file's own data dir, not an environment override of it."""
        settings = settings_from_dict(raw, source=self.settings_path)
        if "data_dir" in raw:
            settings = replace(settings, data_dir=Path(raw["data_dir"]).expanduser())
        return settings

    # -- saving and applying ----------------------------------------------------------------------------------
    def save(self, settings: Settings) -> str:
        """Write the file; "" when written (then `saved`, and the change is applied in the background), else why
        not (nothing applied)."""
        try:
            save_settings(settings, self.settings_path)
        except SettingsError as exc:
            return str(exc)
        self.original = settings
        self.saved.emit(settings)
        if self.apply is not None:
            self._start_apply(settings)
        return ""

    def _start_apply(self, settings: Settings) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.apply_failed.emit("settings saved but not applied (the event loop is not running); restart to "
                                   "apply them")
            return
        self.applying = True
        task = loop.create_task(self._apply(settings), name="apply-settings")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _apply(self, settings: Settings) -> None:
        assert self.apply is not None
        try:
            change = await self.apply(settings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # told to the user; the file is written, a restart applies it
            log.exception("applying the settings failed")
            self.applying = False
            self.apply_failed.emit(f"settings saved but not applied ({type(exc).__name__}: {exc}); restart to "
                                   "apply them")
            return
        self.applying = False
        self.applied.emit(change)

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()


def put_value(raw: dict, path: tuple[str, ...], value: Any) -> None:
    """Set `value` at `path` of a settings dict, making the sections on the way."""
    for key in path[:-1]:
        raw = raw.setdefault(key, {})
    raw[path[-1]] = value
