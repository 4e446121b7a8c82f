"""Cold-start probes, each run as a fresh process by bench_gui.py; they print `BENCH <what> <time.monotonic()>
<RSS KiB> [detail]` lines, and the parent subtracts the time it spawned them.

    python bench/_first_paint.py app [twinstar arguments]   the `twinstar` command itself (twinstar_gui.entry);
        `first-paint` = CandlestickItem.paint() returned having drawn at least one candle (the chart's first pixels)
    python bench/_first_paint.py floor                     `import PySide6.QtWidgets, pyqtgraph`, then an empty
        1280x800 QMainWindow shown until its first paintEvent returns (`imported`, then `painted`), then exit
    python bench/_first_paint.py imports                   every module `twinstar` imports up to its first paint
        (`imported`), then exit: how much of the cold start is importing
"""
from __future__ import annotations

import sys
import time


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        return next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)


def mark(what: str, detail: str = "") -> None:
    print(f"BENCH {what} {time.monotonic():.6f} {_rss_kib()} {detail}".rstrip(), flush=True)


def app(argv: list[str]) -> int:
    import twinstar_gui.entry as entry  # takes the stop signals first, as the `twinstar` script does
    from twinstar_gui.ui.chart.candle_item import CandlestickItem  # run_gui imports it too (Qt, pyqtgraph)

    paint, seen = CandlestickItem.paint, []

    def first_paint(self, p, *args):
        paint(self, p, *args)
        if self.last_painted and not seen:
            seen.append(1)
            mark("first-paint", f"{len(self)} candles")

    CandlestickItem.paint = first_paint
    sys.argv = ["twinstar", *argv]
    return entry.main()


def floor() -> int:
    import pyqtgraph  # noqa: F401
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    mark("imported")
    qapp = QApplication(sys.argv[:1])

    class Window(QMainWindow):
        painted = False

        def paintEvent(self, event):  # noqa: N802 (Qt API)
            super().paintEvent(event)
            if not self.painted:
                self.painted = True
                mark("painted")
                QTimer.singleShot(0, qapp.quit)

    window = Window()
    window.resize(1280, 800)
    window.show()
    return qapp.exec()


def imports() -> int:
    import qasync  # noqa: F401

    import twinstar_gui.entry  # noqa: F401
    from twinstar_gui import cli, config, gui, presenters, secrets, trading_stack, ui, wiring  # noqa: F401
    from twinstar_gui.presenters import chart, health, log, settings, trading  # noqa: F401
    from twinstar_gui.ui import crash, main_window, theme  # noqa: F401

    mark("imported")
    return 0


if __name__ == "__main__":
    sys.exit({"app": lambda: app(sys.argv[2:]), "floor": floor, "imports": imports}[sys.argv[1]]())
