#!/usr/bin/env bash
# Tests: offscreen Qt, real sockets on 127.0.0.1 only, temp dirs for data.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
