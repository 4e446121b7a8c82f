"""Polling helper for async tests on the shared qasync loop (never qtbot.wait inside a coroutine)."""
import asyncio


async def wait_for(cond, timeout=15.0, what="condition"):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        assert loop.time() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
