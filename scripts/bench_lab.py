#!/usr/bin/env python3
"""Benchmark the lab engine on many runs of seed-rst.

lab_ready_s: from starting a lab to the capture being live and every actor answering.
step_overhead_ms: a step's wall time, seen by the caller, beyond its own sleeps and waits (the
settling that lets late ACKs arrive, time blocked in the kernel). Goals: < 0.5 s, < 10 ms.
Both wires in one run: loopback, then the relay (tuiexplore/relay/; goal: it adds < 1 ms a step).
seed_run_s: the whole `tuiexplore run seed-rst --json` process, median of WHOLE runs; floor_s:
the same exchange (epoll server, client connect, a byte written, close with it unread, the
server's epoll_wait) by an uninstrumented Python program in a fresh user+network namespace,
alternating with it in the same run; and their ratio. Goal: seed_run_s < 0.3 s.
With --vs DIR, the whole process is also run from DIR (a baseline checkout), alternating: A/B.
Usage: scripts/bench_lab.py [RUNS [WHOLE]] [--vs DIR]   (default 20 per wire, and 10; RUNS 0: the whole process only)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ab import loadavg, report, split_vs, timed  # noqa: E402

from tuiexplore.lab.client import Lab  # noqa: E402
from tuiexplore.scenarios.scenario import load  # noqa: E402

FLOOR = """
import fcntl, select, socket, struct
up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a new namespace's lo is down
fcntl.ioctl(up, 0x8914, struct.pack("16sH14x", b"lo", 0x1 | 0x40))  # SIOCSIFFLAGS: IFF_UP|IFF_RUNNING
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(16)
ep = select.epoll()
ep.register(ls.fileno(), select.EPOLLIN)
c = socket.socket()
c.connect(ls.getsockname())
ep.poll(1)
conn, _ = ls.accept()
ep.register(conn.fileno(), select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP | select.EPOLLHUP)
ep.poll(1)
conn.send(b"1")
c.close()  # the byte unread: an RST
assert ep.poll(1)
"""


def whole_runs(n: int, base: Path | None) -> None:
    """The whole process against the floor (and the baseline's), alternating so that all see the same load."""
    unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
    run = [sys.executable, "-m", "tuiexplore", "run", "seed-rst", "--json"]
    for tree in [ROOT, base] if base else [ROOT]:
        timed(run, tree)  # writes the bytecode caches, not counted
    seed, seed_base, floor = [], [], []
    for _ in range(n):
        seed.append(timed(run))
        if base:
            seed_base.append(timed(run, base))
        floor.append(timed([*unshare, sys.executable, "-c", FLOOR])[0])
    print(f"whole process, {n} runs each, {loadavg()}")
    report("seed_run_s", [w for w, _, _ in seed], [w for w, _, _ in seed_base])
    report("seed_run_cpu_s", [c for _, c, _ in seed], [c for _, c, _ in seed_base])
    print(f"floor_s={statistics.median(floor):.3f}")
    print(f"seed_vs_floor_ratio={statistics.median(w for w, _, _ in seed) / statistics.median(floor):.1f}")


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
    argv, base = split_vs(sys.argv[1:])
    runs = int(argv[0]) if argv else 20
    n_whole = int(argv[1]) if len(argv) > 1 else 10
    if runs:  # 0: the whole process only
        ready, overheads = bench("loopback", runs)
        relay_ready, relay_overheads = bench("relay", runs)
        print(f"lab_ready_s={statistics.median(ready):.3f}")
        print(f"step_overhead_ms={statistics.median(overheads):.2f}")
        print(f"relay_lab_ready_s={statistics.median(relay_ready):.3f}")
        print(f"relay_step_overhead_ms={statistics.median(relay_overheads):.2f}")
        print(f"relay_adds_ms_per_step={statistics.median(relay_overheads) - statistics.median(overheads):.2f}")
    whole_runs(n_whole, base)


if __name__ == "__main__":
    main()
