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
        threshold = self.min_level()
        for levelno, text in batch:
            if levelno >= threshold:
                self._write(levelno, text)

    def _write(self, levelno: int, text: str) -> None:
        fmt = QTextCharFormat()
        colour = COLOURS.get(levelno)
        if colour:
            fmt.setForeground(QColor(colour))
        cursor = self.text.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        if not self.text.document().isEmpty():
            cursor.insertBlock()
        cursor.insertText(text, fmt)
        self.text.setTextCursor(cursor)

    def _refilter(self) -> None:
        self.text.clear()
        threshold = self.min_level()
        for levelno, text in self._lines:
            if levelno >= threshold:
                self._write(levelno, text)

    def visible_text(self) -> str:
        return self.text.toPlainText()
