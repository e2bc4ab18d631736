"""Which tcp.c each side of a comparison reads its branch lines from: a guest kernel's own
(cached by ``kernels get``), else what discovery finds for this host, else the bundled excerpt."""

from __future__ import annotations

from tuiexplore.kernel.excerpt import Excerpt
from tuiexplore.kernel.source import SourceError, discover


def side_excerpt(kernel_source: str | None) -> Excerpt:
    try:
        return discover(kernel_source) if kernel_source else discover()
    except SourceError:  # a cached tree that lost its tcp.c: say where the lines come from instead
        return discover()


def branch_lines(ex: Excerpt, path: tuple[str, ...] | list[str], branch: str) -> str:
    """The file lines of the deciding branch in this side's own tcp.c, e.g. "tcp.c 2586-2590"."""
    lines = ex.branches.get(branch) or next((ex.branches[b] for b in reversed(path) if b in ex.branches), [])
    if not lines:
        return ""
    lo, hi = min(lines), max(lines)
    return f"tcp.c {lo}" + (f"-{hi}" if hi != lo else "")
