"""Chart panel: candlesticks + volume (linked x), symbol/timeframe pickers, live forming candle, OHLCV readout."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...core.timeframe import CHART_TIMEFRAMES, Timeframe
from ..chart import CandlestickItem, VolumeItem

DEFAULT_VISIBLE_BARS = 120


class ChartPanel(QWidget):
    """Shows one series. Emits `selection_changed(exchange, symbol, tf)` when the user picks another."""

    selection_changed = Signal(str, str, str)

    def __init__(self, choices: dict[str, list[str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._choices = choices
        self.exchange_box = QComboBox(self)
        self.exchange_box.addItems(list(choices))
        self.symbol_box = QComboBox(self)
        self.tf_box = QComboBox(self)
        self.tf_box.addItems([tf.label for tf in CHART_TIMEFRAMES])
        self.readout = QLabel("", self)
        self.readout.setMinimumWidth(420)
        bar = QHBoxLayout()
        for w in (QLabel("Exchange"), self.exchange_box, QLabel("Symbol"), self.symbol_box,
                  QLabel("Timeframe"), self.tf_box):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.readout)

        self.plots = pg.GraphicsLayoutWidget(self)
        self.price_plot = self.plots.addPlot(row=0, col=0, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.volume_plot = self.plots.addPlot(row=1, col=0, axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.plots.ci.layout.setRowStretchFactor(0, 4)
        self.plots.ci.layout.setRowStretchFactor(1, 1)
        self.volume_plot.setXLink(self.price_plot)
        self.price_plot.getAxis("bottom").setStyle(showValues=False)
        for p in (self.price_plot, self.volume_plot):
            p.showGrid(x=True, y=True, alpha=0.15)
            p.getAxis("right").setWidth(70)
            p.showAxis("right")
            p.hideAxis("left")
            p.setMouseEnabled(x=True, y=False)
            p.getViewBox().setAutoVisible(y=True)
        self.candles = CandlestickItem()
        self.volume = VolumeItem()
        self.price_plot.addItem(self.candles)
        self.volume_plot.addItem(self.volume)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#787b86", style=pg.QtCore.Qt.DashLine))
        self.price_plot.addItem(self.vline, ignoreBounds=True)
        self.plots.scene().sigMouseMoved.connect(self._on_mouse)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(bar)
        lay.addWidget(self.plots, 1)

        self.tf = Timeframe.M15
        self.symbol = ""
        self.follow = True  # auto-follow the newest candle; paused while the user looks at the past
        self._x = np.empty(0)
        self._ohlcv = np.empty((0, 5))
        self.exchange_box.currentTextChanged.connect(self._on_exchange)
        self.symbol_box.currentTextChanged.connect(self._emit_selection)
        self.tf_box.currentTextChanged.connect(self._emit_selection)
        self.price_plot.getViewBox().sigXRangeChanged.connect(self._on_range)
        self._on_exchange(self.exchange_box.currentText())

    # -- pickers --------------------------------------------------------------------------------------
    def set_choices(self, choices: dict[str, list[str]]) -> None:
        self._choices = choices
        current = self.symbol_box.currentText()
        self.symbol_box.blockSignals(True)
        self.symbol_box.clear()
        self.symbol_box.addItems(choices.get(self.exchange_box.currentText(), []))
        if current:
            self.symbol_box.setCurrentText(current)
        self.symbol_box.blockSignals(False)

    def _on_exchange(self, name: str) -> None:
        self.symbol_box.blockSignals(True)
        self.symbol_box.clear()
        self.symbol_box.addItems(self._choices.get(name, []))
        self.symbol_box.blockSignals(False)
        self._emit_selection()

    def _emit_selection(self, *_: object) -> None:
        if self.exchange_box.currentText() and self.symbol_box.currentText():
            self.selection_changed.emit(self.exchange_box.currentText(), self.symbol_box.currentText(),
                                        self.tf_box.currentText())

    # -- data -----------------------------------------------------------------------------------------
    def show_history(self, frame: pd.DataFrame, symbol: str, tf: str) -> None:
        self.symbol, self.tf = symbol, Timeframe.parse(tf)
        x = frame["timestamp"].astype("datetime64[ms, UTC]").astype("int64").to_numpy() / 1000.0 if len(frame) else np.empty(0)
        ohlcv = frame[["open", "high", "low", "close", "volume"]].to_numpy(np.float64) if len(frame) else np.empty((0, 5))
        self._x, self._ohlcv = x, ohlcv
        width = self.tf.ms / 1000.0
        self.candles.set_data(x, ohlcv[:, 0], ohlcv[:, 1], ohlcv[:, 2], ohlcv[:, 3], width)
        self.volume.set_data(x, ohlcv[:, 4], ohlcv[:, 0], ohlcv[:, 3], width)
        self.follow = True
        self._scroll_to_end()
        self._show_last()

    def apply_candles(self, batch: list[tuple], symbol: str, tf: str) -> None:
        if symbol != self.symbol or tf != self.tf.label:
            return
        appended = False
        for t_ms, o, h, l, c, v, _closed in batch:
            x = t_ms / 1000.0
            if len(self._x) and x < self._x[-1]:
                continue  # older than what we show: ignore (history reload covers it)
            if len(self._x) and x == self._x[-1]:
                self._ohlcv[-1] = (o, h, l, c, v)
            else:
                self._x = np.append(self._x, x)
                self._ohlcv = np.vstack([self._ohlcv, (o, h, l, c, v)])
                appended = True
            self.candles.update_last(x, o, h, l, c)
            self.volume.update_last(x, v, o, c)
        if appended and self.follow:
            self._scroll_to_end()
        self._show_last()

    def candle_count(self) -> int:
        return len(self._x)

    def x_last(self) -> float:
        return float(self._x[-1])

    # -- view -----------------------------------------------------------------------------------------
    def _scroll_to_end(self) -> None:
        if not len(self._x):
            return
        width = self.tf.ms / 1000.0
        right = self.x_last() + 3 * width
        self.price_plot.setXRange(right - DEFAULT_VISIBLE_BARS * width, right, padding=0)
        for plot in (self.price_plot, self.volume_plot):  # fit y to the new x-range now, not one repaint later
            plot.getViewBox().updateAutoRange()

    def _on_range(self, _vb, rng) -> None:
        if len(self._x):
            self.follow = rng[1] >= self._x[-1]  # the newest candle is on screen -> keep following

    def _on_mouse(self, pos) -> None:
        vb = self.price_plot.getViewBox()
        if not len(self._x) or not self.price_plot.sceneBoundingRect().contains(pos):
            return
        x = vb.mapSceneToView(pos).x()
        i = int(np.clip(np.searchsorted(self._x, x, side="right") - 1, 0, len(self._x) - 1))
        self.vline.setPos(self._x[i])
        self._readout(i)

    def _show_last(self) -> None:
        if len(self._x):
            self._readout(len(self._x) - 1)

    def _readout(self, i: int) -> None:
        o, h, l, c, v = self._ohlcv[i]
        when = pd.Timestamp(self._x[i], unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M")
        colour = "#26a69a" if c >= o else "#ef5350"
        self.readout.setText(f"<span style='color:{colour}'>{self.symbol} {when} UTC  O {o:g}  H {h:g}  "
                             f"L {l:g}  C {c:g}  V {v:,.3f}</span>")
