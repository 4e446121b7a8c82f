#!/usr/bin/env bash
# Tests: offscreen Qt, real sockets on 127.0.0.1 only, temp dirs for data.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
# The whole suite (no arguments, as the README and CI run it) starts with the lint and type check: a finding
# fails the run before the tests. With arguments (`-k name`, a path) only those tests run.
if [[ $# -eq 0 && -z ${SKIP_LINT:-} ]]; then
  bash scripts/lint.sh || { echo "test: lint or type check failed (scripts/lint.sh)" >&2; exit 1; }
fi
# Two workers (pytest-xdist): most tests wait on sockets and timers, so two halve the wall time even on one
# core. Pass `-n 0` to run in one process (e.g. to use a debugger).
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "${TEST_WORKERS:-2}" "$@"
