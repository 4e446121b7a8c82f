"""Mutation testing of the pure layers (twinstar_gui/core and twinstar_gui/exchanges) against their own tests.

    .venv/bin/python scripts/mutation.py [--skip-run] [--min 90]

Runs mutmut (config in pyproject.toml, [tool.mutmut]; it takes minutes, so it is not part of CI), then prints the
score per module and in all, and every surviving mutant: those listed in scripts/mutation_survivors*.txt with the
reason they cannot be killed (an equivalent mutant, or one that changes only a log or error text no one reads),
and the others, which are gaps in the tests. Exit 0 when the share killed reaches --min percent.
(scripts/mutation_survivors*.txt: one file per part of the code, `<mutant name> <reason>` per line.)
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = [sys.executable, "-m", "mutmut"]
KNOWN = sorted(Path(__file__).parent.glob("mutation_survivors*.txt"))


def known_survivors() -> dict[str, str]:
    """Exact mutant name -> why it survives, from scripts/mutation_survivors*.txt (`name reason` lines; a line
    starting with '#' is a comment)."""
    out = {}
    for path in KNOWN:
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, why = line.partition(" ")
            out[name] = why.strip() or "(no reason given)"
    return out


def results() -> dict[str, str]:
    text = subprocess.run([*MUTMUT, "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout
    out = {}
    for line in text.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            out[name] = status
    return out


def module_of(name: str) -> str:
    return re.sub(r"\.x?ǁ.*$|\.x_[^.]*$", "", name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-run", action="store_true", help="report the last run's results only")
    ap.add_argument("--keep-cache", action="store_true",
                    help="let mutmut reuse earlier verdicts (faster, but stale after test changes)")
    ap.add_argument("--min", type=float, default=90.0, help="share of mutants that must be killed, percent")
    args = ap.parse_args()
    if not args.skip_run:
        if not args.keep_cache:  # mutmut keeps a mutant's old verdict while its function is unchanged, even
            shutil.rmtree(ROOT / "mutants", ignore_errors=True)  # when new tests would now kill it
        env = {**os.environ, "TWINSTAR_FUZZ_N": os.environ.get("TWINSTAR_FUZZ_N", "300")}  # the fuzz test, shorter
        subprocess.run([*MUTMUT, "run", "--max-children", str(os.cpu_count() or 2)], cwd=ROOT, env=env, check=False)
    res = results()
    if not res:
        print("no mutmut results: run without --skip-run first", file=sys.stderr)
        return 2
    known = known_survivors()
    per = collections.defaultdict(collections.Counter)
    for name, status in res.items():
        per[module_of(name)][status] += 1
    print(f"{'module':40s} {'mutants':>7s} {'killed':>7s} {'%':>6s}")
    total = collections.Counter()
    for mod, c in sorted(per.items()):
        n = sum(c.values())
        total.update(c)
        print(f"{mod:40s} {n:7d} {c['killed']:7d} {100 * c['killed'] / n:6.1f}")
    n = sum(total.values())
    score = 100 * total["killed"] / n
    print(f"{'all':40s} {n:7d} {total['killed']:7d} {score:6.1f}   ({dict(total)})")
    survivors = sorted(name for name, status in res.items() if status != "killed")
    explained = [s for s in survivors if s in known]
    gaps = [s for s in survivors if s not in known]
    print(f"\nsurvivors explained in scripts/mutation_survivors*.txt ({len(explained)}): equivalent or message-only")
    for s in explained:
        print(f"  {s}: {known[s]}")
    print(f"\nsurvivors NOT explained ({len(gaps)}): gaps in the tests (`mutmut show NAME` shows the change)")
    for s in gaps:
        print(f"  {s}: {res[s]}")
    stale = sorted(set(known) - set(survivors))
    if stale:
        print(f"\nlisted in scripts/mutation_survivors*.txt but killed or gone now ({len(stale)}): remove them")
        for s in stale:
            print(f"  {s}")
    ok = score >= args.min
    print(f"\nkilled {score:.1f}% of {n} mutants (need {args.min:g}%): {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
