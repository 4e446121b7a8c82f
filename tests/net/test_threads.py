"""Blocking calls on daemon worker threads: results and errors come back, workers are reused, a hung call
neither holds up the others nor the caller that gives up on it."""
import asyncio
import threading
import time

import pytest

from twinstar_gui.net import threads


async def test_results_errors_and_worker_reuse():
    def where(i: int) -> tuple[int, str, bool]:
        time.sleep(0.01)
        return i, threading.current_thread().name, threading.current_thread().daemon

    first = await asyncio.gather(*(threads.in_daemon_thread(where, i) for i in range(20)))
    assert [r[0] for r in first] == list(range(20)) and all(r[2] for r in first)
    assert all(r[1] != threading.current_thread().name for r in first)
    pool = threads._DaemonPool()
    ran = []
    for _ in range(5):  # one after the other: one worker does them all
        finished = threading.Event()
        pool.submit(lambda f=finished: (ran.append(threading.current_thread().name), f.set()))
        assert finished.wait(5)
        await asyncio.sleep(0.01)  # the worker counts itself idle again
    assert len(set(ran)) == 1 and pool._workers == 1

    def fails() -> None:
        raise ConnectionError("okx: connection reset")

    with pytest.raises(ConnectionError, match="okx"):
        await threads.in_daemon_thread(fails)


async def test_a_hung_call_holds_up_neither_the_others_nor_a_caller_that_gives_up():
    release = threading.Event()
    hung = asyncio.ensure_future(threads.in_daemon_thread(release.wait, 30))
    await asyncio.sleep(0.05)
    assert await asyncio.wait_for(threads.in_daemon_thread(lambda: "answered"), 5) == "answered"
    t0 = time.monotonic()
    hung.cancel()
    with pytest.raises(asyncio.CancelledError):
        await hung
    assert time.monotonic() - t0 < 1.0
    release.set()


async def test_more_calls_than_workers_wait_for_a_free_one():
    pool = threads._DaemonPool(max_workers=2)
    done: list[int] = []
    lock = threading.Lock()

    def job(i: int):
        def run() -> None:
            time.sleep(0.02)
            with lock:
                done.append(i)
        return run

    for i in range(10):
        pool.submit(job(i))
    deadline = time.monotonic() + 5
    while len(done) < 10 and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert sorted(done) == list(range(10)) and pool._workers == 2
