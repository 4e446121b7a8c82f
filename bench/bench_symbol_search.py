"""Symbol search benchmark: the chart's completer over a 5,000-instrument catalog vs a 50-instrument baseline.

Measured in one run, offscreen, on a real QLineEdit + SymbolCompleter (the chart's SymbolSearch):
  set model  - `set_symbols` (sort + QStringListModel reset), what a catalog refresh or an exchange switch costs;
  list       - `Catalog.symbols()` sorted, what the presenter's `catalog_symbols` does before that;
  keystroke  - one real key event in the field ("s", "o", "l" after a clear, on a fresh model): the line edit hands
               the text to the completer, which filters the model (contains, any case) and shows/updates its popup;
  worst key  - the slowest of the three by median: "s", which matches every symbol (it is in "/USDT");
  filter     - `setCompletionPrefix("s")` + `completionCount()` on a fresh model (filtering without the popup).
Medians in ms; the ratio is the large catalog over the baseline. A last line measures the worst key with Qt's
default popup (rows of measured height), which the completer no longer uses. Usage:
    .venv/bin/python bench/bench_symbol_search.py [--size 5000] [--baseline 50] [--repeats 30]
"""
from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import argparse
import statistics
import sys
import time
from pathlib import Path

from PySide6.QtCore import Qt, qInstallMessageHandler
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from twinstar_gui.core.instrument import Catalog, Instrument
from twinstar_gui.ui.symbol_search import SymbolSearch

from _report import add_json_option, row, write_json

KEYS = "sol"


def catalog(n: int) -> Catalog:
    """`n` USDT perpetuals: a few real bases (SOL among them) and 4-letter synthetic ones (AAAA, AAAB, ...)."""
    synthetic = ("".join(chr(65 + (i // 26 ** k) % 26) for k in (3, 2, 1, 0)) for i in range(n))
    bases = list(dict.fromkeys(["BTC", "ETH", "SOL", "SOLV", "XRP", *synthetic]))[:n]
    return Catalog("bybit", [Instrument("bybit", f"{b}/USDT:USDT", f"{b}USDT", b, "USDT", "USDT", "swap", 0.01,
                                        0.001, 0.001, 5.0) for b in bases], fetched_ms=1)


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def measure(n: int, repeats: int, *, uniform_rows: bool = True) -> dict[str, float]:
    cat = catalog(n)
    search = SymbolSearch()
    if not uniform_rows:  # Qt's default popup, as before the completer set uniform rows: for comparison
        search.completer.popup().setUniformItemSizes(False)
    search.show()
    search.edit.setFocus()
    symbols = sorted(cat.symbols())
    out = {"instruments": float(len(cat))}
    out["list"] = median_ms(lambda: sorted(set(cat.symbols())), repeats)
    out["set model"] = median_ms(lambda: search.set_symbols(symbols), repeats)
    per_key: dict[int, list[float]] = {k: [] for k in range(len(KEYS))}
    for _ in range(repeats):
        search.set_symbols(symbols)  # a fresh model: the completer caches what it matched per prefix
        search.edit.clear()
        search.completer.popup().hide()
        for k, key in enumerate(KEYS):
            t0 = time.perf_counter()
            QTest.keyClick(search.edit, key)
            per_key[k].append((time.perf_counter() - t0) * 1000)
    out["keystroke"] = statistics.median([t for times in per_key.values() for t in times])
    out["worst key"] = max(statistics.median(times) for times in per_key.values())  # "s": the most matches
    out["completions"] = float(search.completer.completionCount())

    filters = []
    for _ in range(repeats):  # a fresh model each time: the completer caches what it matched per prefix
        search.set_symbols(symbols)
        t0 = time.perf_counter()
        search.completer.setCompletionPrefix(KEYS[0])
        search.completer.completionCount()
        filters.append((time.perf_counter() - t0) * 1000)
    out["filter"] = statistics.median(filters)
    search.completer.popup().hide()
    QTest.keyClick(search.edit, Qt.Key_Escape)
    search.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=5000)
    ap.add_argument("--baseline", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=30)
    add_json_option(ap)
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])  # noqa: F841 - widgets need it
    # the offscreen platform says it cannot raise or grab for every popup shown: not news
    qInstallMessageHandler(lambda _mode, _ctx, msg: None if "does not support" in msg else print(msg, file=sys.stderr))
    measure(args.baseline, 3)  # warm-up: first paint of a popup, font caches
    base, big = measure(args.baseline, args.repeats), measure(args.size, args.repeats)
    print(f"symbol search: {int(big['instruments'])} instruments vs {int(base['instruments'])} (baseline), "
          f"median of {args.repeats}; {int(big['completions'])} completions for {KEYS!r} in the large list")
    rows = []
    for key in ("list", "set model", "keystroke", "worst key", "filter"):
        ratio = big[key] / base[key] if base[key] > 0 else float("inf")
        print(f"  {key:<10} {big[key]:8.3f} ms   baseline {base[key]:7.3f} ms   ratio {ratio:6.1f}x")
        rows.append(row(f"symbol search {key}, {int(big['instruments'])} instruments", f"{big[key]:.3f} ms",
                        f"{base[key]:.3f} ms ({int(base['instruments'])})", f"{ratio:.1f}x",
                        goal="keystroke < 16 ms" if key == "keystroke" else None,
                        ms=big[key], baseline_ms=base[key], times=ratio))
    default = measure(args.size, args.repeats, uniform_rows=False)["worst key"]
    print(f"  worst key with Qt's default popup (rows measured one by one): {default:.3f} ms "
          f"({default / big['worst key']:.1f}x the completer's)")
    rows.append(row(f"symbol search worst key, {int(big['instruments'])} instruments, Qt's default popup",
                    f"{big['worst key']:.3f} ms", f"{default:.3f} ms", f"{default / big['worst key']:.1f}x",
                    ms=big["worst key"], baseline_ms=default))
    write_json(args.json, "symbol_search", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
