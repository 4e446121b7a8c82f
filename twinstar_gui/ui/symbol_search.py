"""The chart's symbol search: a line edit completing over the exchange's whole catalog (unified symbols), and the
reason the last name named nothing."""
from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QWidget

from .symbol_completer import SymbolCompleter

ERROR_CHARS = 70  # the status label's share of the tool bar; the whole message is in its tooltip


class SymbolSearch(QWidget):
    """`picked(text)` once per choice: a completion taken from the list, or Enter on what was typed (`sol`,
    `SOLUSDT`, `sol/usdt`: the catalog resolves it). `show_error` puts why a name was refused next to it."""

    picked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText("Search: sol, SOLUSDT…")
        self.edit.setClearButtonEnabled(True)
        self.edit.setMinimumWidth(96)
        self.edit.setToolTip("Any instrument of the exchange: type part of its name, pick it, and it is charted "
                             "(streamed from now on if it was not)")
        self.completer = SymbolCompleter(self.edit, many=False)
        self.status = QLabel(self)
        self.status.setStyleSheet("color: #ff6b6b;")
        self.status.hide()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit)
        lay.addWidget(self.status)
        self._pending: str | None = None
        # Enter in the popup both activates the completion and may reach the edit as returnPressed: one pick
        # the str overload of activated (PySide6's stubs do not know signal overloads)
        self.completer.activated[str].connect(self._queue)  # type: ignore[index]
        self.edit.returnPressed.connect(lambda: self._queue(self.edit.text()))
        self.edit.textEdited.connect(lambda _text: self.clear_error())

    def set_symbols(self, symbols: list[str]) -> None:
        self.completer.set_symbols(symbols)

    def symbols(self) -> list[str]:
        return self.completer.symbols()

    def show_error(self, message: str) -> None:
        short = message if len(message) <= ERROR_CHARS else message[: ERROR_CHARS - 1] + "…"
        self.status.setText(short)
        self.status.setToolTip(message)
        self.status.show()

    def error(self) -> str:
        return "" if self.status.isHidden() else self.status.toolTip()

    def clear_error(self) -> None:
        self.status.clear()
        self.status.setToolTip("")
        self.status.hide()

    def done(self) -> None:
        """The pick is on the chart: the field is free for the next search."""
        self.clear_error()
        self.edit.clear()

    def _queue(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        first = self._pending is None
        self._pending = text
        if first:
            QTimer.singleShot(0, self._fire)

    def _fire(self) -> None:
        text, self._pending = self._pending, None
        if text:
            self.picked.emit(text)
