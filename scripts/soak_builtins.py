#!/usr/bin/env python3
"""Run every built-in scenario N times in a row (default 10) and report any run that failed.

Usage: scripts/soak_builtins.py [N] [NAME...]   Exit status 1 if any run failed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tuiexplore import runner  # noqa: E402
from tuiexplore.scenarios.scenario import builtin_names, load  # noqa: E402


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    names = sys.argv[2:] or builtin_names()
    bad = 0
    print(f"{'scenario':<24} {'passed':>6} {'runs':>4} {'mean s':>7}")
    for name in names:
        ok, t = 0, time.perf_counter()
        for i in range(n):
            r = runner.run(load(name))
            if r.ok:
                ok += 1
            else:
                print(f"  {name} run {i + 1}: {'; '.join(r.failures)}")
        bad += n - ok
        print(f"{name:<24} {ok:>6} {n:>4} {(time.perf_counter() - t) / n:>7.2f}")
    print(f"soak_failures={bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
