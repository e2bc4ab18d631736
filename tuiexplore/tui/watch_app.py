"""``tuiexplore watch`` on screen: every connection, how it ended, and the kernel's branch.

The engine runs on a worker thread; a 0.25 s timer copies what changed (rows and the selected
connection's detail) under the engine's lock, so the screen never waits on the capture.
"""

from __future__ import annotations

import sys
from typing import Any

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Static

from tuiexplore.config import Settings
from tuiexplore.kernel.excerpt import bundled
from tuiexplore.tui import recorded
from tuiexplore.tui import theme as themes
from tuiexplore.tui.footer import KeysFooter
from tuiexplore.tui.kernel_view import KernelView
from tuiexplore.tui.packets import PacketTable
from tuiexplore.tui.screens import TextScreen
from tuiexplore.tui.settings import apply as apply_settings
from tuiexplore.tui.watch_widgets import COMPACT_COLUMNS, ConnRow, ConnTable, Detail, Story, detail_of, pick_columns
from tuiexplore.tui.widgets import printable
from tuiexplore.watch.engine import Watch
from tuiexplore.watch.packet import dissect
from tuiexplore.watch.tracker import Conn

REFRESH = 0.25
SNAPSHOT = 5000
WATCH_CSS = """
#status { height: auto; max-height: 2; background: $panel; padding: 0 1; }  /* a live capture's says more than 160 columns */
#filter { height: 1; border: none; padding: 0 1; }
ConnTable { height: 2fr; }
#detail { height: 3fr; }
#left { width: 3fr; }
#left PacketTable { height: 1fr; }
#story { height: auto; max-height: 50%; padding: 0 1; background: $panel; }
#detail KernelView { width: 2fr; }
/* Under COMPACT_BELOW columns (80x24): every row whole, then the selected connection's story; no
   kernel panel (its branch is in the story's first line), the packets in the story's place on p. */
.-compact ConnTable { height: auto; max-height: 50%; }
.-compact #detail { height: 1fr; }
.-compact #detail KernelView { display: none; }
.-compact #left PacketTable { display: none; }
.-compact #left.-packets PacketTable { display: block; height: 1fr; }
.-compact #left.-packets Story { display: none; }
.-compact #story { height: 1fr; max-height: 100%; overflow-y: auto; }
"""
COMPACT_BELOW = 120  # columns: the explorer's narrow layout ends there too


class WatchApp(App):
    TITLE = "tuiexplore watch"
    CSS_PATH = themes.stylesheet_path()
    CSS = WATCH_CSS  # loaded after CSS_PATH: the watch layout wins over the explorer's
    # not the explorer's -narrow: its stylesheet hides every .panel but one on narrow terminals
    HORIZONTAL_BREAKPOINTS = [(0, "-compact"), (COMPACT_BELOW, "-roomy")]
    BINDINGS = [
        Binding("q", "quit", "Quit", id="watch.quit", tooltip="quit (the capture stops)"),
        Binding("slash", "filter", "Filter", id="watch.filter", tooltip="filter: words, or end:RST port:80 process:NAME"),
        Binding("s", "sort(1)", "Sort", id="watch.sort", tooltip="sort by the next column"),
        Binding("S", "sort(0)", "Reverse", id="watch.reverse", tooltip="reverse the order"),
        Binding("p", "focus_packets", "Packets", id="watch.packets", tooltip="the selected connection's packets"),
        Binding("c", "focus_conns", "Connections", id="watch.connections", tooltip="back to the connections"),
        Binding("escape", "unfilter", "Clear filter", show=False, id="watch.unfilter", tooltip="clear the filter"),
    ]

    def __init__(self, watch: Watch, theme: str | None = None, start: bool = True, settings: Settings | None = None) -> None:
        super().__init__()
        self.engine = watch  # not self.watch: that would hide DOMNode.watch(), Textual's reactive watcher
        self.start_engine = start
        self.settings = apply_settings(self, settings, theme)  # theme and keymap
        self.columns, why = pick_columns(self.settings.watch_columns)
        self.chosen = bool(self.settings.watch_columns)  # the user's columns, at every size
        if why:
            self.notify(printable(f"{self.settings.path}: {why}"), title="config", severity="warning", timeout=15, markup=False)
        self._version = -1
        self._detail_key: tuple[Any, ...] = ()
        self._done = False

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(themes.APP_VARIABLES)

    def compose(self) -> ComposeResult:
        yield Static("", id="status", markup=False)
        yield Input(placeholder="/ filter: words, or fields: end:RST port:80 process:NAME cause:…", id="filter")
        yield ConnTable(self.columns, id="conns")
        with Horizontal(id="detail"):
            with Vertical(id="left"):
                yield PacketTable(id="packets")
                yield Story(id="story")
            yield KernelView(bundled(), id="kernel")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one(Story).show(None)
        self.query_one(ConnTable).focus()
        if self.start_engine:
            self.run_engine()
        self.set_interval(REFRESH, self.refresh_view)
        self.refresh_view()

    @work(thread=True, exclusive=True, name="watch engine")
    def run_engine(self) -> None:
        try:
            self.engine.run()
        finally:
            self._done = True

    def snapshot(self) -> tuple[int, list[ConnRow], Detail | None, str]:
        w = self.engine
        selected = self.query_one(ConnTable).selected_id()
        with w.lock:
            t = w.tracker
            conns = t.conns()
            # the newest SNAPSHOT connections: a busy box's 20000 open ones would hold the lock too long
            rows = [ConnRow.of(c) for c in conns[-SNAPSHOT:]] if t.version != self._version else []
            conn = next((c for c in reversed(conns) if c.id == selected), None) if selected is not None else None
            detail = detail_of(conn) if conn is not None and self._detail_key != self._key(conn) else None
            if conn is not None:
                self._detail_key = self._key(conn)
            aged = f" · {t.aged_out} aged out" if t.aged_out else ""  # short: 80 columns show what is read from where
            status = f"{len(t.open)} open · {t.finished} finished{aged} · {t.index} packets · {w.source.drops()} kernel drops"
            return t.version, rows, detail, status

    @staticmethod
    def _key(conn: Conn) -> tuple[Any, ...]:
        return (conn.id, conn.packets, len(conn.events), conn.end)

    def refresh_view(self) -> None:
        if not self.query(ConnTable):  # the interval timer can fire once more while the app closes
            return
        version, rows, detail, status = self.snapshot()
        notes = " · ".join(self.engine.notes[:2])
        ended = " · capture ended" if self._done else ""
        self.query_one("#status", Static).update(printable(f"{status}{ended} · {self.engine.describe()}  {notes}"))
        table = self.query_one(ConnTable)
        if version != self._version:
            self._version = version
            table.show(rows)
        if detail is not None:
            self.show_detail(detail)

    def show_detail(self, d: Detail) -> None:
        packets = self.query_one(PacketTable)
        packets.clear()
        packets.add_packets(d.packets)
        packets.border_subtitle = f"{len(d.packets)} kept · {d.total_packets} on this connection"
        self.query_one(Story).show(d)
        e = d.row.end
        kernel = self.query_one(KernelView)
        if e is None:
            kernel.mark([], [], "still open")
        else:
            kernel.mark([], list(e.path), f"{e.cause} ({e.evidence})" if e.path else f"{e.cause}: not a tcp_close() branch")

    @on(DataTable.RowHighlighted, "#conns")
    def row_changed(self) -> None:
        # rebuilding the rows highlights the same one again: only a new connection resets the detail
        if not self.query(ConnTable):  # handled after a quit took the table away
            return
        selected = self.query_one(ConnTable).selected_id()
        if selected != (self._detail_key[:1] or (None,))[0]:
            self._detail_key = ()
            self.refresh_view()

    @on(DataTable.HeaderSelected, "#conns")
    def header_sorted(self) -> None:
        self._version = -1  # the table's sort changed: rebuild the rows now
        self.refresh_view()

    def action_sort(self, forward: int) -> None:
        table = self.query_one(ConnTable)
        names = table.names
        if forward:
            table.sort_by = names[(names.index(table.sort_by) + 1) % len(names)] if table.sort_by in names else names[0]
        else:
            table.reverse = not table.reverse
        self._version = -1
        self.refresh_view()

    def action_filter(self) -> None:
        self.set_focus(self.query_one("#filter", Input))

    def on_key(self, event: events.Key) -> None:
        # Keys typed right after / were already queued for the table when the box took focus;
        # they bubble up here unhandled and belong to the box.
        box = self.query_one("#filter", Input)
        if self.focused is box and event.is_printable and event.character:
            box.insert_text_at_cursor(event.character)
            event.stop()

    def action_unfilter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        self.query_one(ConnTable).focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.query_one(ConnTable).needle = event.value
        self._version = -1
        self.refresh_view()

    @on(Input.Submitted, "#filter")
    def filter_done(self) -> None:
        self.query_one(ConnTable).focus()

    def on_resize(self, event: events.Resize) -> None:
        compact = event.size.width < COMPACT_BELOW and not self.chosen
        self.query_one(ConnTable).set_names(COMPACT_COLUMNS if compact else self.columns)

    def action_focus_packets(self) -> None:
        self.query_one("#left").add_class("-packets")
        self.query_one(PacketTable).focus()

    def action_focus_conns(self) -> None:
        self.query_one("#left").remove_class("-packets")
        self.query_one(ConnTable).focus()

    @on(PacketTable.Selected)
    def packet_selected(self, event: PacketTable.Selected) -> None:
        p = event.packet
        with self.engine.lock:
            conn = next((c for c in self.engine.tracker.conns() if any(i == p.index for i, _, _ in c.ring)), None)
            pkt = next((x for i, _, x in conn.ring if i == p.index), None) if conn else None
        if pkt is None:
            return
        self.push_screen(TextScreen(f"Packet {p.index}: {p.tcpdump()}", dissect(pkt)))

    def on_unmount(self) -> None:
        self.engine.stop()


def run_watch_app(watch: Watch, theme: str | None = None, record: str | None = None, settings: Settings | None = None) -> int:
    """``record``: an asciicast v2 file of what the screen shows (``--record``)."""
    recorder = None
    try:
        app = WatchApp(watch, theme=theme, settings=settings)
        if record:
            recorder = recorded.start(app, record, "tuiexplore watch")
    except (ValueError, OSError) as exc:
        print(f"tuiexplore: {exc}", file=sys.stderr)
        watch.close()
        return 2
    try:
        app.run()
    finally:
        watch.close()
        recorded.finish(recorder)
    return 0
