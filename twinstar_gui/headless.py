"""What the headless commands (`collect`, `bot`) share: stop on SIGINT/SIGTERM, a periodic tick."""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from .stopsignal import STOP_SIGNALS, early_signal


def stop_event() -> asyncio.Event:
    """Set by SIGINT/SIGTERM (call on the running loop); already set if one came before the loop started (one
    raised inside an import can be swallowed by Python's import machinery: the record is not)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    if early_signal() is not None:
        stop.set()
    return stop


async def ticks(stop: asyncio.Event, every: float, duration: float | None) -> AsyncIterator[None]:
    """Once per `every` seconds (and once when stopped) until `stop` is set or `duration` has passed."""
    deadline = None if duration is None else time.monotonic() + duration
    while not stop.is_set():
        wait = every if deadline is None else max(0.0, min(every, deadline - time.monotonic()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
        yield
        if deadline is not None and time.monotonic() >= deadline:
            return
