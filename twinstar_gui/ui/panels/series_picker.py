"""The chart's tool bar pickers: exchange, symbol (unified names on screen, native ids as item data), the symbol
search over the exchange's whole catalog, and the timeframe."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget
from shiboken6 import isValid

from ...core.timeframe import CHART_TIMEFRAMES
from ..symbol_search import SymbolSearch
from .combo import items_of, refill


class SeriesPicker(QWidget):
    """`selection_changed(exchange, native, tf)` when the user picks a series or timeframe; `symbol_wanted(exchange,
    text)` when a name is searched (the presenter resolves it and answers with `show_series` or `show_problem`)."""

    selection_changed = Signal(str, str, str)
    symbol_wanted = Signal(str, str)

    def __init__(self, choices: dict[str, list[str]], parent: QWidget | None = None, *,
                 timeframes: Sequence[str] | None = None, name_of: Callable[[str, str], str] | None = None) -> None:
        super().__init__(parent)
        self._choices = choices
        self.name_of = name_of or (lambda _exchange, native: native)
        self._catalogs: dict[str, list[str]] = {}  # what the search offers per exchange
        self._pending: tuple[str, str] | None = None  # (exchange, native) to select once it is in the picker
        self.exchange_box = QComboBox(self)
        self.exchange_box.addItems(list(choices))
        self.symbol_box = QComboBox(self)
        # room for `BTC/USDT:USDT`; a longer name is elided, not a wider tool bar (the docks keep their width)
        self.symbol_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.symbol_box.setMinimumContentsLength(10)
        self.search = SymbolSearch(self)
        self.tf_box = QComboBox(self)
        wanted = set(timeframes) if timeframes else None
        self.tf_box.addItems([tf.label for tf in CHART_TIMEFRAMES if wanted is None or tf.label in wanted]
                             or [tf.label for tf in CHART_TIMEFRAMES])
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for w in (QLabel("Exchange"), self.exchange_box, QLabel("Symbol"), self.symbol_box, self.search,
                  QLabel("Timeframe"), self.tf_box):
            lay.addWidget(w)
        self._fill_symbols(self.exchange_box.currentText())
        self.exchange_box.currentTextChanged.connect(self._on_exchange)
        self.symbol_box.currentIndexChanged.connect(self.emit_selection)
        self.tf_box.currentTextChanged.connect(self.emit_selection)
        self.search.picked.connect(lambda text: self.symbol_wanted.emit(self.exchange_box.currentText(), text))

    def set_choices(self, choices: dict[str, list[str]]) -> None:
        """New series list (e.g. a bot added a symbol, the settings changed); keeps the current pick, emits one if
        there was none or the one shown is gone."""
        self._choices = choices
        had = self.symbol_box.currentData() is not None
        before = (self.exchange_box.currentText(), self.symbol_box.currentData())
        exchanges = list(choices)
        if items_of(self.exchange_box) != exchanges:
            refill(self.exchange_box, exchanges)
        natives = choices.get(self.exchange_box.currentText(), [])
        if self._natives() != natives:
            current = self.symbol_box.currentData()
            self._fill_symbols(self.exchange_box.currentText(), current)
        if self._pending is not None and self._pending[1] in choices.get(self._pending[0], []):
            self.show_series(*self._pending)
        elif self.symbol_box.count() and not had:
            self._on_exchange(self.exchange_box.currentText())
        elif had and (self.exchange_box.currentText(), self.symbol_box.currentData()) != before:
            self.search.set_symbols(self._catalogs.get(self.exchange_box.currentText(), []))
            self.emit_selection()  # the series shown was removed: the chart shows the one now picked

    def set_timeframes(self, labels) -> None:
        """The timeframes offered (the settings changed); the current one stays if still offered."""
        wanted = set(labels)
        offered = [tf.label for tf in CHART_TIMEFRAMES if tf.label in wanted] or [tf.label for tf in CHART_TIMEFRAMES]
        if items_of(self.tf_box) == offered:
            return
        current = refill(self.tf_box, offered)
        if self.tf_box.currentText() != current:
            self.emit_selection()

    def show_series(self, exchange: str, native: str) -> None:
        """Select a series (the scanner's double click, a search's answer); one `selection_changed`. A series not
        in the picker yet is selected when it arrives."""
        if native not in self._choices.get(exchange, []):
            self._pending = (exchange, native)
            return
        self._pending = None
        self.search.done()
        if exchange != self.exchange_box.currentText():
            self.exchange_box.blockSignals(True)
            self.exchange_box.setCurrentText(exchange)
            self.exchange_box.blockSignals(False)
            self._fill_symbols(exchange, native)
            self.search.set_symbols(self._catalogs.get(exchange, []))
            self.emit_selection()
        elif self.symbol_box.currentData() != native:
            self.symbol_box.setCurrentIndex(self.symbol_box.findData(native))  # emits the selection
        else:
            self.emit_selection()

    def pick_quietly(self, exchange: str, native: str, tf: str) -> bool:
        """Pick a series and timeframe without announcing it (nobody listens yet: the window's first look at the
        last session's chart). False when the picker does not offer them."""
        if native not in self._choices.get(exchange, []) or self.tf_box.findText(tf) < 0:
            return False
        was = self.blockSignals(True)  # the picker's own selection_changed: the boxes' signals run as ever
        try:
            self.tf_box.setCurrentText(tf)
            self.show_series(exchange, native)
        finally:
            self.blockSignals(was)
        return True

    def show_problem(self, exchange: str, message: str) -> None:
        """Why a searched name was not charted (not listed, ambiguous with its close matches, refused)."""
        self._pending = None
        self.search.show_error(message)

    def set_catalog(self, exchange: str, symbols: list[str]) -> None:
        """What the search offers on `exchange` (its whole catalog, unified); the names on screen follow it."""
        self._catalogs[exchange] = symbols
        if exchange == self.exchange_box.currentText():
            self.search.set_symbols(symbols)
            for i in range(self.symbol_box.count()):
                self.symbol_box.setItemText(i, self.name_of(exchange, self.symbol_box.itemData(i)))

    def _natives(self) -> list[str]:
        return [self.symbol_box.itemData(i) for i in range(self.symbol_box.count())]

    def _fill_symbols(self, exchange: str, keep: str | None = None) -> None:
        self.symbol_box.blockSignals(True)
        self.symbol_box.clear()
        for native in self._choices.get(exchange, []):
            self.symbol_box.addItem(self.name_of(exchange, native), native)
        if keep is not None and self.symbol_box.findData(keep) >= 0:
            self.symbol_box.setCurrentIndex(self.symbol_box.findData(keep))
        self.symbol_box.blockSignals(False)

    def _on_exchange(self, name: str) -> None:
        self._fill_symbols(name)
        self.search.set_symbols(self._catalogs.get(name, []))
        self.emit_selection()

    def emit_selection(self, *_: object) -> None:
        if not all(isValid(w) for w in (self.exchange_box, self.symbol_box, self.tf_box)):
            return  # the window is being destroyed: its combo boxes announce their clearing on the way out
        native = self.symbol_box.currentData()
        if self.exchange_box.currentText() and native:
            self.selection_changed.emit(self.exchange_box.currentText(), native, self.tf_box.currentText())
