"""Test setup: offscreen Qt, ONE qasync loop for every async test, in-memory keyring, isolated QSettings."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import
os.environ.setdefault("QT_API", "pyside6")

import asyncio
import gc
import io
import socket
import sys
from pathlib import Path

import keyring
import pytest
import qasync
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError
from PySide6.QtWidgets import QApplication

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


# Tests reach loopback only (the simulator stands in for every exchange). A name that would resolve to a real
# host is refused here as an unresolvable name, and the test that asked fails at teardown (a test without its
# URL overrides once reached real DNS). Names under the reserved TLDs (.invalid, .test, .example) are refused
# quietly: tests use them on purpose for a host that cannot exist.
_resolve = socket.getaddrinfo
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "::"}
_REACHED: list[str] = []


def _loopback_only(host, *args, **kwargs):
    name = (host.decode() if isinstance(host, bytes) else str(host or "")).lower().rstrip(".")
    if name and name not in _LOOPBACK and not name.startswith("127."):
        if not name.endswith((".invalid", ".test", ".example", ".localhost")):
            _REACHED.append(name)
        raise socket.gaierror(socket.EAI_NONAME, f"tests reach loopback only, not {name}")
    return _resolve(host, *args, **kwargs)


socket.getaddrinfo = _loopback_only


@pytest.fixture(autouse=True)
def _loopback_network_only():
    before = len(_REACHED)
    yield
    reached = sorted(set(_REACHED[before:]))
    assert not reached, f"this test tried to reach {reached}: tests talk to the simulator on loopback"


def _qasync_loop():
    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)  # closing a test's window must not stop the shared loop
    return qasync.QEventLoop(app)


def pytest_asyncio_loop_factories(config, item):
    return {"qasync": _qasync_loop}


def _cancel_all_tasks_bounded(loop):
    """asyncio.Runner's close, as pytest-asyncio's shared loop ends (end of the run, or of an xdist worker): tasks
    the tests left pending are cancelled and given 10 s to end. asyncio's own version waits with no bound, and a
    task whose wake-up was lost (seen: a feed's backfill task left "cancelling" by a bot end-to-end test, about one
    CI run in three) held the worker there until the timeout killed it, failing whichever test ran last in that
    worker. A task still pending after the 10 s is named on stderr and dropped from asyncio's registry: the hang
    becomes a visible message, not a lost worker. (Tests only: it replaces a private function of asyncio.)"""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not pending:
        return
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.wait(pending, timeout=10.0))
    for task in pending:
        if not task.done():
            out = io.StringIO()
            task.print_stack(limit=5, file=out)
            sys.stderr.write(f"\nconftest: task still pending 10 s after it was cancelled, dropped: {out.getvalue()}")
            asyncio.tasks._unregister_task(task)
        elif not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler({"message": "unhandled exception during shutdown", "exception":
                                         task.exception(), "task": task})


asyncio.runners._cancel_all_tasks = _cancel_all_tasks_bounded


class MemoryKeyring(KeyringBackend):
    """Tests never touch a real keyring."""

    priority = 1

    def __init__(self):
        super().__init__()
        self._store = {}

    def get_password(self, service, username):
        return self._store.get((service, username))

    def set_password(self, service, username, password):
        self._store[(service, username)] = password

    def delete_password(self, service, username):
        if self._store.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture(autouse=True)
def memory_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def _collect_qt_garbage_on_the_gui_thread():
    """A QObject freed by the cyclic GC on a worker thread kills its timers from the wrong thread and
    crashes Qt later (seen as segfaults in QTimerInfoList::activateTimers). Collect each test's garbage
    here, on the GUI thread, before any later test starts worker threads."""
    yield
    gc.collect()
    gc.collect()


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """No test reads the user's settings, data dir or URL overrides."""
    for key in list(os.environ):
        if key.startswith("TWINSTAR_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("TWINSTAR_CONFIG", str(tmp_path / "no-settings.json"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    yield
