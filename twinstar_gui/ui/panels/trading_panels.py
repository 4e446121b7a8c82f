"""Bots (start/stop, kill switch), positions (open + history, close button) and scanner candidates."""
from __future__ import annotations

import math
import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .combo import refill
from .confirm import confirm
from .table import SORT_ROLE, RefreshWhileShown, cell, fill, make_table

GREEN, RED, GREY = "#26a69a", "#ef5350", "#8a8f98"
STATE_COLOURS = {"running": GREEN, "starting": "#f0b90b", "stopped": GREY, "failed": RED}


def _px(listing, v: float | None) -> tuple[str, object]:
    """A price cell: the text at the instrument's tick, sorted by the number ("-" sorts first)."""
    return ("-", -1.0) if v is None else (listing.price(v), float(v))


def _ts(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


class BotsPanel(QWidget):
    start_requested = Signal(str, str, list)  # flow, exchange, symbols
    stop_requested = Signal(str)  # bot name
    kill_requested = Signal()
    reset_kill_requested = Signal()
    mode_requested = Signal(str, bool)  # exchange, live (after the user confirmed it)
    COLUMNS = ["Bot", "Flow", "Exchange", "State", "Entries", "Detail", "Last signal", "Last error"]

    def __init__(self, flows: list[str], exchanges: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.flow = QComboBox()
        self.flow.addItems(flows)
        self.exchange = QComboBox()
        self.exchange.addItems(exchanges)
        self.symbols = QLineEdit()
        self.symbols.setPlaceholderText("UnifiedBot: one symbol; AutoScanner: presets (empty = settings); "
                                        "MultiTrader: empty = top 50 by volume")
        self.start = QPushButton("Start")
        self.stop = QPushButton("Stop selected")
        self.kill = QPushButton("KILL SWITCH")
        self.kill.setStyleSheet(f"background: {RED}; color: white; font-weight: bold;")
        self.kill.setToolTip("Stop every bot, close every position at market, block new entries")
        self.reset = QPushButton("Reset kill switch")
        self.mode = QLabel("")
        self.live_button = QPushButton("")
        self.live_button.setToolTip("Switch the selected exchange between paper trading and real orders "
                                    "(needs API keys in Settings; asks for confirmation)")
        self.modes: dict[str, bool] = {}  # exchange -> live
        self.confirm_box: QMessageBox | None = None
        self.account = QLabel("")
        self.account.setWordWrap(True)  # one line per exchange would otherwise set the window's minimum width
        top = QHBoxLayout()
        for w in (self.flow, self.exchange, self.symbols, self.start, self.stop, self.kill, self.reset, self.mode,
                  self.live_button):
            top.addWidget(w)
        top.setStretch(2, 1)
        self.table = make_table(self.COLUMNS, self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(top)
        lay.addWidget(self.account)
        lay.addWidget(self.table)
        self.start.clicked.connect(self._start)
        self.stop.clicked.connect(self._stop)
        self.kill.clicked.connect(self.kill_requested)
        self.reset.clicked.connect(self.reset_kill_requested)
        self.live_button.clicked.connect(self._toggle_live)
        self.exchange.currentTextChanged.connect(self._show_mode)
        self._show_mode()

    # -- paper / live -----------------------------------------------------------------------------------
    def is_live(self, exchange: str | None = None) -> bool:
        return self.modes.get(exchange or self.exchange.currentText(), False)

    def set_exchanges(self, exchanges: list[str]) -> None:
        """The exchanges bots can run on (a settings change added or removed some); the selection stays if it can."""
        refill(self.exchange, exchanges)
        for gone in set(self.modes) - set(exchanges):
            del self.modes[gone]
        self._show_mode()

    def set_mode(self, exchange: str, live: bool) -> None:
        self.modes[exchange] = live
        self._show_mode()

    def _show_mode(self, *_: object) -> None:
        ex = self.exchange.currentText()
        live = self.is_live(ex)
        self.mode.setText(f"LIVE trading on {ex}: real orders" if live else "PAPER trading")
        self.mode.setStyleSheet(f"color: {RED if live else GREEN}; font-weight: bold;")
        self.live_button.setText("Back to paper" if live else "Go live…")

    def _toggle_live(self) -> None:
        ex = self.exchange.currentText()
        if not ex:
            return
        if self.is_live(ex):  # leaving live trading needs no confirmation
            self.mode_requested.emit(ex, False)
            return
        self.confirm_box = confirm(self, "Live trading",
                                   f"Switch {ex} to LIVE trading?\n\nBots started from now on send real orders with "
                                   f"real money, using the API keys saved for {ex}. Open positions and orders at {ex} "
                                   "are read first. Paper positions stay in the journal.", f"Trade live on {ex}",
                                   lambda: self.mode_requested.emit(ex, True))

    def _start(self) -> None:
        syms = [s.strip().upper() for s in self.symbols.text().replace(";", ",").split(",") if s.strip()]
        self.start_requested.emit(self.flow.currentText(), self.exchange.currentText(), syms)

    def _stop(self) -> None:
        rows = {i.row() for i in self.table.selectedItems()}
        for r in rows:
            self.stop_requested.emit(cell(self.table, r, 0).text())

    def show_bots(self, bots) -> None:
        rows, colours = [], {}
        for i, b in enumerate(bots):
            rows.append([(b.name, b.name), (b.kind, b.kind), (b.exchange, b.exchange), (b.state, b.state),
                         (str(b.entries), b.entries), (b.detail, b.detail), (b.last_signal, b.last_signal),
                         (b.errors[-1] if b.errors else "", "")])
            colours[i] = STATE_COLOURS.get(b.state, GREY)
        fill(self.table, rows, colours=colours)

    def show_accounts(self, accounts) -> None:
        parts = []
        for a in accounts:
            text = (f"{a.executor}: balance {a.balance:,.2f} {a.currency}, equity {a.equity:,.2f}, "
                    f"today {a.daily_pnl:+,.2f}")
            if a.kill_switch:
                text += f" — KILL SWITCH ON: {a.kill_switch}"
            if a.problem:
                text += f" — {a.problem}"
            parts.append(text)
        self.account.setText("   |   ".join(parts))
        self.account.setStyleSheet(f"color: {RED};" if any(a.kill_switch or a.problem for a in accounts) else "")

    def bot_names(self) -> list[str]:
        return [cell(self.table, r, 0).text() for r in range(self.table.rowCount())]


class PositionsPanel(QWidget):
    close_requested = Signal(str, str)  # exchange, symbol
    OPEN = ["Exchange", "Symbol", "Side", "Size", "Entry", "Mark", "Unrealized PnL", "TP", "SL", "Bot", "Opened (UTC)"]
    HISTORY = ["Time (UTC)", "Exchange", "Symbol", "Side", "Qty", "Price", "Fee", "Realized PnL", "Bot"]

    def __init__(self, history_source, parent: QWidget | None = None, *, live: bool = False) -> None:
        super().__init__(parent)
        self.history_source = history_source  # () -> [FillView] (the presenter's), newest first
        self.live = live
        self.tabs = QTabWidget(self)
        self.open_table = make_table(self.OPEN, self, sortable=True)
        self.history_table = make_table(self.HISTORY, self, sortable=True)
        self.close_button = QPushButton("Close selected at market")
        self.totals = QLabel("No open positions")
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.totals, 1)
        row.addWidget(self.close_button)
        lay.addLayout(row)
        lay.addWidget(self.open_table)
        self.tabs.addTab(page, "Open")
        self.tabs.addTab(self.history_table, "Trade history")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.addWidget(self.tabs)
        self.close_button.clicked.connect(self._close_selected)
        self._history_refresh = RefreshWhileShown([self.history_table], self.refresh_history)

    def show_positions(self, positions) -> None:
        """`positions`: the presenter's PositionViews (the row's symbol cell keeps the native id for a close)."""
        rows, colours = [], {}
        totals: dict[str, float] = {}
        for i, view in enumerate(positions):
            p, at, currency = view.position, view.listing, view.currency
            u = p.unrealized_pnl
            totals[currency] = totals.get(currency, 0.0) + u
            rows.append([(at.exchange, at.exchange), (at.unified, at.symbol), (p.side, p.side),
                         (at.size(abs(p.qty)), abs(p.qty)), (at.price(p.entry_price), p.entry_price),
                         (at.price(p.mark_price or None), p.mark_price or -1.0), (f"{u:+,.2f} {currency}", u),
                         _px(at, p.take_profit), _px(at, p.stop_loss), (p.bot, p.bot), (_ts(p.opened_ms), p.opened_ms)])
            colours[i] = GREEN if u >= 0 else RED
        fill(self.open_table, rows, colours=colours)
        total = ", ".join(f"{v:+,.2f} {c}" for c, v in sorted(totals.items()))  # one sum per currency
        self.totals.setText(f"{len(positions)} open position(s), unrealized {total}" if positions
                            else "No open positions")

    def refresh_history(self) -> None:
        rows = []
        for view in self.history_source():
            f, at, currency = view.fill, view.listing, view.currency
            rows.append([(_ts(f.time_ms), f.time_ms), (at.exchange, at.exchange), (at.unified, at.symbol),
                         (f.side, f.side), (at.size(f.qty), f.qty), (at.price(f.price), f.price),
                         (f"{f.fee:,.4f} {currency}", f.fee), (f"{f.realized_pnl:+,.2f} {currency}", f.realized_pnl),
                         (f.bot, f.bot)])
        fill(self.history_table, rows)

    def _close_selected(self) -> None:
        rows = sorted({i.row() for i in self.open_table.selectedItems()})
        if not rows:
            return
        # (exchange, native id): the symbol cell shows the unified symbol and keeps the native id to act on
        picks = [(cell(self.open_table, r, 0).text(), str(cell(self.open_table, r, 1).data(SORT_ROLE)))
                 for r in rows]
        shown = {(cell(self.open_table, r, 0).text(), cell(self.open_table, r, 1).text()) for r in rows}
        if self.live:  # real money: ask first (non-modal, no nested loop)
            box = QMessageBox(QMessageBox.Icon.Warning, "Close live positions",
                              "Close at market: " + ", ".join(f"{e} {s}" for e, s in sorted(shown)) + "?",
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.accepted.connect(lambda: self._close(picks))
            box.open()
            return
        self._close(picks)

    def _close(self, picks: list[tuple[str, str]]) -> None:
        for e, s in picks:
            self.close_requested.emit(e, s)


class ScannerPanel(QWidget):
    open_chart = Signal(str, str)  # exchange, symbol
    COLUMNS = ["Symbol", "Exchange", "RSI", "Side", "Trigger", "Last", "Distance %", "Status", "Bot"]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by symbol, side, status or bot")
        self.table = make_table(self.COLUMNS, self, sortable=True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.filter)
        lay.addWidget(self.table)
        self._rows: list = []
        self.filter.textChanged.connect(lambda _t: self.show_candidates(self._rows))
        self.table.cellDoubleClicked.connect(self._open)

    def show_candidates(self, candidates) -> None:
        """`candidates`: (Candidate, Listing) pairs from the presenter."""
        self._rows = list(candidates)
        words = self.filter.text().strip().lower().split()
        shown = [(c, at) for c, at in self._rows
                 if all(w in f"{at.unified} {c.symbol} {c.side} {c.status} {c.exchange} {c.bot}".lower()
                        for w in words)]
        rows, colours = [], {}
        for i, (c, at) in enumerate(shown):
            if not c.listed:  # a preset this exchange does not list: its name and why, nothing else
                rows.append([(at.unified, ""), (c.exchange, c.exchange), ("-", -1.0), ("", ""),
                             ("-", -1.0), ("-", -1.0), ("-", math.inf), (c.status, c.status), (c.bot, c.bot)])
                colours[i] = GREY
                continue
            rsi = f"{c.rsi:.1f} ({c.rsi_timeframe})" if c.rsi_timeframe else f"{c.rsi:.1f}"
            # the symbol cell shows the unified symbol and sorts by the native id, which opens the chart
            rows.append([(at.unified, c.symbol), (c.exchange, c.exchange), (rsi, c.rsi), (c.side, c.side),
                         _px(at, c.trigger), _px(at, c.last_price), (f"{c.distance_pct:+.2f}", c.distance_pct),
                         (c.status, c.status), (c.bot, c.bot)])
            colours[i] = GREEN if c.side == "long" else RED
        fill(self.table, rows, colours=colours)

    def _open(self, row: int, _col: int) -> None:
        native = cell(self.table, row, 0).data(SORT_ROLE)
        if native:  # "" for a preset that is not listed: no chart to open
            self.open_chart.emit(cell(self.table, row, 1).text(), str(native))
