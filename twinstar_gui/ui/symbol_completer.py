"""Symbol search as you type: a completer over an exchange's catalog (unified symbols), for a field holding one
symbol or a comma-separated list (it completes the name being typed, after the last comma)."""
from __future__ import annotations

import re

from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtWidgets import QCompleter, QLineEdit

_LAST = re.compile(r"[^,;\s]*$")


class SymbolCompleter(QCompleter):
    """`sol` offers `SOL/USDT:USDT` (any part of the symbol, any case); thousands of entries stay instant (Qt
    filters the model in C++, the popup lays out uniform rows; bench/bench_symbol_search.py)."""

    def __init__(self, edit: QLineEdit, *, many: bool = True) -> None:
        super().__init__(edit)
        self.many = many
        self._model = QStringListModel(self)
        self.setModel(self._model)
        self.setCaseSensitivity(Qt.CaseInsensitive)
        self.setFilterMode(Qt.MatchContains)
        self.setCompletionMode(QCompleter.PopupCompletion)
        self.setMaxVisibleItems(12)
        # every row is one line of text: without this the popup measures each of thousands of matches (the first
        # letter typed matches nearly all, "s" is in every "/USDT"): 17 ms -> 0.8 ms a keystroke over 5,000
        self.popup().setUniformItemSizes(True)
        if many:  # a list: complete the name after the last comma, put the choice in its place
            self.setWidget(edit)
            edit.textEdited.connect(self._typed)
            self.activated[str].connect(self._chosen)
        else:
            edit.setCompleter(self)

    def set_symbols(self, symbols: list[str]) -> None:
        self._model.setStringList(sorted(symbols))

    def symbols(self) -> list[str]:
        return self._model.stringList()

    def _typed(self, text: str) -> None:
        prefix = _LAST.search(text[: self.widget().cursorPosition()]).group(0)
        if not prefix:
            self.popup().hide()
            return
        self.setCompletionPrefix(prefix)
        self.complete()

    def _chosen(self, symbol: str) -> None:
        edit = self.widget()
        text, pos = edit.text(), edit.cursorPosition()
        start = pos - len(_LAST.search(text[:pos]).group(0))
        rest = text[pos:].lstrip()
        rest = rest[len(_LAST.match(rest).group(0)):] if rest and rest[0] not in ",;" else rest  # the rest of that word
        head = text[:start] + symbol
        edit.setText(head + (rest if rest.startswith((",", ";")) else (", " + rest if rest else "")))
        edit.setCursorPosition(len(head))
