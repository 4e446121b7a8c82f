"""Settings dialog: exchanges, symbols, timeframes, memory windows, trading limits and API keys.

Widgets only: the settings presenter (presenters.settings.SettingsPresenter) loads the file, checks each value by
config.py's own rules and writes it at OK (then applies it to the running terminal); this shows its refusals at
the fields. API keys go only to the OS keyring (or, on the user's explicit opt-in where there is none, a 0600 keys
file), never to the settings file or the log.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..config import (
    DEFAULT_SYMBOLS,
    EXCHANGE,
    PASSPHRASE_EXCHANGES,
    STRATEGY,
    TOP,
    TRADING_GROUPS,
    Settings,
    schema_field,
)
from ..core.instrument import Catalog
from ..core.timeframe import CHART_TIMEFRAMES
from ..presenters.settings import (
    ConnectionTester,
    KeyStatus,
    KeyWriter,
    SettingsPresenter,
    SymbolLists,
    put_value,
)
from ..secrets import ApiKeys, default_keys_file, delete_keys, keyring_problem, load_keys, save_keys
from .symbol_completer import SymbolCompleter

log = logging.getLogger(__name__)

BAD_STYLE = "border: 1px solid #ff6b6b;"
ERROR_STYLE = "color: #ff6b6b;"
NOTE_STYLE = "color: #c8a24a;"
STRATEGY_FIELDS = tuple(f.key for f in STRATEGY.fields)


@dataclass
class _Field:
    """One input: where its value goes in the settings dict, and the label that shows its refusal."""

    path: tuple[str, ...]  # e.g. ("trading", "risk", "max_position_usdt")
    edit: QLineEdit
    error: QLabel
    tab: int
    refused: bool = False

    def show(self, message: str) -> None:
        self.refused = bool(message)
        self.error.setText(message)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setVisible(bool(message))
        self.edit.setStyleSheet(BAD_STYLE if message else "")
        self.edit.setToolTip(message)

    def note(self, message: str) -> None:  # a warning that does not refuse OK
        self.show("")
        self.error.setText(message)
        self.error.setStyleSheet(NOTE_STYLE)
        self.error.setVisible(bool(message))


class SettingsDialog(QDialog):
    """Open with open()/show() (never exec() from a coroutine). `saved` carries the Settings written. `presenter`:
    the terminal's settings presenter (one without `apply` is made when none is given: the file only)."""

    saved = Signal(object)
    saving_finished = Signal(bool)  # each save past the form checks: True written and closed, False refused

    def __init__(self, settings_path: str | Path, symbol_lists: SymbolLists, *,
                 tester: ConnectionTester | None = None, keys_file: str | Path | None = None,
                 presenter: SettingsPresenter | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.resize(720, 620)
        self.settings_path = Path(settings_path)
        self.presenter = presenter or SettingsPresenter(self.settings_path, symbol_lists, parent=self)
        self.keys_file = Path(keys_file) if keys_file is not None else default_keys_file()
        self.symbol_lists = symbol_lists
        self.tester = tester or ConnectionTester(lambda ex: load_keys(ex, self.keys_file), self)
        self.tester.finished.connect(self._on_test_finished)
        self.fields: dict[tuple[str, ...], _Field] = {}
        self.enabled: dict[str, QCheckBox] = {}
        self.key_edits: dict[str, dict[str, QLineEdit]] = {}
        self.key_errors: dict[str, QLabel] = {}
        self.test_buttons: dict[str, QPushButton] = {}
        self.remove_buttons: dict[str, QPushButton] = {}
        self.test_results: dict[str, QLabel] = {}
        self.stored_labels: dict[str, QLabel] = {}
        self.timeframe_boxes: dict[str, QCheckBox] = {}
        self.completers: dict[str, SymbolCompleter] = {}  # per exchange: search its catalog while typing

        self.general_error = QLabel("")  # a problem no single field owns (file not writable, ...)
        self.general_error.setStyleSheet(ERROR_STYLE)
        self.general_error.setWordWrap(True)
        problem = self.presenter.load()
        self._original = self.presenter.original
        if problem:
            self._show_general(problem)

        self._keys_changed: set[str] = set()  # exchanges whose keys this dialog saved or removed
        self.key_status = KeyStatus(lambda ex: load_keys(ex, self.keys_file), self)
        self.key_status.changed.connect(self._on_key_status)
        self.key_writer = KeyWriter(save_keys, lambda ex: delete_keys(ex, self.keys_file), self)
        self.key_writer.finished.connect(self._on_keys_written)
        self.saving = False  # keys are being stored or removed in the background: OK and Remove wait
        self._pending_settings: Settings | None = None  # what OK writes once the typed keys are stored

        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._scrolled(self._exchanges_tab()), "Exchanges")
        self.tabs.addTab(self._chart_tab(), "Chart && memory")
        self.tabs.addTab(self._scrolled(self._trading_tab()), "Trading")
        self.tabs.addTab(self._scrolled(self._keys_tab()), "API keys")
        self.key_status.request(list(self.stored_labels))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel,
                                        self)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.busy_label = QLabel("")  # "Saving keys…" while the keyring works (it may ask to be unlocked)
        self.busy_label.hide()
        note = QLabel("Changes apply at OK, without a restart." if self.presenter.applies_live else
                      "Changes to exchanges, symbols and windows apply after a restart.")
        note.setStyleSheet("color: #8a8f98;")
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.general_error)
        layout.addWidget(self.busy_label)
        layout.addWidget(note)
        layout.addWidget(self.buttons)
        self.general_error.hide()

        catalog_changed = getattr(symbol_lists, "changed", None)
        if catalog_changed is not None:  # a SymbolCatalog: lists arrive later, re-check when they do
            catalog_changed.connect(self._check_symbols_of)
        for name, box in self.enabled.items():
            box.toggled.connect(lambda _on, n=name: self._check_symbols_of(n))
            if box.isChecked():
                self._request_symbols(name)
                self._check_symbols_of(name)

    def __repr__(self) -> str:
        return f"SettingsDialog({self.settings_path})"

    # -- building -----------------------------------------------------------------------------------------
    @staticmethod
    def _scrolled(widget: QWidget) -> QScrollArea:
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setWidget(widget)
        return area

    def _add_field(self, form: QFormLayout, label: str, path: tuple[str, ...], value: Any, tab: int,
                   placeholder: str = "") -> _Field:
        edit = QLineEdit("" if value is None else _to_text(value))
        edit.setPlaceholderText(placeholder)
        edit.setObjectName(".".join(path))
        error = QLabel("")
        error.setWordWrap(True)
        error.hide()
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(edit)
        column.addWidget(error)
        form.addRow(label, box)
        field = _Field(path, edit, error, tab)
        self.fields[path] = field
        edit.editingFinished.connect(lambda f=field: self._check_field(f))
        return field

    def _exchanges_tab(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        for name, ex in self._original.exchanges.items():
            group = QGroupBox(name)
            form = QFormLayout(group)
            enabled = QCheckBox("enabled")
            enabled.setChecked(ex.enabled)
            self.enabled[name] = enabled
            form.addRow(enabled)
            for key, hint in (("rest_url", "exchange's own"), ("ws_url", "exchange's own"),
                              ("symbols", ", ".join(DEFAULT_SYMBOLS.get(name, ())))):
                self._add_field(form, EXCHANGE.field(key).label, ("exchanges", name, key), getattr(ex, key), 0, hint)
            symbols = self.fields[("exchanges", name, "symbols")]
            symbols.edit.editingFinished.connect(lambda n=name: self._check_symbols_of(n))
            self.completers[name] = SymbolCompleter(symbols.edit)
            url = self.fields[("exchanges", name, "rest_url")]
            url.edit.editingFinished.connect(lambda n=name: self._url_changed(n))
            column.addWidget(group)
        column.addStretch(1)
        return page

    def _chart_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        for tf in CHART_TIMEFRAMES:
            box = QCheckBox(tf.label)
            box.setChecked(tf.label in self._original.timeframes)
            self.timeframe_boxes[tf.label] = box
            line.addWidget(box)
        line.addStretch(1)
        self.timeframes_error = QLabel("")
        self.timeframes_error.setStyleSheet(ERROR_STYLE)
        self.timeframes_error.hide()
        form.addRow("Timeframes shown", row)
        form.addRow("", self.timeframes_error)
        for key in ("window_15m", "window_1h"):
            self._add_field(form, TOP.field(key).label, (key,), getattr(self._original, key), 1)
        return page

    def _trading_tab(self) -> QWidget:
        t = self._original.trading
        page = QWidget()
        column = QVBoxLayout(page)
        for title, section in TRADING_GROUPS:
            path = tuple(section.name.split("."))
            source = t if len(path) == 1 else getattr(t, path[1])
            group = QGroupBox(title)
            form = QFormLayout(group)
            for f in section.fields:
                value = getattr(source, f.key)
                self._add_field(form, f.label, path + (f.key,), getattr(value, "label", value), 2)
            column.addWidget(group)
        column.addStretch(1)
        return page

    def _keys_tab(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout(page)
        problem = keyring_problem()
        self.keyring_label = QLabel(
            f"{problem}\nKeys are not saved unless you tick the box below." if problem else
            "Keys are stored in the OS keyring, never in the settings file. Leave the fields empty to keep "
            "the stored keys.")
        self.keyring_label.setWordWrap(True)
        self.keyring_label.setStyleSheet(NOTE_STYLE if problem else "")
        column.addWidget(self.keyring_label)
        self.plaintext_opt_in = QCheckBox(f"Store API keys UNENCRYPTED in {self.keys_file} (file readable only by "
                                          "your user account)")
        self.keyring_missing = bool(problem)
        self.plaintext_opt_in.setVisible(self.keyring_missing)
        column.addWidget(self.plaintext_opt_in)
        self.keys_error = QLabel("")  # the keyring refused or failed
        self.keys_error.setStyleSheet(ERROR_STYLE)
        self.keys_error.setWordWrap(True)
        self.keys_error.hide()
        column.addWidget(self.keys_error)
        for name in self._original.exchanges:
            group = QGroupBox(name)
            form = QFormLayout(group)
            edits = {}
            parts = ("key", "secret") + (("passphrase",) if name in PASSPHRASE_EXCHANGES else ())
            for part in parts:
                edit = QLineEdit()
                edit.setEchoMode(QLineEdit.EchoMode.Password)
                edit.setObjectName(f"keys.{name}.{part}")
                edit.setPlaceholderText("unchanged")
                edits[part] = edit
                form.addRow(f"API {part}", edit)
            self.key_edits[name] = edits
            error = QLabel("")
            error.setStyleSheet(ERROR_STYLE)
            error.setWordWrap(True)
            error.hide()
            self.key_errors[name] = error
            form.addRow("", error)
            stored = QLabel("stored keys: checking…")  # the keyring is read in a worker (it may block)
            self.stored_labels[name] = stored
            remove = QPushButton("Remove stored keys")
            remove.clicked.connect(lambda _c=False, n=name: self._remove_keys(n))
            self.remove_buttons[name] = remove
            test = QPushButton("Test connection")
            test.clicked.connect(lambda _c=False, n=name: self.test_connection(n))
            self.test_buttons[name] = test
            result = QLabel("")
            result.setWordWrap(True)
            self.test_results[name] = result
            row = QWidget()
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            for w in (stored, remove, test):
                line.addWidget(w)
            form.addRow(row)
            form.addRow(result)
            column.addWidget(group)
        column.addStretch(1)
        return page

    def _on_key_status(self, exchange: str, status: str, error: str) -> None:
        if exchange in self._keys_changed or exchange not in self.stored_labels:
            return  # the user saved or removed keys meanwhile: that label is newer than this reading
        self.stored_labels[exchange].setText(f"stored keys: {status}")
        if error:
            self._show_keys_error(error)

    # -- reading the form -----------------------------------------------------------------------------------
    def _value(self, field: _Field) -> Any:
        """The text as the settings file would hold it, by the schema's kind for that field."""
        text = field.edit.text().strip()
        kind = schema_field(field.path).kind
        if kind == "url":
            return text or None
        if kind == "symbols":
            return [s for s in re.split(r"[\s,;]+", text) if s]
        if kind in ("int", "float"):
            return _number(text)
        return text

    def form_dict(self) -> dict[str, Any]:
        """The settings file's dict as the form shows it now (the original's other values kept)."""
        raw = self.presenter.base_dict()
        for path, field in self.fields.items():
            value = self._value(field)
            if path[0] == "exchanges" and path[2] == "symbols":
                value = self.presenter.unified(path[1], value)
            put_value(raw, path, value)
        for name, box in self.enabled.items():
            raw["exchanges"][name]["enabled"] = box.isChecked()
        raw["timeframes"] = [label for label, box in self.timeframe_boxes.items() if box.isChecked()]
        return raw

    # -- checking -------------------------------------------------------------------------------------------
    def _check_field(self, field: _Field) -> bool:
        """The presenter's verdict on this one value, shown at the field; True when accepted."""
        value = self._value(field)
        if isinstance(value, _NotANumber):
            field.show(f"{field.path[-1]}: not a number: {value.text!r}")
            return False
        path = field.path
        if path[:2] == ("trading", "strategy"):
            return self._check_strategy()
        message = self.presenter.check_value(path, value)
        field.show(message)
        if message:
            return False
        if path[0] == "exchanges" and path[2] == "symbols":
            return self._check_symbols_of(path[1])
        return True

    def _check_strategy(self) -> bool:
        """Strategy values depend on each other (rsi_low < rsi_high): checked together, refusal at each named."""
        fields = [self.fields[("trading", "strategy", n)] for n in STRATEGY_FIELDS]
        values = {f.path[-1]: self._value(f) for f in fields}
        bad = {n for n, v in values.items() if isinstance(v, _NotANumber)}
        for f in fields:
            f.show(f"{f.path[-1]}: not a number: {values[f.path[-1]].text!r}" if f.path[-1] in bad else "")
        if bad:
            return False
        message = self.presenter.check_strategy(values)
        if message:
            for f in [f for f in fields if f.path[-1] in message] or fields[:1]:
                f.show(message)
            return False
        return True

    def _check_symbols_of(self, exchange: str) -> bool:
        """Symbols of an enabled exchange must be on its list; a list not loaded (yet) is a note, not a refusal."""
        field = self.fields.get(("exchanges", exchange, "symbols"))
        if field is None:
            return True
        value = self._value(field)
        enabled = self.enabled[exchange].isChecked()
        listed = self.symbol_lists(exchange) if enabled else None
        completer = self.completers.get(exchange)
        if isinstance(listed, Catalog) and completer is not None and len(completer.symbols()) != len(listed):
            completer.set_symbols(listed.symbols())
        verdict, message = self.presenter.check_symbols(exchange, value, enabled)
        if verdict == "loading":
            self._request_symbols(exchange)
            field.note(message)
            return True
        field.show(message)
        return verdict == "ok"

    def _url_changed(self, exchange: str) -> None:
        """Another REST URL may list other symbols (a testnet, the simulator): fetch again and re-check."""
        if self.enabled[exchange].isChecked():
            self._request_symbols(exchange, refresh=True)
            self._check_symbols_of(exchange)

    def _request_symbols(self, exchange: str, refresh: bool = False) -> None:
        request = getattr(self.symbol_lists, "request", None)
        url_field = self.fields[("exchanges", exchange, "rest_url")]
        if request is not None and not url_field.refused:
            request(exchange, url_field.edit.text().strip() or None, refresh=refresh)

    def _check_keys(self) -> bool:
        ok = True
        opted_in = self.plaintext_opt_in.isChecked()
        for name, edits in self.key_edits.items():
            values = {part: e.text().strip() for part, e in edits.items()}
            message, culprit = "", None
            if values["key"] and not values["secret"]:
                message, culprit = "the API secret is missing (the key is filled)", "secret"
            elif values["secret"] and not values["key"]:
                message, culprit = "the API key is missing (the secret is filled)", "key"
            elif values.get("passphrase") and not values["key"]:
                message, culprit = "a passphrase without key and secret", "key"
            elif values["key"] and "passphrase" in values and not values["passphrase"]:
                message, culprit = f"{name} keys need the passphrase", "passphrase"
            elif values["key"] and self.keyring_missing and not opted_in:
                message, culprit = ("no OS keyring: tick the box above to store the keys in a file, "
                                    "or clear these fields"), "key"
            for part, edit in edits.items():
                edit.setStyleSheet(BAD_STYLE if part == culprit else "")
            self.key_errors[name].setText(message)
            self.key_errors[name].setVisible(bool(message))
            ok = ok and not message
        return ok

    def validate(self) -> bool:
        """Every field checked, refusals shown at their fields; True when the form can be saved."""
        ok = True
        for field in self.fields.values():
            if field.path[:2] != ("trading", "strategy"):
                ok = self._check_field(field) and ok
        ok = self._check_strategy() and ok
        no_tf = not any(box.isChecked() for box in self.timeframe_boxes.values())
        self.timeframes_error.setText("choose at least one timeframe" if no_tf else "")
        self.timeframes_error.setVisible(no_tf)
        ok = ok and not no_tf
        keys_ok = self._check_keys()
        if ok:  # each value passed alone: the whole file must pass too
            problem = self.presenter.check_form(self.form_dict())
            if problem:
                self._show_general(problem)
                ok = False
        if not ok or not keys_ok:
            first = next((f for f in self.fields.values() if f.refused), None)
            if first is not None:
                self.tabs.setCurrentIndex(first.tab)
                first.edit.setFocus()
            elif not keys_ok:
                self.tabs.setCurrentIndex(3)
        return ok and keys_ok

    # -- saving -----------------------------------------------------------------------------------------------
    def save(self) -> bool:
        """OK: check the form, store the typed keys in the background, then write the settings file and close.
        False when refused at once (the dialog stays, the field says why); True when saving went on: the keyring
        may still refuse (then the dialog stays and says so); `saving_finished` tells the outcome."""
        if self.saving:
            return True  # a second click while the keyring works
        self._show_general("")
        self._show_keys_error("")
        if not self.validate():
            return False
        settings = self.presenter.settings_of(self.form_dict())
        typed = self._typed_keys()
        if not typed:
            return self._write_settings(settings)
        self._pending_settings = settings
        plaintext = self.keys_file if self.keyring_missing and self.plaintext_opt_in.isChecked() else None
        self._busy("Saving keys… (the OS keyring may ask to be unlocked)")
        self.key_writer.save(typed, plaintext)
        return True

    def _typed_keys(self) -> list[ApiKeys]:
        out = []
        for name, edits in self.key_edits.items():
            values = {part: e.text().strip() for part, e in edits.items()}
            if values["key"]:
                out.append(ApiKeys(name, values["key"], values["secret"], values.get("passphrase", "")))
        return out

    def _write_settings(self, settings: Settings) -> bool:
        problem = self.presenter.save(settings)  # written, then applied to the running terminal in the background
        if problem:
            self._show_general(problem)
            self.saving_finished.emit(False)
            return False
        self.saved.emit(settings)
        self.accept()
        self.saving_finished.emit(True)
        return True

    def _remove_keys(self, exchange: str) -> None:
        if self.saving:
            return
        self._show_keys_error("")
        self._busy(f"Removing the stored keys of {exchange}…")
        self.key_writer.remove(exchange)

    def _busy(self, text: str) -> None:
        self.saving = bool(text)
        self.busy_label.setText(text)
        self.busy_label.setVisible(bool(text))
        self.tabs.setEnabled(not text)  # no edits while the typed keys are being stored
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not text)

    def _on_keys_written(self, job: str, results: list) -> None:
        self._busy("")
        for exchange, error in results:
            if error:
                self.tabs.setCurrentIndex(3)
                self._show_keys_error(f"{exchange}: {error}")
                if job == "save":
                    self._pending_settings = None
                    self.saving_finished.emit(False)
                return
            self._keys_changed.add(exchange)
            if job == "save":
                for edit in self.key_edits[exchange].values():
                    edit.clear()  # stored: the secret leaves the widget
                self.stored_labels[exchange].setText("stored keys: yes")
            else:
                self.stored_labels[exchange].setText("stored keys: none")
        if job == "save" and self._pending_settings is not None:
            settings, self._pending_settings = self._pending_settings, None
            self._write_settings(settings)

    # -- connection test ------------------------------------------------------------------------------------
    def test_connection(self, exchange: str) -> None:
        """Typed keys if any (else the stored ones), signed against the REST URL field (else the exchange's)."""
        edits = self.key_edits[exchange]
        key, secret = edits["key"].text().strip(), edits["secret"].text().strip()
        phrase = edits["passphrase"].text() if "passphrase" in edits else ""
        if bool(key) != bool(secret):
            self._check_keys()
            return
        keys = ApiKeys(exchange, key, secret, phrase) if key else None
        url_field = self.fields[("exchanges", exchange, "rest_url")]
        if not self._check_field(url_field):
            self.tabs.setCurrentIndex(url_field.tab)
            return
        if self.tester.test(exchange, keys, self._value(url_field)):
            self.test_buttons[exchange].setEnabled(False)
            self.test_results[exchange].setStyleSheet("")
            self.test_results[exchange].setText("testing…")

    def _on_test_finished(self, exchange: str, ok: bool, message: str) -> None:
        if exchange not in self.test_results:
            return
        self.test_buttons[exchange].setEnabled(True)
        self.test_results[exchange].setStyleSheet("color: #4caf50;" if ok else ERROR_STYLE)
        self.test_results[exchange].setText(message if ok else f"Failed: {message}")

    # -- messages -------------------------------------------------------------------------------------------
    def _show_general(self, text: str) -> None:
        self.general_error.setText(text)
        self.general_error.setVisible(bool(text))

    def _show_keys_error(self, text: str) -> None:
        if hasattr(self, "keys_error"):
            self.keys_error.setText(text)
            self.keys_error.setVisible(bool(text))


class _NotANumber(str):
    @property
    def text(self) -> str:
        return str(self)


def _number(text: str) -> Any:
    """"12" -> 12, "0.5" -> 0.5; anything else is kept for a "not a number" refusal at the field."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return _NotANumber(text)


def _to_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)
