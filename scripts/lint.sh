#!/usr/bin/env bash
# Lint: ruff (rules + import order) and mypy (types: strict on core/, exchanges/, data/), both configured in
# pyproject.toml. Runs both and fails if either finds anything. `ruff check --fix` applies the safe fixes.
set -euo pipefail
cd "$(dirname "$0")/.."
rc=0
.venv/bin/ruff check . || rc=1
.venv/bin/mypy || rc=1
exit "$rc"
