"""Blocking network calls off the event loop, in daemon threads that never hold up the process's exit."""
from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def in_daemon_thread(fn: Callable[..., T], *args, **kwargs) -> T:
    """`await asyncio.to_thread(fn, ...)`, but in a daemon thread of its own.

    asyncio's default executor joins its threads at exit, so a request to a server that accepts and never
    answers held a stopping app until its timeouts ran out (49 s seen). Cancelling the await returns at once;
    the thread finishes (or dies with the process) and its result is dropped."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(ok: bool, value) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def work() -> None:
        result: tuple[bool, Any]
        try:
            result = (True, fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            result = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits for this any more
            loop.call_soon_threadsafe(deliver, *result)

    threading.Thread(target=work, name=f"rest-{getattr(fn, '__name__', 'call')}", daemon=True).start()
    return await future
