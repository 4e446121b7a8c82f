#!/usr/bin/env bash
# Build the double-click app (PyInstaller onedir, build.spec -> dist/twinstar/) and check the frozen binary:
# --self-test, a bad flag and an unwritable data dir (clear message, exit 2, no traceback), and the demo up to
# "first candles on screen". Prints the bundle size and the timings; writes them to dist/build-info.json
# (bench/run_all.py puts them in the performance table).
#   SKIP_BUILD=1 bash scripts/build.sh    # only check an existing dist/twinstar
#   SKIP_DEMO=1  bash scripts/build.sh    # skip the demo check (~7 s)
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen PYTHONUNBUFFERED=1
APP=dist/twinstar/twinstar
LOG=build/pyinstaller.log
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
fail() { echo "build: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d)
export XDG_CONFIG_HOME="$tmp/config"  # the checks run the app: they must not touch the user's settings or window layout
trap 'rm -rf "$tmp"' EXIT

build_s=null
if [[ -z ${SKIP_BUILD:-} ]]; then
  mkdir -p build
  t=$(now)
  if ! .venv/bin/pyinstaller --noconfirm --clean build.spec >"$LOG" 2>&1; then
    tail -40 "$LOG" >&2
    fail "pyinstaller failed (full log: $LOG)"
  fi
  build_s=$(since "$t")
  echo "build: pyinstaller done in ${build_s}s (log: $LOG)"
  # A module of ours that PyInstaller could not compile is left out silently ("invalid module"): refuse it.
  if grep -q "invalid module named twinstar_gui" build/build/warn-build.txt; then
    grep "invalid module named twinstar_gui" build/build/warn-build.txt >&2
    fail "some twinstar_gui modules did not compile during the build"
  fi
fi
[[ -x $APP ]] || fail "$APP not found; build first"

# 1. Self-test (window offscreen + render, Parquet, simulator, WS round trip).
t=$(now)
if ! timeout -k 5 120 "$APP" --self-test >"$tmp/selftest.out" 2>&1; then
  cat "$tmp/selftest.out" >&2
  fail "frozen --self-test failed"
fi
selftest_s=$(since "$t")
grep -E '^\[(ok|FAIL)\]|self-test' "$tmp/selftest.out"
echo "build: frozen --self-test passed in ${selftest_s}s wall"

# 2. A bad flag and an unwritable data dir: a message and exit 2, never a traceback.
set +e
timeout -k 5 60 "$APP" --no-such-flag >"$tmp/badflag.out" 2>&1; rc=$?
set -e
if [[ $rc != 2 ]] || grep -q Traceback "$tmp/badflag.out" || ! grep -q "unrecognized arguments" "$tmp/badflag.out"; then
  cat "$tmp/badflag.out" >&2
  fail "bad flag: expected exit 2 with a usage message, got rc=$rc"
fi
echo "build: bad flag -> exit 2, '$(grep -m1 'unrecognized' "$tmp/badflag.out")'"
touch "$tmp/blocker"
set +e
TWINSTAR_DATA_DIR="$tmp/blocker/sub" timeout -k 5 60 "$APP" --demo --quit-after 1 >"$tmp/datadir.out" 2>&1; rc=$?
set -e
if [[ $rc != 2 ]] || grep -q Traceback "$tmp/datadir.out" || ! grep -q "not writable" "$tmp/datadir.out"; then
  cat "$tmp/datadir.out" >&2
  fail "unwritable data dir: expected exit 2 with a message, got rc=$rc"
fi
echo "build: unwritable data dir -> exit 2, '$(grep -m1 'not writable' "$tmp/datadir.out")'"

# 3. The demo: wall time from launch to the app's "first candles on screen" log line.
demo_s=null
if [[ -z ${SKIP_DEMO:-} ]]; then
  t=$(now)
  TWINSTAR_DATA_DIR="$tmp/demo-data" timeout -k 5 60 "$APP" --demo --quit-after 6 >"$tmp/demo.out" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null && ! grep -q "first candles on screen" "$tmp/demo.out"; do sleep 0.05; done
  grep -q "first candles on screen" "$tmp/demo.out" && demo_s=$(since "$t")
  set +e
  wait "$pid"; rc=$?
  set -e
  if [[ $rc != 0 || $demo_s == null ]]; then
    tail -30 "$tmp/demo.out" >&2
    fail "frozen --demo: rc=$rc, first candles seen: $([[ $demo_s == null ]] && echo no || echo yes)"
  fi
  echo "build: frozen --demo: first candles on screen ${demo_s}s after launch ($(grep -o 'first candles on screen [0-9.]*s after start' "$tmp/demo.out") inside the app)"
fi

size_mb=$(du -sm dist/twinstar | cut -f1)
echo "build: bundle dist/twinstar: $(du -sh dist/twinstar | cut -f1) ($(find dist/twinstar -type f | wc -l) files)"
cat >dist/build-info.json <<EOF
{"bundle_mb": $size_mb, "build_s": $build_s, "selftest_s": $selftest_s, "demo_first_candles_s": $demo_s,
 "platform": "$(uname -sm)", "when": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"}
EOF
echo "build: OK (figures in dist/build-info.json)"
