#!/usr/bin/env bash
# Installs tuiexplore with its test tools into .venv and runs the whole suite: scripts/test.sh [PYTEST ARGS]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
venv="${TUIEXPLORE_VENV:-.venv}"
"$venv/bin/ruff" check tuiexplore tests scripts
"$venv/bin/mypy"  # over tuiexplore/, with the settings in pyproject.toml
exec "$venv/bin/python" -m pytest "$@"
