"""`twinstar collect`: the headless collector (feeds + store, no Qt), one health line per connection."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import sys
import zlib
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from .cliargs import symbol_list
from .config import Settings
from .core.errors import excerpt
from .core.instrument import SymbolError
from .data.feed import sync_summary
from .data.store import SeriesBusy
from .headless import stop_event, ticks
from .wiring import build_core, check_data_dir

log = logging.getLogger("twinstar.collector")


class UsageError(ValueError):
    """A bad collector argument, with the message to print."""


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """`i/n` with 1 <= i <= n (shard i of n, counted from 1 like `jest --shard`)."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m:
        raise UsageError(f"--shard {text!r}: expected i/n, e.g. 1/3")
    i, n = int(m.group(1)), int(m.group(2))
    if not 1 <= i <= n:
        raise UsageError(f"--shard {text!r}: shards are numbered 1..n (got {i} of {n})")
    return i, n


def in_shard(exchange: str, symbol: str, shard: tuple[int, int] | None) -> bool:
    """Each (exchange, symbol) belongs to exactly one of n shards, whatever list each process was given:
    a stable hash, so collectors that fetched `top:N` at slightly different times still never overlap."""
    if shard is None:
        return True
    i, n = shard
    return zlib.crc32(f"{exchange}:{symbol}".encode()) % n == i - 1


def parse_symbols(text: str | None) -> list[str] | int | None:
    """None (settings file), a list of symbols, or N for `top:N` (top N by 24 h quote volume)."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*top\s*:\s*(\d{1,7})\s*", text[:64], flags=re.IGNORECASE)
    if m and len(text) <= 64:
        n = int(m.group(1))
        if not 1 <= n <= 1000:
            raise UsageError(f"--symbols {text!r}: top:N needs 1 <= N <= 1000")
        return n
    try:
        return symbol_list(text)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--symbols {excerpt(repr(text), 60)}: {exc}") from None


def top_symbols(settings: Settings, exchange: str, n: int) -> list[str]:
    """The exchange's top `n` symbols by 24 h quote volume, from its tickers endpoint. Blocking."""
    from .exchanges.registry import get_exchange
    from .net.rest import RestClient

    adapter = get_exchange(exchange, rest_url=settings.rest_url(exchange), ws_url=settings.ws_url(exchange))
    rest = RestClient(adapter)
    try:
        tickers = rest.fetch_ticker_rows()
    finally:
        rest.close()
    return list(dict.fromkeys(t.symbol for t in tickers))[:n]


async def until_stopped(stop: asyncio.Event, fn, *args):
    """`fn(*args)` in a daemon thread; None as soon as `stop` is set (the thread is left to end on its own)."""
    from .net.threads import in_daemon_thread

    work = asyncio.ensure_future(in_daemon_thread(fn, *args))
    halt = asyncio.ensure_future(stop.wait())
    await asyncio.wait({work, halt}, return_when=asyncio.FIRST_COMPLETED)
    halt.cancel()
    if not work.done():
        work.cancel()
        return None
    return work.result()


async def top_symbols_when_up(settings: Settings, exchange: str, n: int, stop: asyncio.Event) -> list[str] | None:
    """`top_symbols`, retried with the reconnect backoff while the exchange cannot be reached or answers with
    a server error; None if stopped meanwhile. Any other error (the exchange refused the request) is raised."""
    from .core.errors import is_transient
    from .net.backoff import ReconnectPolicy

    policy = ReconnectPolicy()
    while not stop.is_set():
        try:
            return await until_stopped(stop, top_symbols, settings, exchange, n)  # None: stopped meanwhile
        except Exception as exc:
            if not is_transient(exc):
                raise
            delay = policy.next_delay()
            log.warning("%s: cannot list the top %d symbols yet (%s); retry in %.0fs", exchange, n, exc, delay)
            print(f"{exchange}: waiting for the exchange to list the top {n} symbols: {exc}", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
    return None


def health_lines(core) -> list[str]:
    out = []
    for feed in core.feeds.values():
        series = list(feed.series.items())  # one look (the engine's thread adds and drops series)
        closed = sum(s.closed_emitted for _, s in series)
        failed = [sym for sym, s in series if s.failed]
        retrying = {sym: s.rest_problem for sym, s in series if s.rest_problem and not s.failed}
        out += [_health_line(h, closed, failed, retrying, core.writer.pending) for h in feed.health()]
    if core.writer.failing:
        out.append(f"storage: {core.writer.pending} write(s) queued, not on disk yet: {core.writer.last_error}")
    return out


def _health_line(h, closed: int, failed: list[str], retrying: dict[str, str], queued: int) -> str:
    age = "-" if h.last_message_age is None else f"{h.last_message_age:.1f}s"
    rtt = "-" if h.ping_rtt is None else f"{h.ping_rtt * 1000:.0f}ms"
    line = (f"{h.name}: state={h.state.value} topics={h.topics} last_msg={age} rate={h.messages_per_sec:.1f}/s "
            f"rtt={rtt} reconnects={h.reconnects} bad_frames={h.bad_messages} closed_candles={closed} "
            f"queued_writes={queued}")
    if failed:
        line += f" rejected={','.join(failed)}"
    if retrying:
        line += f" rest_retrying={','.join(retrying)} rest_error={next(iter(retrying.values()))!r}"
    if h.last_error:
        line += f" last_error={h.last_error!r}"
    return line


def run_collector(settings: Settings, exchanges: list[str], symbols: list[str] | int | None, *,
                  health_every: float = 5.0, duration: float | None = None,
                  shard: tuple[int, int] | None = None) -> int:
    """`symbols`: a list, N for the top N by 24 h volume, or None for the settings file's."""
    problem = check_data_dir(settings.data_dir)
    if problem:
        print(f"twinstar collect: {problem}", file=sys.stderr)
        return 2
    return asyncio.run(_collect(settings, exchanges, symbols, health_every, duration, shard))


async def _choose(settings: Settings, exchanges: list[str], symbols: list[str] | int | None,
                  shard: tuple[int, int] | None, stop: asyncio.Event) -> dict[str, list[str]] | int:
    """{exchange: the symbols this process collects}, or an exit code."""
    chosen = {}
    for name in exchanges:
        if isinstance(symbols, int):
            try:
                listed = await top_symbols_when_up(settings, name, symbols, stop)
            except Exception as exc:  # noqa: BLE001 - the exchange refused: say which and stop
                print(f"twinstar collect: {name}: cannot list the top {symbols} symbols: {exc}", file=sys.stderr)
                return 2
            if listed is None:
                return 0  # stopped while waiting for the exchange
            syms = valid_symbols(name, listed)
            log.info("%s: top %d by 24h volume: %s", name, symbols, ",".join(syms))
        else:
            try:
                syms = await until_stopped(stop, native_ids, settings, name, symbols or list(settings.symbols(name)))
            except SymbolError as exc:
                print(f"twinstar collect: {exc}", file=sys.stderr)
                return 2
            if syms is None:
                return 0  # stopped while the exchange was asked for its instrument list
        if not syms:
            print(f"twinstar collect: no symbols for {name} (use --symbols)", file=sys.stderr)
            return 2
        mine = [s for s in syms if in_shard(name, s, shard)]
        if shard is not None:
            log.info("%s: shard %d/%d takes %d of %d symbols: %s", name, *shard, len(mine), len(syms),
                     ",".join(mine) or "-")
        if mine:
            chosen[name] = mine
    if not chosen:
        assert shard is not None  # every exchange had symbols: only the shard can have left none
        print(f"twinstar collect: shard {shard[0]}/{shard[1]} has no symbols to collect; nothing to do",
              file=sys.stderr)
        return 0
    return chosen


def native_ids(settings: Settings, exchange: str, names: list[str]) -> list[str]:
    """Names as typed (unified, native, a base asset) -> the exchange's native ids, checked against its instrument
    list (fetched now; the cached one, or the naming rule alone, when the exchange cannot be reached: an outage is
    never taken for an unknown symbol). SymbolError for a name that fits nothing or several. Blocking."""
    from .data.catalogs import fetch_book

    book = fetch_book(exchange, settings.rest_url(exchange), settings.data_dir if settings.data_dir.is_dir() else None)
    if book.error:
        log.warning("%s", book.status())
    return list(dict.fromkeys(book.resolve(n).native for n in names))


def valid_symbols(exchange: str, names: list[str]) -> list[str]:
    """Names from the network that may become dataset paths: the ones that fail the pattern are logged, dropped."""
    from .core.names import check_symbol

    out = []
    for name in names:
        try:
            out.append(check_symbol(name))
        except ValueError as exc:
            log.error("%s: refused a symbol name from the exchange: %s", exchange, exc)
    return out


async def _collect(settings: Settings, exchanges: list[str], symbols: list[str] | int | None, health_every: float,
                   duration: float | None, shard: tuple[int, int] | None) -> int:
    stop = stop_event()
    chosen = await _choose(settings, exchanges, symbols, shard, stop)
    if isinstance(chosen, int):
        return chosen
    ex = dict(settings.exchanges)
    for name, syms in chosen.items():
        ex[name] = replace(ex[name], enabled=True, symbols=tuple(syms))
    settings = replace(settings, exchanges=MappingProxyType(ex))
    core = build_core(settings, exchanges=list(chosen), symbols=chosen)
    busy = []
    for name, syms in chosen.items():
        for sym in syms:
            try:
                core.store.claim(name, sym)
            except SeriesBusy as exc:
                busy.append(str(exc))
            except OSError as exc:  # the disk refuses: collected anyway, writes queue and the health lines say so
                log.error("%s %s: cannot claim the series on disk (%s); candles stay queued until it can",
                          name, sym, exc)
    if busy:
        core.store.close()
        core.writer.close(timeout=1.0)
        print("twinstar collect: these series are written by another collector (check --shard):\n  "
              + "\n  ".join(busy), file=sys.stderr)
        return 3
    found = await asyncio.to_thread(core.store.check_tree)  # damaged/foreign files: moved aside, reported
    if found:
        print(f"quarantined {len(found)} file(s) under {core.store.root / '_quarantine'}: "
              + "; ".join(f"{q.path}: {q.reason}" for q in found), flush=True)
    log.info("collecting %s into %s", ", ".join(f"{n}:{','.join(s)}" for n, s in chosen.items()), settings.data_dir)
    told = len(core.store.quarantined)
    await core.start()
    synced = False
    async for _ in ticks(stop, health_every, duration):
        for line in await core.read(health_lines, core):  # read where the streams live
            print(line, flush=True)
        for q in core.store.quarantined[told:]:  # found while running (a damaged journal, an unreadable month)
            print(f"quarantined {q.path} -> {q.moved_to}: {q.reason}", flush=True)
        told = len(core.store.quarantined)
        sync = await core.read(sync_summary, list(core.feeds.values()))
        if sync.busy or not synced:
            print(sync.text(), flush=True)
            synced = not sync.busy
    ok = await core.shutdown()
    print(f"stopped: {'every candle flushed' if ok else 'WRITES STILL QUEUED'}", flush=True)
    return 0 if ok else 1


def data_dir_setting(settings: Settings, data: str | None) -> Settings:
    return replace(settings, data_dir=Path(data).expanduser()) if data else settings
