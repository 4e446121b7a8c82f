"""Stop signals before a command's event loop takes them over: remembered, and a KeyboardInterrupt for whatever
blocks meanwhile. Imports nothing but `signal`, so the entry points install it before anything heavy loads."""
from __future__ import annotations

import signal
import sys
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_early: list[int] = []  # signals that came before a command's loop took them over


def install_early_stop() -> None:
    """SIGINT/SIGTERM are remembered (a loop started later stops at once: headless.stop_event, the window) and
    interrupt whatever blocks meanwhile, a prompt say (KeyboardInterrupt: the command line turns it into a
    message, not a traceback)."""
    def on_signal(sig: int, frame) -> None:
        _early.append(sig)
        if not _importing(frame):
            raise KeyboardInterrupt
        # inside an import it is only remembered: an exception there can leave an extension half set up (shiboken
        # aborts the process: "could not initialize part 2"); the command sees it once its loop starts
    for sig in STOP_SIGNALS:
        signal.signal(sig, on_signal)


def _importing(frame) -> bool:
    """Whether the interrupted code runs inside an import (a frame of Python's import machinery on the stack)."""
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith("<frozen importlib") or "pyimod02_importers" in name:  # the latter: the packaged app
            return True
        frame = frame.f_back
    return False


def raise_if_signalled() -> None:
    """Stop here if a signal came while it could only be remembered (during an import)."""
    if _early:
        raise KeyboardInterrupt


def early_signal() -> int | None:
    """The first stop signal that came before the loop took over, if any."""
    return _early[0] if _early else None


def stoppable(command: Callable[[], int]) -> int:
    """Run a command with the early stop installed: a stop signal before its loop took over ends it with a
    one-line message and 128 + the signal's number; once it is over, a second signal cannot change its code."""
    install_early_stop()
    try:
        return command()
    except KeyboardInterrupt:
        sig = early_signal() or signal.SIGINT
        print(f"twinstar: stopped by {signal.Signals(sig).name}", file=sys.stderr)
        return 128 + sig
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
