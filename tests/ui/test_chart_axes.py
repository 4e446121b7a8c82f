"""The chart's axes keep their bounds between layout changes (computing them took a fifth of the GUI thread's
time at 350 series); after every kind of change they equal what pyqtgraph computes afresh."""
import numpy as np
import pyqtgraph as pg

from twinstar_gui.ui.panels.chart_panel import ChartPanel

T0, Q = 1_764_000_000_000, 900_000


def _axes(panel):
    return [p.getAxis(side) for p in (panel.price_plot, panel.volume_plot, panel.rsi_plot)
            for side in ("right", "bottom")]


def _check(panel, when: str) -> None:
    for axis in _axes(panel):
        kept, fresh = axis.boundingRect(), pg.AxisItem.boundingRect(axis)
        assert kept == fresh, f"{when}: {axis.orientation} axis kept {kept}, pyqtgraph says {fresh}"


def test_kept_axis_bounds_follow_every_layout_change(qtbot):
    panel = ChartPanel({"bybit": ["BTCUSDT"]})
    qtbot.addWidget(panel)
    panel.resize(1000, 700)
    panel.show()
    qtbot.waitExposed(panel)
    n = 400
    c = 60_000 + np.cumsum(np.random.default_rng(3).normal(0, 40, n))
    panel.show_history(np.column_stack([T0 + np.arange(n) * Q, c, c + 20, c - 20, c, np.ones(n)]), "BTCUSDT", "15m")
    qtbot.wait(50)
    _check(panel, "after the history")
    before = [axis.boundingRect() for axis in _axes(panel)]
    for size in ((1400, 900), (1100, 600)):  # the window resized: every plot moves and changes size
        panel.resize(*size)
        qtbot.wait(100)
        _check(panel, f"after a resize to {size}")
    assert [axis.boundingRect() for axis in _axes(panel)] != before  # the resizes did move them
    panel.price_plot.setXRange(T0 / 1000, T0 / 1000 + 50 * 900, padding=0)  # scrolled back
    qtbot.wait(50)
    _check(panel, "after a scroll")
    for p in (panel.price_plot, panel.volume_plot, panel.rsi_plot):  # the KRW-width axes
        p.getAxis("right").setWidth(120)
    qtbot.wait(50)
    _check(panel, "after the axes widened")
    panel.price_plot.showGrid(x=False, y=False)
    _check(panel, "after the grid went off")
