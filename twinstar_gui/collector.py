"""`twinstar collect`: the headless collector (feeds + store, no Qt), one health line per connection."""
from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from .app import build_core, check_data_dir
from .config import Settings

log = logging.getLogger("twinstar.collector")


def health_lines(core) -> list[str]:
    out = []
    for feed in core.feeds.values():
        closed = sum(s.closed_emitted for s in feed.series.values())
        failed = [sym for sym, s in feed.series.items() if s.failed]
        out += [_health_line(h, closed, failed, core.writer.pending) for h in feed.health()]
    return out


def _health_line(h, closed: int, failed: list[str], queued: int) -> str:
    age = "-" if h.last_message_age is None else f"{h.last_message_age:.1f}s"
    rtt = "-" if h.ping_rtt is None else f"{h.ping_rtt * 1000:.0f}ms"
    line = (f"{h.name}: state={h.state.value} topics={h.topics} last_msg={age} rate={h.messages_per_sec:.1f}/s rtt={rtt} "
            f"reconnects={h.reconnects} bad_frames={h.bad_messages} closed_candles={closed} queued_writes={queued}")
    if failed:
        line += f" rejected={','.join(failed)}"
    if h.last_error:
        line += f" last_error={h.last_error!r}"
    return line


def run_collector(settings: Settings, exchanges: list[str], symbols: list[str] | None, *,
                  health_every: float = 5.0, duration: float | None = None) -> int:
    problem = check_data_dir(settings.data_dir)
    if problem:
        print(f"twinstar collect: {problem}", file=sys.stderr)
        return 2
    chosen = {}
    for name in exchanges:
        syms = symbols or list(settings.symbols(name))
        if not syms:
            print(f"twinstar collect: no symbols for {name} (use --symbols)", file=sys.stderr)
            return 2
        chosen[name] = syms
    ex = dict(settings.exchanges)
    for name, syms in chosen.items():
        ex[name] = replace(ex[name], enabled=True, symbols=tuple(syms))
    settings = replace(settings, exchanges=MappingProxyType(ex))
    return asyncio.run(_collect(settings, chosen, health_every, duration))


async def _collect(settings: Settings, chosen: dict[str, list[str]], health_every: float,
                   duration: float | None) -> int:
    core = build_core(settings, exchanges=list(chosen), symbols=chosen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("collecting %s into %s", ", ".join(f"{n}:{','.join(s)}" for n, s in chosen.items()), settings.data_dir)
    await core.start()
    deadline = None if duration is None else time.monotonic() + duration
    while not stop.is_set():
        wait = health_every if deadline is None else max(0.0, min(health_every, deadline - time.monotonic()))
        try:
            await asyncio.wait_for(stop.wait(), wait)
        except TimeoutError:
            pass
        for line in health_lines(core):
            print(line, flush=True)
        if deadline is not None and time.monotonic() >= deadline:
            break
    ok = await core.shutdown(budget=10.0)
    print(f"stopped: {'every candle flushed' if ok else 'WRITES STILL QUEUED'}", flush=True)
    return 0 if ok else 1


def data_dir_setting(settings: Settings, data: str | None) -> Settings:
    return replace(settings, data_dir=Path(data).expanduser()) if data else settings
