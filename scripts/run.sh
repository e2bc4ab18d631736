#!/usr/bin/env bash
# Installs tuiexplore into .venv if needed and starts it: scripts/run.sh [ARGS...]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${TUIEXPLORE_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/tuiexplore" ]; then
  "$here/scripts/setup.sh"
fi
exec "$venv/bin/tuiexplore" "$@"
