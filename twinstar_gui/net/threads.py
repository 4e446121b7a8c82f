"""Blocking network calls off the event loop, in daemon threads that never hold up the process's exit."""
from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


MAX_WORKERS = 64  # more blocking calls at once than this wait for a worker (each REST call has a timeout)


class _DaemonPool:
    """Daemon worker threads, started on demand and kept: a new thread per REST call cost its start-up on the
    calling loop, hundreds of times a minute when hundreds of series confirm closes by REST."""

    def __init__(self, max_workers: int = MAX_WORKERS) -> None:
        self.max_workers = max_workers
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._workers = 0
        self._idle = 0

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            start = self._idle == 0 and self._workers < self.max_workers
            if start:
                self._workers += 1
            else:
                self._idle -= 1  # one idle worker takes this job (or it waits for the next free one)
        self._jobs.put(job)
        if start:
            threading.Thread(target=self._work, name=f"rest-worker-{self._workers}", daemon=True).start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            job()  # never raises: see in_daemon_thread
            with self._lock:
                self._idle += 1


_POOL = _DaemonPool()


async def in_daemon_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`await asyncio.to_thread(fn, ...)`, but on a daemon thread.

    asyncio's default executor joins its threads at exit, so a request to a server that accepts and never
    answered held a stopping app until its timeouts ran out (49 s seen). Cancelling the await returns at once;
    the call finishes on its thread (or dies with the process) and its result is dropped."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(ok: bool, value: Any) -> None:
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

    _POOL.submit(work)
    return await future
