"""Main window: chart in the centre, WS health and log as docks, status bar; layout persisted in QSettings."""
from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QWidget

from ..presenters.chart import ChartPresenter
from ..presenters.health import HealthPresenter
from ..presenters.log import LogPresenter
from .panels.chart_panel import ChartPanel
from .panels.health_panel import HealthPanel
from .panels.log_panel import LogPanel

SETTINGS_ORG = "TwinStar"
SETTINGS_APP = "TwinStar"


class MainWindow(QMainWindow):
    """Widgets only: everything it shows comes from presenters' signals."""

    close_requested = Signal()

    def __init__(self, chart: ChartPresenter, health: HealthPresenter, logs: LogPresenter, *,
                 mode: str, data_dir: str, persist_layout: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"TwinStar — {mode}")
        self.resize(1280, 800)
        self.chart_presenter = chart
        self.presenters = (chart, health, logs)  # the window owns them: their timers live as long as it does
        self.persist_layout = persist_layout
        self._may_close = False

        self.chart_panel = ChartPanel(chart.choices(), self)
        self.setCentralWidget(self.chart_panel)
        self.health_panel = HealthPanel(self)
        self.log_panel = LogPanel(self)
        self.health_dock = self._dock("WS health", "dock.health", self.health_panel, Qt.BottomDockWidgetArea)
        self.log_dock = self._dock("Log", "dock.log", self.log_panel, Qt.BottomDockWidgetArea)
        self.tabifyDockWidget(self.health_dock, self.log_dock)
        self.health_dock.raise_()
        self.resizeDocks([self.health_dock], [170], Qt.Vertical)  # the chart gets the room

        self.mode_label = QLabel(f"Mode: {mode}")
        self.conn_label = QLabel("Connections: -")
        self.data_label = QLabel(f"Data: {data_dir}")
        for w in (self.mode_label, self.conn_label, self.data_label):
            self.statusBar().addPermanentWidget(w)

        chart.history.connect(self.chart_panel.show_history)
        chart.candles.connect(self.chart_panel.apply_candles)
        self.chart_panel.selection_changed.connect(self._on_selection)
        health.rows.connect(self.health_panel.show_rows)
        health.rows.connect(self._on_health)
        logs.lines.connect(self.log_panel.append_lines)
        self._restore_layout()
        QTimer.singleShot(0, self.chart_panel._emit_selection)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _on_selection(self, exchange: str, symbol: str, tf: str) -> None:
        self.chart_presenter.select(exchange, symbol, tf)

    def _on_health(self, rows) -> None:
        live = sum(1 for r in rows if r.state.value == "live")
        self.conn_label.setText(f"Connections: {live}/{len(rows)} live")

    # -- layout persistence ----------------------------------------------------------------------------
    def _restore_layout(self) -> None:
        if not self.persist_layout:
            return
        s = QSettings(SETTINGS_ORG, SETTINGS_APP)
        geometry, state = s.value("window/geometry"), s.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

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
