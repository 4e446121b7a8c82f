"""Dock layout and window geometry are remembered between runs (QSettings); an offscreen window (self-test,
CI's frozen checks) never replaces the user's layout."""
from PySide6.QtCore import QSettings, Qt

from twinstar_gui.config import settings_from_dict
from twinstar_gui.presenters.chart import ChartPresenter
from twinstar_gui.presenters.health import HealthPresenter
from twinstar_gui.presenters.log import LogPresenter
from twinstar_gui.presenters.trading import TradingPresenter
from twinstar_gui.ui.main_window import SETTINGS_APP, SETTINGS_ORG, MainWindow


def open_window(qtbot, tmp_path, persist):
    logs = LogPresenter()
    trading = TradingPresenter(settings_from_dict({"data_dir": str(tmp_path / "data")}))
    window = MainWindow(ChartPresenter({}), HealthPresenter({}), logs, mode="TEST", data_dir=str(tmp_path),
                        persist_layout=persist, trading=trading)
    window.show()
    qtbot.waitExposed(window)
    return window, logs, trading


def close_window(window, logs, trading):
    trading.close()
    window.allow_close()
    window.close()
    logs.close()


def save_a_layout(qtbot, tmp_path, width, scanner_extra):
    """Saves the dock state of a `width` px wide window, minus the geometry: the offscreen screen (800 px) is
    narrower than the window's minimum, so a restored geometry would be clamped; the next window keeps its
    default 1280 px."""
    window, logs, trading = open_window(qtbot, tmp_path, True)
    window.resize(width, 800)
    qtbot.waitUntil(lambda: window.width() == width)
    default = window.scanner_dock.width()
    window.resizeDocks([window.scanner_dock], [default + scanner_extra], Qt.Horizontal)
    window.positions_dock.raise_()
    qtbot.waitUntil(lambda: window.scanner_dock.width() >= default + scanner_extra - 20)
    chosen = window.scanner_dock.width()
    close_window(window, logs, trading)
    settings = QSettings(SETTINGS_ORG, SETTINGS_APP)
    assert settings.value("window/state") is not None and settings.value("window/geometry") is not None
    settings.remove("window/geometry")
    return chosen


def test_dock_sizes_and_the_raised_tab_come_back_after_a_restart(qtbot, tmp_path):
    QSettings.setPath(QSettings.NativeFormat, QSettings.UserScope, str(tmp_path / "qsettings"))
    chosen = save_a_layout(qtbot, tmp_path, 1280, 90)
    again, logs, trading = open_window(qtbot, tmp_path, True)
    try:
        assert again.width() == 1280
        qtbot.waitUntil(lambda: abs(again.scanner_dock.width() - chosen) <= 4)
        assert not again.positions_dock.visibleRegion().isEmpty()  # the tab the user had in front
        assert again.health_dock.visibleRegion().isEmpty()
    finally:
        close_window(again, logs, trading)


def test_an_offscreen_window_does_not_save_its_layout(qtbot, tmp_path):
    QSettings.setPath(QSettings.NativeFormat, QSettings.UserScope, str(tmp_path / "qsettings"))
    window, logs, trading = open_window(qtbot, tmp_path, None)  # None: the app's default
    assert not window.persist_layout  # QT_QPA_PLATFORM=offscreen here
    close_window(window, logs, trading)
    assert QSettings(SETTINGS_ORG, SETTINGS_APP).value("window/state") is None
