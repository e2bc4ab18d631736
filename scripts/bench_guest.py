"""Guest boot time and per-step time on a guest kernel vs the host.

    .venv/bin/python scripts/bench_guest.py [--kernel K ...] [--scenario NAME]

For each kernel (default: host + every cached one) one lab runs the scenario (default seed-rst):
``ready_s`` is from starting the lab to the agent's ready (on a guest: QEMU boot + the agent's
start-up), ``step_ms`` the mean wall time per step (request to done), ``close_s`` the shutdown.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tuiexplore.guest import catalog  # noqa: E402
from tuiexplore.guest.commands import HOST, resolve  # noqa: E402
from tuiexplore.lab.client import Lab  # noqa: E402
from tuiexplore.scenarios.scenario import load  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kernel", action="append")
    p.add_argument("--scenario", default="seed-rst")
    args = p.parse_args()
    scn = load(args.scenario)
    for name in args.kernel or [HOST, *(k.label for k in catalog.cached())]:
        launcher = resolve(name)
        t0 = time.monotonic()
        lab = Lab(transport=launcher.transport) if launcher else Lab()
        try:
            info = lab.start(scn.actors, scn.port)
            ready = time.monotonic() - t0
            times = []
            for step in scn.steps:
                t = time.monotonic()
                lab.step(step.index, step.actor, step.call, step.resolved(info.port))
                times.append((time.monotonic() - t) * 1000)
        finally:
            t = time.monotonic()
            lab.close()
            closed = time.monotonic() - t
        where = info.where or f"host Linux {info.release}"
        print(
            f"{name:<6} ready_s={ready:.1f} step_ms={statistics.mean(times):.0f} (median {statistics.median(times):.0f}, "
            f"{len(times)} steps) close_s={closed:.1f}  # {where}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
