"""Backtests from the window: one run at a time, off the GUI thread, with its progress and a Cancel; the result
(metrics, equity curve, trades) for the Backtest panel and the trades of one symbol as markers for the chart; the
preset files `twinstar optimize` wrote, for the Presets view."""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from ..bots.optimize import read_presets
from ..bots.runner import BacktestError, Outcome, run_backtest
from ..config import Settings, SettingsError, apply_overrides

log = logging.getLogger(__name__)
PROGRESS_MS = 100


@dataclass(frozen=True, slots=True)
class TradeMarker:
    """A backtest fill on the chart (entries and exits of the run's trades)."""

    time_ms: int
    side: str  # buy / sell
    price: float


class BacktestPresenter(QObject):
    progress = Signal(float)  # 0..1
    finished = Signal(object)  # Outcome
    failed = Signal(str)  # why it did not run, or "cancelled"
    markers = Signal(str, str, object)  # exchange, native symbol, list[TradeMarker]: the trades to show on the chart

    def __init__(self, settings: Callable[[], Settings], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings  # () -> the current Settings (the trading presenter's, updated when saved)
        self._cancel = threading.Event()
        self._part = 0.0
        self._task: asyncio.Future | None = None
        self.outcome: Outcome | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(PROGRESS_MS)
        self._timer.timeout.connect(lambda: self.progress.emit(self._part))

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def run(self, flow: str, exchange: str, symbols: list[str] | None, start_ms: int, end_ms: int,
            sets: list[str]) -> bool:
        """Start a run (False, said through `failed`, when one is running or the parameters are refused)."""
        if self.running:
            self.failed.emit("a backtest is running: cancel it first")
            return False
        settings = self.settings()
        try:
            trading = apply_overrides(settings.trading, sets)
        except SettingsError as exc:
            self.failed.emit(str(exc))
            return False
        if end_ms < start_ms:
            self.failed.emit("the range ends before it starts")
            return False
        self._cancel.clear()
        self._part = 0.0
        self._timer.start()

        def work() -> Outcome:
            return run_backtest(settings, trading, exchange, flow, symbols, start_ms, end_ms,
                                progress=self._set_part, cancelled=self._cancel.is_set)

        async def go() -> None:
            try:
                outcome = await asyncio.to_thread(work)
            except BacktestError as exc:
                self.failed.emit(str(exc))
            except Exception as exc:
                log.exception("backtest failed")
                self.failed.emit(f"backtest failed: {type(exc).__name__}: {exc}")
            else:
                if outcome.result.cancelled:
                    self.failed.emit("cancelled")
                else:
                    self.outcome = outcome
                    self.progress.emit(1.0)
                    self.finished.emit(outcome)
            finally:
                self._timer.stop()

        self._task = asyncio.ensure_future(go())
        return True

    def _set_part(self, part: float) -> None:
        self._part = part  # from the worker thread: a float written, read by the timer

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        self._cancel.set()
        self._timer.stop()

    def show_symbol(self, native: str) -> None:
        """The last run's fills of `native`, as markers for the chart."""
        if self.outcome is None:
            return
        marks = [TradeMarker(f.time_ms, f.side, f.price) for f in self.outcome.result.fills if f.symbol == native]
        self.markers.emit(self.outcome.result.exchange, native, marks)

    def presets(self, exchange: str) -> tuple[list[dict], list[str]]:
        return read_presets(Path(self.settings().data_dir), exchange)
