"""The step screen's sockets strip: every program's sockets with their state, as the explorer's
strip shows each actor's. Fed by the session's ``sockets`` events (trace/inventory.py), which
carry the kernel's word after each stop, return and packet."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from tuiexplore.trace.events import SocketsEvent
from tuiexplore.tui.widgets import printable


class StepSockets(DataTable):
    COLUMNS = ("program", "fd", "connection", "state", "Recv-Q", "unsent")
    # A fixed height: rows come and go with every stop, and a strip that grew with them would
    # move the panels above it (and re-wrap their logs) each time.
    SCOPED_CSS = False
    COMPONENT_CLASSES = {"stepsockets--unread", "stepsockets--empty"}
    DEFAULT_CSS = """
    StepSockets {
        height: 6;
        scrollbar-size-horizontal: 0;
        border: round $primary 40%;
        border-title-color: $text;
        background: $surface;
    }
    StepSockets:focus { border: round $primary; }
    .-narrow StepSockets { height: 5; }
    StepSockets > .stepsockets--unread { color: $error; text-style: bold; }
    StepSockets > .stepsockets--empty { text-style: dim; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="row", show_cursor=False, zebra_stripes=False, **kw)
        self.border_title = "Sockets (after each stop)"
        self.by_process: dict[tuple[str, int], list[dict[str, Any]]] = {}

    def on_mount(self) -> None:
        for c in self.COLUMNS:
            self.add_column(c, key=c)
        self.render_rows()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted:  # the rows carry the styles of the theme they were made in
            self.render_rows()

    def show(self, e: SocketsEvent) -> None:
        key = (e.actor, e.pid)
        self.by_process.pop(key, None)
        if e.sockets:  # the latest change first: on a short strip the program that just stopped shows
            self.by_process = {key: e.sockets, **self.by_process}
        self.render_rows()

    def render_rows(self) -> None:
        self.clear()
        unread = self.get_component_rich_style("stepsockets--unread", partial=True)
        for (actor, pid), rows in self.by_process.items():
            for s in rows:
                ends = f"{s.get('local') or ''} → {s['remote']}" if s.get("remote") else str(s.get("local") or "")
                self.add_row(
                    Text(printable(f"{actor} {pid}")),
                    Text(str(s["fd"])),
                    Text(printable(ends)),
                    Text(s.get("state") or s.get("kind", "")),
                    Text(str(s.get("recv_q", 0)), style=unread if s.get("recv_q") else ""),
                    Text(str(s.get("unsent", 0))),
                )
        if not self.by_process:
            empty = self.get_component_rich_style("stepsockets--empty", partial=True)
            self.add_row(Text(""), Text("-"), Text("no open sockets", style=empty), *[Text("")] * 3)
