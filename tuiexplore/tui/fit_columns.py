"""Column widths sized to the room a table has.

A DataTable sizes each column to its widest cell; when they add up to more than the panel, the
table scrolls sideways and its last columns are cut (at 160 columns, watch's ``duration`` went
under the edge as soon as the owners and a wire-only cause filled their columns). Here the columns
that hold words give up width instead, the widest first, never below their longest word, and
their cells wrap onto more lines, so every column stays whole and every word readable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

_LINES: dict[tuple[str, int], int] = {}  # (text, width) -> lines: a table repeats its causes row after row


def longest_word(texts: Iterable[Text]) -> int:
    """The narrowest a column of these cells can be without cutting a word."""
    return max((cell_len(word) for t in texts for word in t.plain.split()), default=1)


def fit(natural: Mapping[str, int], floors: Mapping[str, int], room: int, padding: int) -> dict[str, int]:
    """Each column's content width. ``natural``: its widest cell (label included), in order;
    ``floors``: the columns that may wrap, and the narrowest each may get; ``room``: the table's
    width; ``padding``: the cells around each column's content. Natural widths when they fit;
    else the widest wrapping column loses a cell at a time. Still too wide at the floors: the
    table scrolls, as it would have."""
    widths = dict(natural)
    over = sum(widths.values()) + padding * len(widths) - room
    while over > 0:
        narrower = [c for c in floors if c in widths and widths[c] > floors[c]]
        if not narrower:
            break
        widest = max(narrower, key=widths.__getitem__)
        widths[widest] -= 1
        over -= 1
    return widths


def row_height(console: Console, cells: Sequence[Text], widths: Sequence[int]) -> int:
    """The lines a row needs once each cell wraps in its column's width."""
    return max((_lines(console, c.plain, w) for c, w in zip(cells, widths, strict=True) if c.cell_len > w), default=1)


def _lines(console: Console, plain: str, width: int) -> int:
    key = (plain, width)
    if key not in _LINES:
        if len(_LINES) > 4096:
            _LINES.clear()
        _LINES[key] = len(Text(plain).wrap(console, width))
    return _LINES[key]
