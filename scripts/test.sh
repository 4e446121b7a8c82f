#!/usr/bin/env bash
# Tests: offscreen Qt, real sockets on 127.0.0.1 only, temp dirs for data.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
# Two workers (pytest-xdist): most tests wait on sockets and timers, so two halve the wall time even on one
# core. Pass `-n 0` to run in one process (e.g. to use a debugger).
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "${TEST_WORKERS:-2}" "$@"
