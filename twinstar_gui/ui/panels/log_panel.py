"""Log panel: the app's log lines with a level filter."""
from __future__ import annotations

import logging

from PySide6.QtGui import QColor, QTextCharFormat
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

LEVELS = {"Debug": logging.DEBUG, "Info": logging.INFO, "Warning": logging.WARNING, "Error": logging.ERROR}
COLOURS = {logging.WARNING: "#f0b90b", logging.ERROR: "#ef5350", logging.CRITICAL: "#ef5350"}
MAX_LINES = 5000


class LogPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level = QComboBox(self)
        self.level.addItems(list(LEVELS))
        self.level.setCurrentText("Info")
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_LINES)
        top = QHBoxLayout()
        top.addWidget(QLabel("Level:"))
        top.addWidget(self.level)
        top.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(top)
        lay.addWidget(self.text)
        self._lines: list[tuple[int, str]] = []
        self.level.currentTextChanged.connect(self._refilter)

    def min_level(self) -> int:
        return LEVELS[self.level.currentText()]

    def append_lines(self, batch) -> None:
        self._lines.extend(batch)
        del self._lines[:-MAX_LINES]
        self._write([line for line in batch if line[0] >= self.min_level()][-MAX_LINES:])

    def _write(self, lines: list[tuple[int, str]]) -> None:
        """Lines of one colour go in with one insert (a burst of 350 series' warnings was thousands of calls into
        Qt, each one a chance to wait for the interpreter lock)."""
        if not lines:
            return
        cursor = self.text.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        cursor.beginEditBlock()
        first = self.text.document().isEmpty()
        start = 0
        for i in range(1, len(lines) + 1):
            if i < len(lines) and COLOURS.get(lines[i][0]) == COLOURS.get(lines[start][0]):
                continue
            fmt = QTextCharFormat()
            colour = COLOURS.get(lines[start][0])
            if colour:
                fmt.setForeground(QColor(colour))
            if not first:
                cursor.insertBlock()
            first = False
            cursor.insertText("\n".join(text for _level, text in lines[start:i]), fmt)
            start = i
        cursor.endEditBlock()
        self.text.setTextCursor(cursor)

    def _refilter(self) -> None:
        self.text.clear()
        threshold = self.min_level()
        self._write([line for line in self._lines if line[0] >= threshold])

    def visible_text(self) -> str:
        return self.text.toPlainText()
