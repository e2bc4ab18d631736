"""The live TCP state diagram panel: every lab socket marked in its state, its last move lit.

The drawing is the domain's (tuiexplore.statedraw); this widget only styles its cells from
component classes, so the themes colour it through CSS variables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.segment import Segment
from textual.geometry import Size
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tuiexplore.statediagram import track
from tuiexplore.statedraw import Drawing
from tuiexplore.timeline import Event, StateEvent, StepEvent, VerdictEvent

ACTOR_CLASSES = tuple(f"statediagram--actor{i}" for i in range(4))


class StateDiagram(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {"statediagram--edge", "statediagram--node", "statediagram--note", *ACTOR_CLASSES}
    DEFAULT_CSS = """
    StateDiagram {
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
        scrollbar-gutter: stable;  /* captions that overflow must not push the right rail out */
        & > .statediagram--edge { color: $text-muted 70%; }
        & > .statediagram--node { color: $text; text-style: bold; }
        & > .statediagram--note { color: $text-muted; text-style: italic; }
        & > .statediagram--actor0 { color: $secondary; text-style: bold; }
        & > .statediagram--actor1 { color: $accent; text-style: bold; }
        & > .statediagram--actor2 { color: $success; text-style: bold; }
        & > .statediagram--actor3 { color: $warning; text-style: bold; }
    }
    """

    def __init__(self, actors: list[str] | None = None, **kw: Any) -> None:
        super().__init__(classes="panel", **kw)
        self.border_title = "TCP states"
        self.actors = actors or []
        self.events: list[Event] = []
        self.drawing: Drawing | None = None

    def show(self, events: list[Event], actors: list[str] | None = None) -> None:
        """Redraw from the whole timeline (stepping back hands over a shorter one)."""
        self.events = events
        if actors is not None:
            self.actors = actors
        self._redraw()

    def add(self, events: list[Event], new: list[Event]) -> None:
        """The timeline grew by ``new``: redraw if anything in it can move a mark."""
        self.events = events
        if any(isinstance(e, (StateEvent, StepEvent, VerdictEvent)) for e in new):
            self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def on_focus(self) -> None:
        # 5 on a wide terminal focuses the diagram while the kernel holds its place: give it over.
        if self.screen.has_class("-wide"):
            self.screen.query_one("#panels").add_class("-map")

    def _redraw(self) -> None:
        region = self.scrollable_content_region
        if not region.width:
            return
        sockets = track(self.events)
        self.drawing = Drawing(region.width, region.height, sockets, self.actors)
        moves = [(s, m) for s in sockets if (m := s.last) is not None]
        last = max(moves, key=lambda sm: sm[1].t, default=None)
        self.border_subtitle = f"last: {last[0].name} {last[1].old} → {last[1].new} ({last[1].cause})" if last else ""
        self.virtual_size = Size(region.width, self.drawing.height)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        row = y + self.scroll_offset.y
        if self.drawing is None or not 0 <= row < self.drawing.height:
            return Strip.blank(width, self.rich_style)
        base = self.rich_style
        segments = [
            Segment(text, base + self.get_component_rich_style(f"statediagram--{tag}") if tag else base)
            for text, tag in self.drawing.runs(row)
        ]
        return Strip(segments).crop(0, width).extend_cell_length(width, base)


def toggle_diagram(screen: Screen, show_tab: Callable[[], None]) -> None:
    """``m`` on the explorer screen: the diagram's tab on a narrow terminal; on a wide one it takes
    the kernel's place and back."""
    if screen.has_class("-narrow"):
        show_tab()
        return
    panels = screen.query_one("#panels")
    panels.toggle_class("-map")
    if panels.has_class("-map"):
        screen.query_one(StateDiagram).focus()
