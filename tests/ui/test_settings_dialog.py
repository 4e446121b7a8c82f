"""Settings dialog offscreen with real widgets: validation at the field, the settings file, keys in the keyring
(in-memory backend from conftest), the opt-in keys file, and the connection test against the simulator."""
import json
import logging
import os
import stat
import threading

import keyring
import keyring.backends.fail
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog
from shiboken6 import isValid

from twinstar_gui.config import load_settings, save_settings, settings_from_dict
from twinstar_gui.presenters.settings import ConnectionTester, SymbolCatalog
from twinstar_gui.secrets import ApiKeys, KeyStoreError, load_keys, save_keys
from twinstar_gui.sim.clock import SimClock
from twinstar_gui.sim.market import Market
from twinstar_gui.sim.server import SimThread
from twinstar_gui.ui.settings_dialog import SettingsDialog

KEY, SECRET = "dlgKey5c1e88a0", "dlgSecret93be1f07d4c2"


@pytest.fixture(scope="module")
def sim():
    thread = SimThread(Market(SimClock(speed=1.0), seed=11), push_interval=0.5).start()
    thread.server.add_account(KEY, SECRET, balance=5_000.0)
    yield thread
    thread.stop()


@pytest.fixture
def paths(tmp_path, sim):
    """A settings file whose Bybit REST URL is the simulator (public + signed API on one port)."""
    path = tmp_path / "config" / "settings.json"
    save_settings(settings_from_dict({"exchanges": {"bybit": {"rest_url": sim.trade_url("bybit"),
                                                              "symbols": ["BTCUSDT"]}}}), path)
    return path, tmp_path / "config" / "keys.json"


@pytest.fixture
def catalog(qtbot, sim):
    """The app's symbol-list presenter, fetching Bybit's list from the simulator in a worker thread."""
    cat = SymbolCatalog()
    cat.request("bybit", sim.trade_url("bybit"))
    qtbot.waitUntil(lambda: cat.symbols("bybit") is not None, timeout=10_000)
    yield cat
    cat.pool.waitForDone(10_000)


def make_dialog(qtbot, paths, symbol_lists, tester=None):
    path, keys_file = paths
    dialog = SettingsDialog(path, symbol_lists, keys_file=keys_file, tester=tester)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def saved(qtbot, dialog) -> bool:
    """Press OK and wait for the outcome: True once the dialog wrote the file and closed, False if it refused
    (at once, or after the keyring answered in the background)."""
    if not dialog.save():
        return False
    qtbot.waitUntil(lambda: not dialog.saving, timeout=10_000)
    return dialog.result() == QDialog.Accepted


def field(dialog, *path):
    return dialog.fields[path]


def type_into(edit, text):
    edit.setText(text)
    edit.editingFinished.emit()


def shown_error(dialog, f):
    return f.error.text() if f.error.isVisibleTo(dialog) else ""


def test_the_catalog_lists_the_simulators_symbols(catalog, sim):
    listed = {i.native for i in catalog.symbols("bybit").instruments}
    assert {"BTCUSDT", "ETHUSDT", "SOLUSDT", "1000PEPEUSDT"} <= listed and len(listed) >= 50
    assert "NOPEUSDT" not in listed
    assert catalog.symbols("bybit").resolve("pepe").symbol == "1000PEPE/USDT:USDT"


def test_valid_values_are_written_and_read_back(qtbot, paths, catalog):
    path, _ = paths
    dialog = make_dialog(qtbot, paths, catalog)
    type_into(field(dialog, "exchanges", "bybit", "symbols").edit, "btcusdt, ETHUSDT SOLUSDT")
    type_into(field(dialog, "exchanges", "bybit", "ws_url").edit, "wss://stream.example/v5/public/linear")
    type_into(field(dialog, "trading", "risk", "max_position_usdt").edit, "750")
    type_into(field(dialog, "trading", "risk", "max_open_positions").edit, "5")
    type_into(field(dialog, "trading", "risk", "daily_loss_limit_usdt").edit, "120.5")
    type_into(field(dialog, "trading", "order_usdt").edit, "40")
    type_into(field(dialog, "window_15m").edit, "2500")
    type_into(field(dialog, "window_1h").edit, "400")
    dialog.timeframe_boxes["1d"].setChecked(False)
    dialog.enabled["binance"].setChecked(False)
    with qtbot.waitSignal(dialog.saved):
        assert saved(qtbot, dialog)
    assert dialog.result() == QDialog.Accepted
    s = load_settings(path)
    assert s.symbols("bybit") == ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")  # typed native, saved unified
    assert s.exchanges["bybit"].ws_url == "wss://stream.example/v5/public/linear"
    assert (s.trading.risk.max_position_usdt, s.trading.risk.max_open_positions,
            s.trading.risk.daily_loss_limit_usdt) == (750, 5, 120.5)
    assert s.trading.order_usdt == 40 and (s.window_15m, s.window_1h) == (2500, 400)
    assert s.timeframes == ("15m", "1h", "4h")
    assert "data_dir" not in json.loads(path.read_text())  # the platform default stays a default


@pytest.mark.parametrize("where, text, message, good", [
    (("exchanges", "bybit", "symbols"), "BTCUSDT, NOPEUSDT", "not on bybit: 'NOPEUSDT' is not listed", "BTCUSDT"),
    (("trading", "risk", "max_position_usdt"), "-5", "max_position_usdt: expected a number > 0", "500"),
    (("trading", "risk", "daily_loss_limit_usdt"), "0", "daily_loss_limit_usdt: expected a number > 0", "50"),
    (("trading", "risk", "max_open_positions"), "0", "max_open_positions: expected an integer >= 1", "2"),
    (("trading", "risk", "max_position_usdt"), "inf", "max_position_usdt: expected a number > 0", "500"),
    (("trading", "order_usdt"), "nan", "order_usdt: expected a number >= 1", "50"),
    (("exchanges", "bybit", "rest_url"), "ftp://files.example", "not a http(s)/ws(s) URL", "SIM"),
    (("exchanges", "okx", "ws_url"), "localhost:8443/ws", "not a http(s)/ws(s) URL", "wss://ws.example/ws"),
    (("window_15m",), "50", "window_15m: expected an integer >= 100", "100"),
    (("exchanges", "bybit", "symbols"), "BTCUSDT ../../x", "symbol name '../../x' is not allowed", "BTCUSDT"),
    (("window_1h",), "lots", "not a number", "300"),
])
def test_a_bad_value_is_refused_at_its_field_and_nothing_is_written(qtbot, sim, paths, catalog, where, text,
                                                                    message, good):
    path, _ = paths
    before = path.read_text()
    dialog = make_dialog(qtbot, paths, catalog)
    f = field(dialog, *where)
    dialog.tabs.setCurrentIndex(f.tab)  # the user is on the field's page
    type_into(f.edit, text)
    assert message in shown_error(dialog, f)  # told as soon as the field is left
    dialog.tabs.setCurrentIndex(3)
    assert not saved(qtbot, dialog)
    assert dialog.isVisible() and dialog.result() != QDialog.Accepted
    assert message in shown_error(dialog, f) and "ff6b6b" in f.edit.styleSheet()
    assert dialog.tabs.currentIndex() == f.tab  # the refused field is brought into view
    assert path.read_text() == before
    type_into(f.edit, sim.trade_url("bybit") if good == "SIM" else good)  # corrected: the message goes, OK writes
    assert shown_error(dialog, f) == "" and f.edit.styleSheet() == ""
    assert saved(qtbot, dialog) and dialog.result() == QDialog.Accepted
    assert load_settings(path)  # what OK wrote reads back


def test_a_symbol_list_that_could_not_be_loaded_is_a_note_not_a_refusal(qtbot, paths):
    cat = SymbolCatalog(fetch=lambda ex, url: (_ for _ in ()).throw(ConnectionError("no route to host")))
    dialog = make_dialog(qtbot, paths, cat)
    f = field(dialog, "exchanges", "bybit", "symbols")
    assert dialog.tabs.currentIndex() == f.tab
    qtbot.waitUntil(lambda: "no route to host" in shown_error(dialog, f), timeout=10_000)
    assert "not checked" in shown_error(dialog, f) and not f.refused
    assert saved(qtbot, dialog)
    cat.pool.waitForDone(10_000)


def test_a_key_without_its_secret_is_refused(qtbot, paths, catalog):
    path, keys_file = paths
    before = path.read_text()
    dialog = make_dialog(qtbot, paths, catalog)
    dialog.key_edits["bybit"]["key"].setText(KEY)
    assert not saved(qtbot, dialog)
    assert "secret is missing" in dialog.key_errors["bybit"].text() and dialog.key_errors["bybit"].isVisibleTo(dialog)
    assert "ff6b6b" in dialog.key_edits["bybit"]["secret"].styleSheet()
    assert dialog.tabs.currentIndex() == 3
    assert path.read_text() == before and load_keys("bybit", keys_file) is None and not keys_file.exists()
    dialog.key_edits["bybit"]["key"].clear()
    dialog.key_edits["okx"]["secret"].setText(SECRET)
    assert not saved(qtbot, dialog) and "key is missing" in dialog.key_errors["okx"].text()


def test_keys_go_to_the_keyring_only(qtbot, paths, catalog):
    path, keys_file = paths
    dialog = make_dialog(qtbot, paths, catalog)
    assert all(e.echoMode() == e.EchoMode.Password for edits in dialog.key_edits.values() for e in edits.values())
    dialog.key_edits["bybit"]["key"].setText(KEY)
    dialog.key_edits["bybit"]["secret"].setText(SECRET)
    dialog.key_edits["okx"]["key"].setText("okxKey0001")
    dialog.key_edits["okx"]["secret"].setText("okxSecret0002")
    assert not saved(qtbot, dialog) and "passphrase" in dialog.key_errors["okx"].text()  # OKX keys need one
    dialog.key_edits["okx"]["passphrase"].setText("okxPhrase0003")
    assert saved(qtbot, dialog)
    assert load_keys("bybit", keys_file) == ApiKeys("bybit", KEY, SECRET)
    assert load_keys("okx", keys_file) == ApiKeys("okx", "okxKey0001", "okxSecret0002", "okxPhrase0003")
    text = path.read_text()
    for secret in (KEY, SECRET, "okxKey0001", "okxSecret0002", "okxPhrase0003"):
        assert secret not in text
    assert not keys_file.exists()  # a keyring is there: no file
    assert all(not e.text() for edits in dialog.key_edits.values() for e in edits.values())  # widgets emptied


def _all_text(dialog):
    """What the dialog shows or could print: labels, reprs of it and of every QObject under it."""
    from PySide6.QtWidgets import QLabel

    parts = [repr(dialog), repr(dialog.tester)]
    parts += [repr(o) for o in dialog.findChildren(QObject)]
    parts += [label.text() for label in dialog.findChildren(QLabel)]
    return "\n".join(parts)


def test_connection_test_redacts_the_keys_and_says_ok_for_good_ones(qtbot, paths, catalog, caplog):
    pytest.importorskip("ccxt")
    caplog.set_level(logging.DEBUG)
    wrong = "wrongSecret4471aa90"
    save_keys(ApiKeys("bybit", KEY, wrong))  # stored keys with a wrong secret
    tester = ConnectionTester(load_keys)
    dialog = make_dialog(qtbot, paths, catalog, tester=tester)
    result = dialog.test_results["bybit"]
    with qtbot.waitSignal(tester.finished, timeout=30_000):
        dialog.test_buttons["bybit"].click()  # the stored keys: read in the worker
        assert not dialog.test_buttons["bybit"].isEnabled()  # the GUI went on while it ran
    assert result.text().startswith("Failed:") and "refused the API key" in result.text()
    everything = _all_text(dialog) + caplog.text
    for secret in (KEY, wrong, SECRET):
        assert secret not in everything
    # typed keys (the right ones) are tested without being saved first
    dialog.key_edits["bybit"]["key"].setText(KEY)
    dialog.key_edits["bybit"]["secret"].setText(SECRET)
    with qtbot.waitSignal(tester.finished, timeout=30_000):
        dialog.test_buttons["bybit"].click()
    assert result.text().startswith("OK") and "5,000.00" in result.text()
    assert dialog.test_buttons["bybit"].isEnabled()
    assert KEY not in caplog.text and SECRET not in caplog.text
    assert load_keys("bybit").secret == wrong  # testing stored nothing
    tester.pool.waitForDone(10_000)


class FailingKeyring(KeyringBackend):
    priority = 1

    def get_password(self, service, username):
        raise KeyringError("the keyring daemon is locked")

    def set_password(self, service, username, password):
        raise KeyringError("the keyring daemon is locked")

    def delete_password(self, service, username):
        raise KeyringError("the keyring daemon is locked")


def test_a_failing_keyring_is_told_and_nothing_goes_to_plain_text(qtbot, paths, catalog, tmp_path):
    path, keys_file = paths
    before = path.read_text()
    keyring.set_keyring(FailingKeyring())  # conftest restores the previous backend
    dialog = make_dialog(qtbot, paths, catalog)  # reading the stored keys fails (in a worker): told, no crash
    dialog.tabs.setCurrentIndex(3)
    qtbot.waitUntil(lambda: "could not be read" in dialog.keys_error.text(), timeout=5000)
    assert dialog.keys_error.isVisibleTo(dialog) and dialog.stored_labels["bybit"].text() == "stored keys: unknown"
    assert not dialog.plaintext_opt_in.isVisibleTo(dialog)  # a keyring exists: no file offered
    dialog.key_edits["bybit"]["key"].setText(KEY)
    dialog.key_edits["bybit"]["secret"].setText(SECRET)
    assert not saved(qtbot, dialog)
    assert "refused to store the keys" in dialog.keys_error.text() and dialog.isVisible()
    assert path.read_text() == before and not keys_file.exists()
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert SECRET.encode() not in p.read_bytes() and KEY.encode() not in p.read_bytes()


def test_without_a_keyring_keys_are_stored_only_on_opt_in_in_a_0600_file(qtbot, paths, catalog):
    path, keys_file = paths
    keyring.set_keyring(keyring.backends.fail.Keyring())
    dialog = make_dialog(qtbot, paths, catalog)
    dialog.tabs.setCurrentIndex(3)
    assert "No usable OS keyring" in dialog.keyring_label.text()
    assert dialog.plaintext_opt_in.isVisibleTo(dialog) and not dialog.plaintext_opt_in.isChecked()
    dialog.key_edits["bybit"]["key"].setText(KEY)
    dialog.key_edits["bybit"]["secret"].setText(SECRET)
    assert not saved(qtbot, dialog)  # not opted in: refused, nothing stored anywhere
    assert "tick the box" in dialog.key_errors["bybit"].text() and not keys_file.exists()
    assert SECRET not in path.read_text()
    dialog.plaintext_opt_in.setChecked(True)
    assert saved(qtbot, dialog)
    assert stat.S_IMODE(os.stat(keys_file).st_mode) == 0o600
    assert load_keys("bybit", keys_file) == ApiKeys("bybit", KEY, SECRET)
    assert SECRET not in path.read_text()
    os.chmod(keys_file, 0o644)  # someone loosened it: refused with what to do
    with pytest.raises(KeyStoreError, match="chmod 600"):
        load_keys("bybit", keys_file)


def test_without_a_keyring_and_no_opt_in_settings_still_save_and_no_keys_file(qtbot, paths, catalog):
    path, keys_file = paths
    keyring.set_keyring(keyring.backends.fail.Keyring())
    dialog = make_dialog(qtbot, paths, catalog)
    type_into(field(dialog, "window_1h").edit, "600")
    assert saved(qtbot, dialog)
    assert load_settings(path).window_1h == 600 and not keys_file.exists()
    with pytest.raises(KeyStoreError, match="No usable OS keyring"):
        save_keys(ApiKeys("bybit", KEY, SECRET))  # never a silent fallback to a file
    assert not keys_file.exists()


def test_main_window_has_a_settings_action_that_opens_the_dialog_without_blocking(qtbot, paths, catalog):
    from twinstar_gui.presenters.chart import ChartPresenter
    from twinstar_gui.presenters.health import HealthPresenter
    from twinstar_gui.presenters.log import LogPresenter
    from twinstar_gui.ui.main_window import MainWindow

    logs = LogPresenter()
    window = MainWindow(ChartPresenter({}), HealthPresenter({}), logs, mode="TEST", data_dir="x",
                        persist_layout=False)  # not given to qtbot: the window's own close path, as in the app
    window.enable_settings(paths[0], catalog)
    assert window.settings_action.shortcut().toString() == "Ctrl+,"
    window.settings_action.trigger()  # returns at once: open(), no nested loop
    dialog = window.settings_dialog
    assert isinstance(dialog, SettingsDialog) and dialog.isVisible()
    window.settings_action.trigger()
    assert window.settings_dialog is dialog  # one at a time
    dialog.reject()
    qtbot.waitUntil(lambda: not isValid(dialog))  # deleted on close
    window.settings_action.trigger()  # and opens again
    again = window.settings_dialog
    assert isValid(again) and again is not dialog and again.isVisible()
    again.reject()
    qtbot.waitUntil(lambda: not isValid(again))
    window.allow_close()
    window.close()
    logs.close()


def test_stored_key_status_is_read_off_the_gui_thread_and_a_newer_save_wins(qtbot, paths, catalog):
    save_keys(ApiKeys("okx", KEY, SECRET, "phrase-1"))
    memory = keyring.get_keyring()
    readers, gate = [], threading.Event()

    class SlowKeyring(KeyringBackend):  # a locked keyring: reads wait (an unlock prompt)
        priority = 1

        def get_password(self, service, username):
            readers.append(threading.current_thread() is threading.main_thread())
            gate.wait(10)
            return memory.get_password(service, username)

        def set_password(self, service, username, password):
            memory.set_password(service, username, password)

        def delete_password(self, service, username):
            memory.delete_password(service, username)

    keyring.set_keyring(SlowKeyring())  # conftest restores the previous backend
    dialog = make_dialog(qtbot, paths, catalog)  # opens at once although the keyring hangs
    assert dialog.stored_labels["okx"].text() == "stored keys: checking…"
    dialog.key_edits["bybit"]["key"].setText(KEY)
    dialog.key_edits["bybit"]["secret"].setText(SECRET)
    assert saved(qtbot, dialog) and dialog.stored_labels["bybit"].text() == "stored keys: yes"
    gate.set()
    qtbot.waitUntil(lambda: dialog.stored_labels["okx"].text() == "stored keys: yes", timeout=5000)
    qtbot.waitUntil(lambda: len(readers) >= len(dialog.stored_labels), timeout=5000)
    assert readers and not any(readers)  # never read on the GUI thread
    assert dialog.stored_labels["bybit"].text() == "stored keys: yes"  # the late "none" reading lost
    assert dialog.stored_labels["binance"].text() == "stored keys: none"


def test_closing_the_dialog_while_the_keyring_hangs_does_not_wait_for_it(qtbot, paths, catalog):
    gate, finished = threading.Event(), []

    class HangingKeyring(KeyringBackend):  # an unlock prompt nobody answers
        priority = 1

        def get_password(self, service, username):
            gate.wait(20)
            finished.append(username)

        def set_password(self, service, username, password):
            raise KeyringError("locked")

        def delete_password(self, service, username):
            raise KeyringError("locked")

    keyring.set_keyring(HangingKeyring())  # conftest restores the previous backend
    path, keys_file = paths
    dialog = SettingsDialog(path, catalog, keys_file=keys_file)
    dialog.show()
    try:
        dialog.close()
        dialog.deleteLater()
        qtbot.waitUntil(lambda: not isValid(dialog))  # gone, with its status reader
        assert finished == []  # deleting it did not wait for the hanging keyring read
    finally:
        gate.set()
    qtbot.waitUntil(lambda: len(finished) >= 1)  # the worker ends on its own; its late answer goes nowhere


def test_storing_and_removing_keys_never_wait_on_the_gui_thread(qtbot, paths, catalog):
    """A keyring that waits (an unlock prompt): OK returns at once, the dialog says what it waits for and takes
    no edits; the keys are written by a worker and the dialog closes when they are stored. Removing works the
    same way, and a refusal is shown at the keys."""
    memory = keyring.get_keyring()
    writers, gate = [], threading.Event()

    class PromptingKeyring(KeyringBackend):
        priority = 1

        def get_password(self, service, username):
            return memory.get_password(service, username)

        def set_password(self, service, username, password):
            writers.append(threading.current_thread() is threading.main_thread())
            assert gate.wait(10), "nobody unlocked the keyring"
            memory.set_password(service, username, password)

        def delete_password(self, service, username):
            writers.append(threading.current_thread() is threading.main_thread())
            assert gate.wait(10), "nobody unlocked the keyring"
            if "okx" in username or "okx" in service:
                raise KeyringError("the keyring daemon is locked")
            memory.delete_password(service, username)

    keyring.set_keyring(PromptingKeyring())  # conftest restores the previous backend
    path, keys_file = paths
    dialog = make_dialog(qtbot, paths, catalog)
    dialog.key_edits["bybit"]["key"].setText(KEY)
    dialog.key_edits["bybit"]["secret"].setText(SECRET)
    with qtbot.waitSignal(dialog.saving_finished, timeout=10_000) as outcome:
        assert dialog.save()  # returned while the keyring still waits
        assert dialog.saving and "Saving keys" in dialog.busy_label.text() and dialog.busy_label.isVisibleTo(dialog)
        assert not dialog.tabs.isEnabled() and not dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
        assert dialog.isVisible() and load_keys("bybit", keys_file) is None
        gate.set()
    assert outcome.args == [True] and dialog.result() == QDialog.Accepted
    assert load_keys("bybit", keys_file) == ApiKeys("bybit", KEY, SECRET) and writers and not any(writers)
    assert not dialog.key_edits["bybit"]["key"].text() and SECRET not in path.read_text()

    save_keys(ApiKeys("okx", "okxKey0001", "okxSecret0002", "okxPhrase0003"))
    gate.clear()
    again = make_dialog(qtbot, paths, catalog)
    again.remove_buttons["bybit"].click()
    assert again.saving and "Removing" in again.busy_label.text()
    again.remove_buttons["okx"].click()  # ignored while the first removal waits
    gate.set()
    qtbot.waitUntil(lambda: not again.saving, timeout=10_000)
    assert again.stored_labels["bybit"].text() == "stored keys: none" and load_keys("bybit", keys_file) is None
    again.remove_buttons["okx"].click()
    qtbot.waitUntil(lambda: not again.saving, timeout=10_000)
    assert again.keys_error.text() == "okx: the OS keyring could not delete the keys (KeyringError)"
    assert again.tabs.currentIndex() == 3 and again.isVisible()


def test_typing_part_of_a_name_offers_the_catalogs_symbols_and_picking_one_completes_the_list(qtbot, paths, catalog):
    dialog = make_dialog(qtbot, paths, catalog)
    f = field(dialog, "exchanges", "bybit", "symbols")
    completer = dialog.completers["bybit"]
    qtbot.waitUntil(lambda: len(completer.symbols()) >= 50, timeout=10_000)  # the catalog arrived
    f.edit.setFocus()
    f.edit.setText("BTCUSDT, ")
    f.edit.setCursorPosition(len(f.edit.text()))
    qtbot.keyClicks(f.edit, "so")
    qtbot.keyClicks(f.edit, "l")
    offered = [completer.completionModel().index(i, 0).data() for i in range(completer.completionCount())]
    assert "SOL/USDT:USDT" in offered and all("SOL" in o for o in offered)
    completer.activated[str].emit("SOL/USDT:USDT")
    assert f.edit.text() == "BTCUSDT, SOL/USDT:USDT"
    assert dialog._check_symbols_of("bybit") and not f.refused


def test_picking_a_completion_inside_a_word_with_more_of_the_list_after_it_replaces_that_word(qtbot, paths, catalog):
    """`SOL|ANA, BTC` (cursor after SOL): the pick replaces the whole word and keeps what follows (it raised)."""
    dialog = make_dialog(qtbot, paths, catalog)
    f = field(dialog, "exchanges", "bybit", "symbols")
    completer = dialog.completers["bybit"]
    f.edit.setText("ETHUSDT, SOLANA, BTCUSDT")
    f.edit.setCursorPosition(len("ETHUSDT, SOL"))
    completer.activated[str].emit("SOL/USDT:USDT")
    assert f.edit.text() == "ETHUSDT, SOL/USDT:USDT, BTCUSDT"
