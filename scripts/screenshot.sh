#!/usr/bin/env bash
# Refreshes docs/screenshot.svg, the README's picture: the explorer at seed-rst's verdict, drawn by
# the app itself (the screen.svg of `tuiexplore run seed-rst --export DIR`): scripts/screenshot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${TUIEXPLORE_VENV:-.venv}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$venv/bin/tuiexplore" run seed-rst --export "$out/bundle" >/dev/null
cp "$out/bundle/screen.svg" docs/screenshot.svg
echo "docs/screenshot.svg: $(wc -c <docs/screenshot.svg) bytes"
