#!/usr/bin/env bash
# Screenshot of the real demo window under Xvfb (for the README): scripts/screenshot.sh [OUT.png] [SECONDS] [trading]
# "trading": the AutoScanner and MultiTrader run on the simulated Bybit and the Bots tab is shown
# (scripts/screenshot_trading.py; the window renders itself into OUT.png).
# Needs the packages scripts/install.sh installs (xvfb, xauth, imagemagick, Qt xcb libs).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/demo.png}; secs=${2:-8}; mode=${3:-}
mkdir -p "$(dirname "$out")"
dfile=$(mktemp)
Xvfb -displayfd 3 -screen 0 "${SCREEN_GEOMETRY:-1280x800x24}" -nolisten tcp 3>"$dfile" >/dev/null 2>&1 &
xpid=$!
for _ in $(seq 50); do [[ -s $dfile ]] && break; sleep 0.1; done
disp=":$(tr -d '[:space:]' <"$dfile")"; rm -f "$dfile"
[[ $disp != ":" ]] || { echo "Xvfb did not start" >&2; kill "$xpid"; exit 1; }
cleanup() {
  kill "${apid:-}" 2>/dev/null || true; kill "$xpid" 2>/dev/null || true; wait 2>/dev/null || true
  [[ -n ${cfg:-} ]] && rm -rf "$cfg"
}
trap cleanup EXIT
cfg=$(mktemp -d)  # a fresh config: the default layout, never one saved by an earlier run
if [[ $mode == trading ]]; then
  env -u QT_QPA_PLATFORM DISPLAY="$disp" XDG_CONFIG_HOME="$cfg" .venv/bin/python scripts/screenshot_trading.py "$out" "$secs"
  exit $?
fi
env -u QT_QPA_PLATFORM DISPLAY="$disp" XDG_CONFIG_HOME="$cfg" .venv/bin/twinstar --demo --quit-after $((secs + 5)) &
apid=$!
sleep "$secs"
kill -0 "$apid" 2>/dev/null || { echo "the app exited before the screenshot" >&2; exit 1; }
DISPLAY="$disp" /usr/bin/import -window root "$out"
echo "screenshot: $out"
