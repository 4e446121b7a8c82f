"""Chart panel: candles + volume + RSI(14) on linked x axes, pickers and symbol search, live forming candle,
crosshair readout, trade markers, auto-follow that pauses while the user looks back, older history on demand."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics, QKeyEvent
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from ...core.indicators import IncrementalRsi
from ...core.timeframe import Timeframe
from ..chart import CandlestickItem, RsiItem, VolumeItem
from ..chart.axes import Axis, DateAxis
from ..chart.candle_item import CLOSE, HIGH, LOW, OPEN
from ..chart.levels import ChartLevels
from ..chart.price_axis import PriceAxis, price_text
from .series_picker import SeriesPicker

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_VISIBLE_BARS = 120
RIGHT_MARGIN_BARS = 3  # room right of the live candle while following
LOAD_MARGIN_BARS = 50  # ask for older history when the view's left edge comes this close to the oldest candle
RSI_PERIOD = 14
AXIS_WIDTH = 70  # px of the right axes: the least; wider when the prices' labels need it
MARKER_GAP_PX = 9  # markers sit this many pixels below the low (buy) / above the high (sell)
BUY_BRUSH, SELL_BRUSH = pg.mkBrush("#2962ff"), pg.mkBrush("#ff9800")


def _arrays(frame: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x seconds, OHLCV rows) of an (n, 6) array (open time ms + OHLCV, what the engine hands over) or of a
    frame with timestamp (datetime64[ms, UTC]) + OHLCV (older history read from disk)."""
    if not len(frame):
        return np.empty(0), np.empty((0, 5))
    if isinstance(frame, np.ndarray):
        return frame[:, 0] / 1000.0, frame[:, 1:6].astype(np.float64)
    x = frame["timestamp"].astype("datetime64[ms, UTC]").astype("int64").to_numpy() / 1000.0
    return x, frame[["open", "high", "low", "close", "volume"]].to_numpy(np.float64)


class ChartPanel(QWidget):
    """Shows one series. Emits `selection_changed(exchange, symbol, tf)` when the user picks another (symbol =
    the native id: the picker shows unified names, each item's data is the native id), `older_wanted(before_ms)`
    when the view nears the oldest candle shown, and `symbol_wanted(exchange, text)` when a name is searched."""

    selection_changed = Signal(str, str, str)
    older_wanted = Signal(object)  # int ms; object: Qt's int is 32-bit
    symbol_wanted = Signal(str, str)
    order_at = Signal(str, str, float)  # side, order type (limit / stop), price: the chart's right-click menu

    def __init__(self, choices: dict[str, list[str]], parent: QWidget | None = None, *,
                 timeframes: Sequence[str] | None = None, name_of: Callable[[str, str], str] | None = None) -> None:
        """`choices`: {exchange: [native ids]}; `timeframes`: the labels the picker offers (the settings'
        `timeframes`), in the usual order; `name_of(exchange, native)`: the unified symbol shown for a series."""
        super().__init__(parent)
        self.picker = SeriesPicker(choices, self, timeframes=timeframes, name_of=name_of)
        # the pickers by their old names: the window, the scanner's "open chart" and tests use them
        self.exchange_box, self.symbol_box = self.picker.exchange_box, self.picker.symbol_box
        self.search, self.tf_box = self.picker.search, self.picker.tf_box
        self.follow_button = QToolButton(self)
        self.follow_button.setText("Follow ▶|")
        self.follow_button.setCheckable(True)
        self.follow_button.setChecked(True)
        self.follow_button.setToolTip("Keep the newest candle in view (End)")
        self.readout = QLabel("", self)
        self.readout.setMinimumWidth(240)  # wider when there is room; never forces the window past the screen
        bar = QHBoxLayout()
        bar.addWidget(self.picker)
        bar.addWidget(self.follow_button)
        bar.addStretch(1)
        bar.addWidget(self.readout)

        self.plots = pg.GraphicsLayoutWidget(self)
        self.price_plot = self.plots.addPlot(row=0, col=0, axisItems={"bottom": DateAxis(utcOffset=0),
                                                                      "right": PriceAxis(orientation="right")})
        self.volume_plot = self.plots.addPlot(row=1, col=0, axisItems={"bottom": DateAxis(utcOffset=0),
                                                                       "right": Axis(orientation="right")})
        self.rsi_plot = self.plots.addPlot(row=2, col=0, axisItems={"bottom": DateAxis(utcOffset=0),
                                                                    "right": Axis(orientation="right")})
        for row, stretch in enumerate((5, 1, 2)):
            self.plots.ci.layout.setRowStretchFactor(row, stretch)
        for p in (self.volume_plot, self.rsi_plot):
            p.setXLink(self.price_plot)
        for p in (self.price_plot, self.volume_plot):
            p.getAxis("bottom").setStyle(showValues=False)
        for p in (self.price_plot, self.volume_plot, self.rsi_plot):
            p.showGrid(x=True, y=True, alpha=0.15)
            p.getAxis("right").setWidth(AXIS_WIDTH)
            p.showAxis("right")
            p.hideAxis("left")
            p.setMouseEnabled(x=True, y=False)
        for p in (self.price_plot, self.volume_plot, self.rsi_plot):
            for side in ("right", "bottom"):
                # An axis draws its grid, so it covers the whole plot and repainted (text and all, ~6 ms) with
                # every candle update; as a cached pixmap it is redrawn only when its own range changes.
                p.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        for p in (self.price_plot, self.volume_plot):
            p.getViewBox().setAutoVisible(y=True)
        self.rsi_plot.setYRange(0, 100, padding=0.02)
        self.rsi_plot.getViewBox().disableAutoRange(axis="y")
        self.rsi_plot.getAxis("right").setTicks([[(30, "30"), (50, "50"), (70, "70")]])
        for level in (30, 70):
            self.rsi_plot.addItem(pg.InfiniteLine(level, angle=0, pen=pg.mkPen("#555a66", style=Qt.PenStyle.DashLine)),
                                  ignoreBounds=True)

        self.candles = CandlestickItem()
        self.volume = VolumeItem()
        self.rsi = RsiItem()
        self.price_plot.addItem(self.candles)
        self.volume_plot.addItem(self.volume)
        self.rsi_plot.addItem(self.rsi)
        self.buy_markers = pg.ScatterPlotItem(symbol="t1", size=12, brush=BUY_BRUSH, pen=pg.mkPen(None))
        self.sell_markers = pg.ScatterPlotItem(symbol="t", size=12, brush=SELL_BRUSH, pen=pg.mkPen(None))
        # a backtest's fills of the shown series, at their prices: hollow, so they never pass for real trades
        self.backtest_markers = pg.ScatterPlotItem(size=11, brush=pg.mkBrush(None))
        for m in (self.buy_markers, self.sell_markers, self.backtest_markers):
            self.price_plot.addItem(m, ignoreBounds=True)
        cross = pg.mkPen("#787b86", style=Qt.PenStyle.DashLine)
        self.vlines = [pg.InfiniteLine(angle=90, movable=False, pen=cross) for _ in range(3)]
        for plot, line in zip((self.price_plot, self.volume_plot, self.rsi_plot), self.vlines):
            plot.addItem(line, ignoreBounds=True)
        self.vline = self.vlines[0]
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=cross)
        self.price_plot.addItem(self.hline, ignoreBounds=True)
        self.hline.hide()
        self.plots.scene().sigMouseMoved.connect(self._on_mouse)
        self.levels = ChartLevels(self.price_plot, self)  # open orders, entry, TP, SL (the trading presenter's)
        self.menu_price: float | None = None  # the price under the mouse when the chart's menu opened
        menu = self.price_plot.getViewBox().menu
        menu.addSeparator()
        self.order_actions = [menu.addAction(""), menu.addAction("")]
        for action in self.order_actions:
            action.triggered.connect(lambda _c=False, a=action: self._order_action(a))
        menu.aboutToShow.connect(self._prepare_order_actions)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.plots, 1)

        self.tf = Timeframe.M15
        self.symbol = ""
        self.follow = True  # auto-follow the newest candle; paused while the user looks at the past
        self._key: tuple[str, str, str] | None = None  # (exchange, symbol, tf) of the data shown
        self._rsi = IncrementalRsi(RSI_PERIOD)
        self._markers: list = []  # FillMarker-like: time_ms, side, price
        self._backtest: tuple[str, str, list] = ("", "", [])  # (exchange, native, TradeMarker-like) of a backtest
        self._hover: int | None = None  # row under the crosshair
        self._programmatic = False
        self._quiet = False
        self._axis_fits = 0.0  # the highest price the right axes are wide enough for
        self._axis_width = AXIS_WIDTH
        self._asked_older: float | None = None  # oldest x when older history was asked for, until answered
        self.no_older = False  # the store has nothing before the oldest candle shown
        self.picker.selection_changed.connect(self.selection_changed)
        self.picker.symbol_wanted.connect(self.symbol_wanted)
        self.follow_button.clicked.connect(self._on_follow_button)
        vb = self.price_plot.getViewBox()
        vb.sigXRangeChanged.connect(self._on_range)
        vb.sigYRangeChanged.connect(lambda *_: self._place_markers())
        vb.sigResized.connect(lambda *_: self._place_markers())
        self.picker.emit_selection()

    # -- pickers and search (SeriesPicker) -------------------------------------------------------------
    def set_choices(self, choices: dict[str, list[str]]) -> None:
        self.picker.set_choices(choices)

    def show_stored(self, exchange: str, native: str, tf: str, rows: np.ndarray) -> bool:
        """Before any presenter: the candles kept from the last session (ui/last_view.py) on screen, that series
        and timeframe picked (the presenter then streams the same series, the user's last one). False when the
        picker does not offer that series or timeframe."""
        if not self.picker.pick_quietly(exchange, native, tf):
            return False
        self.show_history(rows, native, tf)
        return True

    def set_timeframes(self, labels) -> None:
        self.picker.set_timeframes(labels)

    def show_series(self, exchange: str, native: str) -> None:
        self.picker.show_series(exchange, native)

    def show_problem(self, exchange: str, message: str) -> None:
        self.picker.show_problem(exchange, message)

    def set_catalog(self, exchange: str, symbols: list[str]) -> None:
        self.picker.set_catalog(exchange, symbols)
        self._show_readout()  # the names on screen follow the catalog

    def emit_selection(self) -> None:
        self.picker.emit_selection()

    def series_name(self) -> str:
        """`okx BTC/USDT:USDT`: the series on screen as people name it."""
        exchange = self._key[0] if self._key else self.exchange_box.currentText()
        return f"{exchange} {self.picker.name_of(exchange, self.symbol)}" if self.symbol else ""

    # -- data -----------------------------------------------------------------------------------------
    @property
    def _x(self) -> np.ndarray:
        return self.candles.x_values()

    def candle_count(self) -> int:
        return len(self.candles)

    def x_last(self) -> float:
        return float(self._x[-1])

    def bar_width(self) -> float:
        return self.tf.ms / 1000.0

    def show_history(self, frame: pd.DataFrame | np.ndarray, symbol: str, tf: str) -> None:
        """The presenter's window of a series. Same series as shown: older candles loaded from disk stay, and
        so does the view while the user looks at the past."""
        key = (self.exchange_box.currentText(), symbol, Timeframe.parse(tf).label)
        x, ohlcv = _arrays(frame)
        same = key == self._key and self.candle_count() > 0
        if same and len(x):
            cut = int(np.searchsorted(self._x, x[0], side="left"))
            x, ohlcv = np.r_[self._x[:cut], x], np.vstack([self._ohlcv()[:cut], ohlcv])
        elif not same:
            self._markers, self._asked_older, self.no_older = [], None, False
        self.symbol, self.tf, self._key = symbol, Timeframe.parse(tf), key
        if same and not len(x):
            return
        self._set_all(x, ohlcv, self._rsi.reset(ohlcv[:, 3]))
        if not (same and not self.follow):
            self._set_follow(True)
            self._scroll_to_end(DEFAULT_VISIBLE_BARS * self.bar_width())
        self._maybe_load_older(self.price_plot.getViewBox().viewRange()[0])
        self._show_readout()

    def prepend_history(self, frame: pd.DataFrame, symbol: str, tf: str) -> None:
        """Older candles from disk (the answer to `older_wanted`); an empty frame means there are none."""
        if (symbol, tf) != (self.symbol, self.tf.label):
            return
        self._asked_older = None
        x_old, old = _arrays(frame)
        if not len(x_old):
            self.no_older = True
            return
        keep = x_old < self._x[0] if self.candle_count() else np.ones(len(x_old), dtype=bool)
        x_old, old = x_old[keep], old[keep]
        if not len(x_old):
            return  # an answer we already have
        values = self._rsi.prepend(old[:, 3], self.rsi.column(1).copy())
        self._set_all(np.r_[x_old, self._x], np.vstack([old, self._ohlcv()]), values)
        self._maybe_load_older(self.price_plot.getViewBox().viewRange()[0])  # still near the edge: next chunk

    def apply_candles(self, batch: list[tuple], symbol: str, tf: str) -> None:
        if symbol != self.symbol or tf != self.tf.label:
            return
        appended = False
        for t_ms, o, h, l, c, v, _closed in batch:
            x = t_ms / 1000.0
            n = self.candle_count()
            if n and x < self._x[-1]:
                continue  # older than what we show: ignore (history reload covers it)
            if n and x == self._x[-1]:
                rsi = self._rsi.update_last(c)
            else:
                rsi = self._rsi.append(c)
                appended = True
            self.candles.update_last(x, o, h, l, c)
            if h > self._axis_fits:
                self._fit_price_axis(h)
            self.volume.update_last(x, v, o, c)
            self.rsi.update_last(x, rsi)
        if appended and self.follow:
            vr = self.price_plot.getViewBox().viewRange()[0]
            self._scroll_to_end(vr[1] - vr[0])
        if self._markers:
            self._place_markers()
        self._show_readout()

    def show_markers(self, markers: list, symbol: str, tf: str) -> None:
        """Journal fills of the shown symbol: buy = up triangle below the bar, sell = down triangle above."""
        if symbol != self.symbol or tf != self.tf.label:
            return
        self._markers = list(markers)
        self._place_markers()

    def shown_rows(self) -> np.ndarray:
        """(n, 6) open time ms, O, H, L, C, V of the candles on screen (the live one too), oldest first."""
        if not self.candle_count():
            return np.empty((0, 6))
        return np.column_stack([np.round(self._x * 1000.0), self._ohlcv()])

    def _ohlcv(self) -> np.ndarray:
        cols = [self.candles.column(k) for k in (OPEN, HIGH, LOW, CLOSE)] + [self.volume.column(1)]
        return np.column_stack(cols) if self.candle_count() else np.empty((0, 5))

    def _set_all(self, x: np.ndarray, ohlcv: np.ndarray, rsi: np.ndarray) -> None:
        width = self.bar_width()
        self._quiet = True  # auto-range moves on new data are not the user's: no follow/load decisions
        try:
            self.candles.set_data(x, ohlcv[:, 0], ohlcv[:, 1], ohlcv[:, 2], ohlcv[:, 3], width)
            self.volume.set_data(x, ohlcv[:, 4], ohlcv[:, 0], ohlcv[:, 3], width)
            self.rsi.set_data(x, rsi, width)
        finally:
            self._quiet = False
        self._fit_price_axis(float(np.nanmax(ohlcv[:, 1])) if len(ohlcv) else 0.0)
        self._place_markers()

    def _fit_price_axis(self, high: float) -> None:
        """The right axes wide enough for the widest price label (a KRW price of 84,945,000 did not fit the 70
        pixels a USDT price needs, and pyqtgraph then drew no price labels at all); the three plots keep one
        width so their x-axes stay aligned."""
        if not np.isfinite(high):
            return
        axis = self.price_plot.getAxis("right")
        # big prices: their digits and one more (the price may grow); below 1,000 the least width has done
        label = f"{high * 10:,.0f}" if high >= 1000 else ""
        width = max(AXIS_WIDTH, QFontMetrics(axis.font()).horizontalAdvance(label) + 16 if label else 0)
        self._axis_fits = high * 10
        if width != self._axis_width:  # (the axes' geometry follows at the next layout pass)
            self._axis_width = width
            for p in (self.price_plot, self.volume_plot, self.rsi_plot):
                p.getAxis("right").setWidth(width)

    def rsi_values(self) -> np.ndarray:
        return self.rsi.column(1)

    # -- markers --------------------------------------------------------------------------------------
    def marker_bars(self) -> dict[str, list[float]]:
        """x (bar open, seconds) of the bars carrying a buy / sell marker now."""
        half = self.bar_width() / 2
        return {side: [float(x) - half for x in item.getData()[0]]
                for side, item in (("buy", self.buy_markers), ("sell", self.sell_markers))}

    def show_backtest(self, exchange: str, native: str, markers: list) -> None:
        """A backtest's fills of one series (time_ms, side, price): shown whenever that series is on screen."""
        self._backtest = (exchange, native, list(markers))
        self._place_markers()

    def backtest_points(self) -> list[tuple[float, float]]:
        """(x, price) of the backtest markers on screen now."""
        xs, ys = self.backtest_markers.getData()
        return list(zip(map(float, xs), map(float, ys)))

    def _place_backtest(self) -> None:
        exchange, native, marks = self._backtest
        n = self.candle_count()
        if not marks or not n or self._key is None or self._key[:2] != (exchange, native):
            self.backtest_markers.setData([], [])
            return
        tf_ms = self.tf.ms
        bar_x = np.array([(m.time_ms - m.time_ms % tf_ms) / 1000.0 for m in marks])
        i = np.clip(np.searchsorted(self._x, bar_x, side="right") - 1, 0, n - 1)
        shown = self._x[i] == bar_x
        centre = bar_x + self.bar_width() / 2
        spots = [{"pos": (float(centre[k]), float(m.price)), "symbol": "t1" if m.side == "buy" else "t",
                  "pen": pg.mkPen(BUY_BRUSH.color() if m.side == "buy" else SELL_BRUSH.color(), width=2)}
                 for k, m in enumerate(marks) if shown[k]]
        self.backtest_markers.setData(spots)

    def _place_markers(self) -> None:
        self._place_backtest()
        n = self.candle_count()
        if not self._markers or not n:
            self.buy_markers.setData([], [])
            self.sell_markers.setData([], [])
            return
        tf_ms = self.tf.ms
        bar_x = np.array([(m.time_ms - m.time_ms % tf_ms) / 1000.0 for m in self._markers])
        i = np.clip(np.searchsorted(self._x, bar_x, side="right") - 1, 0, n - 1)
        shown = self._x[i] == bar_x  # fills on bars not loaded (yet) get no marker
        buy = np.array([m.side == "buy" for m in self._markers]) & shown
        sell = ~np.array([m.side == "buy" for m in self._markers]) & shown
        gap = MARKER_GAP_PX * abs(self.price_plot.getViewBox().viewPixelSize()[1])
        centre = bar_x + self.bar_width() / 2
        self.buy_markers.setData(centre[buy], self.candles.column(LOW)[i[buy]] - gap)
        self.sell_markers.setData(centre[sell], self.candles.column(HIGH)[i[sell]] + gap)

    # -- view: follow and lazy history ------------------------------------------------------------------
    def _set_follow(self, on: bool) -> None:
        self.follow = bool(on)
        self.follow_button.setChecked(self.follow)

    def resume_follow(self) -> None:
        self._set_follow(True)
        vr = self.price_plot.getViewBox().viewRange()[0]
        self._scroll_to_end(vr[1] - vr[0])

    def _on_follow_button(self, checked: bool) -> None:
        if checked:
            self.resume_follow()
        else:
            self._set_follow(False)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt API)
        if event.key() == Qt.Key.Key_End:
            self.resume_follow()
            event.accept()
            return
        super().keyPressEvent(event)

    def _scroll_to_end(self, span: float) -> None:
        if not self.candle_count():
            return
        right = self.x_last() + RIGHT_MARGIN_BARS * self.bar_width()
        self._programmatic = True
        try:
            self.price_plot.setXRange(right - span, right, padding=0)
        finally:
            self._programmatic = False
        for plot in (self.price_plot, self.volume_plot):  # fit y to the new x-range now, not one repaint later
            plot.getViewBox().updateAutoRange()

    def _on_range(self, _vb, rng) -> None:
        if not self.candle_count() or self._quiet or self._programmatic:
            return  # our own moves (and pyqtgraph's intermediate auto-range inside them) decide nothing
        self._set_follow(rng[1] >= self._x[-1])  # the newest candle is on screen -> keep following
        self._maybe_load_older(rng)

    def _maybe_load_older(self, rng) -> None:
        if self.no_older or self._asked_older is not None or not self.candle_count():
            return
        if rng[0] <= self._x[0] + LOAD_MARGIN_BARS * self.bar_width():
            self._asked_older = float(self._x[0])
            self.older_wanted.emit(int(round(self._x[0] * 1000)))

    # -- orders from the chart -------------------------------------------------------------------------
    def last_price(self) -> float | None:
        return float(self.candles.column(CLOSE)[-1]) if self.candle_count() else None

    def order_choices(self, price: float) -> list[tuple[str, str]]:
        """(side, type) the chart offers at `price`: below the last price a buy limit and a sell stop, above it a
        sell limit and a buy stop."""
        last = self.last_price()
        if last is None:
            return []
        return [("buy", "limit"), ("sell", "stop")] if price < last else [("sell", "limit"), ("buy", "stop")]

    def _prepare_order_actions(self) -> None:
        price = self.menu_price
        choices = self.order_choices(price) if price is not None else []
        for action, choice in zip(self.order_actions, choices + [None] * (2 - len(choices))):
            action.setVisible(choice is not None and bool(self.symbol))
            if choice is not None and price is not None:
                action.setText(f"{choice[0].capitalize()} {choice[1]} at {price_text(price)}")
                action.setData((choice[0], choice[1], price))

    def _order_action(self, action) -> None:
        data = action.data()
        if data:
            side, kind, price = data
            self.order_at.emit(side, kind, float(price))

    # -- crosshair and readout ------------------------------------------------------------------------
    def _on_mouse(self, pos) -> None:
        plot = next((p for p in (self.price_plot, self.volume_plot, self.rsi_plot)
                     if p.sceneBoundingRect().contains(pos)), None)
        if plot is None or not self.candle_count():
            self._hover = None
            self.hline.hide()
            self._show_readout()
            return
        point = plot.getViewBox().mapSceneToView(pos)
        if plot is self.price_plot:
            self.menu_price = float(point.y())
        self._hover = int(np.clip(np.searchsorted(self._x, point.x(), side="right") - 1, 0, self.candle_count() - 1))
        for line in self.vlines:
            line.setPos(self._x[self._hover] + self.bar_width() / 2)
        self.hline.setVisible(plot is self.price_plot)
        if plot is self.price_plot:
            self.hline.setPos(point.y())
        self._show_readout()

    def _show_readout(self) -> None:
        n = self.candle_count()
        if n:
            self._readout(self._hover if self._hover is not None and self._hover < n else n - 1)

    def _readout(self, i: int) -> None:
        _x, o, h, l, c = self.candles.row(i)
        v = self.volume.row(i)[1]
        rsi = self.rsi.value_at_row(i)
        when = datetime.fromtimestamp(float(self._x[i]), UTC).strftime("%Y-%m-%d %H:%M")
        colour = "#26a69a" if c >= o else "#ef5350"
        rsi_text = f"{rsi:.1f}" if np.isfinite(rsi) else "-"
        self.readout.setText(f"<span style='color:{colour}'>{self.series_name()} {when} UTC  "
                             f"O {price_text(o)}  H {price_text(h)}  L {price_text(l)}  C {price_text(c)}  "
                             f"V {v:,.3f}</span>  <span style='color:#b39ddb'>RSI({RSI_PERIOD}) {rsi_text}</span>")
