#!/usr/bin/env python3
"""Record the fidelity guard's reference: every built-in's and every held-out case's normalised
timeline (tests/timelines.py), as the code now makes them, into tests/data/timelines.json.

Run it on the code BEFORE a change to how steps are run or settled; tests/test_timelines.py then
checks the changed code against it. ``--check N`` instead runs everything N times and prints the
scenarios whose timeline differs between runs (what the reference could not hold).
Usage: scripts/record_timelines.py [--check N] [NAME ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from timelines import comparable, diff, normalise, scenarios  # noqa: E402

from tuiexplore import runner  # noqa: E402

REFERENCE = ROOT / "tests" / "data" / "timelines.json"


def main() -> int:
    args = sys.argv[1:]
    check = int(args[1]) if args[:1] == ["--check"] else 0
    names = args[2:] if check else args
    todo = {n: s for n, s in scenarios().items() if not names or n in names or n.split("/", 1)[1] in names}
    if check:
        unstable = 0
        for name, scn in todo.items():
            runs = [comparable(normalise(runner.run(scn))) for _ in range(check)]
            same = all(r == runs[0] for r in runs)
            unstable += not same
            print(f"{'same' if same else 'DIFFERS'} {name}", flush=True)
            for other in runs[1:]:
                print(diff(runs[0], other), end="")
        print(f"unstable={unstable}")
        return 1 if unstable else 0
    ref = json.loads(REFERENCE.read_text()) if REFERENCE.exists() and names else {}
    for name, scn in todo.items():
        result = runner.run(scn)
        if not result.ok:
            print(f"{name}: did not pass ({'; '.join(result.failures)}); not recorded", file=sys.stderr)
            return 1
        ref[name] = normalise(result)
        print(f"recorded {name}: {len(ref[name])} events", flush=True)
    # One step a line: a change shows in a diff as the steps it touched.
    body = ",\n".join(
        f"{json.dumps(name)}: [\n" + ",\n".join(json.dumps(b, sort_keys=True) for b in blocks) + "\n]"
        for name, blocks in sorted(ref.items())
    )
    REFERENCE.write_text("{\n" + body + "\n}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
