"""Order ticket (a dock): exchange, symbol, market / limit / stop, size in base units or in the quote currency,
price, post-only, reduce-only, TP and SL; checked at each keystroke (the field that is wrong is marked and says
why), with the size rounded to the lot, the order value and the fee estimate shown. Buy and Sell buttons (Alt+B,
Alt+S); in live mode a confirmation shows exactly what will be sent."""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...execution.manual import FieldError, fmt
from ..symbol_completer import SymbolCompleter
from .combo import refill
from .confirm import confirm

GREEN, RED = "#26a69a", "#ef5350"
BAD = f"border: 1px solid {RED};"
TYPES = {"Market": "market", "Limit": "limit", "Stop": "stop"}


class OrderTicket(QWidget):
    submitted = Signal(str, object)  # exchange, Prepared (after the live confirmation, if live)

    def __init__(self, exchanges: list[str], check: Callable[..., Any] | None = None,
                 lookup: Callable[[str, str], Any] | None = None, parent: QWidget | None = None) -> None:
        """`check(exchange, symbol_text, order: dict) -> (Ticket, Prepared)` and `lookup(exchange, symbol_text)
        -> Ticket` (the instrument's rules), each raising FieldError (the presenter's)."""
        super().__init__(parent)
        self.check = check
        self.lookup = lookup
        self.exchange = QComboBox()
        self.exchange.addItems(exchanges)
        self.symbol = QLineEdit()
        self.symbol.setPlaceholderText("BTC/USDT:USDT, btc, BTC/KRW")
        self.completer = SymbolCompleter(self.symbol, many=False)  # the exchange's catalog as you type
        self._catalogs: dict[str, list[str]] = {}
        self.type = QComboBox()
        self.type.addItems(list(TYPES))
        self.amount = QLineEdit()
        self.amount.setPlaceholderText("size")
        self.unit = QComboBox()
        self.unit.addItems(["base", "quote"])
        self.unit.setToolTip("size in the base asset (BTC) or as an order value in the quote currency (USDT, KRW)")
        self.price = QLineEdit()
        self.price.setPlaceholderText("limit price / stop trigger")
        self.post_only = QCheckBox("Post-only")
        self.reduce_only = QCheckBox("Reduce-only")
        self.tp = QLineEdit()
        self.tp.setPlaceholderText("optional")
        self.sl = QLineEdit()
        self.sl.setPlaceholderText("optional")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.mode = QLabel("")
        self.buy = QPushButton("Buy")
        self.sell = QPushButton("Sell")
        self.buy.setStyleSheet(f"background: {GREEN}; color: white; font-weight: bold;")
        self.sell.setStyleSheet(f"background: {RED}; color: white; font-weight: bold;")
        self.buy.setToolTip("Buy (Alt+B)")
        self.sell.setToolTip("Sell (Alt+S)")
        size_row = QHBoxLayout()
        size_row.addWidget(self.amount, 1)
        size_row.addWidget(self.unit)
        flags = QHBoxLayout()
        flags.addWidget(self.post_only)
        flags.addWidget(self.reduce_only)
        form = QFormLayout()
        form.addRow("Exchange", self.exchange)
        form.addRow("Symbol", self.symbol)
        form.addRow("Type", self.type)
        form.addRow("Size", size_row)
        form.addRow("Price", self.price)
        form.addRow("", flags)
        form.addRow("Take profit", self.tp)
        form.addRow("Stop loss", self.sl)
        buttons = QHBoxLayout()
        buttons.addWidget(self.buy)
        buttons.addWidget(self.sell)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.mode)
        lay.addLayout(form)
        lay.addWidget(self.summary)
        lay.addLayout(buttons)
        lay.addStretch(1)
        self.fields: dict[str, QWidget] = {"symbol": self.symbol, "type": self.type, "qty": self.amount,
                                           "notional": self.amount, "price": self.price, "post_only": self.post_only,
                                           "reduce_only": self.reduce_only, "take_profit": self.tp,
                                           "stop_loss": self.sl}
        self.error_field = ""  # the field the last check refused ("" when the order is fine)
        self.error = ""
        self.live: dict[str, bool] = {}
        self.confirm_box: QMessageBox | None = None
        self._rules = None  # the last checked instrument's rules (rounding the price when the field is left)
        for w in (self.symbol, self.amount, self.price, self.tp, self.sl):
            w.textChanged.connect(self.revalidate)
        for c in (self.exchange, self.type, self.unit):
            c.currentIndexChanged.connect(self.revalidate)
        self.exchange.currentTextChanged.connect(lambda ex: self.completer.set_symbols(self._catalogs.get(ex, [])))
        for b in (self.post_only, self.reduce_only):
            b.toggled.connect(self.revalidate)
        for w in (self.price, self.tp, self.sl):
            w.editingFinished.connect(lambda w=w: self._round_price(w))
        self.buy.clicked.connect(lambda: self.request("buy"))
        self.sell.clicked.connect(lambda: self.request("sell"))
        for key, side in (("Alt+B", "buy"), ("Alt+S", "sell")):
            sc = QShortcut(QKeySequence(key), self)
            sc.setContext(Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(lambda side=side: self.request(side))
        self.revalidate()

    # -- what the window sets ----------------------------------------------------------------------------------
    def set_exchanges(self, exchanges: list[str]) -> None:
        refill(self.exchange, exchanges)
        self.revalidate()

    def set_catalog(self, exchange: str, symbols: list[str]) -> None:
        """The unified symbols the symbol field offers for `exchange` (its instrument list)."""
        self._catalogs[exchange] = list(symbols)
        if exchange == self.exchange.currentText():
            self.completer.set_symbols(self._catalogs[exchange])

    def set_mode(self, exchange: str, live: bool) -> None:
        self.live[exchange] = live
        self.revalidate()

    def prefill(self, exchange: str, symbol: str, order_type: str | None = None, price: float | None = None) -> None:
        """The chart's series (and a price it was right-clicked at) in the ticket; the size stays."""
        if self.exchange.findText(exchange) >= 0:
            self.exchange.setCurrentText(exchange)
        if symbol:
            self.symbol.setText(symbol)
        if order_type is not None:
            self.type.setCurrentText(next(k for k, v in TYPES.items() if v == order_type))
        if price is not None:
            self.price.setText(f"{price:.12g}")

    # -- checking -----------------------------------------------------------------------------------------------
    def order(self, side: str) -> dict[str, Any]:
        """The fields as an order (FieldError for a field that is not a number)."""
        kind = TYPES[self.type.currentText()]
        size = _number(self.amount, "qty" if self.unit.currentIndex() == 0 else "notional", "size")
        out: dict[str, Any] = {"side": side, "type": kind, "post_only": self.post_only.isChecked() and kind == "limit",
                               "reduce_only": self.reduce_only.isChecked(),
                               "take_profit": _number(self.tp, "take_profit", "take profit"),
                               "stop_loss": _number(self.sl, "stop_loss", "stop loss")}
        out["qty" if self.unit.currentIndex() == 0 else "notional"] = size
        out["price"] = _number(self.price, "price", "price") if kind != "market" else None
        return out

    def evaluate(self, side: str = "buy"):
        """(Ticket, Prepared) of the fields as they are, or FieldError."""
        if self.check is None:
            raise FieldError("", "symbol", "trading is not connected yet")
        if not self.amount.text().strip():
            raise FieldError(self.symbol.text(), "qty", "type a size")
        return self.check(self.exchange.currentText(), self.symbol.text(), self.order(side))

    def revalidate(self, *_: object) -> None:
        self.price.setEnabled(self.type.currentText() != "Market")
        self.post_only.setEnabled(self.type.currentText() == "Limit")
        live = self.live.get(self.exchange.currentText(), False)
        self.mode.setText("LIVE: real orders" if live else "Paper trading")
        self.mode.setStyleSheet(f"color: {RED if live else GREEN}; font-weight: bold;")
        self._rules = None
        if self.lookup is not None:
            with contextlib.suppress(FieldError):  # said by the check below, at the symbol field
                self._rules = self.lookup(self.exchange.currentText(), self.symbol.text()).rules
        try:
            ticket, ready = self.evaluate()
        except FieldError as exc:
            self._show_error(exc.field, exc.reason)
            return
        self._show_error("", "")
        base = ticket.unified.split("/")[0] if "/" in ticket.unified else ""
        self.unit.setItemText(0, base or "base")
        self.unit.setItemText(1, ready.currency)
        last = "" if ticket.last is None else f"; last {fmt(ticket.last)}"
        money = ",.0f" if ready.currency == "KRW" else ",.2f"  # won have no fractions worth showing
        fee = ",.0f" if ready.currency == "KRW" else ",.4f"
        self.summary.setText(f"{fmt(ready.qty)} {base} ≈ {ready.notional:{money}} {ready.currency}, "
                             f"fee ≈ {ready.fee:{fee}} {ready.currency}{last}")
        self.summary.setStyleSheet("")

    def _show_error(self, field: str, text: str) -> None:
        self.error_field, self.error = field, text
        bad = self.fields.get(field)
        for w in set(self.fields.values()):
            w.setStyleSheet(BAD if w is bad else "")
            w.setToolTip(text if w is bad else "")
        if text:
            self.summary.setText(text)
            self.summary.setStyleSheet(f"color: {RED};")
        ok = not field
        self.buy.setEnabled(ok)
        self.sell.setEnabled(ok)

    def _round_price(self, w: QLineEdit) -> None:
        """A price left off the tick grid is put on it (the nearest tick) when the user leaves the field."""
        try:
            value = float(w.text().replace(",", "").replace("_", ""))
        except ValueError:
            return
        if self._rules is not None and value > 0:
            rounded = self._rules.round_price(value)
            if rounded != value:
                w.setText(f"{rounded:.12g}")

    # -- sending ------------------------------------------------------------------------------------------------
    def request(self, side: str) -> None:
        """Buy or Sell pressed: checked once more with the side; sent (paper) or confirmed first (live)."""
        try:
            ticket, ready = self.evaluate(side)
        except FieldError as exc:
            self._show_error(exc.field, exc.reason)
            return
        exchange = self.exchange.currentText()
        if not self.live.get(exchange, False):
            self.submitted.emit(exchange, ready)
            return
        self.confirm_box = confirm(self, "Send a live order", describe(exchange, ticket, ready), f"Send to {exchange}",
                                   lambda: self.submitted.emit(exchange, ready))


def describe(exchange: str, ticket, ready) -> str:
    """Exactly what a live order sends."""
    r = ready.request
    flags = [f for f, on in (("post-only", r.post_only), ("reduce-only", r.reduce_only)) if on]
    at = "" if r.type == "market" else f" @ {fmt(r.price)}"
    lines = [f"LIVE on {exchange}: {r.side.upper()} {r.type.upper()} {fmt(r.qty)} {ticket.unified}{at}"
             + (f" ({', '.join(flags)})" if flags else ""),
             f"order value ≈ {ready.notional:,.2f} {ready.currency}",
             f"take profit {fmt(r.take_profit) if r.take_profit else 'none'}, "
             f"stop loss {fmt(r.stop_loss) if r.stop_loss else 'none'}",
             f"exchange symbol {r.symbol}, client order id {r.client_id}",
             "This sends a real order with real money."]
    return "\n".join(lines)


def _number(w: QLineEdit, field: str, what: str) -> float | None:
    text = w.text().strip().replace(",", "").replace("_", "")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise FieldError("", field, f"{what} is not a number: {w.text().strip()[:30]!r}") from None
