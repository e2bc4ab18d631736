#!/usr/bin/env python3
"""Cost of stepping: one program run bare, under strace -f, and under tuiexplore step --auto --json.

The program makes ~100k non-network syscalls (getppid, and read() of /dev/zero, which the
stepper must check is not a socket) and a few socket calls (3 loopback connections). Prints the
three wall times and, last, step_vs_strace_ratio=<n>. Usage: scripts/bench_step.py [N]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def timed(argv: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(
        argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    return time.perf_counter() - t


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    if not shutil.which("strace"):
        print("bench_step: strace is not installed (scripts/setup.sh test installs it)", file=sys.stderr)
        return 1
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(PROGRAM)
    prog = ["/usr/bin/python3", f.name, str(n)]
    try:
        bare = timed(prog)
        strace = timed(["strace", "-f", "-o", "/dev/null", *prog])
        step = timed([sys.executable, "-m", "tuiexplore", "step", "--auto", "--json", "--", *prog])
    finally:
        os.unlink(f.name)
    print(f"program: {n} non-network syscalls + 3 loopback connections")
    print(f"bare_s={bare:.3f}")
    print(f"strace_s={strace:.3f}")
    print(f"step_s={step:.3f}")
    print(f"step_vs_strace_ratio={step / strace:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
