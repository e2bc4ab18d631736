"""Watch mode's panels: the connections table and the story of one connection.

Rows are built from ``ConnRow`` snapshots taken under the engine's lock, so the widgets never
touch the tracker. Everything from the wire (addresses, process names) is shown as plain Text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey

from tuiexplore.safetext import quoted
from tuiexplore.timeline import PacketEvent
from tuiexplore.tui.fit_columns import fit, longest_word, row_height
from tuiexplore.tui.widgets import printable, relayout
from tuiexplore.watch import query
from tuiexplore.watch.classify import End
from tuiexplore.watch.tracker import Conn

MAX_ROWS = 500  # the newest connections shown; the status line counts the rest


@dataclass(frozen=True)
class ConnRow:
    id: int
    client: str
    server: str
    owner: str
    state: str
    up: int
    down: int
    duration: float
    end: End | None
    kind: str
    evidence: str
    processes: tuple[str, ...] = ()  # the local ends' process names and pids, for the filter
    pids: tuple[int, ...] = ()
    owners: tuple[str, str] = ("", "")  # "process/pid" of the client's end and the server's, "" if unknown

    @classmethod
    def of(cls, conn: Conn) -> ConnRow:
        c, s = conn.sides
        owners = tuple(f"{x.process or '?'}/{x.pid}" if x.pid else "" for x in (c, s))
        end = conn.end if isinstance(conn.end, End) else None
        return cls(
            conn.id,
            conn.ep(0),
            conn.ep(1),
            " ⇄ ".join(o for o in owners if o),
            conn.state() if not conn.final or end is None else "CLOSED",
            c.bytes,
            s.bytes,
            conn.last - conn.first,
            end,
            end.summary if end else "",
            end.evidence if end else "",
            tuple(x.process for x in (c, s) if x.process),
            tuple(x.pid for x in (c, s) if x.pid),
            (owners[0], owners[1]),
        )

    def fields(self) -> dict[str, list[str]]:
        """What the / filter matches against (watch/query.py's field names)."""
        ends = [self.client, self.server]
        e = self.end
        return {
            "end": [e.kind] if e else ["open"],
            "summary": [self.kind],
            "cause": [e.cause] if e else [],
            "evidence": [self.evidence],
            "state": [self.state],
            "client": [self.client],
            "server": [self.server],
            "host": [a.rpartition(":")[0].strip("[]") for a in ends],
            "port": [a.rpartition(":")[2] for a in ends],
            "process": list(self.processes),
            "pid": [str(p) for p in self.pids],
        }


@dataclass(frozen=True)
class Detail:
    """One connection's packets, events and explanation, copied out under the lock."""

    row: ConnRow
    packets: list[PacketEvent]
    events: list[tuple[float, str, str]]
    total_packets: int
    first: float  # the connection's first packet: times are shown from here


def detail_of(conn: Conn) -> Detail:
    first = conn.first
    packets = []
    for index, d, p in conn.ring:
        seq, ack = conn.rel(d, p)
        packets.append(
            PacketEvent(
                p.ts - first,
                conn.name(d),
                conn.name(1 - d),
                p.sport,
                p.dport,
                p.flags,
                seq,
                ack,
                p.length,
                p.win,
                None,
                index,
                p.head,
            )
        )
    events = sorted(conn.events, key=lambda e: e[0])  # wire and kernel interleaved by time
    return Detail(ConnRow.of(conn), packets, events, conn.packets, first)


SORTS = {  # the columns, in order: how it ended comes first, so 80 columns show it
    "#": lambda r: r.id,
    "ended": lambda r: r.kind,
    "end": lambda r: r.end.kind if r.end else "open",
    "cause": lambda r: r.end.cause if r.end else "",
    "client": lambda r: r.client,
    "server": lambda r: r.server,
    "evidence": lambda r: r.evidence,
    "process": lambda r: r.owner,
    "state": lambda r: r.state,
    "→ bytes": lambda r: r.up,
    "← bytes": lambda r: r.down,
    "duration": lambda r: r.duration,
}


# What a wide terminal shows ("ended" says the end and cause in words), and what fits 80 columns
# whole: how it ended, the branch, and who owns each end (the story below has the rest).
DEFAULT_COLUMNS = [c for c in SORTS if c not in ("end", "cause")]
COMPACT_COLUMNS = ["#", "end", "cause", "process"]
WRAPS = ("ended", "cause", "process")  # words: these wrap, so the table fits its panel (fit_columns.py)


def pick_columns(wanted: Sequence[str]) -> tuple[list[str], str]:
    """The columns to show, in the user's order (config's watch.columns); the default ones, and
    the line that says why, when a name is not one of them."""
    unknown = [c for c in wanted if c not in SORTS]
    if unknown:
        names = ", ".join(SORTS)
        return list(DEFAULT_COLUMNS), f"watch: no column {quoted(unknown[0])} (the columns: {names}); showing the default ones"
    return list(dict.fromkeys(wanted)) or list(DEFAULT_COLUMNS), ""


class ConnTable(DataTable):
    """One row per connection; sorted by a column (s / S, or a header click) and filtered by /.
    How a connection ended is coloured from the component classes."""

    COMPONENT_CLASSES = {"conntable--fin", "conntable--rst"}
    DEFAULT_CSS = """
    ConnTable {
        & > .conntable--fin { color: $fin; text-style: bold; }
        & > .conntable--rst { color: $rst; text-style: bold; }
    }
    """

    def __init__(self, columns: Sequence[str] = (), **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, classes="panel", **kw)
        self.names = list(columns) or list(DEFAULT_COLUMNS)  # shown, in this order (pick_columns)
        self.border_title = "Connections"
        self.sort_by = "#"
        self.reverse = False
        self.needle = ""
        self.given: list[ConnRow] = []  # the last rows shown, before the filter
        self.shown: list[ConnRow] = []

    def on_mount(self) -> None:
        for name in self.names:
            self.add_column(name, key=name)
        # The cells hold their styles: a new theme (published once its styles are in) fills them anew.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.show(self.given))

    def set_names(self, names: Sequence[str]) -> None:
        """Other columns (the terminal got narrower or wider): the same rows, shown anew."""
        if list(names) == self.names:
            return
        self.names = list(names)
        self.clear(columns=True)
        for name in self.names:
            self.add_column(name, key=name)
        self.show(self.given)

    def show(self, rows: list[ConnRow]) -> None:
        self.given = rows
        selected = self.selected_id()
        terms = query.parse(self.needle)
        rows = [r for r in rows if query.matches(terms, r.fields())] if terms else rows
        rows = sorted(rows, key=SORTS[self.sort_by], reverse=self.reverse)
        if not self.reverse and self.sort_by == "#":
            rows = rows[-MAX_ROWS:]
        else:
            rows = rows[:MAX_ROWS]
        self.shown = rows
        table = [self._cells(r) for r in rows]
        widths = self._fit(table)
        self.clear()
        for r, cells in zip(rows, table, strict=True):
            self.add_row(*cells, key=str(r.id), height=row_height(self.app.console, cells, widths))
        ids = [r.id for r in rows]
        if selected in ids:
            self.move_cursor(row=ids.index(selected), animate=False)
        filt = f" · filter: {printable(self.needle)}" if self.needle else ""
        self.border_subtitle = Content(f"sorted by {self.sort_by}{' ↓' if self.reverse else ''}{filt} · {len(rows)} shown")

    def _cells(self, r: ConnRow) -> list[Text]:
        style: str | Style = ""
        if r.end is not None:
            rst = r.end.kind not in ("FIN/FIN", "open")  # a reset after FIN/FIN did not end it
            style = self.get_component_rich_style("conntable--rst" if rst else "conntable--fin", partial=True)
        cells = {
            "#": Text(str(r.id)),
            "ended": Text(r.kind, style=style),
            "end": Text(r.end.kind if r.end else "open", style=style),
            "cause": Text(r.end.cause if r.end else ""),
            "client": Text(printable(r.client)),
            "server": Text(printable(r.server)),
            "evidence": Text(r.evidence),
            "process": Text(printable(r.owner)),
            "state": Text(r.state),
            "→ bytes": Text(str(r.up), justify="right"),
            "← bytes": Text(str(r.down), justify="right"),
            "duration": Text(f"{r.duration:.3f}", justify="right"),
        }
        return [cells[name] for name in self.names]

    def _fit(self, table: list[list[Text]]) -> list[int]:
        """Sets each column's width to fit the panel (fit_columns.py) and returns them. Before the
        first layout the panel has no width yet: natural widths, until on_resize fits them."""
        columns = dict(zip(self.names, zip(*table, strict=True), strict=True)) if table else {n: () for n in self.names}
        natural = {n: max([Text(n).cell_len, *(c.cell_len for c in cells)]) for n, cells in columns.items()}
        wraps = [n for n in WRAPS if n in columns] if self.size.width else []
        floors = {n: max(Text(n).cell_len, longest_word(columns[n])) for n in wraps}
        # the vertical scrollbar's cells are kept free: rows added later may bring it
        room = self.content_region.width - self.styles.scrollbar_size_vertical
        widths = fit(natural, floors, room, 2 * self.cell_padding)
        for name, width in widths.items():
            column = self.columns[ColumnKey(name)]
            column.width, column.auto_width = width, False
        return list(widths.values())

    def on_resize(self) -> None:
        self.show(self.given)  # the columns are sized to the panel's new width

    def selected_id(self) -> int | None:
        if 0 <= self.cursor_row < len(self.shown):
            return self.shown[self.cursor_row].id
        return None

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        self.reverse = not self.reverse if key == self.sort_by else False
        self.sort_by = key


class Story(Static):
    """How the selected connection ended and why, then its state changes and kernel events.
    Rendered from ``detail`` and the component classes, so a new theme recolours it."""

    COMPONENT_CLASSES = {"story--open", "story--fin", "story--rst", "story--wire"}
    DEFAULT_CSS = """
    Story {
        & > .story--open { text-style: bold; }
        & > .story--fin { color: $fin; text-style: bold; }
        & > .story--rst { color: $rst; text-style: bold; }
        & > .story--wire { text-style: dim; }
    }
    """
    detail: reactive[Detail | None] = reactive(None)

    def __init__(self, **kw: Any) -> None:
        super().__init__("", markup=False, **kw)

    def show(self, d: Detail | None) -> None:
        self.detail = d
        relayout(self)  # its height follows the connection's events

    def render(self) -> Text:
        d = self.detail
        if d is None:
            return Text("Select a connection (↑/↓) to see its packets, state changes and the kernel's branch.")
        r, e = d.row, d.row.end
        style = partial(self.get_component_rich_style, partial=True)
        client, server = (f"{ep} ({who})" if who else ep for ep, who in ((r.client, r.owners[0]), (r.server, r.owners[1])))
        head = Text(f"{printable(client)} → {printable(server)}  ")
        if e is None:
            head.append(f"{r.state} (still open)", style=style("story--open"))
        else:
            head.append(e.summary, style=style("story--fin" if e.kind in ("FIN/FIN", "open") else "story--rst"))
            head.append(f"  [{e.cause}, evidence: {e.evidence}]")
            head.append(f"\n{printable(e.explanation)}")
            if e.advice:
                head.append(f"\n→ {printable(e.advice)}")
        lines = [head]
        for ts, source, text in d.events:
            lines.append(
                Text(
                    f"  {round(ts - d.first, 3) + 0.0:8.3f}  {source:<6} {printable(text)}",  # + 0.0: no -0.000
                    style=style("story--wire") if source == "wire" else "",
                )
            )
        return Text("\n").join(lines)
