#!/usr/bin/env python3
"""Benchmark the lab engine on many runs of seed-rst.

lab_ready_s: from starting a lab to the capture being live and every actor answering.
step_overhead_ms: a step's wall time, seen by the caller, beyond its own sleeps and waits (the
quiet period that lets late ACKs arrive, time blocked in the kernel). Goals: < 0.5 s, < 10 ms.
Both wires in one run: loopback, then the relay (tuiexplore/relay/; goal: it adds < 1 ms a step).
Usage: scripts/bench_lab.py [RUNS]   (default 20, per wire)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tuiexplore.lab.client import Lab  # noqa: E402
from tuiexplore.scenarios.scenario import load  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def bench(wire: str, runs: int) -> tuple[list[float], list[float]]:
    scn = load("seed-rst")
    ready, overheads = [], []
    print(f"wire {wire}")
    print(f"{'run':>4} {'ready_s':>8} {'steps':>5} {'overhead_ms p50':>16} {'p95':>7} {'max':>7} {'agent_ms p50':>13}")
    for i in range(1, runs + 1):
        with Lab() as lab:
            t = time.perf_counter()
            info = lab.start(scn.actors, scn.port, wire=wire)
            ready.append(time.perf_counter() - t)
            run_over, agent_over = [], []
            for step in scn.steps:
                t = time.perf_counter()
                done = lab.step(step.index, step.actor, step.call, step.resolved(info.port))
                run_over.append((time.perf_counter() - t - done.waited_s) * 1000)
                agent_over.append(done.overhead_ms)
        overheads += run_over
        print(
            f"{i:>4} {ready[-1]:>8.3f} {len(run_over):>5} {statistics.median(run_over):>16.2f} {pct(run_over, 95):>7.2f} "
            f"{max(run_over):>7.2f} {statistics.median(agent_over):>13.2f}"
        )
    print(
        f"{wire}: ready p50 {statistics.median(ready):.3f} s, p95 {pct(ready, 95):.3f} s; "
        f"step overhead p50 {statistics.median(overheads):.2f} ms, p95 {pct(overheads, 95):.2f} ms over {len(overheads)} steps"
    )
    return ready, overheads


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    ready, overheads = bench("loopback", runs)
    relay_ready, relay_overheads = bench("relay", runs)
    print(f"lab_ready_s={statistics.median(ready):.3f}")
    print(f"step_overhead_ms={statistics.median(overheads):.2f}")
    print(f"relay_lab_ready_s={statistics.median(relay_ready):.3f}")
    print(f"relay_step_overhead_ms={statistics.median(relay_overheads):.2f}")
    print(f"relay_adds_ms_per_step={statistics.median(relay_overheads) - statistics.median(overheads):.2f}")


if __name__ == "__main__":
    main()
