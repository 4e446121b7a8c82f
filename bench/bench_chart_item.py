"""Chart repaint benchmark: CandlestickItem vs the pyqtgraph-example QPicture item, 100k and 1M candles.

Each case renders a 1600x900 PlotWidget into a QImage (offscreen) and reports the median frame time of
`--renders` renders, for (a) a 300-bar window at the end of the history and (b) the whole history (LOD).
The naive baseline draws every candle into one QPicture once and replays it on every paint, as in
pyqtgraph's customGraphicsItem example; it is measured in the same run, or skipped (with a note) when
its estimated cost would exceed `--naive-budget` seconds. Usage:
    .venv/bin/python bench/bench_chart_item.py [--sizes 100000 1000000] [--renders 20] [--naive-budget 60]
"""
from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPicture
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from twinstar_gui.ui.chart import CandlestickItem

from _report import add_json_option, row, write_json

W = 900.0  # 15m candles, seconds
SIZE = (1600, 900)
WINDOW = 300


class QPictureCandles(pg.GraphicsObject):
    """The pyqtgraph example's approach: every candle painted once into a QPicture, replayed on each paint."""

    def __init__(self, x: np.ndarray, o: np.ndarray, h: np.ndarray, l: np.ndarray, c: np.ndarray,
                 bar_width: float) -> None:
        super().__init__()
        self.picture = QPicture()
        p = QPainter(self.picture)
        try:
            up, down = pg.mkBrush("#26a69a"), pg.mkBrush("#ef5350")
            up_pen, down_pen = pg.mkPen("#26a69a"), pg.mkPen("#ef5350")
            half = bar_width * 0.35
            for t, op, hi, lo, cl in zip(x.tolist(), o.tolist(), h.tolist(), l.tolist(), c.tolist()):
                rising = cl >= op
                p.setPen(up_pen if rising else down_pen)
                p.setBrush(up if rising else down)
                centre = t + bar_width / 2
                p.drawLine(QPointF(centre, lo), QPointF(centre, hi))
                p.drawRect(QRectF(centre - half, op, 2 * half, cl - op))
        finally:
            p.end()

    def paint(self, p: QPainter, *args: object) -> None:
        p.drawPicture(0, 0, self.picture)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return QRectF(self.picture.boundingRect())


def market(n: int, seed: int = 7) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    close = 60_000 * np.exp(rng.normal(0, 0.002, n).cumsum())
    open_ = np.r_[close[0], close[:-1]]
    spread = close * rng.uniform(0, 0.002, n)
    return (np.arange(n) * W, open_, np.maximum(open_, close) + spread, np.minimum(open_, close) - spread, close)


def frame_times(plot: pg.PlotWidget, renders: int) -> float:
    """Median ms of `renders` full renders of the widget into a QImage of its size."""
    img = QImage(plot.viewport().size(), QImage.Format.Format_ARGB32_Premultiplied)
    times = []
    for _ in range(renders + 1):  # the first one settles auto-range; not counted
        img.fill(QColor("black"))
        painter = QPainter(img)
        try:
            t0 = time.perf_counter()
            plot.render(painter)
            times.append(time.perf_counter() - t0)
        finally:
            painter.end()
    return 1000 * statistics.median(times[1:])


def views(plot: pg.PlotWidget, n: int, renders: int) -> tuple[float, float]:
    """(300-bar window ms, whole history ms); y auto-fits the visible bars, as in the chart panel."""
    plot.setXRange((n - WINDOW) * W, n * W, padding=0)
    plot.setAutoVisible(y=True)
    plot.enableAutoRange(axis="y")
    window = frame_times(plot, renders)
    plot.setXRange(0, n * W, padding=0)
    return window, frame_times(plot, renders)


def new_plot(app: QApplication, item: pg.GraphicsObject) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.resize(*SIZE)
    plot.addItem(item)
    plot.show()
    app.processEvents()
    return plot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--renders", type=int, default=20)
    ap.add_argument("--naive-budget", type=float, default=60.0, help="skip a naive case estimated above this (s)")
    add_json_option(ap)
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])
    rows, notes = [], []
    cost: tuple[float, float] | None = None  # naive (build s, one frame s) per bar, from the last naive run

    for n in sorted(args.sizes):
        data = market(n)
        item = CandlestickItem()
        t0 = time.perf_counter()
        item.set_data(*data, W)
        load_ms = [1000 * (time.perf_counter() - t0)]
        t0 = time.perf_counter()
        item.set_data(*data, W)  # again, memory already touched
        load_ms.append(1000 * (time.perf_counter() - t0))
        plot = new_plot(app, item)
        ours = views(plot, n, args.renders)
        lod_columns = item.last_painted
        plot.close()

        naive: tuple[float, float] | None = None
        build_s, renders = float("nan"), args.renders
        if cost is not None:  # estimate from the smaller run; use fewer renders (>= 5) or skip to fit the budget
            build_est, frame_est = cost[0] * n, cost[1] * n
            renders = args.renders
            while renders > 5 and build_est + 2 * (renders + 1) * frame_est > args.naive_budget:
                renders -= 1
            estimate = build_est + 2 * (renders + 1) * frame_est
            if estimate > args.naive_budget:
                notes.append(f"naive QPicture at {n:,} bars skipped: estimated {estimate:.0f} s even with 5 renders "
                             f"(> --naive-budget {args.naive_budget:.0f} s)")
                renders = 0
            elif renders < args.renders:
                notes.append(f"naive QPicture at {n:,} bars: median of {renders} renders, not {args.renders} "
                             f"(estimated {build_est + 2 * (args.renders + 1) * frame_est:.0f} s > "
                             f"--naive-budget {args.naive_budget:.0f} s)")
        if renders:
            t0 = time.perf_counter()
            baseline = QPictureCandles(*data, W)
            build_s = time.perf_counter() - t0
            plot = new_plot(app, baseline)
            naive = views(plot, n, renders)
            cost = (build_s / n, max(naive) / 1000 / n)
            plot.close()
            del baseline
        rows.append((n, load_ms, ours, naive, build_s, lod_columns))

    print(f"\nCandlestickItem repaint, PlotWidget {SIZE[0]}x{SIZE[1]} offscreen, median of {args.renders} "
          f"renders (whole frame, ms)\n")
    head = (f"{'bars':>10} | {'view':<16} | {'CandlestickItem':>15} | {'naive QPicture':>14} | {'naive/ours':>10}")
    print(head)
    print("-" * len(head))
    for n, load_ms, ours, naive, build_s, lod_columns in rows:
        for k, label in enumerate((f"{WINDOW}-bar window", "all (LOD)")):
            base = f"{naive[k]:14.2f}" if naive else f"{'skipped':>14}"
            ratio = f"{naive[k] / ours[k]:9.0f}x" if naive else f"{'-':>10}"
            print(f"{n:>10,} | {label:<16} | {ours[k]:15.2f} | {base} | {ratio}")
        built = f"QPicture build {build_s:.2f} s" if naive else "QPicture not built"
        print(f"{'':>10} | set_data {load_ms[0]:.1f} ms first, {load_ms[1]:.1f} ms again; {built}; "
              f"LOD paint drew {lod_columns} pixel columns")
    for note in notes:
        print("note:", note)
    if args.json:
        out = []
        for n, load_ms, ours, naive, build_s, _lod_columns in rows:
            for k, label in enumerate((f"{WINDOW}-bar window", "all bars (per-pixel LOD)")):
                out.append(row(f"chart: repaint {SIZE[0]}x{SIZE[1]}, {n:,} bars, {label}, median", f"{ours[k]:.2f} ms",
                               f"{naive[k]:,.1f} ms (one QPicture of all bars)" if naive else "skipped",
                               f"{naive[k] / ours[k]:.0f}x" if naive else "-",
                               ours_ms=ours[k], baseline_ms=naive[k] if naive else float("nan")))
            out.append(row(f"chart: set_data {n:,} bars (first / again)", f"{load_ms[0]:.1f} / {load_ms[1]:.1f} ms",
                           f"{build_s:.2f} s (QPicture build)" if naive else "-", "-",
                           first_ms=load_ms[0], again_ms=load_ms[1], baseline_build_s=build_s))
        write_json(args.json, "bench_chart_item", out, notes)


if __name__ == "__main__":
    main()
