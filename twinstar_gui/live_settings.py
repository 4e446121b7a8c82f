"""Settings applied to the running Core without a restart: exchanges, symbols, memory windows and timeframes.

Runs on the asyncio loop that owns the feeds; disk and REST work go to threads. No Qt: the window calls it
through the settings presenter, a headless runner may call it directly. One item that fails (a symbol the
exchange does not list, an exchange that cannot be reached) is reported and the others still apply.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .config import Settings
from .core.instrument import SymbolError
from .data.catalogs import CatalogBook
from .data.feed import MarketFeed
from .wiring import Core, build_feed, feed_windows

log = logging.getLogger(__name__)

CATALOG_WAIT_S = 10.0  # longest a change waits for an exchange's instrument list to check its symbols
STOP_WAIT_S = 5.0  # longest a removed exchange's streams get to close

BuildFeed = Callable[[Core, str, Settings], "tuple[MarketFeed, CatalogBook] | None"]
Series = tuple[str, str]  # (exchange, native id)


@dataclass(frozen=True, slots=True)
class SettingsChange:
    """What a settings change did to the running streams, and what of it failed (one line per item)."""

    exchanges_added: tuple[str, ...] = ()
    exchanges_removed: tuple[str, ...] = ()
    exchanges_rebuilt: tuple[str, ...] = ()  # its URLs changed: its streams were built anew
    symbols_added: tuple[Series, ...] = ()
    symbols_removed: tuple[Series, ...] = ()
    symbols_held: tuple[Series, ...] = ()  # left out of the settings but held by a bot or the chart: still streamed
    windows: tuple[tuple[str, int, int], ...] = ()  # (timeframe, old size, new size)
    timeframes: tuple[str, ...] | None = None  # the chart's timeframes when they changed
    failures: tuple[str, ...] = ()
    names: Mapping[Series, str] = field(default_factory=dict, compare=False)  # unified symbols, for text()

    @property
    def changed(self) -> bool:
        return any((self.exchanges_added, self.exchanges_removed, self.exchanges_rebuilt, self.symbols_added,
                    self.symbols_removed, self.symbols_held, self.windows, self.timeframes is not None))

    def shown(self, series: Series) -> str:
        return f"{series[0]} {self.names.get(series, series[1])}"

    def text(self) -> str:
        """One line for the status bar: what changed (failures are listed apart, see `failures`)."""
        parts = []
        for label, items in (("added", self.exchanges_added), ("removed", self.exchanges_removed),
                             ("reconnected", self.exchanges_rebuilt)):
            if items:
                parts.append(f"{', '.join(items)} {label}")
        for label, series in (("streaming", self.symbols_added), ("stopped", self.symbols_removed),
                              ("kept for the bots", self.symbols_held)):
            if series:
                parts.append(f"{label} {', '.join(self.shown(s) for s in series)}")
        if self.windows:
            parts.append("windows " + ", ".join(f"{tf} {old}->{new}" for tf, old, new in self.windows))
        if self.timeframes is not None:
            parts.append(f"timeframes {', '.join(self.timeframes)}")
        text = "; ".join(parts) or "nothing to change in the streams"
        if self.failures:
            text += f"; {len(self.failures)} failed"
        return text


@dataclass
class _Report:
    """SettingsChange's fields while a change is being applied."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)
    symbols_added: list[Series] = field(default_factory=list)
    symbols_removed: list[Series] = field(default_factory=list)
    symbols_held: list[Series] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    names: dict[Series, str] = field(default_factory=dict)

    def fail(self, text: str) -> None:
        log.error("settings change: %s", text)
        self.failures.append(text)


async def apply_settings(core: Core, new: Settings, *, build_feed: BuildFeed = build_feed) -> SettingsChange:
    """Apply `new` to the running `core` (on its feeds' loop), then `core.settings = new`.

    Exchanges enabled -> a feed and catalog built as at start, then started; disabled -> stopped and removed; URLs
    changed -> rebuilt. Symbols are diffed against what each feed streams for the settings (`feed.configured`):
    new ones stream, left-out ones stop unless a bot or the chart holds them. Windows changed -> every series
    resized (history reloaded from disk when one grew). Awaited from another loop (the window's), it runs on the
    market engine's."""
    if core.engine is not None and not core.engine.in_engine():
        return await core.engine.run(apply_settings(core, new, build_feed=build_feed))
    async with core.changing():  # one change at a time, never into a start half done
        return await _apply(core, new, build_feed)


async def _apply(core: Core, new: Settings, build_feed: BuildFeed) -> SettingsChange:
    old = core.settings
    report = _Report()
    wanted = new.enabled_exchanges()
    running = list(core.feeds)
    moved = [n for n in running if n in wanted and _urls(old, n) != _urls(new, n)]
    for name in [n for n in running if n not in wanted] + moved:
        try:
            await _remove_exchange(core, name)
            if name not in moved:
                report.removed.append(name)
        except Exception as exc:
            log.exception("settings change: stopping %s failed", name)
            report.fail(f"{name}: could not be stopped ({type(exc).__name__}: {exc})")
    windows = feed_windows(new)
    if windows != feed_windows(old):
        for name, feed in list(core.feeds.items()):
            try:
                await feed.resize_windows(windows)
            except Exception as exc:
                log.exception("settings change: resizing %s's windows failed", name)
                report.fail(f"{name}: windows not resized ({type(exc).__name__}: {exc})")
    for name in [n for n in running if n in core.feeds]:  # the same exchange, its symbols may differ
        try:
            await _update_symbols(core, name, new, report)
        except Exception as exc:
            log.exception("settings change: %s symbols failed", name)
            report.fail(f"{name}: symbols not changed ({type(exc).__name__}: {exc})")
    for name in [n for n in wanted if n not in core.feeds]:
        try:
            if await _add_exchange(core, name, new, report, build_feed):
                (report.rebuilt if name in moved else report.added).append(name)
        except Exception as exc:
            log.exception("settings change: starting %s failed", name)
            report.fail(f"{name}: could not be started ({type(exc).__name__}: {exc})")
    core.settings = new
    change = SettingsChange(
        tuple(report.added), tuple(report.removed), tuple(report.rebuilt), tuple(report.symbols_added),
        tuple(report.symbols_removed), tuple(report.symbols_held),
        tuple((tf.label, feed_windows(old)[tf], n) for tf, n in windows.items() if feed_windows(old)[tf] != n),
        new.timeframes if new.timeframes != old.timeframes else None, tuple(report.failures), report.names)
    log.info("settings applied: %s", change.text())
    return change


def _urls(settings: Settings, name: str) -> tuple[str | None, str | None]:
    return settings.rest_url(name), settings.ws_url(name)


async def _checked_catalog(book: CatalogBook, report: _Report) -> None:
    """The exchange's instrument list, fetched now if only a cache or nothing is there (in a thread): symbols are
    checked against the exchange's own list. Unreachable: reported, names kept by the exchange's naming rule."""
    if book.verified:
        return
    await asyncio.to_thread(book.ensure, CATALOG_WAIT_S)
    if not book.verified:
        report.fail(f"{book.exchange}: unreachable ({book.error or 'no instrument list'}); symbols not checked, "
                    "its streams retry")


def _resolve(book: CatalogBook, names: tuple[str, ...], report: _Report) -> list[str]:
    out = []
    for text in names:
        try:
            inst = book.resolve(text)
        except SymbolError as exc:
            report.fail(str(exc))
            continue
        report.names[(book.exchange, inst.native)] = inst.symbol
        out.append(inst.native)
    return list(dict.fromkeys(out))


async def _update_symbols(core: Core, name: str, new: Settings, report: _Report) -> None:
    feed, book = core.feeds[name], core.catalogs[name]
    names = new.symbols(name)
    before = set(feed.configured)
    if _natives_known(book, names) == before:
        return  # the same symbols (perhaps written another way): nothing to look up
    await _checked_catalog(book, report)
    natives = _resolve(book, names, report)
    if not natives and names:
        report.fail(f"{name}: none of its symbols can be streamed; the ones streaming stay")
        return
    started, stopped = await feed.set_symbols(natives)
    held = sorted(before - set(natives) - set(stopped))
    for sym in [*started, *stopped, *held]:
        report.names.setdefault((name, sym), book.instrument(sym).symbol)
    report.symbols_added += [(name, s) for s in started]
    report.symbols_removed += [(name, s) for s in stopped]
    report.symbols_held += [(name, s) for s in held]


def _natives_known(book: CatalogBook, names: tuple[str, ...]) -> set[str] | None:
    """The native ids of `names` by the catalog at hand (no fetch); None when one of them is not known."""
    try:
        return {book.instrument(s).native for s in names}
    except ValueError:  # SymbolError too: a name outside the exchange's naming rule
        return None


async def _add_exchange(core: Core, name: str, new: Settings, report: _Report, build: BuildFeed) -> bool:
    """Build, check and start one exchange's feed; False when it has nothing to stream."""
    built = await asyncio.to_thread(build, core, name, new)  # reads the catalog cache from disk
    if built is None:
        report.fail(f"{name}: no symbols configured; not started")
        return False
    feed, book = built
    await _checked_catalog(book, report)
    natives = _resolve(book, new.symbols(name), report)
    if not natives:
        feed.rest.close()
        report.fail(f"{name}: none of its symbols can be streamed; not started")
        return False
    await feed.set_symbols(natives)  # not started yet: only the resolved ones, checked against the fresh list
    core.feeds[name], core.catalogs[name] = feed, book
    book.refresh_in_background(keep_fresh=True)
    try:
        await feed.start()
    except Exception:
        core.feeds.pop(name, None)
        core.catalogs.pop(name, None)
        feed.rest.close()
        raise
    report.symbols_added += [(name, s) for s in natives]
    return True


async def _remove_exchange(core: Core, name: str) -> None:
    feed = core.feeds.pop(name)
    core.catalogs.pop(name, None)
    try:
        await asyncio.wait_for(feed.stop(), STOP_WAIT_S)  # closes its REST client: the catalog refresher ends too
    except TimeoutError:
        log.warning("%s: streams did not stop within %.0fs", name, STOP_WAIT_S)
