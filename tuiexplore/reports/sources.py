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


def branch_span(ex: Excerpt, path: tuple[str, ...] | list[str], branch: str) -> tuple[int, int] | None:
    """(first, last) file line of the deciding branch in this side's own tcp.c: the branch itself,
    else the last branch of its path that this source has."""
    lines = ex.branches.get(branch) or next((ex.branches[b] for b in reversed(path) if b in ex.branches), [])
    return (min(lines), max(lines)) if lines else None


def branch_lines(ex: Excerpt, path: tuple[str, ...] | list[str], branch: str) -> str:
    """The file lines of the deciding branch in this side's own tcp.c, e.g. "tcp.c 2586-2590"."""
    span = branch_span(ex, path, branch)
    if span is None:
        return ""
    lo, hi = span
    return f"tcp.c {lo}" + (f"-{hi}" if hi != lo else "")


def branch_code(ex: Excerpt, path: tuple[str, ...] | list[str], branch: str) -> list[str]:
    """The deciding branch's own code lines (the ones its patterns matched), numbered as in the
    file; "..." where lines between them are left out."""
    hits = ex.branches.get(branch) or next((ex.branches[b] for b in reversed(path) if b in ex.branches), [])
    width = len(str(max(hits, default=0)))
    out: list[str] = []
    for k, n in enumerate(hits):
        if k and n > hits[k - 1] + 1:
            out.append(f"{'':>{width}}  ...")
        out.append(f"{n:>{width}}  {ex.lines[n - ex.first_line].expandtabs(4).rstrip()}")
    return out
