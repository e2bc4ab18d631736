"""A/B for the benchmarks: one measure taken on this tree (A) and on a baseline checkout (B,
``--vs DIR``, e.g. ``git worktree add /tmp/base main``), alternating A B A B so that both see
the same load; each figure is printed for A, for B, and as the median of the paired ratios."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def split_vs(argv: list[str]) -> tuple[list[str], Path | None]:
    """(the other arguments, the baseline tree or None) from ``--vs DIR`` anywhere in ``argv``."""
    if "--vs" not in argv:
        return argv, None
    i = argv.index("--vs")
    if i + 1 >= len(argv) or not (Path(argv[i + 1]) / "tuiexplore").is_dir():
        sys.exit("--vs DIR: DIR must be a checkout of tuiexplore (it holds tuiexplore/)")
    return argv[:i] + argv[i + 2 :], Path(argv[i + 1]).resolve()


def env_for(tree: Path = ROOT) -> dict[str, str]:
    """The environment that runs ``python -m tuiexplore`` from ``tree`` (with cwd=tree), and its
    child processes too (they take the package's own directory). Bytecode caches on: an installed
    app compiles once; with PYTHONDONTWRITEBYTECODE (set on some machines) every run compiles."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree)
    return env


def timed(argv: list[str], tree: Path = ROOT) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the whole process tree it waited for, its stdout): the CPU,
    user + system from the kernel's accounting of reaped children, moves far less with the load."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(
        argv, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env_for(tree), cwd=tree
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, out.stdout


def loadavg() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def report(name: str, a: list[float], b: list[float] | None, fmt: str = ".3f") -> None:
    """``name=`` A's median; with a baseline also ``name_base=`` and ``name_ab_ratio=``."""
    print(f"{name}={statistics.median(a):{fmt}}")
    if b:
        print(f"{name}_base={statistics.median(b):{fmt}}")
        print(f"{name}_ab_ratio={statistics.median(x / y for x, y in zip(a, b, strict=True)):.2f}")
