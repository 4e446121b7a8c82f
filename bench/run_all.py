"""Run every benchmark in bench/ as a subprocess and write ONE markdown performance table.

Each bench_*.py is run with `--json PATH` (its printed output stays as it was and is kept in the log);
a script without that option (e.g. a new bench) is run plainly and the markdown table rows it prints are
taken as they are. The frozen app's figures come from dist/build-info.json, written by scripts/build.sh.
Usage:
    .venv/bin/python bench/run_all.py [--quick] [--out docs/performance.md] [--only store,parse] [--timeout 900]
        [--readme [README.md]]          also replace the table between the README's perf-table markers
    .venv/bin/python bench/run_all.py --readme --from-markdown docs/performance.md   (copy only, run nothing)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

# Arguments per script: (full run, --quick run). Unknown bench_*.py files run with no arguments.
ARGS: dict[str, tuple[list[str], list[str]]] = {
    "bench_store.py": ([], ["--appends", "100", "--no-minutes"]),
    "bench_parse.py": ([], ["--seconds", "0.3"]),
    "bench_hub.py": ([], ["--frames", "20000"]),
    "bench_bots.py": ([], ["--candles", "100"]),
    "bench_chart_item.py": ([], ["--sizes", "100000", "--renders", "5"]),
    "bench_gui.py": (["--all"], ["--quick", "--all"]),
    "bench_symbol_search.py": ([], ["--repeats", "10"]),
    "bench_manual.py": ([], ["--amends", "30"]),
}
ORDER = list(ARGS)


def scripts(only: set[str] | None) -> list[Path]:
    found = sorted(BENCH.glob("bench_*.py"), key=lambda p: (ORDER.index(p.name) if p.name in ORDER else 99, p.name))
    if only:
        found = [p for p in found if p.stem.removeprefix("bench_") in only or p.stem in only]
    return found


def supports_json(script: Path) -> bool:
    text = script.read_text(encoding="utf-8")
    return "--json" in text or "add_json_option" in text


def table_rows(stdout: str) -> list[dict]:
    """Fallback: the markdown rows a script printed, columns found by their header (TwinStar/ours, baseline,
    ratio, goal; the cells before TwinStar name the measure)."""
    rows: list[dict] = []
    header: list[str] | None = None
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.lstrip().startswith("|") else None
        if not cells:
            header = None
            continue
        if header is None:
            header = [h.lower() for h in cells]
            continue
        if all(set(c) <= set("-: ") for c in cells):
            continue

        def col(words: tuple[str, ...], default: int, header: list[str] = header) -> int:
            return next((k for k, h in enumerate(header) if any(w in h for w in words)), default)

        ours = col(("twinstar", "ours", "parse+"), 1)
        base, ratio, goal = col(("baseline", "naive", "json.loads"), ours + 1), col(("ratio",), ours + 2), \
            col(("goal",), -1)
        get = lambda k, cells=cells: cells[k] if 0 <= k < len(cells) else "-"
        rows.append({"measure": " / ".join(c for c in cells[:ours] if c), "twinstar": get(ours),
                     "baseline": get(base), "ratio": get(ratio), "expected": None,
                     "goal": get(goal) if goal >= 0 else None})
    return rows


def run_one(script: Path, quick: bool, timeout: float, tmp: Path, log: list[str]) -> dict:
    full, short = ARGS.get(script.name, ([], []))
    cmd = [sys.executable, str(script), *(short if quick else full)]
    out_json = tmp / f"{script.stem}.json"
    use_json = supports_json(script)
    if use_json:
        cmd += ["--json", str(out_json)]
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    t0 = time.monotonic()
    print(f"run_all: {script.name} {' '.join(cmd[2:])}", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
        rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc = None
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        stderr = f"timed out after {timeout:.0f} s"
    elapsed = time.monotonic() - t0
    log.append(f"## {script.name} ({' '.join(cmd[2:])}) rc={rc} {elapsed:.1f}s\n\n{stdout}\n{stderr[-3000:]}")
    result = {"bench": script.stem, "rc": rc, "seconds": elapsed, "rows": [], "notes": [], "error": None}
    if rc != 0:
        last = (stderr.strip().splitlines() or ["no output"])[-1]
        result["error"] = f"failed (rc={rc}): {last}"
    else:
        doc = json.loads(out_json.read_text(encoding="utf-8")) if use_json and out_json.exists() else {}
        if isinstance(doc, dict) and isinstance(doc.get("rows"), list):  # bench/_report.py's format
            result["rows"], result["notes"] = doc["rows"], doc.get("notes", [])
        else:  # its own JSON layout, or none: take the markdown table it printed
            result["rows"] = table_rows(stdout)
        if not result["rows"]:
            result["error"] = "ran, but printed no table"
    print(f"run_all: {script.name} -> {'ok' if not result['error'] else result['error']} in {elapsed:.1f}s",
          file=sys.stderr, flush=True)
    return result


def build_rows() -> tuple[list[dict], str | None]:
    info_path = ROOT / "dist" / "build-info.json"
    if not info_path.exists():
        return [], "no frozen build (dist/build-info.json missing: run scripts/build.sh)"
    info = json.loads(info_path.read_text(encoding="utf-8"))
    rows = [{"measure": "frozen app: onedir bundle size (dist/twinstar)", "twinstar": f"{info['bundle_mb']} MB",
             "baseline": "-", "ratio": "-", "expected": None}]
    if info.get("selftest_s") is not None:
        rows.append({"measure": "frozen app: `--self-test` wall time (launch -> exit 0)",
                     "twinstar": f"{info['selftest_s']:.2f} s", "baseline": "-", "ratio": "-", "expected": None})
    if info.get("demo_first_candles_s") is not None:
        rows.append({"measure": "frozen app: `--demo` launch -> first candles on screen",
                     "twinstar": f"{info['demo_first_candles_s']:.2f} s", "baseline": "-", "ratio": "-",
                     "expected": None})
    if info.get("build_s") is not None:
        rows.append({"measure": "frozen app: PyInstaller build time", "twinstar": f"{info['build_s']:.0f} s",
                     "baseline": "-", "ratio": "-", "expected": None})
    return rows, f"frozen figures from scripts/build.sh on {info.get('platform', '?')} at {info.get('when', '?')}"


def cell(text: object) -> str:
    return re.sub(r"\s+", " ", str(text if text not in (None, "") else "-")).replace("|", "/")


def markdown(results: list[dict], quick: bool, frozen: tuple[list[dict], str | None]) -> str:
    lines = ["# TwinStar performance", "",
             f"Generated by `bench/run_all.py{' --quick' if quick else ''}` on {platform.system()} "
             f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} cores, "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Baselines are measured in the same run "
             "(each bench script's docstring says what the baseline is); where the baseline's cost is known "
             "beforehand, the expected figure is given.", "",
             "| bench | measure | TwinStar | baseline (same run) | ratio | expected (baseline) | goal |",
             "|---|---|---|---|---|---|---|"]
    notes = []
    for r in results:
        name = r["bench"].removeprefix("bench_")
        if r["error"]:
            lines.append(f"| {name} | {cell(r['error'])} | - | - | - | - | - |")
        for row in r["rows"]:
            measure = re.sub(rf"^{re.escape(name.split('_')[0])}: ", "", str(row["measure"]))
            lines.append(f"| {name} | {cell(measure)} | {cell(row['twinstar'])} | {cell(row['baseline'])} "
                         f"| {cell(row['ratio'])} | {cell(row.get('expected'))} | {cell(row.get('goal'))} |")
        notes += [f"{name}: {n}" for n in r["notes"]]
    rows, note = frozen
    for row in rows:
        lines.append(f"| build | {cell(row['measure'])} | {cell(row['twinstar'])} | - | - | - "
                     f"| {cell(row.get('goal'))} |")
    if note:
        notes.append(note)
    missing = [n for n in ARGS if not (BENCH / n).exists()]
    if missing:
        notes.append(f"not present in this checkout: {', '.join(missing)}")
    notes.append("run times: " + ", ".join(f"{r['bench']} {r['seconds']:.0f} s" for r in results))
    if hasattr(os, "getloadavg"):  # other work on the machine slows every figure (ratios less so)
        notes.append(f"load average at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min)")
    lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs (about a minute in all); ratios stay valid")
    ap.add_argument("--out", default=str(ROOT / "docs" / "performance.md"), help="markdown file to write")
    ap.add_argument("--log", default=None, help="also keep every script's full output here")
    ap.add_argument("--only", help="comma-separated bench names (store,parse,hub,bots,chart_item,gui)")
    ap.add_argument("--timeout", type=float, default=900.0, help="per-script timeout, seconds")
    ap.add_argument("--readme", nargs="?", const=str(ROOT / "README.md"), default=None,
                    help="also put the table into this README between its perf-table markers")
    ap.add_argument("--from-markdown", metavar="PATH",
                    help="run nothing: copy an already generated table (e.g. docs/performance.md) into --readme")
    args = ap.parse_args()
    if args.from_markdown:
        if not args.readme:
            ap.error("--from-markdown needs --readme")
        return into_readme(Path(args.readme), Path(args.from_markdown).read_text(encoding="utf-8"))
    only = {s.strip() for s in args.only.split(",") if s.strip()} if args.only else None
    found = scripts(only)
    if not found:
        print("run_all: no bench scripts matched", file=sys.stderr)
        return 2
    log: list[str] = []
    with tempfile.TemporaryDirectory(prefix="twinstar-bench-") as tmp:
        results = [run_one(s, args.quick, args.timeout, Path(tmp), log) for s in found]
    text = markdown(results, args.quick, build_rows())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    if args.log:
        Path(args.log).write_text("\n\n".join(log), encoding="utf-8")
    print(text)
    print(f"run_all: table written to {out}", file=sys.stderr)
    if args.readme:
        into_readme(Path(args.readme), text)
    return 1 if any(r["error"] for r in results) else 0


START, END = "<!-- perf-table:start (bench/run_all.py --readme) -->", "<!-- perf-table:end -->"


def into_readme(readme: Path, table_md: str) -> int:
    """Replace what is between the README's markers with the generated table (its title line dropped)."""
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        print(f"run_all: {readme} has no {START} ... {END} markers", file=sys.stderr)
        return 2
    body = "\n".join(line for line in table_md.strip().splitlines() if not line.startswith("# "))
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{body.strip()}\n{END}{tail}", encoding="utf-8")
    print(f"run_all: table copied into {readme}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
