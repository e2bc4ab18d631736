"""The status line, fitted to the terminal: the step counter and the next step always stay.

What gives way first when the line is too long: the lab details (kernel, mode, port), then the
scenario's title (its name stays), then the end of the next call's text.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

SEP = " · "


def fit(parts: list[str], width: int) -> str:
    """parts: ["name: title", "step k/N next: ...", lab details, extras...] joined to fit width.
    The extras (working, server loop, autoplay) say what the app is doing: they outrank the title."""
    if len(SEP.join(parts)) <= width or len(parts) < 2:
        return SEP.join(parts)[: max(width, 1)]
    head, step, rest = parts[0], parts[1], parts[3:]  # parts[2], the lab details, go first
    name = head.split(": ", 1)[0]
    while rest and len(SEP.join([name, step, *rest])) > width:
        rest = rest[:-1]
    room = width - len(SEP.join(["", step, *rest]))
    if room < len(head):
        head = head[: room - 1] + "…" if room > len(name) + 3 else name
    line = SEP.join([head, step, *rest])
    return line if len(line) <= width else line[: width - 1] + "…"


class StatusLine(Static):
    """A Static that re-fits its parts whenever its width changes."""

    def __init__(self, **kw: object) -> None:
        super().__init__("", markup=False, **kw)
        self.parts: list[str] = []

    def show(self, parts: list[str]) -> None:
        self.parts = parts
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        width = self.content_region.width or 200
        self.update(Content(fit(self.parts, width)), layout=False)
