"""The explorer's panels. Everything shown from the lab is plain text (Text/Content), never
markup: payloads and process names are untrusted bytes, already made printable by the lab."""

from __future__ import annotations

import bisect
from typing import Any

from rich.style import Style
from rich.text import Span, Text
from textual.content import Content
from textual.coordinate import Coordinate
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.style import Style as ContentStyle
from textual.widget import Widget
from textual.widgets import DataTable, Static

from tuiexplore import safetext
from tuiexplore.domain import ActorInventory
from tuiexplore.reports.transcript import call_text, result_text
from tuiexplore.timeline import EpollEvent, NoteEvent, StepEvent, VerdictEvent

VIRTUAL_CHUNK = 32


def printable(text: str) -> str:
    """Control characters (ESC above all) as \\xNN: nothing reaches the terminal raw."""
    return safetext.terminal(text)


def relayout(widget: Widget) -> None:
    """Lay a widget out again because its content, and so maybe its height, changed.

    ``refresh(layout=True)`` alone is not enough in Textual 8.2: the box model is cached under a
    counter that it advances only when no layout is pending for the widget, so a screen layout
    run in between for another widget kept the old content's height under the new content (a
    verdict's third line was cut off; the 80x24 snapshots caught it)."""
    widget._layout_updates += 1
    widget.refresh(layout=True)


def grow(view: ScrollView, width: int, needed: int) -> None:
    """Set a view's scrollable height without a screen layout per line: every change of
    virtual_size costs one (~15 ms here), so it stays at the visible height while the content
    fits, then grows in chunks."""
    visible = view.scrollable_content_region.height
    current = view.virtual_size.height
    if not visible:  # not laid out yet: exact for now, on_resize settles it
        target = needed
    elif needed <= visible:
        target = visible
    elif needed > current or needed < current - VIRTUAL_CHUNK or current % VIRTUAL_CHUNK:
        # (a height off the chunks is an exact one from before the first layout: settle it too)
        target = needed + VIRTUAL_CHUNK - needed % VIRTUAL_CHUNK
    else:
        return
    if target != current or width != view.virtual_size.width:
        size = Size(width, target)
        if width == view.virtual_size.width and view.show_vertical_scrollbar and target > visible:
            # Its scrollbars stay as they are, so a screen layout (~10 ms here, one step in
            # seven had one) would only hand the view its own virtual size back: set it, and
            # the scrollbar's window, as ScrollView does for a size change without layout.
            view.set_reactive(Widget.virtual_size, size)
            view._scroll_update(size)
            view.refresh()
        else:
            view.virtual_size = size


def log_id(actor: str) -> str:
    """The widget id of an actor's log. Ids take letters, digits, - and _ only, and names take
    more ("s.r-v", a program's own name): each other character, and _, is written as _hex_,
    so two names never share an id."""
    return "actor-" + "".join(c if c.isascii() and (c.isalnum() or c == "-") else f"_{ord(c):x}_" for c in actor)


class ActorLog(ScrollView, can_focus=True):
    """One actor's syscalls with their results, and its epoll event log.

    Line API with wrapped lines kept as Strips: a write renders only the new line, and the
    scrollable height grows in chunks, so a step does not cost a full screen layout (RichLog's
    per-write virtual-size change did, ~15 ms here).

    The styles in a written Text are names of this widget's component classes, so the stylesheet
    and the theme colour the log; the Strips are rebuilt when those styles change.
    """

    COMPONENT_CLASSES = {
        "actorlog--step",  # the [n] of a step
        "actorlog--error",  # a call that failed or was refused
        "actorlog--server-loop",  # a call the seed's server loop made, not the user
        "actorlog--aside",  # "(server loop)"
        "actorlog--epoll",
        "actorlog--note",
        "actorlog--narration",  # what the scenario says about a step
    }
    DEFAULT_CSS = """
    ActorLog {
        & > .actorlog--step { text-style: bold; }
        & > .actorlog--error { color: $error; text-style: bold; }
        & > .actorlog--server-loop { text-style: dim; }
        & > .actorlog--aside { text-style: dim italic; }
        & > .actorlog--epoll { text-style: italic; }
        & > .actorlog--note { text-style: dim; }
        & > .actorlog--narration { text-style: italic; }
    }
    """

    def __init__(self, actor: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.actor = actor
        self.border_title = Content(printable(actor))  # as given: srv and SRV are two actors
        self.entries: list[Text] = []
        self.lines: list[Strip] = []
        self.starts: list[int] = []  # the index in lines of each entry's first row
        self._wrapped_at = 0
        self._styles: dict[str, Style] = {}  # the component styles self.lines were rendered with
        self._restyle = True

    def notify_style_update(self) -> None:
        # Textual recomputes the component styles after this call: compare them at the next render.
        super().notify_style_update()
        self._restyle = True

    def component_styles(self) -> dict[str, Style]:
        return {name: self.get_component_rich_style(name, partial=True) for name in self.COMPONENT_CLASSES}

    def clear(self) -> None:
        self.entries.clear()
        self.lines.clear()
        self.starts.clear()
        self.scroll_to(y=0, animate=False)
        self.refresh()

    def _styled(self, text: Text) -> Text:
        """``text`` with its component class names replaced by their styles."""
        if not self._styles:
            self._styles = self.component_styles()
        styled = text.copy()
        styled.style = self._style(text.style) if text.style else ""
        styled.spans = [Span(s.start, s.end, self._style(s.style)) for s in text.spans if s.style]
        return styled

    def _style(self, style: str | Style) -> Style:
        """A component class's style; a Style already resolved stays as it is."""
        return self._styles[style] if isinstance(style, str) else style

    def _wrap(self, text: Text, width: int) -> list[Strip]:
        strips = []
        for line in self._styled(text).wrap(self.app.console, max(width, 10)):
            # Text.render() drops a line's base style unless it has spans: make it a span.
            line.stylize_before(line.style)
            strips.append(Strip(list(line.render(self.app.console))))
        return strips

    def write(self, text: Text) -> None:
        self.entries.append(text)
        if len(self.entries) > 2000:
            del self.entries[:500]
            self._wrapped_at = 0
        width = self.scrollable_content_region.width
        if width and width == self._wrapped_at:
            # At the bottom of the content, not of the virtual height: grow() rounds that up to
            # a chunk, and max_scroll_y with it, so a log scrolled to its newest line is below it.
            follow = self.scroll_offset.y >= len(self.lines) - self.scrollable_content_region.height
            self.starts.append(len(self.lines))
            self.lines.extend(self._wrap(text, width))
            self._sized(follow)
        else:
            self.call_after_refresh(self._rewrap)

    def on_resize(self) -> None:
        self._rewrap()

    def _rewrap(self) -> None:
        width = self.scrollable_content_region.width
        if not width:
            return
        self._wrapped_at = width
        self._wrap_all(width)
        self._sized(True)

    def _wrap_all(self, width: int) -> None:
        self.lines, self.starts = [], []
        for e in self.entries:
            self.starts.append(len(self.lines))
            self.lines.extend(self._wrap(e, width))

    def _sized(self, follow: bool) -> None:
        """The scrollable height for the lines; following the end, the top row is an entry's
        first: a lone wrapped tail ("1", "= 0") on top says nothing of what it ends."""
        needed, height = len(self.lines), self.scrollable_content_region.height
        top = max(0, needed - height)
        if follow and top:
            at = bisect.bisect_left(self.starts, top)
            top = self.starts[at] if at < len(self.starts) else top
        grow(self, 0, max(needed, top + height) if follow else needed)  # wrapped: no horizontal scrolling
        if follow:
            self.scroll_to(y=top, animate=False)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        if self._restyle:
            self._restyle = False
            styles = self.component_styles()
            if styles != self._styles:  # a new theme: the same lines in new styles
                self._styles = styles
                self._wrap_all(self._wrapped_at)
        i = y + self.scroll_offset.y
        width = self.scrollable_content_region.width
        if width and width != self._wrapped_at and self._wrapped_at:
            # The scrollbar came (or went) after the last write, which no resize reports: wrap
            # again for the new width rather than cut each full line's last cell.
            self._wrapped_at = 0
            self.call_after_refresh(self._rewrap)
        if 0 <= i < len(self.lines):
            return self.lines[i].extend_cell_length(width).apply_style(self.rich_style)
        return Strip.blank(width, self.rich_style)

    def add_step(self, e: StepEvent, origin: str) -> None:
        style = "actorlog--server-loop" if origin == "server policy" else ""
        line = Text(f"[{e.step:>2}] ", style="actorlog--step")
        line.append(call_text(e.call, e.args), style=style)
        failed = e.errno or e.result.get("failed") or e.result.get("refused")
        line.append(" " + printable(result_text(e)), style="actorlog--error" if failed else style)
        if origin == "server policy":
            line.append("  (server loop)", style="actorlog--aside")
        self.write(line)

    def add_epoll(self, e: EpollEvent) -> None:
        # Rich's wrapping drops leading spaces, so the indent is a glyph.
        self.write(Text(f"  ↳ epoll {e.fd}: {'|'.join(e.events)}  events: {e.mask}", style="actorlog--epoll"))

    def add_note(self, e: NoteEvent) -> None:
        self.write(Text(f"  · {printable(e.text)}", style="actorlog--note"))

    def add_narration(self, text: str) -> None:
        self.write(Text(f"  » {printable(text)}", style="actorlog--narration"))


class SocketsStrip(DataTable):
    """A row per socket; turned on its side (a column per socket) when the rows would be wider
    than the panel, as on the 80-column sockets tab, where SO_LINGER and what follows it were
    beyond the right edge."""

    COLUMNS = ("actor", "pid", "process", "fd", "state", "Recv-Q", "Send-Q", "unsent", "SO_LINGER", "LINGER2", "backlog")

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="row", show_cursor=False, classes="panel", **kw)
        self.border_title = "Sockets"
        self.rows_shown: list[tuple[str, ...]] = []
        self.sideways = False

    def on_mount(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        if self._fits() == self.sideways:
            self._draw()

    def _widths(self, rows: list[tuple[str, ...]]) -> list[int]:
        cells = [self.COLUMNS, *rows]
        return [max(len(row[i]) for row in cells) + 2 * self.cell_padding for i in range(len(self.COLUMNS))]

    def _fits(self) -> bool:
        return not self.size.width or sum(self._widths(self.rows_shown)) <= self.scrollable_content_region.width

    def reset(self) -> None:
        self.rows_shown = []
        self._draw()

    def _draw(self) -> None:
        self.clear(columns=True)
        self.sideways = not self._fits()
        if not self.sideways:
            for c in self.COLUMNS:
                self.add_column(c, key=c)
            for row in self.rows_shown:
                self.add_row(*(Text(v) for v in row))
            return
        self.add_column("", key="field")
        for i, row in enumerate(self.rows_shown):
            self.add_column(row[0], key=f"socket{i}")
        for f, name in enumerate(self.COLUMNS[1:], start=1):
            self.add_row(Text(name, style="bold"), *(Text(row[f]) for row in self.rows_shown))

    def show(self, actors: dict[str, ActorInventory], names: dict[int, str]) -> None:
        rows = []
        for actor, info in actors.items():
            pid = info.pid
            proc = printable(names.get(pid, "")) if pid else "exited"
            if not info.sockets:
                rows.append((actor, str(pid or "-"), proc, "-", *[""] * 7))
            for s in info.sockets:
                lingr = f"{{{s.linger[0]}, {s.linger[1]}}}" if s.linger[0] else "off"
                backlog = f"{s.accept_queue}/{s.backlog}" if s.state == "LISTEN" else ""
                rows.append(
                    (actor, str(pid), proc, f"{s.name} ({s.fd})", s.state)
                    + (str(s.inq), str(s.outq), str(s.unsent), lingr, str(s.linger2), backlog)
                )
        old, self.rows_shown = self.rows_shown, rows
        if rows == old:
            return  # every step reports the sockets: most leave them as they were
        if not self.sideways and len(rows) == len(old) and self._widths(rows) == self._widths(old):
            # The same cells, a few new values: a DataTable rebuilt from scratch renders every
            # cell again (~10 ms a step at load); these render only what changed, as drawn anew.
            for r, (now, was) in enumerate(zip(rows, old, strict=True)):
                for c, value in enumerate(now):
                    if value != was[c]:
                        self.update_cell_at(Coordinate(r, c), Text(value))
            return
        self._draw()


class VerdictLine(Static):
    """The latest verdict in one line (or the prediction for the next closing step), rendered from
    what it was given and its component classes, so a new theme recolours it."""

    COMPONENT_CLASSES = {"verdictline--fin", "verdictline--rst", "verdictline--other"}
    DEFAULT_CSS = """
    VerdictLine {
        & > .verdictline--fin { color: $fin; text-style: bold; }
        & > .verdictline--rst { color: $rst; text-style: bold; }
        & > .verdictline--other { text-style: bold; }
    }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__("", markup=False, **kw)
        self.verdict: VerdictEvent | None = None
        self.line = ""  # the line under the verdict, or the whole text without one

    def show_verdict(self, v: VerdictEvent, then: str = "") -> None:
        """``then``: a line after it (the step screen's next parked closing call)."""
        self.verdict, self.line = v, then
        self.set_class(v.agree is False, "-disagree")
        relayout(self)

    def show_text(self, text: str) -> None:
        self.verdict, self.line = None, text
        self.set_class(False, "-disagree")
        relayout(self)

    def render(self) -> Content:
        v = self.verdict
        if v is None:
            return Content(printable(self.line))
        mark = {True: "✓ prediction held", None: "? not observed: no packets"}.get(
            v.agree, "✗ the kernel disagreed with the prediction"
        )
        outcome = {"RST": "verdictline--rst", "FIN": "verdictline--fin"}.get(v.observed, "verdictline--other")
        head = Content.styled(
            f"step {v.step} {v.actor} {v.call}({v.fd}) → {v.observed}",
            ContentStyle.from_rich_style(self.get_component_rich_style(outcome, partial=True)),
        )
        advice = f"\n→ {printable(v.advice)}" if v.advice else ""
        return head + Content(
            f"  {mark}\n{printable(v.explanation)}{advice}" + (f"\n{printable(self.line)}" if self.line else "")
        )
