#!/usr/bin/env bash
# Runs the whole suite N times, each on a fresh `git clone` of HEAD, and lists every test that
# failed at least once: scripts/flakes.sh N [PYTEST ARGS]   (e.g. scripts/flakes.sh 3 -m "not guest")
#
# One venv serves every clone: before each run, scripts/setup.sh installs that clone into it
# (editable), and the script checks that `python -P -m tuiexplore` (how the lab's agent, actors
# and `step` children start) imports the clone's package, not an older clone's or the worktree's.
# Uncommitted changes are not in the clones: commit first. Temp clones are removed on exit;
# FLAKES_LOGS=DIR keeps each run's pytest output and junit report there (and its snapshot report).
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-}"
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/flakes.sh N [PYTEST ARGS]" >&2; exit 2; }
shift
src="$(pwd)"
head="$(git rev-parse HEAD)"
[ -z "$(git status --porcelain --untracked-files=no)" ] || echo "flakes: uncommitted changes are not tested (HEAD ${head:0:7} is)" >&2
work="$(mktemp -d "${TMPDIR:-/tmp}/tuiexplore-flakes.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# The unprivileged-lab tests run the venv's python and the clone's code as uid 65534.
chmod 755 "$work"
venv="$work/venv"
for i in $(seq 1 "$n"); do
  clone="$work/clone-$i"
  git clone -q --no-checkout "$src" "$clone"
  git -C "$clone" checkout -q --detach "$head"
  if ! (cd "$clone" && TUIEXPLORE_VENV="$venv" scripts/setup.sh test) >"$work/setup.log" 2>&1; then
    echo "flakes: setup failed for run $i:" >&2
    tail -20 "$work/setup.log" >&2
    exit 1
  fi
  imported="$(cd / && "$venv/bin/python" -P -c 'import os, tuiexplore; print(os.path.dirname(tuiexplore.__file__))')"
  if [ "$imported" != "$clone/tuiexplore" ]; then
    echo "flakes: the venv imports $imported, not the clone's $clone/tuiexplore" >&2
    exit 1
  fi
  start=$SECONDS
  rc=0
  (cd "$clone" && "$venv/bin/python" -m pytest -p no:cacheprovider -q --junitxml="$work/junit-$i.xml" "$@") \
    >"$work/run-$i.log" 2>&1 || rc=$?
  echo "run $i/$n (${head:0:7}, $((SECONDS - start)) s, exit $rc): $(tail -1 "$work/run-$i.log")"
  [ -f "$work/junit-$i.xml" ] || { echo "flakes: run $i wrote no report:" >&2; tail -20 "$work/run-$i.log" >&2; exit 1; }
  if [ -n "${FLAKES_LOGS:-}" ]; then
    mkdir -p "$FLAKES_LOGS" && cp "$work/run-$i.log" "$work/junit-$i.xml" "$FLAKES_LOGS/"
    [ ! -f "$clone/snapshot_report.html" ] || cp "$clone/snapshot_report.html" "$FLAKES_LOGS/snapshot_report-$i.html"
  fi
  rm -rf "$clone"
done
"$venv/bin/python" - "$n" "$work"/junit-*.xml <<'EOF'
import sys
import xml.etree.ElementTree as ET
from collections import Counter

n, reports = int(sys.argv[1]), sys.argv[2:]
failed: Counter[str] = Counter()
for path in reports:
    for case in ET.parse(path).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            module = case.get("classname", "").replace(".", "/")
            failed[f"{module}.py::{case.get('name')}"] += 1
for name, count in failed.most_common():
    print(f"{count}/{n}  {name}")
print(f"flakes: {len(failed)} tests failed in {n} fresh-clone runs")
sys.exit(1 if failed else 0)
EOF
