#!/usr/bin/env python3
"""Cost of stepping: one program run bare, under strace -f, and under tuiexplore step --auto --json.

The program makes ~100k non-network syscalls (getppid, and read() of /dev/zero, which the
stepper must check is not a socket) and a few socket calls (3 loopback connections). Prints the
three wall times and step_vs_strace_ratio=<n>.

Then the network-heavy one: tests/step_programs/cycles.c (built with gcc -O1, as the tests build
their C programs) making C loopback connections, each ending in two closes (2C + 1 closing
calls, the listener's last), under `strace -f` and under `tuiexplore step --auto --json`: the
totals and what stepping adds per closing call. Goals: < 5 ms a closing call, C=200 in < 3 s.
With --vs DIR (a baseline checkout) the stepped cycles run ROUNDS times (default 3) from this
tree and from DIR in turn: A/B, alternating; the figures are medians.
Usage: scripts/bench_step.py [N [C]] [--vs DIR [--rounds ROUNDS]]   (default 100000 and 200)
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from ab import loadavg, report, split_vs, timed

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = """
import os, socket, sys
n = int(sys.argv[1])
zero = os.open("/dev/zero", os.O_RDONLY)
for _ in range(n // 2):
    os.getppid()
    os.read(zero, 1)
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(4)
for _ in range(3):
    c = socket.create_connection(ls.getsockname()); s, _ = ls.accept()
    c.sendall(b"ping"); s.recv(4); s.close(); c.close()
"""


def wall(argv: list[str]) -> float:
    return timed(argv)[0]


def network_heavy(conns: int, base: Path | None, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        exe = Path(d) / "cycles"
        subprocess.run(["gcc", "-O1", "-o", str(exe), str(ROOT / "tests" / "step_programs" / "cycles.c")], check=True)
        prog = [str(exe), str(conns)]
        stepped = [sys.executable, "-m", "tuiexplore", "step", "--auto", "--json", "--", *prog]
        if base:
            timed([*stepped[:-1], "1"], base)  # writes the baseline's bytecode caches, not counted
        strace, step, step_base = [], [], []
        for _ in range(rounds if base else 1):
            strace.append(wall(["strace", "-f", "-o", "/dev/null", *prog]))
            took, cpu, out = timed(stepped)
            step.append((took, cpu))
            if base:
                step_base.append(timed(stepped, base)[:2])
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    verdicts = [e for e in events if e.get("type") == "verdict"]
    closing = {e["step"] for e in events if e.get("type") == "stop" and e.get("prediction") is not None}
    print(f"program: cycles {conns} ({len(closing)} closing calls, {len(verdicts)} verdicts), {loadavg()}")
    print(f"cycles_strace_s={statistics.median(strace):.3f}")
    report("cycles_step_s", [w for w, _ in step], [w for w, _ in step_base])
    report("cycles_step_cpu_s", [c for _, c in step], [c for _, c in step_base])
    per_call = [(w - statistics.median(strace)) / max(1, len(closing)) * 1000 for w, _ in step]
    per_call_base = [(w - statistics.median(strace)) / max(1, len(closing)) * 1000 for w, _ in step_base]
    report("ms_per_closing_call", per_call, per_call_base, ".2f")


def main() -> int:
    argv, base = split_vs(sys.argv[1:])
    rounds = 3
    if "--rounds" in argv:
        i = argv.index("--rounds")
        rounds = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    n = int(argv[0]) if argv else 100_000
    conns = int(argv[1]) if len(argv) > 1 else 200
    if not shutil.which("strace"):
        print("bench_step: strace is not installed (scripts/setup.sh test installs it)", file=sys.stderr)
        return 1
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(PROGRAM)
    prog = ["/usr/bin/python3", f.name, str(n)]
    try:
        bare = wall(prog)
        strace = wall(["strace", "-f", "-o", "/dev/null", *prog])
        step = wall([sys.executable, "-m", "tuiexplore", "step", "--auto", "--json", "--", *prog])
    finally:
        os.unlink(f.name)
    print(f"program: {n} non-network syscalls + 3 loopback connections")
    print(f"bare_s={bare:.3f}")
    print(f"strace_s={strace:.3f}")
    print(f"step_s={step:.3f}")
    print(f"step_vs_strace_ratio={step / strace:.2f}")
    network_heavy(conns, base, rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
