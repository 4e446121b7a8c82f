"""Symbol search as you type: a completer over an exchange's catalog (unified symbols), for a field holding one
symbol or a comma-separated list (it completes the name being typed, after the last comma)."""
from __future__ import annotations

import re

from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtWidgets import QCompleter, QLineEdit, QListView

_LAST = re.compile(r"[^,;\s]*$")
_WORD = re.compile(r"[^,;\s]*")  # a name from the start of a text (always matches, maybe empty)


def _last_word(text: str) -> str:
    """The name being typed at the end of `text` ("" after a comma or a blank; the pattern always matches)."""
    found = _LAST.search(text)
    return found.group(0) if found else ""


def _word_at_start(text: str) -> str:
    found = _WORD.match(text)
    return found.group(0) if found else ""


class SymbolCompleter(QCompleter):
    """`sol` offers `SOL/USDT:USDT` (any part of the symbol, any case); thousands of entries stay instant (Qt
    filters the model in C++, the popup lays out uniform rows; bench/bench_symbol_search.py)."""

    def __init__(self, edit: QLineEdit, *, many: bool = True) -> None:
        super().__init__(edit)
        self._edit = edit
        self.many = many
        self._model = QStringListModel(self)
        self.setModel(self._model)
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterMode(Qt.MatchFlag.MatchContains)
        self.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setMaxVisibleItems(12)
        # every row is one line of text: without this the popup measures each of thousands of matches (the first
        # letter typed matches nearly all, "s" is in every "/USDT"): 17 ms -> 0.8 ms a keystroke over 5,000
        popup = self.popup()
        if isinstance(popup, QListView):  # Qt's default popup
            popup.setUniformItemSizes(True)
        if many:  # a list: complete the name after the last comma, put the choice in its place
            self.setWidget(edit)
            edit.textEdited.connect(self._typed)
            # the str overload of activated (PySide6's stubs do not know signal overloads)
            self.activated[str].connect(self._chosen)  # type: ignore[index]
        else:
            edit.setCompleter(self)

    def set_symbols(self, symbols: list[str]) -> None:
        self._model.setStringList(sorted(symbols))

    def symbols(self) -> list[str]:
        return self._model.stringList()

    def _typed(self, text: str) -> None:
        prefix = _last_word(text[: self._edit.cursorPosition()])
        if not prefix:
            popup = self.popup()
            if popup is not None:
                popup.hide()
            return
        self.setCompletionPrefix(prefix)
        self.complete()

    def _chosen(self, symbol: str) -> None:
        edit = self._edit
        text, pos = edit.text(), edit.cursorPosition()
        start = pos - len(_last_word(text[:pos]))
        rest = text[pos:].lstrip()
        if rest and rest[0] not in ",;":  # the rest of that word
            rest = rest[len(_word_at_start(rest)):]
        head = text[:start] + symbol
        edit.setText(head + (rest if rest.startswith((",", ";")) else (", " + rest if rest else "")))
        edit.setCursorPosition(len(head))
