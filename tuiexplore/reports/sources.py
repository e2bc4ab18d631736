"""Which source each side of a comparison reads its branch lines from: a guest kernel's own tree
(cached by ``kernels get``); for a side on this host, what discovery finds here; else the bundled
excerpts. The same for tcp_close and for the receipt and timer functions (kernel/receipt_source.py):
a side's verdicts are never explained from the other side's tree, nor a guest's from this host's."""

from __future__ import annotations

import os
from dataclasses import dataclass

from tuiexplore.kernel import receipt_source
from tuiexplore.kernel.excerpt import Excerpt, bundled
from tuiexplore.kernel.source import SourceError, discover


def side_excerpt(kernel_source: str | None, host: bool = True) -> Excerpt:
    """tcp_close from ``kernel_source``; without one, this machine's (``host``) or the bundled one."""
    try:
        return discover(kernel_source) if kernel_source else discover() if host else bundled()
    except SourceError:  # a cached tree that lost its tcp.c: say where the lines come from instead
        return discover() if host else bundled()


@dataclass(frozen=True)
class SideSource:
    """One side's kernel source: its tcp_close, and where its other deciding functions are read."""

    tcp_close: Excerpt
    tree: str | None = None  # the side's own tree (a guest line's cached src/); None: none
    host: bool = False  # the side ran on this machine: its trees are looked for when tree is None

    def deciding(self, path: tuple[str, ...] | list[str]) -> Excerpt:
        """The function a verdict's path decides in, from this side's own source only."""
        return receipt_source.deciding(path, self.tcp_close, self.tree, self.host)


def side_source(tree: str | None, host: bool) -> SideSource:
    """``tree``: a guest line's cached source (None when fetched without it); ``host``: the side
    ran on this machine, whose own source is then looked for."""
    return SideSource(side_excerpt(tree, host), tree, host)


def file_of(ex: Excerpt) -> str:
    """The file an excerpt's function is in, e.g. "tcp_input.c"."""
    return "tcp.c" if ex.function == "tcp_close" else os.path.basename(receipt_source.SHOWN[ex.function][0])


def branch_span(ex: Excerpt, path: tuple[str, ...] | list[str], branch: str) -> tuple[int, int] | None:
    """(first, last) file line of the deciding branch in this side's own source: the branch itself,
    else the last branch of its path that this source has."""
    lines = ex.branches.get(branch) or next((ex.branches[b] for b in reversed(path) if b in ex.branches), [])
    return (min(lines), max(lines)) if lines else None


def branch_lines(ex: Excerpt, path: tuple[str, ...] | list[str], branch: str) -> str:
    """The file lines of the deciding branch in this side's own source, e.g. "tcp.c 2586-2590"
    (``ex``: the function the branch decides in, ``SideSource.deciding``)."""
    span = branch_span(ex, path, branch)
    if span is None:
        return ""
    lo, hi = span
    return f"{file_of(ex)} {lo}" + (f"-{hi}" if hi != lo else "")


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
