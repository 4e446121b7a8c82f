"""The market data engine's thread: the feeds (sockets, series, close detection, backfills) on a loop of their own.

Why a loop in a plain thread: the feeds are asyncio code (websockets, REST in worker threads awaited, timers),
and the GUI thread's qasync loop paid for every frame, candle and backfill slice of 350 series with stutter.
Here they run on an ordinary asyncio loop that no Qt code touches, the same in the window and headless; nothing
crosses between the two threads but `call_soon_threadsafe`, concurrent futures and the locked hand-over of
`SeriesTap`. Qt's loop is never nested and no Qt object lives on this thread.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
LAG_PROBE_S = 0.1  # how often the engine measures how late its loop runs (queued work)


class EngineStopped(RuntimeError):
    """The engine's loop is not running (not started yet, or stopped): the call was not made."""


class MarketEngine:
    """Owns one asyncio loop in a daemon thread. `submit`/`run` a coroutine there, `call`/`post` a function there
    (what is handed over before `start` waits for it).

    `lag_ms`: how late the loop's timers fire right now (0 when idle); a burst of backfills or a slow disk
    shows here as queued work, never as a frozen window."""

    def __init__(self, name: str = "market-engine") -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._ready = threading.Event()
        self._stopped = False
        self.lag_ms = 0.0
        self._probe: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"MarketEngine({self.name}, {state})"

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stopped

    def in_engine(self) -> bool:
        """True on the engine's own thread."""
        return threading.current_thread() is self._thread

    def start(self) -> MarketEngine:
        if not self._thread.is_alive() and not self._stopped:
            self._thread.start()
            self._ready.wait(10.0)
        return self

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.set_exception_handler(self._on_error)
        self._probe = self.loop.create_task(self._measure_lag(), name=f"{self.name}-lag")
        self.loop.call_soon(self._ready.set)
        profile_to = os.environ.get("TWINSTAR_ENGINE_PROFILE")  # a path: cProfile of this thread (diagnostics)
        profiler = None
        if profile_to:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        try:
            self.loop.run_forever()
        finally:
            if profiler is not None and profile_to:
                profiler.disable()
                profiler.dump_stats(profile_to)
            self._wind_down()

    def _on_error(self, _loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """An exception nobody awaited (a task's, a posted callback's): logged as an error (the window's log panel
        shows it), never lost in asyncio's own logger."""
        exc = context.get("exception")
        what = context.get("message") or "unhandled error"
        log.error("%s: %s", self.name, what, exc_info=exc if isinstance(exc, BaseException) else None)

    def _wind_down(self) -> None:
        """The loop stopped: cancel what is left on it, let those tasks see their cancellation, close it."""
        loop = self.loop
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    async def _measure_lag(self) -> None:
        while True:
            t0 = time.monotonic()
            await asyncio.sleep(LAG_PROBE_S)
            self.lag_ms = max(0.0, (time.monotonic() - t0 - LAG_PROBE_S) * 1000.0)

    # -- crossing into the engine -------------------------------------------------------------------------
    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the engine's loop from any thread; its result as a concurrent future."""
        if self._stopped:
            coro.close()
            raise EngineStopped(f"{self.name}: stopped")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await, from another thread's loop (the GUI's), a coroutine that runs on the engine's loop. Called on
        the engine's own thread it simply awaits it."""
        if self.in_engine():
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    def call(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Run a plain function on the engine's thread soon; its result (or exception) as a concurrent future."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def go() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                future.set_exception(exc)

        if self._stopped:  # nothing will run it: say so now rather than leave the caller waiting
            future.set_exception(EngineStopped(f"{self.name}: stopped"))
            return future
        self.post(go)
        return future

    def post(self, fn: Callable[..., object], *args: Any) -> None:
        """Fire and forget: `fn(*args)` on the engine's thread soon (before `start`: once it starts). Dropped
        (with a debug line) once stopped."""
        if self._stopped:
            log.warning("%s: stopped; %r not run", self.name, fn)
            return
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # closed between the check and the call
            log.warning("%s: stopped; %r not run", self.name, fn)

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the loop (tasks still on it are cancelled) and wait for the thread; True when it ended."""
        if self._stopped:
            return not self._thread.is_alive()
        self._stopped = True
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # already closed
                self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("%s: still winding down after %.1fs", self.name, timeout)
            return False
        return True
