"""A non-modal warning that asks before something with real money happens (no nested event loop)."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


def confirm(parent: QWidget, title: str, text: str, go_label: str, on_go: Callable[[], None]) -> QMessageBox:
    """Open the question (Cancel is the default); `on_go()` runs only when the user presses `go_label`."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Cancel, parent)
    go = box.addButton(go_label, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.finished.connect(lambda _r: on_go() if box.clickedButton() is go else None)
    box.open()
    return box
