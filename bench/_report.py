"""Shared by the bench scripts: `--json PATH` writes the figures a script printed, for bench/run_all.py."""
from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path


def add_json_option(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--json", metavar="PATH", help="also write the measured figures as JSON (bench/run_all.py)")


def row(measure: str, twinstar: str, baseline: str = "-", ratio: str = "-", expected: str | None = None,
        goal: str | None = None, **values: float) -> dict:
    """One line of the performance table: display strings as printed, plus the raw numbers in `values`."""
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}
    return {"measure": measure, "twinstar": twinstar, "baseline": baseline, "ratio": ratio, "expected": expected,
            "goal": goal, "values": clean}


def write_json(path: str | None, bench: str, rows: list[dict], notes: list[str] | tuple[str, ...] = ()) -> None:
    if not path:
        return
    doc = {"bench": bench, "rows": rows, "notes": list(notes), "python": platform.python_version(),
           "machine": platform.machine(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    Path(path).write_text(json.dumps(doc, indent=1), encoding="utf-8")
