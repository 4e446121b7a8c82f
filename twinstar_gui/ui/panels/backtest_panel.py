"""The Backtest panel: flow, exchange, symbols, range and parameters; Run (in a worker, with a progress bar) and
Cancel; then the metrics, the equity curve and the trades (a trade picked shows its symbol's trades on the chart).
A Presets tab lists the preset files `twinstar optimize` wrote, with their scores."""
from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .combo import refill
from .table import SORT_ROLE, cell, fill, make_table

GREEN, RED = "#26a69a", "#ef5350"
FLOWS = ("unified", "scanner", "multi")
DAY_MS = 86_400_000


def _day(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000))


def _ms(date: QDate) -> int:
    return int(dt.datetime(date.year(), date.month(), date.day(), tzinfo=dt.UTC).timestamp() * 1000)


class BacktestPanel(QWidget):
    # flow, exchange, symbols | None, from ms, to ms (objects: a Qt int is 32 bits), parameters
    run_requested = Signal(str, str, object, object, object, list)
    cancel_requested = Signal()
    symbol_picked = Signal(str, str)  # exchange, native: show its trades on the chart
    presets_wanted = Signal(str)  # exchange

    TRADES = ["Symbol", "Side", "Entry (UTC)", "Exit (UTC)", "Entry", "Exit", "Qty", "Fees", "PnL"]
    PRESETS = ["Symbol", "Verified", "Parameters", "Out-of-sample", "Why", "Data"]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.flow = QComboBox()
        self.flow.addItems(FLOWS)
        self.exchange = QComboBox()
        self.symbols = QLineEdit()
        self.symbols.setPlaceholderText("symbols, comma-separated (empty: the flow's default)")
        today = QDate.currentDate()
        self.start = QDateEdit(today.addDays(-30))
        self.end = QDateEdit(today.addDays(-1))
        for d in (self.start, self.end):
            d.setCalendarPopup(True)
            d.setDisplayFormat("yyyy-MM-dd")
        self.params = QLineEdit()
        self.params.setPlaceholderText("parameters: strategy.rsi_low=25, strategy.take_profit_pct=3 (empty: settings)")
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.status = QLabel("Backtest the bots on the stored candles (download history with `twinstar download`).")
        self.status.setWordWrap(True)
        form = QGridLayout()
        form.addWidget(QLabel("Flow"), 0, 0)
        form.addWidget(self.flow, 0, 1)
        form.addWidget(QLabel("Exchange"), 0, 2)
        form.addWidget(self.exchange, 0, 3)
        form.addWidget(QLabel("From"), 0, 4)
        form.addWidget(self.start, 0, 5)
        form.addWidget(QLabel("To"), 0, 6)
        form.addWidget(self.end, 0, 7)
        form.addWidget(self.symbols, 1, 0, 1, 4)
        form.addWidget(self.params, 1, 4, 1, 4)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.bar, 1)
        self.metrics = make_table(["Metric", "Value"], self)
        self.equity = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.equity.setMinimumHeight(120)
        self.equity.showGrid(x=True, y=True, alpha=0.2)
        self.equity.getAxis("left").enableAutoSIPrefix(False)  # 10,000,000 KRW, not "1e+07"
        self.equity_line = self.equity.plot([], [], pen=pg.mkPen("#4f9df8", width=1.5))
        self.trades = make_table(self.TRADES, self, sortable=True)
        result = QHBoxLayout()
        result.addWidget(self.metrics, 1)
        result.addWidget(self.equity, 2)
        run_page = QWidget()
        lay = QVBoxLayout(run_page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.status)
        lay.addLayout(result, 2)
        lay.addWidget(self.trades, 2)
        self.presets_table = make_table(self.PRESETS, self, sortable=True)
        self.presets_refresh = QPushButton("Refresh")
        self.presets_note = QLabel("")
        presets_page = QWidget()
        pl = QVBoxLayout(presets_page)
        pl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.presets_note, 1)
        row.addWidget(self.presets_refresh)
        pl.addLayout(row)
        pl.addWidget(self.presets_table)
        self.tabs = QTabWidget(self)
        scroll = QScrollArea()  # the dock may be short (the chart keeps its room): the form and results scroll
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        run_page.setMinimumHeight(420)
        scroll.setWidget(run_page)
        self.tabs.addTab(scroll, "Backtest")
        self.tabs.addTab(presets_page, "Presets")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.addWidget(self.tabs)
        self.run_button.clicked.connect(self._run)
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        self.trades.itemSelectionChanged.connect(self._picked)
        self.presets_refresh.clicked.connect(lambda: self.presets_wanted.emit(self.exchange.currentText()))
        self.tabs.currentChanged.connect(self._tab_changed)
        self._exchange_of_result = ""

    def _tab_changed(self, index: int) -> None:
        if index == 1:  # the Presets tab: read the files now
            self.presets_wanted.emit(self.exchange.currentText())

    def set_exchanges(self, exchanges: list[str]) -> None:
        refill(self.exchange, exchanges)

    def _run(self) -> None:
        names = [s.strip() for s in self.symbols.text().split(",") if s.strip()] or None
        sets = [s.strip() for s in self.params.text().replace(";", ",").split(",") if s.strip()]
        self.run_requested.emit(self.flow.currentText(), self.exchange.currentText(), names, _ms(self.start.date()),
                                _ms(self.end.date()) + DAY_MS - 1, sets)

    def started(self) -> None:
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.bar.setValue(0)
        self.status.setText("running…")

    def show_progress(self, part: float) -> None:
        self.bar.setValue(int(part * 1000))

    def show_failure(self, text: str) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {RED};" if text != "cancelled" else "")

    def show_outcome(self, outcome) -> None:
        r, m = outcome.result, outcome.metrics
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.status.setStyleSheet("")
        self._exchange_of_result = r.exchange
        holes = f"; {len(r.gaps)} hole(s) in the data, not traded across" if r.gaps else ""
        self.status.setText(f"{r.exchange} {r.flow}: {len(outcome.symbols)} symbol(s), {r.candles:,} candles in "
                            f"{outcome.seconds:.1f} s{holes}. Pick a trade to see its symbol's trades on the chart.")
        fill(self.metrics, [[(k, k), (v, v)] for k, v in m.rows(r.currency)])
        if r.equity:
            t = np.array([e[0] / 1000.0 for e in r.equity])
            v = np.array([e[1] for e in r.equity])
            self.equity_line.setData(t, v)
        rows, colours = [], {}
        for i, x in enumerate(outcome.trades):
            rows.append([(outcome.shown(x.symbol), x.symbol), (x.side, x.side), (_day(x.entry_ms), x.entry_ms),
                         (_day(x.exit_ms), x.exit_ms), (f"{x.entry_price:,.10g}", x.entry_price),
                         (f"{x.exit_price:,.10g}", x.exit_price), (f"{x.qty:.8g}", x.qty), (f"{x.fees:,.4f}", x.fees),
                         (f"{x.pnl:+,.2f}", x.pnl)])
            colours[i] = GREEN if x.pnl > 0 else RED
        fill(self.trades, rows, colours=colours)

    def _picked(self) -> None:
        rows = sorted({i.row() for i in self.trades.selectedItems()})
        if rows and self._exchange_of_result:
            self.symbol_picked.emit(self._exchange_of_result, str(cell(self.trades, rows[0], 0).data(SORT_ROLE)))

    def show_presets(self, presets: list[dict], problems: list[str]) -> None:
        rows = []
        for p in presets:
            oos = [f.get("out_of_sample_return_pct", 0.0) for f in p.get("folds", [])
                   if isinstance(f, dict) and not f.get("skipped")]  # a fold without data is no score
            mean = sum(oos) / len(oos) if oos else float("nan")
            params = ", ".join(f"{k}={v:g}" for k, v in sorted(p["params"].items()))
            rows.append([(p["symbol"], p["symbol"]), ("yes" if p["verified"] else "no", p["verified"]),
                         (params or "-", params), ("-" if not oos else f"{mean:+.2f} % / fold", mean),
                         (str(p.get("why", ""))[:200], str(p.get("why", ""))),
                         (f"{p.get('data_from', '')} .. {p.get('data_to', '')}", str(p.get("data_from", "")))])
        fill(self.presets_table, rows, colours={i: GREEN for i, p in enumerate(presets) if p["verified"]})
        verified = sum(p["verified"] for p in presets)
        note = (f"{verified} of {len(presets)} preset(s) verified: the scanner and the multi trader trade only "
                "those" if presets else "No presets: `twinstar optimize --exchange E --from D --to D` makes them")
        if problems:
            note += f"; {len(problems)} file(s) unreadable: {problems[0][:120]}"
        self.presets_note.setText(note)

    def selected_exchange(self) -> str:
        return self.exchange.currentText()

