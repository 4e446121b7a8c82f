"""The dark theme: a disabled control must look disabled (a palette set for all colour groups made disabled
buttons, e.g. OK while the settings dialog stores keys, look exactly like enabled ones)."""
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QPushButton

from twinstar_gui.ui.theme import apply_dark_theme


def test_disabled_text_is_dimmed_and_enabled_text_is_not(qapp):
    before, style = QApplication.palette(), qapp.style().name()
    try:
        apply_dark_theme(qapp)
        button = QPushButton("OK")
        pal = button.palette()
        for role in (QPalette.ButtonText, QPalette.Text, QPalette.WindowText):
            enabled, disabled = pal.color(QPalette.Active, role), pal.color(QPalette.Disabled, role)
            assert disabled != enabled and disabled.lightness() < enabled.lightness() - 60, role
    finally:  # later tests in this process keep the style and palette they had
        qapp.setStyle(style)
        QApplication.setPalette(before)
