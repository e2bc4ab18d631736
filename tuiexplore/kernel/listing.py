"""``tuiexplore kernel``: the tcp_close source the kernel panel shows, with its branch markers
(and, with ``table``, tcp_close_state()'s transition table), printed."""

from __future__ import annotations

import platform

from tuiexplore.kernel.notes import version_notes
from tuiexplore.kernel.source import discover


def print_source(kernel_src: str | None, table: bool) -> int:
    """Raises SourceError (one line) when no source can be found at ``kernel_src``."""
    ex = discover(kernel_src)
    print(f"# {ex.origin}")
    if ex.hint:
        print(f"# {ex.hint}")
    for note in version_notes(ex, platform.release()):
        print(f"# note: {note}")
    marks: dict[int, list[str]] = {}
    for branch, lines in ex.branches.items():
        for n in lines:
            marks.setdefault(n, []).append(branch)
    width = len(str(ex.last_line))
    for i, line in enumerate(ex.lines):
        n = ex.first_line + i
        tag = f"  <- {', '.join(marks[n])}" if n in marks else ""
        print(f"{n:>{width}} {'▶' if n in marks else ' '} {line.expandtabs(4)}{tag}")
    if table:
        from tuiexplore.reports.details import table_text

        title, body = table_text(ex)
        print(f"\n# {title}")
        print("\n".join(body))
    return 0
