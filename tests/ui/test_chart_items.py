"""Chart items offscreen: colours, in-place forming updates, visible-range-only painting, LOD when zoomed out."""
import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QImage, QPainter

from twinstar_gui.ui.chart import CandlestickItem, VolumeItem

W = 900.0  # 15m in seconds


def render(plot: pg.PlotWidget) -> QImage:
    img = QImage(800, 500, QImage.Format_ARGB32_Premultiplied)
    img.fill(QColor("black"))
    painter = QPainter(img)
    try:
        plot.render(painter)
    finally:
        painter.end()
    return img


def colour_at(plot, img, x, y):
    pt = plot.getPlotItem().vb.mapViewToScene(pg.Point(x, y))
    pt = plot.mapFromScene(pt)
    c = QColor(img.pixel(int(pt.x()), int(pt.y())))
    return c.red(), c.green(), c.blue()


def make_plot(qapp, item):
    plot = pg.PlotWidget()
    plot.resize(800, 500)
    plot.addItem(item)
    plot.show()
    qapp.processEvents()
    return plot


def test_up_down_colours_and_live_update(qapp):
    item = CandlestickItem()
    x = np.array([0.0, W, 2 * W])
    item.set_data(x, [10, 20, 12], [21, 21, 16], [9, 11, 11], [20, 12, 15], W)  # up, down, up
    plot = make_plot(qapp, item)
    plot.setXRange(-W, 4 * W, padding=0)
    plot.setYRange(0, 40, padding=0)
    img = render(plot)
    assert colour_at(plot, img, 0.5 * W, 15) == (38, 166, 154)  # up body green
    assert colour_at(plot, img, 1.5 * W, 16) == (239, 83, 80)  # down body red
    assert colour_at(plot, img, 2.5 * W, 30) == (0, 0, 0)  # above the third candle: nothing yet
    item.update_last(2 * W, 12, 35, 11, 33)  # the forming candle grows in place
    assert len(item) == 3
    assert colour_at(plot, render(plot), 2.5 * W, 30) == (38, 166, 154)
    item.update_last(3 * W, 33, 34, 30, 31)  # a new candle appends
    assert len(item) == 4 and item.boundingRect().right() >= 4 * W


def test_paints_only_the_visible_range_and_aggregates_when_zoomed_out(qapp):
    n = 200_000
    rng = np.random.default_rng(2)
    close = 100 + rng.normal(0, 1, n).cumsum()
    x = np.arange(n) * W
    item = CandlestickItem()
    item.set_data(x, close + 0.1, close + 1, close - 1, close, W)
    plot = make_plot(qapp, item)
    plot.setXRange(x[1000], x[1100], padding=0)
    render(plot)
    assert not item.lod_active and 100 <= item.last_painted <= 101 + 2
    plot.setXRange(x[0], x[-1], padding=0)
    img = render(plot)
    assert item.lod_active and 0 < item.last_painted <= 800  # one line per pixel column at most
    colours = {img.pixel(i, j) for i in range(0, 800, 5) for j in range(0, 500, 5)}
    assert len(colours) > 2  # something was drawn


def test_y_bounds_follow_the_visible_candles(qapp):
    item = CandlestickItem()
    x = np.arange(10) * W
    lows = np.r_[np.full(5, 1.0), np.full(5, 100.0)]
    item.set_data(x, lows + 1, lows + 2, lows, lows + 1, W)
    assert item.dataBounds(1, orthoRange=(5 * W, 9 * W)) == (100.0, 102.0)
    assert item.dataBounds(1) == (1.0, 102.0)
    assert item.dataBounds(0) == (0.0, 10 * W)


def test_volume_bars_and_empty_items_paint(qapp):
    vol = VolumeItem()
    vol.set_data([0.0, W], [5.0, 8.0], [1.0, 2.0], [2.0, 1.0], W)
    plot = make_plot(qapp, vol)
    plot.setXRange(-W, 3 * W, padding=0)
    plot.setYRange(0, 10, padding=0)
    img = render(plot)
    r, g, b = colour_at(plot, img, 0.5 * W, 2)
    assert g > r  # up volume greenish
    r, g, b = colour_at(plot, img, 1.5 * W, 2)
    assert r > g  # down volume reddish
    vol.update_last(W, 9.5, 2.0, 1.0)
    assert vol.dataBounds(1) == (0.0, 9.5)
    empty = CandlestickItem()
    make_plot(qapp, empty)
    assert empty.dataBounds(1) == (None, None) and len(empty) == 0
