"""The log panel: lines in order, each in its level's colour, filtered by level; a burst goes in as a few inserts."""
import logging

from PySide6.QtGui import QColor, QTextCursor

from twinstar_gui.ui.panels.log_panel import COLOURS, LogPanel


def _colour_of_line(panel: LogPanel, n: int) -> QColor:
    block = panel.text.document().findBlockByNumber(n)
    cursor = QTextCursor(block)
    cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock)  # the format of the line's text
    return cursor.charFormat().foreground().color()


def test_a_burst_keeps_its_order_colours_and_the_level_filter(qtbot):
    panel = LogPanel()
    qtbot.addWidget(panel)
    batch = [(logging.INFO, "one"), (logging.INFO, "two"), (logging.WARNING, "three"), (logging.WARNING, "four"),
             (logging.ERROR, "five"), (logging.INFO, "six\nsix, second line"), (logging.DEBUG, "hidden")]
    panel.append_lines(batch[:3])
    panel.append_lines(batch[3:])
    assert panel.visible_text().splitlines() == ["one", "two", "three", "four", "five", "six", "six, second line"]
    assert _colour_of_line(panel, 2) == QColor(COLOURS[logging.WARNING])
    assert _colour_of_line(panel, 3) == QColor(COLOURS[logging.WARNING])
    assert _colour_of_line(panel, 4) == QColor(COLOURS[logging.ERROR])
    assert _colour_of_line(panel, 1) not in (QColor(c) for c in COLOURS.values())
    assert _colour_of_line(panel, 5) not in (QColor(c) for c in COLOURS.values())
    panel.level.setCurrentText("Warning")
    assert panel.visible_text().splitlines() == ["three", "four", "five"]
    panel.level.setCurrentText("Debug")
    assert panel.visible_text().splitlines()[-1] == "hidden" and len(panel.visible_text().splitlines()) == 8
