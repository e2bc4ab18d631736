"""The live packet list: tcpdump's lines, FIN and RST coloured, what the relay did to a segment
marked (held until released), a cursor, details on enter."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tuiexplore.reports import relaymarks
from tuiexplore.tcpdump import TS_MODES
from tuiexplore.timeline import HELD, Event, PacketEvent
from tuiexplore.tui import packetrow
from tuiexplore.tui.widgets import grow

MAX_PACKETS = 2000


class PacketTable(ScrollView, can_focus=True):
    """The live packet stream in tcpdump notation, FIN and RST coloured from the theme.

    A Line-API view (toolong's approach): appending a row renders that row only. A DataTable
    re-rendered every visible cell on each append, ~45 ms per step on this 2-core machine.
    Rows are styled from the component classes; their Strips are cached until the styles change
    (a theme, or focus: the cursor row is reversed when focused, underlined when not).
    """

    COMPONENT_CLASSES = {
        "packettable--header",
        "packettable--fin",
        "packettable--rst",
        "packettable--cursor",
        "packettable--held",
        "packettable--relay",
    }
    DEFAULT_CSS = """
    PacketTable {
        & > .packettable--header { text-style: bold; }
        & > .packettable--fin { color: $fin; text-style: bold; }
        & > .packettable--rst { color: $rst; text-style: bold; }
        & > .packettable--held { color: $warning; text-style: bold reverse; }
        & > .packettable--relay { color: $warning; text-style: bold; }
        & > .packettable--cursor { text-style: underline; }
        &:focus > .packettable--cursor { text-style: reverse; }
    }
    """

    HEADER = packetrow.header(packetrow.NARROW)  # the widest header: the list's scrollable width
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "move(-10)", "Page up", show=False),
        Binding("pagedown", "move(10)", "Page down", show=False),
        Binding("home", "move(-1000000)", "First", show=False),
        Binding("end", "move(1000000)", "Last", show=False),
        Binding("enter", "select", "Packet details", id="packets.select", tooltip="full dissection and why it was sent"),
        Binding("S", "absolute", "-S seq", id="packets.absolute", tooltip="absolute sequence numbers (tcpdump -S)"),
        Binding("T", "timestamps", "-ttt", id="packets.timestamps", tooltip="timestamps as -ttt / -ttttt"),
    ]
    absolute: reactive[bool] = reactive(False)
    ts_mode: reactive[int] = reactive(0)

    class Selected(Message):
        def __init__(self, packet: PacketEvent) -> None:
            super().__init__()
            self.packet = packet

    cursor: reactive[int] = reactive(-1)

    def __init__(self, **kw: Any) -> None:
        super().__init__(classes="panel", **kw)
        self.border_title = "Packets"
        self.rows: list[PacketEvent] = []
        self.packets: dict[int, PacketEvent] = {}
        self.released: dict[int, int] = {}  # held packet's number -> the step that released it
        self._cache: LRUCache[tuple, Strip] = LRUCache(1024)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    def clear(self) -> None:
        self.rows.clear()
        self.packets.clear()
        self.released.clear()
        self._cache.clear()
        self.cursor = -1
        self.virtual_size = Size(len(self.HEADER), 1)
        self.refresh()

    def add_packets(self, packets: list[PacketEvent]) -> None:
        follow = self.cursor >= len(self.rows) - 1
        self.rows.extend(packets)
        self.packets.update((p.index, p) for p in packets)
        if len(self.rows) > MAX_PACKETS:
            for p in self.rows[: len(self.rows) - MAX_PACKETS]:
                self.packets.pop(p.index, None)
            self.rows = self.rows[-MAX_PACKETS:]
            self._cache.clear()
        grow(self, len(self.HEADER), len(self.rows) + 1)
        if follow:
            self.cursor = len(self.rows) - 1
        self.border_subtitle = f"{len(self.packets)} shown · {self.rows[-1].index if self.rows else 0} captured"
        self.refresh()

    def add_releases(self, batch: list[Event]) -> None:
        """The held segments a release in ``batch`` delivered lose their "held" mark."""
        if released := relaymarks.releases(batch):
            self.released.update(released)
            self.refresh()

    def on_resize(self) -> None:
        grow(self, len(self.HEADER), len(self.rows) + 1)

    def watch_cursor(self, old: int, new: int) -> None:
        if new >= 0:
            self.scroll_to_region(Region(0, new + 1, 1, 1), animate=False, top=False)
        self.refresh()

    def action_move(self, delta: int) -> None:
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, self.cursor + delta))

    def action_select(self) -> None:
        if 0 <= self.cursor < len(self.rows):
            self.post_message(self.Selected(self.rows[self.cursor]))

    def on_click(self, event: events.Click) -> None:
        row = event.y + self.scroll_offset.y - 1
        if 0 <= row < len(self.rows):
            self.cursor = row
            self.action_select()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        row = y + self.scroll_offset.y - 1
        key: tuple[str | int | bool, ...]
        if y == 0:  # the header stays put while the rows scroll under it
            key = ("header", width, self.scroll_offset.x)
        elif 0 <= row < len(self.rows):
            p = self.rows[row]
            released = p.index in self.released
            key = (p.index, width, self.scroll_offset.x, row == self.cursor, self.absolute, self.ts_mode, released)
        else:
            return Strip.blank(width, self.rich_style)
        cached = self._cache.get(key)
        if cached is None:
            text = (
                Text(packetrow.header(width), style=self.get_component_rich_style("packettable--header", partial=True))
                if y == 0
                else self.row_text(self.rows[row], row == self.cursor, row)
            )
            segments = list(text.render(self.app.console))
            cached = Strip(segments).crop(self.scroll_offset.x, self.scroll_offset.x + width).extend_cell_length(width)
            cached = cached.apply_style(self.rich_style)
            self._cache[key] = cached
        return cached

    def row_text(self, p: PacketEvent, selected: bool, row: int) -> Text:
        flags = "packettable--rst" if "R" in p.flags else ("packettable--fin" if "F" in p.flags else None)
        flag_style = self.get_component_rich_style(flags, partial=True) if flags else ""
        prev = self.rows[row - 1].t if row > 0 else None
        first = self.rows[0].t if self.rows else None
        mark = relaymarks.mark(p, self.released)
        held = p.relay == HELD and p.index not in self.released
        mark_style = self.get_component_rich_style("packettable--held" if held else "packettable--relay", partial=True)
        text = packetrow.row(p, self.size.width, self.absolute, self.ts_mode, prev, first, flag_style, mark, mark_style)
        if selected:
            text.stylize(self.get_component_rich_style("packettable--cursor", partial=True))
        return text

    def action_absolute(self) -> None:
        self.absolute = not self.absolute
        self.notify("sequence numbers: " + ("absolute (tcpdump -S)" if self.absolute else "relative"), timeout=3)

    def action_timestamps(self) -> None:
        self.ts_mode = (self.ts_mode + 1) % len(TS_MODES)
        self.notify(f"timestamps: {TS_MODES[self.ts_mode]}", timeout=3)
