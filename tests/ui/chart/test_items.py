"""Chart items rendered offscreen: colours, live updates, visible-range-only painting, per-pixel LOD, y bounds."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter

from twinstar_gui.ui.chart import CandlestickItem, VolumeItem

W = 900.0  # 15m bars, seconds
GREEN, RED, BLACK = (38, 166, 154), (239, 83, 80), (0, 0, 0)


def make_plot(qtbot, *items, size=(800, 500)) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    plot.resize(*size)
    for item in items:
        plot.addItem(item)
    plot.show()
    qtbot.waitExposed(plot)
    return plot


def render(plot: pg.PlotWidget) -> QImage:
    img = QImage(plot.viewport().size(), QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(QColor("black"))
    painter = QPainter(img)
    try:
        plot.render(painter)
    finally:
        painter.end()
    return img


def rgb_at(plot: pg.PlotWidget, img: QImage, x: float, y: float) -> tuple[int, int, int]:
    scene_pt = plot.getPlotItem().vb.mapViewToScene(pg.Point(x, y))
    pt = plot.mapFromScene(scene_pt)
    c = QColor(img.pixel(pt.x(), pt.y()))
    return c.red(), c.green(), c.blue()


def rgb_near(plot: pg.PlotWidget, img: QImage, x: float, y: float) -> set[tuple[int, int, int]]:
    """Colours of the pixel at (x, y) and its left/right neighbours (a 1 px line may round either way)."""
    scene_pt = plot.getPlotItem().vb.mapViewToScene(pg.Point(x, y))
    pt = plot.mapFromScene(scene_pt)
    return {QColor(img.pixel(pt.x() + d, pt.y())).getRgb()[:3] for d in (-1, 0, 1)}


def random_walk(n: int, seed: int = 3) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    close = 1000 + rng.normal(0, 1, n).cumsum()
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.uniform(0, 1, n)
    low = np.minimum(open_, close) - rng.uniform(0, 1, n)
    return np.arange(n) * W, open_, high, low, close


def test_up_candle_green_down_candle_red(qtbot):
    item = CandlestickItem()
    item.set_data(np.array([0.0, W, 2 * W]), np.array([10.0, 20, 15]), np.array([22.0, 21, 16]),
                  np.array([8.0, 11, 14]), np.array([20.0, 12, 15]), W)  # up, down, doji
    plot = make_plot(qtbot, item)
    plot.setXRange(-W, 4 * W, padding=0)
    plot.setYRange(0, 40, padding=0)
    img = render(plot)
    assert rgb_at(plot, img, 0.5 * W, 15) == GREEN
    assert rgb_at(plot, img, 1.5 * W, 16) == RED
    assert GREEN in rgb_near(plot, img, 0.5 * W, 21)  # wick above the up body
    assert rgb_at(plot, img, 0.1 * W, 21) == BLACK  # beside the wick, above the body: background
    assert rgb_at(plot, img, 3.5 * W, 15) == BLACK
    assert not item.lod_active and item.last_painted == 3


def test_update_last_changes_pixels_in_place_then_appends(qtbot):
    item = CandlestickItem()
    item.set_data(np.array([0.0, W]), np.array([10.0, 12]), np.array([13.0, 14]), np.array([9.0, 11]),
                  np.array([12.0, 13]), W)
    plot = make_plot(qtbot, item)
    plot.setXRange(-W, 4 * W, padding=0)
    plot.setYRange(0, 40, padding=0)
    before = render(plot)
    assert rgb_at(plot, before, 1.5 * W, 30) == BLACK
    item.update_last(W, 12, 35, 11, 33)  # the forming candle makes a new high and closes up
    assert len(item) == 2
    after = render(plot)
    assert rgb_at(plot, after, 1.5 * W, 30) == GREEN
    assert item.boundingRect().bottom() == pytest.approx(35)  # y grows downwards in a QRectF
    item.update_last(2 * W, 33, 34, 20, 21)  # next candle opens: appended, red
    assert len(item) == 3 and item.boundingRect().right() == pytest.approx(3 * W)
    assert rgb_at(plot, render(plot), 2.5 * W, 27) == RED
    with pytest.raises(ValueError):
        item.update_last(0.0, 1, 2, 0, 1)  # older than the last candle


def test_live_appends_grow_geometrically_and_keep_exact_bounds():
    item = CandlestickItem()
    x, o, h, l, c = random_walk(1000)
    item.set_data(x, o, h, l, c, W)
    capacities = set()
    for i in range(1000, 5000):
        px = 1000 + 0.01 * i
        item.update_last(i * W, px, px + 1, px - 1, px)
        item.update_last(i * W, px, px + 2, px - 1, px + 1)  # same candle again: in place
        capacities.add(item._store.capacity)
    assert len(item) == 5000
    assert len(capacities) <= 4  # doubling, not one reallocation per append
    lows, highs = item._store.column(3), item._store.column(2)
    assert item.dataBounds(1) == (lows.min(), highs.max())
    assert item.dataBounds(0) == (0.0, 5000 * W)


def test_paint_touches_only_the_visible_window_of_200k(qtbot):
    n = 200_000
    item = CandlestickItem()
    item.set_data(*random_walk(n), W)
    plot = make_plot(qtbot, item, size=(1600, 900))
    plot.setXRange(150_000 * W, 150_300 * W, padding=0)  # ~5 px per bar: every candle drawn
    plot.setAutoVisible(y=True)
    plot.enableAutoRange(axis="y")
    img = render(plot)
    assert not item.lod_active
    assert 0 < item.visible_count() <= 302 and item.last_painted <= item.visible_count() + 2
    colours = {rgb_at(plot, img, (150_000 + k + 0.5) * W, item._store.column(4)[150_000 + k])
               for k in range(0, 300, 7)}
    assert colours & {GREEN, RED}  # candles on screen, y auto-fitted to them


def test_zoomed_out_200k_aggregates_per_pixel_column(qtbot):
    n = 200_000
    x, o, h, l, c = random_walk(n)
    h[123_456] = h.max() + 500  # a one-candle spike must survive the aggregation
    item = CandlestickItem()
    item.set_data(x, o, h, l, c, W)
    plot = make_plot(qtbot, item)
    plot.autoRange(padding=0)
    img = render(plot)
    vb = plot.getPlotItem().vb
    assert item.lod_active
    assert 0 < item.last_painted <= int(vb.width()) + 1  # one line per device pixel column at most
    assert item.visible_count() == n
    assert rgb_near(plot, img, x[123_456] + W / 2, h[123_456] - 100) & {GREEN, RED}
    drawn = set().union(*(rgb_near(plot, img, x[i] + W / 2, (h[i] + l[i]) / 2) for i in range(0, n, 20_000)))
    assert drawn >= {GREEN, RED}


def test_lod_threshold_is_three_device_pixels(qtbot):
    item = CandlestickItem()
    item.set_data(*random_walk(2000), W)
    plot = make_plot(qtbot, item)
    width_px = plot.getPlotItem().vb.width()
    plot.setXRange(0, (width_px / 4) * W, padding=0)  # 4 px per bar
    render(plot)
    assert not item.lod_active
    plot.setXRange(0, (width_px / 2) * W, padding=0)  # 2 px per bar
    render(plot)
    assert item.lod_active and item.last_painted <= width_px + 1


def test_data_bounds_y_fit_the_visible_candles(qtbot):
    item = CandlestickItem()
    lows = np.r_[np.full(5, 1.0), np.full(5, 100.0)]
    item.set_data(np.arange(10) * W, lows + 1, lows + 2, lows, lows + 1, W)
    assert item.dataBounds(1, orthoRange=(5 * W, 9 * W)) == (100.0, 102.0)
    assert item.dataBounds(1, orthoRange=(0.0, 2 * W)) == (1.0, 3.0)
    assert item.dataBounds(1, orthoRange=(4.5 * W, 5.5 * W)) == (1.0, 102.0)  # both half-visible bars
    assert item.dataBounds(1, orthoRange=(20 * W, 30 * W)) == (None, None)
    assert item.dataBounds(1) == (1.0, 102.0)
    assert item.dataBounds(0) == (0.0, 10 * W)
    plot = make_plot(qtbot, item)  # auto-range on the visible candles only
    plot.setXRange(6 * W, 9 * W, padding=0)
    plot.setAutoVisible(y=True)
    plot.enableAutoRange(axis="y")
    render(plot)
    y0, y1 = plot.getPlotItem().vb.viewRange()[1]
    assert 90 < y0 <= 100 and 102 <= y1 < 110


def test_empty_items_paint_without_error(qtbot):
    candles, volume = CandlestickItem(), VolumeItem()
    plot = make_plot(qtbot, candles, volume)
    render(plot)
    candles.set_data(*(np.empty(0),) * 5, W)
    volume.set_data(np.empty(0), np.empty(0), np.empty(0), np.empty(0), W)
    img = render(plot)
    assert len(candles) == len(volume) == 0 and candles.last_painted == 0
    assert candles.dataBounds(1) == (None, None) and volume.dataBounds(0) == (None, None)
    assert candles.boundingRect().isEmpty() and img.width() > 0
    candles.update_last(0.0, 1, 2, 0, 1)  # the first live candle into an empty item
    assert len(candles) == 1 and candles.dataBounds(1) == (0.0, 2.0)


def test_volume_colours_transparency_and_update(qtbot):
    vol = VolumeItem()
    vol.set_data(np.array([0.0, W]), np.array([5.0, 8.0]), np.array([1.0, 2.0]), np.array([2.0, 1.0]), W)
    plot = make_plot(qtbot, vol)
    plot.setXRange(-W, 3 * W, padding=0)
    plot.setYRange(0, 10, padding=0)
    img = render(plot)
    up, down = rgb_at(plot, img, 0.5 * W, 2), rgb_at(plot, img, 1.5 * W, 2)
    assert up[1] > up[0] and 0 < up[1] < GREEN[1]  # greenish, blended with the black background
    assert down[0] > down[1] and 0 < down[0] < RED[0]
    assert rgb_at(plot, img, 1.5 * W, 9) == BLACK
    vol.update_last(W, 9.5, 2.0, 1.0)
    assert len(vol) == 2 and vol.dataBounds(1) == (0.0, 9.5)
    assert rgb_at(plot, render(plot), 1.5 * W, 9) != BLACK
    vol.set_data(np.array([0.0, W]), np.array([3.0, 4.0]), bar_width=W, up=np.array([False, True]))
    img = render(plot)
    assert rgb_at(plot, img, 0.5 * W, 1)[0] > rgb_at(plot, img, 0.5 * W, 1)[1]  # up mask False -> red
    assert rgb_at(plot, img, 1.5 * W, 1)[1] > rgb_at(plot, img, 1.5 * W, 1)[0]


def test_volume_zoomed_out_keeps_the_column_maximum(qtbot):
    n = 100_000
    rng = np.random.default_rng(9)
    volume = rng.uniform(1, 2, n)
    volume[77_777] = 100.0
    vol = VolumeItem()
    vol.set_data(np.arange(n) * W, volume, np.zeros(n), np.ones(n), W)
    plot = make_plot(qtbot, vol)
    plot.autoRange(padding=0)
    img = render(plot)
    assert vol.lod_active and vol.last_painted <= plot.getPlotItem().vb.width() + 1
    assert vol.dataBounds(1) == (0.0, 100.0)
    assert any(g > r for r, g, _ in rgb_near(plot, img, 77_777.5 * W, 90))  # the spike's column reaches the top


def test_lod_decision_uses_device_pixels(qtbot):
    """Rendering at twice the size doubles the pixels per bar: 2 px on screen is aggregated, 4 px is not."""
    item = CandlestickItem()
    item.set_data(*random_walk(2000), W)
    plot = make_plot(qtbot, item)
    plot.setXRange(0, (plot.getPlotItem().vb.width() / 2) * W, padding=0)
    render(plot)
    assert item.lod_active
    size = plot.viewport().size() * 2
    img = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(QColor("black"))
    painter = QPainter(img)
    try:
        plot.render(painter, QRectF(0, 0, size.width(), size.height()))
    finally:
        painter.end()
    assert not item.lod_active
