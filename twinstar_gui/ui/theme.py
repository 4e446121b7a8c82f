"""Dark theme for Qt widgets and pyqtgraph."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

BACKGROUND = "#131722"
PANEL = "#1e222d"
TEXT = "#d1d4dc"
DISABLED_TEXT = "#5d606b"
GRID = "#2a2e39"
UP = "#26a69a"
DOWN = "#ef5350"
STATE_COLOURS = {"live": "#26a69a", "connecting": "#f0b90b", "backoff": "#ef8a3a", "stale": "#ef5350",
                 "stopped": "#787b86", "fallback": "#42a5f5"}


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    pal = QPalette()
    r = QPalette.ColorRole
    for role, colour in (
        (r.Window, PANEL), (r.WindowText, TEXT), (r.Base, BACKGROUND),
        (r.AlternateBase, PANEL), (r.ToolTipBase, PANEL), (r.ToolTipText, TEXT),
        (r.Text, TEXT), (r.Button, PANEL), (r.ButtonText, TEXT),
        (r.Highlight, "#2962ff"), (r.HighlightedText, "#ffffff"),
    ):
        pal.setColor(role, QColor(colour))
    for role in (r.WindowText, r.Text, r.ButtonText):  # disabled must look disabled
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor(DISABLED_TEXT))
    app.setPalette(pal)
    pg.setConfigOptions(background=BACKGROUND, foreground=TEXT, antialias=False)
