"""The WS health panel shows every stream state, each in its own colour, with RTT and errors."""
from PySide6.QtGui import QColor

from twinstar_gui.net.ws import StreamHealth, StreamState
from twinstar_gui.ui.panels.health_panel import HealthPanel
from twinstar_gui.ui.theme import STATE_COLOURS


def test_every_state_is_shown_in_its_colour(qtbot):
    panel = HealthPanel()
    qtbot.addWidget(panel)
    rows = [StreamHealth(f"conn-{s.value}", "ws://127.0.0.1:1", s, 4, 0.25, 12.5, 3, 1, "" if s is StreamState.LIVE
                         else f"why {s.value}", 0.042) for s in StreamState]
    panel.show_rows(rows)
    assert panel.table.rowCount() == len(StreamState)
    colours = set()
    for r, s in enumerate(StreamState):
        assert panel.state_of(r) == s.value
        colour = panel.table.item(r, 1).foreground().color()
        assert colour == QColor(STATE_COLOURS[s.value])
        colours.add(colour.name())
    assert len(colours) == len(StreamState)
    assert panel.table.item(0, 5).text() == "42 ms" and panel.table.item(0, 8).text() == "why connecting"
    panel.show_rows(rows[:1])  # a connection went away
    assert panel.table.rowCount() == 1
