"""Manual trading benchmark: click-to-executor latency of an amend in paper mode.

The demo window (offscreen, simulator in process, Bybit) with one resting paper limit order; its line on the chart
is dragged with real mouse events (press, moves, release on the chart's viewport), alternately to two prices, N
times. Measured: from the release event to the moment the window hears that the paper executor has the order at
its new price (the presenter's `done` signal, on the GUI thread: the journal written, the answer back). Baseline,
in the same run: the same executor's `amend` called directly (journal write included), N times.

Usage: .venv/bin/python bench/bench_manual.py [--amends 200] [--json PATH]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from PySide6.QtCore import QEvent, QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from twinstar_gui.config import settings_from_dict  # noqa: E402
from twinstar_gui.gui import run_gui  # noqa: E402

from _report import add_json_option, row, write_json  # noqa: E402

SYM = "BTCUSDT"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--amends", type=int, default=200)
    add_json_option(ap)
    args = ap.parse_args()
    gui_ms: list[float] = []
    direct_ms: list[float] = []
    failures: list[str] = []

    def ready(window, trading) -> None:
        stack = trading.tradings["bybit"]
        paper, manual, chart = stack.executor.inner, window.manual, window.chart_panel
        vb = chart.price_plot.getViewBox()
        state: dict = {}

        def point(price: float):
            (x0, x1), _ = vb.viewRange()
            return chart.plots.mapFromScene(vb.mapViewToScene(QPointF((x0 + x1) / 2, price)))

        def send(kind, pos, button, buttons) -> None:
            vp = chart.plots.viewport()
            QApplication.sendEvent(vp, QMouseEvent(kind, QPointF(pos), QPointF(vp.mapToGlobal(pos)), button, buttons,
                                                   Qt.KeyboardModifier.NoModifier))

        def start() -> None:
            last = stack.executor.last_price.get(SYM) or chart.last_price()
            if not last or chart.symbol != SYM:
                QTimer.singleShot(200, start)
                return
            tick = paper.rules(SYM).tick_size
            state["prices"] = [round(last * f / tick) * tick for f in (0.97, 0.96)]
            vb.setYRange(last * 0.94, last * 1.02, padding=0)
            t = window.ticket
            t.type.setCurrentText("Limit")
            t.amount.setText("0.005")
            t.price.setText(f"{state['prices'][0]:.10g}")
            t.request("buy")
            QTimer.singleShot(500, step)

        def step() -> None:
            orders = paper.open_orders()
            line = next(iter(chart.levels.lines.values()), None) if orders else None
            if line is None:
                failures.append("no order line on the chart")
                window.close_requested.emit()
                return
            n = len(gui_ms)
            if n >= args.amends:
                finish(orders[0].id)
                return
            to = state["prices"][(n + 1) % 2]
            start_at, end_at = point(line.value()), point(to)
            send(QEvent.Type.MouseButtonPress, start_at, Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton)
            for i in range(1, 6):
                send(QEvent.Type.MouseMove, start_at + (end_at - start_at) * (i / 5), Qt.MouseButton.NoButton,
                     Qt.MouseButton.LeftButton)
            state["t0"] = time.perf_counter()
            send(QEvent.Type.MouseButtonRelease, end_at, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)

        def on_done(_text: str) -> None:
            if "t0" not in state:
                return
            gui_ms.append((time.perf_counter() - state.pop("t0")) * 1000)
            QTimer.singleShot(30, step)  # the line follows the executor, then the next drag

        def on_refused(text: str) -> None:
            failures.append(text)
            state.pop("t0", None)
            window.close_requested.emit()

        def finish(order_id: str) -> None:
            for i in range(args.amends):  # the baseline: the executor alone, on this thread
                t0 = time.perf_counter()
                paper.amend(order_id, price=state["prices"][i % 2])
                direct_ms.append((time.perf_counter() - t0) * 1000)
            window.close_requested.emit()

        manual.done.connect(on_done)
        manual.refused.connect(on_refused)
        QTimer.singleShot(1500, start)

    with tempfile.TemporaryDirectory(prefix="twinstar-bench-manual-") as data:
        run_gui(settings_from_dict({"data_dir": data}), demo=True, exchanges=["bybit"], quit_after=600,
                on_ready=ready)
    if failures or len(gui_ms) < args.amends:
        print(f"bench_manual: not measured ({len(gui_ms)} amends): {failures[:3]}", file=sys.stderr)
        return 1
    g50, g99, d50, d99 = pct(gui_ms, 0.5), pct(gui_ms, 0.99), pct(direct_ms, 0.5), pct(direct_ms, 0.99)
    print("| measure | TwinStar | baseline (same run) | ratio |")
    print("|---|---|---|---|")
    print(f"| amend by drag in paper mode: mouse release -> the window told the executor has it, n={len(gui_ms)} "
          f"(p50 / p99) | {g50:.2f} / {g99:.2f} ms | PaperExecutor.amend called directly {d50:.2f} / {d99:.2f} ms "
          f"| {g50 / d50:.1f}x / {g99 / d99:.1f}x |")
    print(f"(mean {statistics.mean(gui_ms):.2f} ms, max {max(gui_ms):.2f} ms)")
    write_json(args.json, "manual", [row("amend by drag, paper: release -> executor has it (p50 / p99)",
                                         f"{g50:.2f} / {g99:.2f} ms", f"{d50:.2f} / {d99:.2f} ms",
                                         f"{g50 / d50:.1f}x", p50_ms=g50, p99_ms=g99, direct_p50_ms=d50,
                                         direct_p99_ms=d99)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
