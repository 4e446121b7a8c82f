"""Each exchange's instrument catalog: from its own endpoint, cached on disk, refreshed in the background.

The app starts from the cached catalog (a slow or unreachable exchange does not hold it up) and refreshes it
in a daemon thread; with neither a cache nor an answer, symbols are kept as typed by the exchange's naming rule
and flagged unverified, so the user is told and nothing is refused for want of a list.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from ..core.errors import BadMessage, TwinStarError, excerpt, short_reason
from ..core.instrument import TRADING, Catalog, Instrument, UnknownSymbol, is_unified, typed_symbol
from ..core.names import BadName, check_exchange, check_symbol
from ..exchanges.base import ASSET_PATTERN, MAX_EPOCH_MS, ExchangeAdapter
from ..net.rest import RestClient

log = logging.getLogger(__name__)

CACHE_DIR = "_catalogs"
CACHE_VERSION = 1
MAX_CACHE_BYTES = 32 * 1024 * 1024
MAX_INSTRUMENTS = 20_000
RETRY_ENSURE_S = 60.0
RETRY_FIRST_S, RETRY_MAX_S = 5.0, 300.0  # a background refresh that failed is tried again after these
KEEP_FRESH_S = 6 * 3600.0  # a running app re-reads the lists this often (listings and delistings happen)
_FIELDS = ("symbol", "native", "base", "quote", "settle", "kind", "tick_size", "lot_size", "min_qty", "min_notional",
           "status", "contract_size", "tick_table")
# a symbol kept as typed while there is no catalog: trades on a fine grid (as the paper executor did before)
PROVISIONAL_RULES: dict[str, Any] = dict(tick_size=1e-8, lot_size=1e-6, min_qty=1e-6, min_notional=0.0)


class CatalogError(TwinStarError):
    """The catalog could not be loaded from the exchange or from the cache (the message says why)."""


def primary_quote(adapter: ExchangeAdapter) -> str:
    return adapter.quote_currency


def cache_path(root: Path, exchange: str) -> Path:
    return root / CACHE_DIR / f"{check_exchange(exchange)}.json"


def write_cache(root: Path, catalog: Catalog) -> Path:
    """The catalog as JSON, written to a temp file and renamed (a crash leaves the old or the new file)."""
    path = cache_path(root, catalog.exchange)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [[getattr(i, f) for f in _FIELDS] for i in catalog.instruments]
    text = json.dumps({"version": CACHE_VERSION, "exchange": catalog.exchange, "fetched_ms": catalog.fetched_ms,
                       "fields": list(_FIELDS), "instruments": rows}, separators=(",", ":"))
    # a temp file of its own per write: a background refresh and one from `ensure` may write at once, and with one
    # shared name each truncated the other's file while it was being renamed into place
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with open(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def read_cache(root: Path, adapter: ExchangeAdapter) -> Catalog | None:
    """The cached catalog of the adapter's exchange, or None when there is none. A damaged or foreign file (or one
    with no usable row) is logged and ignored (it is a cache: the exchange's answer replaces it); an odd row is
    logged and left out."""
    path = cache_path(root, adapter.name)
    try:
        if not path.is_file():
            return None
        if path.stat().st_size > MAX_CACHE_BYTES:
            raise CatalogError(f"{path.stat().st_size} bytes, more than a catalog can be")
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
        return _from_json(data, adapter)
    except (OSError, ValueError, TypeError, KeyError, CatalogError, RecursionError, OverflowError) as exc:
        log.error("%s: instrument cache %s ignored (%s)", adapter.name, path, excerpt(exc, 120))
        return None


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number here")


def _from_json(data: object, adapter: ExchangeAdapter) -> Catalog:
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or data.get("exchange") != adapter.name:
        raise CatalogError("not a catalog of this exchange and version")
    fields, rows, fetched = data.get("fields"), data.get("instruments"), data.get("fetched_ms")
    if fields != list(_FIELDS) or not isinstance(rows, list) or len(rows) > MAX_INSTRUMENTS:
        raise CatalogError("unexpected layout")
    if not isinstance(fetched, int) or isinstance(fetched, bool) or not 0 < fetched <= MAX_EPOCH_MS:
        raise CatalogError("no valid fetch time")  # (a 400-digit one overflowed when its age was computed)
    out, refused = [], []
    for row in rows:  # one odd row is left out, as from the exchange: the good ones still serve
        try:
            out.append(_instrument_of(row, adapter))
        except (CatalogError, ValueError, TypeError, KeyError, OverflowError) as exc:
            refused.append(f"{excerpt(exc, 80)} in {excerpt(repr(row), 120)}")
    if not out:  # a list of nothing is no list (as the exchange's own empty answer is not)
        raise CatalogError(f"no usable instrument row{f' ({refused[0]})' if refused else ''}")
    if refused:
        log.error("%s: %d row(s) of the instrument cache left out, e.g. %s", adapter.name, len(refused), refused[0])
    return Catalog(adapter.name, out, fetched_ms=fetched, primary_quote=primary_quote(adapter))


def _instrument_of(row: object, adapter: ExchangeAdapter) -> Instrument:
    """One cached instrument row, checked as the exchange's list is; else CatalogError, ValueError or TypeError."""
    if not isinstance(row, list) or len(row) != len(_FIELDS):
        raise CatalogError("an instrument row of the wrong length")
    values = dict(zip(_FIELDS, row))
    check_symbol(values["native"])
    for key in ("base", "quote") + (("settle",) if values["settle"] != "" else ()):
        if not isinstance(values[key], str) or not ASSET_PATTERN.fullmatch(values[key]):
            raise CatalogError(f"bad {key} asset {excerpt(repr(values[key]), 30)}")
    for key in ("symbol", "status"):
        if not isinstance(values[key], str) or len(values[key]) > 80:
            raise CatalogError(f"bad {key}")
    table = values["tick_table"]
    if not isinstance(table, list) or len(table) > 64 or not all(
            isinstance(pair, list) and len(pair) == 2 and all(_is_number(v) for v in pair) for pair in table):
        raise CatalogError("bad tick table")  # (strings were taken: float("nan") is a number to Python)
    values["tick_table"] = tuple((float(a), float(b)) for a, b in table)
    for key in ("tick_size", "lot_size", "min_qty", "min_notional", "contract_size"):
        if not _is_number(values[key]):
            raise CatalogError(f"{key} is not a number")
    inst = Instrument(adapter.name, **values)  # checks the numbers' ranges, the tick table's order, the status
    if inst.settle not in ("", inst.quote):
        raise CatalogError(f"instrument {inst.native} is settled in {inst.settle}, not in its quote")
    if inst.kind != adapter.market_kind or inst.symbol != _expected_symbol(inst) \
            or inst.quote != adapter.quote_currency or inst.native != _native_of(adapter, inst):
        raise CatalogError(f"instrument {inst.native} does not fit {adapter.name}")
    return inst


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _expected_symbol(inst: Instrument) -> str:
    return f"{inst.base}/{inst.quote}:{inst.settle}" if inst.settle else f"{inst.base}/{inst.quote}"


def _native_of(adapter: ExchangeAdapter, inst: Instrument) -> str | None:
    """The venue's name for the instrument's base and quote (what the exchange's list is checked against)."""
    try:
        return adapter.native_symbol(inst.base, inst.quote)
    except ValueError:
        return None


def provisional(adapter: ExchangeAdapter, text: str) -> Instrument:
    """An instrument made from a typed name by the exchange's naming rule alone (no catalog to check it):
    the unified symbol, or the native id, as typed. UnknownSymbol when the name fits neither."""
    raw = typed_symbol(adapter.name, text)
    typed_unified = is_unified(raw.upper())
    try:
        native = adapter.native(raw.upper()) if typed_unified else raw
        check_symbol(native)
        try:
            base, quote = adapter.split_symbol(native)
        except ValueError:
            alone = native.upper()  # a base asset alone: BTC -> BTC in the venue's quote (not BTCUSDT on OKX)
            if typed_unified or not ASSET_PATTERN.fullmatch(alone) or alone.endswith(adapter.quote_currency) \
                    or len(alone) > 12:
                raise
            base, quote = alone, adapter.quote_currency
        native = adapter.native_symbol(base, quote)
        symbol = adapter.unified(native)
        if typed_unified and symbol != raw.upper():  # BTC/USDT:USDC is not BTC/USDT:USDT
            raise ValueError(f"by the naming rule it would be {symbol}")
        base, quote = base.upper(), quote.upper()
        for asset in (base, quote):
            if not ASSET_PATTERN.fullmatch(asset):
                raise ValueError(f"{excerpt(repr(asset), 30)} is not an asset name")
        if quote != adapter.quote_currency:  # the catalog keeps only these: a provisional USDC perp would vanish
            raise ValueError(f"only {adapter.quote_currency} instruments are traded here, not {quote}")
    except (ValueError, BadName) as exc:
        raise UnknownSymbol(adapter.name, raw, f"cannot be checked (no instrument list yet) and does not follow "
                                               f"its naming ({excerpt(exc, 80)})") from None
    settle = quote if adapter.market_kind != "spot" else ""
    return Instrument(adapter.name, symbol, native, base, quote, settle, adapter.market_kind, status=TRADING,
                      **PROVISIONAL_RULES)


class CatalogBook:
    """The current catalog of one exchange, with its origin: from the exchange now, from the disk cache (of a
    stated age), or none yet (names are then kept as typed, unverified). Thread-safe."""

    def __init__(self, rest: RestClient, cache_root: Path | None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.rest = rest
        self.adapter = rest.adapter
        self.exchange = self.adapter.name
        self.cache_root = cache_root
        self.clock = clock
        self._lock = threading.Lock()
        self._ensure_lock = threading.Lock()
        self._loaded = threading.Event()  # set once a fetch has finished, whatever its outcome
        self._thread: threading.Thread | None = None
        self.error = ""  # why the last fetch failed ("" after a success)
        self.source = "none"  # "exchange", "cache" or "none"
        self._last_try = float("-inf")  # monotonic time the last refresh started (ensure() waits after one)
        cached = read_cache(cache_root, self.adapter) if cache_root is not None else None
        if cached is not None:
            self._catalog, self.source = cached, "cache"
        else:
            self._catalog = Catalog(self.exchange, (), primary_quote=primary_quote(self.adapter))

    def __repr__(self) -> str:
        return f"CatalogBook({self.exchange}, {self.source}, {len(self._catalog)} instruments)"

    @property
    def catalog(self) -> Catalog:
        with self._lock:
            return self._catalog

    @property
    def verified(self) -> bool:
        return self.catalog.verified

    def age_s(self) -> float | None:
        cat = self.catalog
        return max(0.0, self.clock() - cat.fetched_ms / 1000) if cat.verified else None

    def status(self) -> str:
        """One line for the status bar / log: where the list came from and how old it is."""
        cat = self.catalog
        why = f" ({self.error})" if self.error else ""
        if self.source == "exchange":  # a later refresh that failed is said: the list is getting old
            return f"{self.exchange}: {len(cat)} instruments{why}"
        if self.source == "cache":
            ahead = cat.fetched_ms / 1000 - self.clock() > 3600  # the computer's clock was set back
            age = "of unknown age (dated in the future)" if ahead else f"{_age(self.age_s() or 0)} old"
            return f"{self.exchange}: {len(cat)} instruments from a cache {age}{why}"
        return f"{self.exchange}: no instrument list yet{why}; symbols are unverified"

    def load_failure(self) -> str:
        """What the last failed fetch means, in one line: "<exchange>: instrument list not loaded (<why>)"; "" after
        a success."""
        return f"{self.exchange}: instrument list not loaded ({self.error})" if self.error else ""

    def refresh(self) -> Catalog:
        """Fetch the list from the exchange now (in the calling thread); the cache is rewritten. On failure the
        current catalog stays, the error is kept for `status`, and it is raised again as CatalogError."""
        self._last_try = time.monotonic()
        try:
            instruments = self.rest.fetch_instruments()
        except TwinStarError as exc:
            # an answer we could not read: what it said and why it was refused
            detail = f": {excerpt(f'{exc.reason}: {exc.excerpt}', 120)}" if isinstance(exc, BadMessage) else ""
            self.error = short_reason(exc) + detail
            self._loaded.set()
            raise CatalogError(self.load_failure()) from exc
        if not instruments:
            self.error = "the exchange listed no instruments"
            self._loaded.set()
            raise CatalogError(self.load_failure())
        fetched = int(self.clock() * 1000)
        if len(instruments) > MAX_INSTRUMENTS:
            log.warning("%s: the exchange listed %d instruments; the first %d are kept", self.exchange,
                        len(instruments), MAX_INSTRUMENTS)
        catalog = Catalog(self.exchange, instruments[:MAX_INSTRUMENTS], fetched_ms=fetched,
                          primary_quote=primary_quote(self.adapter))
        with self._lock:
            self._catalog, self.source, self.error = catalog, "exchange", ""
        self._loaded.set()
        if self.cache_root is not None:
            try:
                write_cache(self.cache_root, catalog)
            except OSError as exc:
                log.error("%s: instrument cache not written (%s)", self.exchange, exc)
        log.info("%s: instrument list loaded, %d instruments (%d trading)", self.exchange, len(catalog),
                 len(catalog.symbols()))
        return catalog

    def refresh_in_background(self, *, keep_fresh: bool = False) -> threading.Thread:
        """Start a refresh in a daemon thread (once at a time); failures are logged, the cache stays in use.
        `keep_fresh`: a failed refresh is tried again (5 s, doubling to 5 min) until the exchange answers, and a
        good list is refreshed every KEEP_FRESH_S (listings change); until the REST client is closed."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return self._thread
            self._loaded.clear()
            target = self._keep_fresh if keep_fresh else self._refresh_quietly
            self._thread = threading.Thread(target=target, name=f"catalog-{self.exchange}", daemon=True)
            self._thread.start()
            return self._thread

    def _keep_fresh(self) -> None:
        delay = RETRY_FIRST_S
        while not self.rest.closed:
            ok = self._refresh_quietly()
            wait = KEEP_FRESH_S if ok else delay
            delay = RETRY_FIRST_S if ok else min(delay * 2, RETRY_MAX_S)
            end = time.monotonic() + wait
            while not self.rest.closed and time.monotonic() < end:  # wakes within a second of the client closing
                time.sleep(min(1.0, max(0.0, end - time.monotonic())))

    def _refresh_quietly(self) -> bool:
        """A refresh whose failure is logged, not raised; True when the exchange gave its list."""
        try:
            self.refresh()
            return True
        except CatalogError as exc:
            if not getattr(self.rest, "closed", False):  # stopping: not worth a warning
                log.warning("%s; %s", exc, {"cache": "using the cached list",
                                            "exchange": "using the list loaded before"}
                            .get(self.source, "symbols are kept as typed, unverified"))
        except Exception:  # a background thread must say what killed it
            log.exception("%s: instrument list refresh failed", self.exchange)
            self._loaded.set()
        return False

    @property
    def refreshing(self) -> bool:
        """A background refresh was started and its first try has not ended yet."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._loaded.is_set()

    def wait_loaded(self, timeout: float) -> bool:
        """Wait up to `timeout` s for a running refresh; True when one has finished (well or not)."""
        return self._loaded.wait(timeout)

    def ensure(self, timeout: float = 15.0) -> Catalog:
        """A verified catalog if one can be had: the current one when verified, else a refresh now (waiting up
        to `timeout` s for one already running). Never raises: the unverified catalog is the answer then."""
        if self.catalog.verified:
            return self.catalog
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._loaded.wait(timeout)
            return self.catalog
        with self._ensure_lock:  # callers from several threads at once: one refresh, the others wait for it
            if not self.catalog.verified and time.monotonic() - self._last_try >= RETRY_ENSURE_S:
                # an exchange that is down is not asked per order (nor right after a background refresh failed)
                self._refresh_quietly()
        return self.catalog

    def resolve(self, text: str) -> Instrument:
        """What a user typed -> one instrument of this exchange (see Catalog.resolve); with no list at all, the
        name is kept as typed by the exchange's naming rule (unverified)."""
        cat = self.catalog
        if cat.verified:
            return cat.resolve(text)
        return provisional(self.adapter, text)

    def instrument(self, symbol: str) -> Instrument:
        """The instrument of a unified symbol (or native id) already resolved: the catalog's, else provisional."""
        cat = self.catalog
        found = cat.get(symbol) or cat.by_native(symbol)
        return found if found is not None else provisional(self.adapter, symbol)


def fetch_book(exchange: str, rest_url: str | None, cache_root: Path | None, *, retries: int = 2,
               timeout: float = 10.0) -> CatalogBook:
    """One exchange's catalog for a one-off use (a command, a dialog, a name check): fetched from the exchange
    now; when that fails, the cached list (or none) is kept and `error`/`status()` say why, never raised: an
    outage is not an unknown symbol. Its REST client is closed on return (the book cannot refresh itself).
    ValueError for an unknown exchange. Blocking."""
    from ..exchanges.registry import get_exchange

    rest = RestClient(get_exchange(exchange, rest_url=rest_url), retries=retries, timeout=timeout)
    try:
        book = CatalogBook(rest, cache_root)
        try:
            book.refresh()
        except CatalogError as exc:
            log.debug("%s", exc)  # kept in book.error for the caller to say as it sees fit
    finally:
        rest.close()
    return book


def _age(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86_400:.0f} days"
