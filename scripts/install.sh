#!/usr/bin/env bash
# Install: Debian packages Qt needs (offscreen + a real window under Xvfb + screenshots), then the project
# with its dev extras into .venv. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PKGS=(libgl1 libegl1 libfontconfig1 libglib2.0-0 libdbus-1-3 libxkbcommon0 xvfb xauth libxkbcommon-x11-0
          libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-shape0 imagemagick)
SUDO=""; [[ $(id -u) == 0 ]] || SUDO="sudo"
missing=()
for p in "${APT_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
PY=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
echo "installed: $(.venv/bin/twinstar --version)"
