"""Orders (a dock): open orders of every owner (bots and manual) with cancel, cancel-all per symbol and amend;
order and fill history with filters (exchange, owner, status, text), each exportable to CSV."""
from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .combo import refill
from .table import SORT_ROLE, RefreshWhileShown, cell, fill, make_table

GREEN, RED = "#26a69a", "#ef5350"
ALL = "all"


def _ts(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000)) if ms else "-"


def _num(text: str) -> float | None:
    text = text.strip().replace(",", "").replace("_", "")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


class OrdersPanel(QWidget):
    cancel_requested = Signal(str, str)  # exchange, order id
    cancel_all_requested = Signal(str, object)  # exchange, native symbol or None (every symbol)
    amend_requested = Signal(str, str, object, object)  # exchange, order id, price or None, size or None
    message = Signal(str)
    OPEN = ["Time (UTC)", "Exchange", "Symbol", "Side", "Type", "Price", "Size", "Filled", "Owner", "Mode", "Id"]
    HISTORY = ["Time (UTC)", "Exchange", "Symbol", "Side", "Type", "Price", "Size", "Filled", "Avg price", "Status",
               "Owner", "Reason", "Id"]
    FILLS = ["Time (UTC)", "Exchange", "Symbol", "Side", "Qty", "Price", "Fee", "Realized PnL", "Owner", "Order id"]

    def __init__(self, history_source: Callable[[], list], fills_source: Callable[[], list],
                 parent: QWidget | None = None) -> None:
        """`history_source()` -> [OrderView] (every status, newest first); `fills_source()` -> [FillView]."""
        super().__init__(parent)
        self.history_source, self.fills_source = history_source, fills_source
        self.tabs = QTabWidget(self)
        self.open_table = make_table(self.OPEN, self, sortable=True)
        self.history_table = make_table(self.HISTORY, self, sortable=True)
        self.fills_table = make_table(self.FILLS, self, sortable=True)
        self.cancel_button = QPushButton("Cancel selected")
        self.cancel_all_button = QPushButton("Cancel all of symbol")
        self.cancel_all_button.setToolTip("Every open order of the selected order's symbol (bots' too)")
        self.amend_price = QLineEdit()
        self.amend_price.setPlaceholderText("new price")
        self.amend_size = QLineEdit()
        self.amend_size.setPlaceholderText("new size")
        self.amend_button = QPushButton("Amend selected")
        bar = QHBoxLayout()
        for w in (self.cancel_button, self.cancel_all_button, QLabel("Amend:"), self.amend_price, self.amend_size,
                  self.amend_button):
            bar.addWidget(w)
        bar.addStretch(1)
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.open_table)
        self.tabs.addTab(page, "Open orders")
        # filters of the two history tabs
        self.filter_exchange = QComboBox()
        self.filter_exchange.addItem(ALL)
        self.filter_owner = QComboBox()
        self.filter_owner.addItems([ALL, "manual", "bots"])
        self.filter_status = QComboBox()
        self.filter_status.addItems([ALL, "filled", "cancelled", "rejected", "new"])
        self.filter_text = QLineEdit()
        self.filter_text.setPlaceholderText("symbol, side, reason…")
        self.export_button = QPushButton("Export CSV…")
        filters = QHBoxLayout()
        for label, box in (("Exchange", self.filter_exchange), ("Owner", self.filter_owner),
                           ("Status", self.filter_status)):
            filters.addWidget(QLabel(label))
            filters.addWidget(box)
        filters.addWidget(self.filter_text)
        filters.addWidget(self.export_button)
        history = QWidget()
        hl = QVBoxLayout(history)
        hl.setContentsMargins(0, 0, 0, 0)
        hl.addLayout(filters)
        self.history_tabs = QTabWidget()
        self.history_tabs.addTab(self.history_table, "Orders")
        self.history_tabs.addTab(self.fills_table, "Fills")
        hl.addWidget(self.history_tabs)
        self.tabs.addTab(history, "History")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.addWidget(self.tabs)
        self._open_rows: list = []
        self.save_dialog: QFileDialog | None = None
        self.cancel_button.clicked.connect(self._cancel_selected)
        self.cancel_all_button.clicked.connect(self._cancel_all)
        self.amend_button.clicked.connect(self._amend)
        self.open_table.itemSelectionChanged.connect(self._prefill_amend)
        for box in (self.filter_exchange, self.filter_owner, self.filter_status):
            box.currentIndexChanged.connect(self.refresh_history)
        self.filter_text.textChanged.connect(self.refresh_history)
        self.export_button.clicked.connect(self._ask_export)
        self._history_refresh = RefreshWhileShown([self.history_table, self.fills_table], self.refresh_history)

    def set_exchanges(self, exchanges: list[str]) -> None:
        refill(self.filter_exchange, [ALL, *exchanges])

    # -- open orders --------------------------------------------------------------------------------------------
    def show_orders(self, views) -> None:
        """`views`: the presenter's OrderViews. The symbol cell keeps the native id; the Id column the order id."""
        self._open_rows = list(views)
        rows, colours = [], {}
        for i, v in enumerate(sorted(views, key=lambda v: -v.order.created_ms)):
            o, at = v.order, v.listing
            price = ("market", -1.0) if o.price is None else (at.price(o.price), o.price)
            rows.append([(_ts(o.created_ms), o.created_ms), (at.exchange, at.exchange), (at.unified, at.symbol),
                         (o.side, o.side), (o.type + (" post-only" if o.post_only else "")
                                            + (" reduce-only" if o.reduce_only else ""), o.type), price,
                         (at.size(o.qty), o.qty), (at.size(o.filled_qty), o.filled_qty), (o.bot or "manual", o.bot),
                         ("LIVE" if v.live else "paper", v.live), (o.id, o.id)])
            colours[i] = GREEN if o.side == "buy" else RED
        fill(self.open_table, rows, colours=colours)

    def _selected(self) -> list[tuple[str, str, str]]:
        """(exchange, native symbol, order id) of the selected rows."""
        rows = sorted({i.row() for i in self.open_table.selectedItems()})
        return [(cell(self.open_table, r, 1).text(), str(cell(self.open_table, r, 2).data(SORT_ROLE)),
                 cell(self.open_table, r, 10).text()) for r in rows]

    def _cancel_selected(self) -> None:
        picked = self._selected()
        if not picked:
            self.message.emit("select the orders to cancel")
        for exchange, _symbol, oid in picked:
            self.cancel_requested.emit(exchange, oid)

    def _cancel_all(self) -> None:
        picked = self._selected()
        if not picked:
            self.message.emit("select an order of the symbol whose orders to cancel")
        for exchange, symbol in sorted({(e, s) for e, s, _ in picked}):
            self.cancel_all_requested.emit(exchange, symbol)

    def _prefill_amend(self) -> None:
        picked = self._selected()
        if len(picked) != 1:
            return
        row = sorted({i.row() for i in self.open_table.selectedItems()})[0]
        price = cell(self.open_table, row, 5).data(SORT_ROLE)
        self.amend_price.setText("" if price is None or float(price) < 0 else f"{float(price):.12g}")
        self.amend_size.setText(f"{float(cell(self.open_table, row, 6).data(SORT_ROLE)):.12g}")

    def _amend(self) -> None:
        picked = self._selected()
        if len(picked) != 1:
            self.message.emit("select one order to amend")
            return
        price, size = _num(self.amend_price.text()), _num(self.amend_size.text())
        bad = [w for w, v in ((self.amend_price, price), (self.amend_size, size)) if w.text().strip() and v is None]
        if bad:
            self.message.emit(f"not a number: {bad[0].text().strip()[:30]!r}")
            return
        exchange, _symbol, oid = picked[0]
        self.amend_requested.emit(exchange, oid, price, size)

    # -- history --------------------------------------------------------------------------------------------------
    def _keep(self, exchange: str, owner: str, status: str, words: str) -> bool:
        ex, who, st = self.filter_exchange.currentText(), self.filter_owner.currentText(), \
            self.filter_status.currentText()
        if ex != ALL and exchange != ex:
            return False
        if who == "manual" and owner not in ("", "manual"):
            return False
        if who == "bots" and owner in ("", "manual"):
            return False
        if st != ALL and status and status != st:
            return False
        wanted = self.filter_text.text().strip().lower().split()
        return all(w in words.lower() for w in wanted)

    def refresh_history(self, *_: object) -> None:
        rows = []
        for v in self.history_source():
            o, at = v.order, v.listing
            if not self._keep(at.exchange, o.bot, o.status, f"{at.unified} {o.symbol} {o.side} {o.type} {o.reason}"):
                continue
            price = ("market", -1.0) if o.price is None else (at.price(o.price), o.price)
            rows.append([(_ts(o.updated_ms or o.created_ms), o.updated_ms or o.created_ms),
                         (at.exchange, at.exchange), (at.unified, at.symbol), (o.side, o.side), (o.type, o.type),
                         price, (at.size(o.qty), o.qty), (at.size(o.filled_qty), o.filled_qty),
                         (at.price(o.avg_price) if o.avg_price else "-", o.avg_price), (o.status, o.status),
                         (o.bot or "manual", o.bot), (o.reason, o.reason), (o.id, o.id)])
        fill(self.history_table, rows)
        rows = []
        for v in self.fills_source():
            f, at, currency = v.fill, v.listing, v.currency
            if not self._keep(at.exchange, f.bot, "", f"{at.unified} {f.symbol} {f.side}"):
                continue
            rows.append([(_ts(f.time_ms), f.time_ms), (at.exchange, at.exchange), (at.unified, at.symbol),
                         (f.side, f.side), (at.size(f.qty), f.qty), (at.price(f.price), f.price),
                         (f"{f.fee:,.4f} {currency}", f.fee), (f"{f.realized_pnl:+,.2f} {currency}", f.realized_pnl),
                         (f.bot or "manual", f.bot), (f.order_id, f.order_id)])
        fill(self.fills_table, rows)

    def _ask_export(self) -> None:
        dialog = QFileDialog(self, "Export to CSV", str(Path.home() / f"twinstar-{self._which()}.csv"),
                             "CSV files (*.csv)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("csv")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(self.export_csv)
        dialog.open()  # non-modal: no nested event loop
        self.save_dialog = dialog

    def _which(self) -> str:
        return "orders" if self.history_tabs.currentWidget() is self.history_table else "fills"

    def export_csv(self, path: str) -> None:
        """The history tab on screen (its rows as filtered) to `path`: numbers as numbers, times in UTC."""
        table = self.history_table if self._which() == "orders" else self.fills_table
        try:
            write_csv(table, Path(path))
        except OSError as exc:
            self.message.emit(f"CSV not written to {path}: {exc.strerror or exc}")
            return
        self.message.emit(f"{table.rowCount()} row(s) written to {path}")


def write_csv(table: QTableWidget, path: Path) -> None:
    headers = [(table.horizontalHeaderItem(c) or QTableWidgetItem("")).text() for c in range(table.columnCount())]
    numeric = {"Price", "Size", "Filled", "Avg price", "Qty", "Fee", "Realized PnL"}
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(headers)
        for r in range(table.rowCount()):
            row = []
            for c, name in enumerate(headers):
                item = cell(table, r, c)
                value = item.data(SORT_ROLE) if name in numeric else item.text()
                row.append("" if value is None or (name in numeric and value == -1.0) else value)
            out.writerow(row)
