#!/usr/bin/env bash
# The test command: set up everything (system packages, .venv), then lint, type-check and run
# the whole test suite. Exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check gateway converters tests samples bench scripts
echo "== mypy"
.venv/bin/mypy gateway converters tests samples bench scripts
echo "== pytest"
.venv/bin/pytest -q -p no:cacheprovider tests "$@"
