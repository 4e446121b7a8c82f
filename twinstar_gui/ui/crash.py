"""Unhandled exceptions: logged with their traceback and shown in a dialog, never a silent exit.

Covers the three places an exception can escape in this app: Qt slots and overridden Qt methods (PySide6
hands them to `sys.excepthook`), plain threads (`threading.excepthook`) and asyncio tasks and callbacks on
the qasync loop (the loop's exception handler). The dialog is shown on the GUI thread through a queued
signal, non-modally (no nested event loop); a burst of errors updates one dialog with a count.
"""
from __future__ import annotations

import logging
import sys
import threading
import traceback

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger("twinstar.crash")


class ExceptionReporter(QObject):
    reported = Signal(str, str)  # one-line summary, traceback text (emitted from any thread)

    def __init__(self, parent_widget: QWidget | None = None) -> None:
        super().__init__()
        self.parent_widget = parent_widget
        self.count = 0
        self.box: QMessageBox | None = None
        self._previous: tuple | None = None
        self.reported.connect(self._show, Qt.ConnectionType.QueuedConnection)

    # -- install / uninstall --------------------------------------------------------------------------
    def install(self, loop=None) -> ExceptionReporter:
        self._previous = (sys.excepthook, threading.excepthook, loop, loop.get_exception_handler() if loop else None)
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook
        if loop is not None:
            loop.set_exception_handler(self._loop_hook)
        return self

    def uninstall(self) -> None:
        if self._previous is None:
            return
        sys_hook, thread_hook, loop, handler = self._previous
        sys.excepthook, threading.excepthook = sys_hook, thread_hook
        if loop is not None and not loop.is_closed():
            loop.set_exception_handler(handler)
        self._previous = None

    # -- the hooks --------------------------------------------------------------------------------------
    def _sys_hook(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        self.report(exc, "in the user interface")

    def _thread_hook(self, args) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        self.report(args.exc_value, f"in thread {name}")

    def _loop_hook(self, loop, context: dict) -> None:
        exc = context.get("exception")
        if exc is None:  # a warning-like message (e.g. a slow callback): log it, no dialog
            log.warning("asyncio: %s", context.get("message"))
            return
        task = context.get("task") or context.get("future")
        name = getattr(task, "get_name", None)
        where = f"in task {name()}" if name is not None else "in an asyncio callback"
        self.report(exc, where)

    def report(self, exc: BaseException, where: str) -> None:
        """Log the exception with its traceback and show it; safe from any thread."""
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        summary = f"{type(exc).__name__}: {exc}"
        log.critical("unhandled error %s: %s\n%s", where, summary, text.rstrip())
        self.reported.emit(f"{summary} ({where})", text)

    # -- the dialog (GUI thread) ------------------------------------------------------------------------
    def _show(self, summary: str, text: str) -> None:
        self.count += 1
        more = f"\n\n({self.count} errors so far; the latest is shown)" if self.count > 1 else ""
        message = (f"TwinStar hit an unexpected error and kept running:\n\n{summary}{more}\n\n"
                   "It is in the log. If something looks wrong, save your work and restart.")
        if self.box is None:
            box = QMessageBox(QMessageBox.Icon.Critical, "Unexpected error", message, QMessageBox.StandardButton.Ok,
                              self.parent_widget)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.finished.connect(self._forget_box)
            box.setDetailedText(text)
            box.open()
            self.box = box
        else:
            self.box.setText(message)
            self.box.setDetailedText(text)

    def _forget_box(self, *_: object) -> None:
        self.box = None
