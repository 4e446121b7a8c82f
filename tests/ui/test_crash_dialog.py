"""Unhandled exceptions from a Qt slot, a thread or an asyncio task: logged with the traceback and shown in
one non-modal dialog; the app keeps running."""
import asyncio
import logging
import threading

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from twinstar_gui.ui.crash import ExceptionReporter


@pytest.mark.qt_no_exception_capture
async def test_errors_from_slots_threads_and_tasks_are_logged_and_shown(qtbot, caplog):
    caplog.set_level(logging.INFO)
    parent = QWidget()
    qtbot.addWidget(parent)
    reporter = ExceptionReporter(parent).install(asyncio.get_running_loop())
    try:
        def broken_slot():
            raise ValueError("slot went wrong")

        QTimer.singleShot(0, broken_slot)
        await asyncio.sleep(0)
        qtbot.waitUntil(lambda: reporter.box is not None and reporter.box.isVisible(), timeout=5000)
        assert "ValueError: slot went wrong" in reporter.box.text()
        assert "broken_slot" in reporter.box.detailedText()  # the traceback, for a bug report
        assert "slot went wrong" in caplog.text and "Traceback" in caplog.text

        worker = threading.Thread(target=lambda: 1 / 0, name="worker-x")
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: reporter.count == 2, timeout=5000)
        assert "ZeroDivisionError" in reporter.box.text() and "thread worker-x" in reporter.box.text()
        assert "2 errors so far" in reporter.box.text()

        async def failing():
            raise RuntimeError("task went wrong")

        task = asyncio.get_running_loop().create_task(failing(), name="doomed")
        await asyncio.sleep(0.01)
        del task  # never awaited: asyncio reports it when the task is collected
        import gc

        gc.collect()
        qtbot.waitUntil(lambda: reporter.count == 3, timeout=5000)
        assert "RuntimeError: task went wrong" in reporter.box.text() and "doomed" in reporter.box.text()
        reporter.box.close()
        qtbot.waitUntil(lambda: reporter.box is None, timeout=5000)
    finally:
        reporter.uninstall()
