"""Main window: chart in the centre, WS health and log as docks, status bar; layout persisted in QSettings."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMenu, QMessageBox, QProgressBar, QWidget

from .panels.chart_panel import ChartPanel
from .panels.health_panel import HealthPanel
from .panels.log_panel import LogPanel
from .panels.order_ticket import OrderTicket
from .panels.orders_panel import OrdersPanel
from .panels.trading_panels import BotsPanel, PositionsPanel, ScannerPanel

if TYPE_CHECKING:  # the window is built before the back end is imported (see `attach`)
    from ..presenters.backtest import BacktestPresenter
    from ..presenters.chart import ChartPresenter
    from ..presenters.health import HealthPresenter
    from ..presenters.log import LogPresenter
    from ..presenters.manual import ManualTradingPresenter
    from .last_view import LastView

SETTINGS_ORG = "TwinStar"
SETTINGS_APP = "TwinStar"


class MainWindow(QMainWindow):
    """Widgets only: everything it shows comes from presenters' signals."""

    close_requested = Signal()

    def __init__(self, chart: ChartPresenter | None = None, health: HealthPresenter | None = None,
                 logs: LogPresenter | None = None, *, mode: str, data_dir: str, persist_layout: bool | None = None,
                 trading=None, timeframes=None, parent: QWidget | None = None, early: LastView | None = None,
                 trading_exchanges: list[str] | None = None) -> None:
        """With presenters: the whole window at once. Without (`twinstar` at start): the widgets only, the chart
        showing `early` (the series on screen when the window last closed) while the back end is imported and
        built; `attach` then connects the presenters. `trading_exchanges`: the Bots panel's exchanges, when
        the trading docks are to be there from the start (the saved layout places them)."""
        super().__init__(parent)
        self.setWindowTitle(f"TwinStar — {mode}")
        self.resize(1280, 800)
        self.chart_presenter: ChartPresenter | None = None
        self.presenters: tuple = ()  # the window owns them: their timers live as long as it does
        # persist_layout None = on a real screen only: an offscreen or minimal platform (self-test, CI's frozen
        # checks) has no screen worth remembering, and its layout must never replace the user's
        if persist_layout is None:
            persist_layout = QGuiApplication.platformName() not in ("offscreen", "minimal")
        self.persist_layout = persist_layout
        self._may_close = False
        self.menuBar().addMenu("&File")  # now, not when the settings are wired: the window's layout never jumps

        self.chart_panel = ChartPanel(early.choices() if early is not None else {}, self, timeframes=timeframes,
                                      name_of=early.name_of if early is not None else None)
        if early is not None:
            self.chart_panel.show_stored(early.exchange, early.symbol, early.timeframe, early.rows)
        self.setCentralWidget(self.chart_panel)
        self.health_panel = HealthPanel(self)
        self.log_panel = LogPanel(self)
        self.health_dock = self._dock("WS health", "dock.health", self.health_panel,
                                      Qt.DockWidgetArea.BottomDockWidgetArea)
        self.log_dock = self._dock("Log", "dock.log", self.log_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.health_dock, self.log_dock)
        self.trading = None
        self.manual: ManualTradingPresenter | None = None  # trading by hand (ticket, orders, chart lines)
        self.backtest: BacktestPresenter | None = None  # backtests run from the window
        if trading is not None or trading_exchanges is not None:
            self._add_trading_docks(list(chart.feeds) if chart is not None else list(trading_exchanges or []))
        self.health_dock.raise_()
        self.resizeDocks([self.health_dock], [170], Qt.Orientation.Vertical)  # the chart gets the room

        self.base_mode = mode
        self.mode_label = QLabel(f"Mode: {mode}")
        self._status_shown: dict[str, object] = {"catalogs": ""}  # what each part of the status bar says now
        self.conn_label = QLabel("Connections: -")
        self.data_label = QLabel(f"Data: {data_dir}")
        self.sync_bar = QProgressBar()  # history backfill / gap repair, shown only while it runs
        self.sync_bar.setMaximumWidth(160)
        self.sync_bar.setTextVisible(False)
        self.sync_bar.hide()
        self.sync_label = QLabel("")
        self.storage_label = QLabel("")  # disk full / permission trouble: candles still queued
        self.storage_label.setStyleSheet("color: #ff6b6b; font-weight: bold;")
        self.storage_label.hide()
        self.catalog_label = QLabel("")  # an instrument list from an old cache, or none: symbols unverified
        self.catalog_label.setStyleSheet("color: #c8a24a;")
        self.catalog_label.hide()
        for w in (self.storage_label, self.catalog_label, self.sync_label, self.sync_bar, self.mode_label,
                  self.conn_label, self.data_label):
            self.statusBar().addPermanentWidget(w)
        self._restore_layout()
        if chart is not None:
            if health is None or logs is None:
                raise TypeError("MainWindow: a chart presenter comes with the health and log presenters")
            self.attach(chart, health, logs, trading)

    def attach(self, chart: ChartPresenter, health: HealthPresenter, logs: LogPresenter, trading=None) -> None:
        """Connect the presenters: from here on everything the window shows comes from their signals."""
        self.chart_presenter = chart
        self.presenters = (chart, health, logs)
        self.chart_panel.picker.name_of = chart.unified
        self.chart_panel.set_choices(chart.choices())
        chart.history.connect(self.chart_panel.show_history)
        chart.candles.connect(self.chart_panel.apply_candles)
        self.chart_panel.selection_changed.connect(self._on_selection)
        chart.older.connect(self.chart_panel.prepend_history)  # older history, loaded when scrolled near it
        chart.markers.connect(self.chart_panel.show_markers)
        chart.choices_changed.connect(self.chart_panel.set_choices)  # symbols added by bots at run time
        self.chart_panel.older_wanted.connect(chart.load_older)
        for exchange in chart.feeds:  # the symbol search: each exchange's whole catalog, refreshed when it is
            self.chart_panel.set_catalog(exchange, chart.catalog_symbols(exchange))
        chart.catalog_changed.connect(lambda ex: self.chart_panel.set_catalog(ex, chart.catalog_symbols(ex)))
        self.chart_panel.symbol_wanted.connect(chart.open_symbol)
        chart.opened.connect(self.chart_panel.show_series)
        chart.problem.connect(self.chart_panel.show_problem)
        health.rows.connect(self.health_panel.show_rows)
        health.rows.connect(self._on_health)
        health.sync.connect(self.show_sync)
        health.storage.connect(self.show_storage_problem)
        health.catalogs.connect(self.show_catalog_problem)
        logs.lines.connect(self.log_panel.append_lines)
        if trading is not None:
            if not hasattr(self, "bots_panel"):
                self._add_trading_docks(list(chart.feeds))
            else:  # built before the core: its exchanges as the core has them
                self.bots_panel.set_exchanges(list(chart.feeds))
            self._connect_trading(trading)
        QTimer.singleShot(0, self.chart_panel.emit_selection)

    def _add_trading_docks(self, exchanges: list[str]) -> None:
        from ..presenters.flows import FLOWS

        self.bots_panel = BotsPanel(list(FLOWS), exchanges, self)
        self.positions_panel = PositionsPanel(self._fills, self)
        self.scanner_panel = ScannerPanel(self)
        self.ticket = OrderTicket(exchanges, parent=self)
        self.orders_panel = OrdersPanel(self._order_history, self._fills, self)
        self.orders_panel.set_exchanges(exchanges)
        from .panels.backtest_panel import BacktestPanel

        self.backtest_panel = BacktestPanel(self)
        self.backtest_panel.set_exchanges(exchanges)
        self.bots_dock = self._dock("Bots", "dock.bots", self.bots_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.positions_dock = self._dock("Positions", "dock.positions", self.positions_panel,
                                         Qt.DockWidgetArea.BottomDockWidgetArea)
        self.orders_dock = self._dock("Orders", "dock.orders", self.orders_panel,
                                      Qt.DockWidgetArea.BottomDockWidgetArea)
        self.scanner_dock = self._dock("Scanner", "dock.scanner", self.scanner_panel,
                                       Qt.DockWidgetArea.RightDockWidgetArea)
        self.ticket_dock = self._dock("Order ticket", "dock.ticket", self.ticket, Qt.DockWidgetArea.RightDockWidgetArea)
        self.backtest_dock = self._dock("Backtest", "dock.backtest", self.backtest_panel,
                                        Qt.DockWidgetArea.BottomDockWidgetArea)
        for dock in (self.bots_dock, self.positions_dock, self.orders_dock, self.backtest_dock):
            self.tabifyDockWidget(self.health_dock, dock)
        self.splitDockWidget(self.ticket_dock, self.scanner_dock, Qt.Orientation.Vertical)
        # readable columns (a saved layout wins)
        self.resizeDocks([self.scanner_dock], [300], Qt.Orientation.Horizontal)

    def _fills(self, limit: int = 200) -> list:
        return self.trading.fills(limit) if self.trading is not None else []

    def _order_history(self, limit: int = 500) -> list:
        return self.manual.history(limit) if self.manual is not None else []

    def _connect_trading(self, trading) -> None:
        self.trading = trading
        trading.bots.connect(self.bots_panel.show_bots)
        trading.accounts.connect(self.bots_panel.show_accounts)
        trading.positions.connect(self.positions_panel.show_positions)
        trading.candidates.connect(self.scanner_panel.show_candidates)
        trading.message.connect(self._show_message)
        self.bots_panel.start_requested.connect(trading.start_bot)
        self.bots_panel.stop_requested.connect(trading.stop_bot)
        self.bots_panel.kill_requested.connect(trading.kill_switch)
        self.bots_panel.reset_kill_requested.connect(trading.reset_kill_switch)
        self.bots_panel.mode_requested.connect(trading.set_live)
        trading.mode_changed.connect(self._on_mode)
        trading.exchanges_changed.connect(self.bots_panel.set_exchanges)
        self.positions_panel.close_requested.connect(trading.close_position)
        self.scanner_panel.open_chart.connect(self.open_chart)
        if self.chart_presenter is not None:
            self.chart_presenter.attach_trading(trading)  # entry/exit markers from the journal
        self._connect_manual(trading)
        self._connect_backtest(trading)

    def _connect_backtest(self, trading) -> None:
        """Backtests from the window: run in a worker with progress and Cancel; a trade picked shows its symbol's
        backtest trades on the chart."""
        from ..presenters.backtest import BacktestPresenter

        bt = self.backtest = BacktestPresenter(lambda: trading.settings, self)
        panel = self.backtest_panel

        def run(flow: str, exchange: str, symbols, start: int, end: int, sets: list) -> None:
            if bt.run(flow, exchange, symbols, start, end, sets):
                panel.started()

        panel.run_requested.connect(run)
        panel.cancel_requested.connect(bt.cancel)
        bt.progress.connect(panel.show_progress)
        bt.finished.connect(panel.show_outcome)
        bt.failed.connect(panel.show_failure)
        panel.presets_wanted.connect(lambda ex: panel.show_presets(*bt.presets(ex)))
        panel.symbol_picked.connect(self._show_backtest_symbol)
        bt.markers.connect(self.chart_panel.show_backtest)
        trading.exchanges_changed.connect(panel.set_exchanges)

    def _show_backtest_symbol(self, exchange: str, native: str) -> None:
        if self.backtest is None:
            return
        self.backtest.show_symbol(native)
        if self.chart_presenter is not None:
            if native in self.chart_presenter.choices().get(exchange, []):
                self.chart_panel.show_series(exchange, native)
            else:  # not streamed yet: added at run time, as when typed in the chart's search
                self.chart_presenter.open_symbol(exchange, native)

    def _connect_manual(self, trading) -> None:
        """Trading by hand: the ticket, the orders panel and the chart's lines, through one presenter."""
        from ..presenters.manual import ManualTradingPresenter

        manual = self.manual = ManualTradingPresenter(trading, self)
        self.ticket.check, self.ticket.lookup = manual.check, manual.ticket
        self.ticket.submitted.connect(manual.place)
        manual.orders.connect(self.orders_panel.show_orders)
        manual.levels.connect(self.chart_panel.levels.show)
        manual.settled.connect(self.chart_panel.levels.settle)
        manual.done.connect(self._show_message)
        manual.refused.connect(self._show_message)
        self.orders_panel.cancel_requested.connect(manual.cancel)
        self.orders_panel.cancel_all_requested.connect(manual.cancel_all)
        self.orders_panel.amend_requested.connect(lambda ex, oid, price, size: manual.amend(ex, oid, price=price,
                                                                                           qty=size))
        self.orders_panel.message.connect(self._show_message)
        self.chart_panel.levels.moved.connect(manual.move_level)
        self.chart_panel.levels.removed.connect(manual.remove_level)
        self.chart_panel.selection_changed.connect(self._manual_series)
        self.chart_panel.order_at.connect(self._order_from_chart)
        chart = self.chart_presenter
        if chart is not None:  # the ticket's symbol search: each exchange's catalog, as the chart's
            for exchange in chart.feeds:
                self.ticket.set_catalog(exchange, chart.catalog_symbols(exchange))
            chart.catalog_changed.connect(lambda ex: self.ticket.set_catalog(ex, chart.catalog_symbols(ex)))
        trading.exchanges_changed.connect(self.ticket.set_exchanges)
        trading.exchanges_changed.connect(self.orders_panel.set_exchanges)
        if self.chart_panel.symbol:
            self._manual_series(self.chart_panel.exchange_box.currentText(), self.chart_panel.symbol, "")

    def _manual_series(self, exchange: str, native: str, _tf: str) -> None:
        if self.manual is None:
            return
        self.manual.show_series(exchange, native)
        name = self.chart_presenter.unified(exchange, native) if self.chart_presenter is not None else native
        self.ticket.prefill(exchange, name)

    def _order_from_chart(self, side: str, kind: str, price: float) -> None:
        """The chart's right-click: a limit or stop at that price, the ticket's size; checked and sent (or
        confirmed first, live) as from the ticket."""
        self.ticket.prefill(self.chart_panel.exchange_box.currentText(), "", kind, price)
        self.ticket_dock.raise_()
        self.ticket.request(side)
        if self.ticket.error:
            self._show_message(f"order not sent: {self.ticket.error}")

    def _on_mode(self, exchange: str, live: bool) -> None:
        self.bots_panel.set_mode(exchange, live)
        self.ticket.set_mode(exchange, live)
        self.positions_panel.live = any(self.bots_panel.modes.values())  # closing real positions asks first
        live_on = ", ".join(e for e, on in self.bots_panel.modes.items() if on)
        self.mode_label.setText(f"Mode: {self.base_mode}" + (f" + LIVE ORDERS on {live_on}" if live_on else ""))
        self.mode_label.setStyleSheet("color: #ef5350; font-weight: bold;" if self.positions_panel.live else "")

    def open_chart(self, exchange: str, symbol: str) -> None:
        if self.chart_presenter is None:
            return
        choices = self.chart_presenter.choices()
        if symbol not in choices.get(exchange, []):
            self._show_message(f"{exchange} {symbol} is not streamed for the chart; "
                               "add it to the symbols in the settings")
            return
        self.chart_panel.show_series(exchange, symbol)

    def _show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 10_000)
        import logging

        logging.getLogger("twinstar.ui").warning(text)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _on_selection(self, exchange: str, symbol: str, tf: str) -> None:
        if self.chart_presenter is None:  # (connected by attach)
            return
        try:
            self.chart_presenter.select(exchange, symbol, tf)
        except ValueError as exc:  # the series went away meanwhile (a settings change, a bot released it)
            self._show_message(f"chart: {exc}")
            return
        unified = self.chart_presenter.unified(exchange, symbol)
        self.setWindowTitle(f"TwinStar — {exchange} {unified} — {self.base_mode}")

    # the status bar's parts are set only when what they say changes: polled a few times a second, and every
    # call into Qt from the GUI thread may wait for the interpreter lock while the engine's thread holds it
    def _status_changed(self, part: str, shown: object) -> bool:
        """True (and remembered) when the status bar's `part` is to show something else than it does."""
        if self._status_shown.get(part) == shown:
            return False
        self._status_shown[part] = shown
        return True

    def _on_health(self, rows) -> None:
        live = sum(1 for r in rows if r.state.value == "live")
        text = f"Connections: {live}/{len(rows)} live"
        if self._status_changed("conn", text):
            self.conn_label.setText(text)

    def show_sync(self, summary) -> None:
        busy = summary.busy
        text = summary.text()[0].upper() + summary.text()[1:] if busy else ""
        if not self._status_changed("sync", (busy, summary.total, summary.done, text)):
            return
        self.sync_bar.setVisible(busy)
        if busy:
            self.sync_bar.setRange(0, max(1, summary.total))
            self.sync_bar.setValue(min(summary.done, summary.total))
        self.sync_label.setText(text)

    def show_catalog_problem(self, text: str) -> None:
        if not self._status_changed("catalogs", text):
            return
        self.catalog_label.setVisible(bool(text))
        self.catalog_label.setText(f"Instruments: {text}" if len(text) < 90 else f"Instruments: {text[:87]}...")
        self.catalog_label.setToolTip(text)

    def show_storage_problem(self, text: str) -> None:
        if not self._status_changed("storage", text):
            return
        self.storage_label.setVisible(bool(text))
        self.storage_label.setText(f"Storage: {text}" if text else "")
        self.storage_label.setToolTip(text)

    def ask_unsaved_candles(self, pending: int, error: str, on_answer) -> QMessageBox:
        """Non-modal question (no nested event loop): keep waiting for the disk, or quit and lose them.
        `on_answer(True)` means quit anyway."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Candles not saved yet",
                          f"{pending} candle write(s) are not on disk yet.\n\n{error or 'Still writing.'}\n\n"
                          "Free some space or fix the data folder's permissions, then choose Retry. "
                          "Quit anyway loses them.",
                          QMessageBox.StandardButton.Retry | QMessageBox.StandardButton.Discard, self)
        box.button(QMessageBox.StandardButton.Discard).setText("Quit anyway")
        box.setDefaultButton(QMessageBox.StandardButton.Retry)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(
            lambda _r: on_answer(box.clickedButton() is box.button(QMessageBox.StandardButton.Discard)))
        box.open()
        self.unsaved_box = box
        return box

    # -- settings dialog (File > Settings…, Ctrl+,) -------------------------------------------------------
    def enable_settings(self, settings_path, symbol_lists, tester=None, presenter=None) -> None:
        """Add File > Settings…: edits the settings file at `settings_path`; symbols are checked against
        `symbol_lists(exchange)` (a presenters.settings.SymbolCatalog in the app). `presenter`: a
        SettingsPresenter that applies saved settings to the running terminal (none: they apply at a restart)."""
        from PySide6.QtGui import QAction, QKeySequence

        self._settings_args = (settings_path, symbol_lists, tester)
        self.settings_presenter = presenter
        if presenter is not None:
            presenter.applied.connect(self.show_settings_change)
            presenter.apply_failed.connect(self._show_message)
        menu = next((m for a in self.menuBar().actions() if isinstance(m := a.menu(), QMenu) and a.text() == "&File"),
                    None)
        menu = menu or self.menuBar().addMenu("&File")
        self.settings_action = QAction("Settings…", self)
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.triggered.connect(self.open_settings)
        menu.addAction(self.settings_action)

    def open_settings(self):
        """Non-modal (open(), never exec(): no nested event loop under qasync); one dialog at a time."""
        from shiboken6 import isValid

        from .settings_dialog import SettingsDialog

        current = getattr(self, "settings_dialog", None)
        if current is not None and isValid(current) and current.isVisible():
            current.raise_()
            return current
        path, symbol_lists, tester = self._settings_args
        presenter = self.settings_presenter
        dialog = SettingsDialog(path, symbol_lists, tester=tester, presenter=presenter, parent=self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        if presenter is None or not presenter.applies_live:
            dialog.saved.connect(lambda _s: self._show_message(f"Settings saved to {path}; restart to apply them"))
        else:
            dialog.saved.connect(lambda _s: self.statusBar().showMessage("Settings saved; applying…", 10_000))
        dialog.open()
        self.settings_dialog = dialog
        return dialog

    def show_settings_change(self, change) -> None:
        """A SettingsChange (live_settings): what changed in the status bar and the log, each failure on its own
        line; the chart's timeframes follow (its series list follows the feeds by itself)."""
        import logging

        log = logging.getLogger("twinstar.ui")
        text = f"Settings applied: {change.text()}"
        self.statusBar().showMessage(text, 15_000)
        log.info(text)
        for failure in change.failures:
            log.error("Settings not applied for %s", failure)
        if change.timeframes is not None:
            self.chart_panel.set_timeframes(change.timeframes)

    # -- layout persistence ----------------------------------------------------------------------------
    def _restore_layout(self) -> None:
        if not self.persist_layout:
            return
        s = QSettings(SETTINGS_ORG, SETTINGS_APP)
        geometry, state = s.value("window/geometry"), s.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
            self._fit_to_screen()  # a layout saved on a bigger monitor must not push panels off this one
        if state is not None:
            self.restoreState(state)

    def _fit_to_screen(self) -> None:
        screen = self.screen()
        if screen is None:
            return
        room = screen.availableGeometry()
        frame = self.geometry()
        if room.contains(frame):
            return
        width, height = min(frame.width(), room.width()), min(frame.height(), room.height())
        x = min(max(frame.x(), room.x()), room.right() - width + 1)
        y = min(max(frame.y(), room.y()), room.bottom() - height + 1)
        self.setGeometry(x, y, width, height)

    def save_layout(self) -> None:
        if self.persist_layout:
            s = QSettings(SETTINGS_ORG, SETTINGS_APP)
            s.setValue("window/geometry", self.saveGeometry())
            s.setValue("window/state", self.saveState())

    def allow_close(self) -> None:
        self._may_close = True

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        if self._may_close:
            self.save_layout()
            event.accept()
            return
        # Ask the app to shut down cleanly (flush candles, close sockets); it closes us when done.
        event.ignore()
        self.close_requested.emit()
