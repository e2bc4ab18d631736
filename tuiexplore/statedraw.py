"""The TCP state diagram (RFC 9293 figure 5, Linux's state names) drawn in box characters.

One drawing for every form: the explorer's widget styles its cells, the export writes them as
text (Markdown) and as SVG. Each cell carries a tag naming what it is, so colours stay with the
view: ``edge``, ``node``, ``note``, and ``actor<i>`` for socket ``i``'s mark, lit edge and label.

Layout, top to bottom, the active opener and closer on the left, the passive ones on the right:

    CLOSE (new socket) -> LISTEN / SYN_SENT -> SYN_RECV -> ESTABLISHED -> FIN_WAIT1 / CLOSE_WAIT
    -> FIN_WAIT2, CLOSING, LAST_ACK -> TIME_WAIT -> CLOSE

A reset or abort, Linux's jump from any state to CLOSE, runs along a rail at the side. Below the
drawing each socket's path is written out, so a label that found no room is still read.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuiexplore import safetext
from tuiexplore.statediagram import SocketPath, edge_text, track

# node id -> (column, row); "START" is CLOSE before a socket has moved, "CLOSE" its end.
NODES = {
    "START": (1, 0),
    "LISTEN": (0, 1),
    "SYN_SENT": (2, 1),
    "SYN_RECV": (0, 2),
    "ESTABLISHED": (1, 3),
    "FIN_WAIT1": (0, 4),
    "CLOSE_WAIT": (2, 4),
    "FIN_WAIT2": (0, 5),
    "CLOSING": (1, 5),
    "LAST_ACK": (2, 5),
    "TIME_WAIT": (0, 6),
    "CLOSE": (2, 6),
}
# RFC 9293's transitions, drawn dim; a socket's last move is drawn over them, lit.
EDGES = [
    ("START", "LISTEN"),
    ("START", "SYN_SENT"),
    ("LISTEN", "SYN_RECV"),
    ("LISTEN", "SYN_SENT"),
    ("SYN_RECV", "ESTABLISHED"),
    ("SYN_SENT", "ESTABLISHED"),
    ("ESTABLISHED", "FIN_WAIT1"),
    ("ESTABLISHED", "CLOSE_WAIT"),
    ("FIN_WAIT1", "FIN_WAIT2"),
    ("FIN_WAIT1", "CLOSING"),
    ("CLOSE_WAIT", "LAST_ACK"),
    ("FIN_WAIT2", "TIME_WAIT"),
    ("CLOSING", "TIME_WAIT"),
    ("LAST_ACK", "CLOSE"),
    ("TIME_WAIT", "CLOSE"),
]
JOIN = {
    frozenset("UD"): "│",
    frozenset("LR"): "─",
    frozenset("DR"): "┌",
    frozenset("DL"): "┐",
    frozenset("UR"): "└",
    frozenset("UL"): "┘",
    frozenset("UDR"): "├",
    frozenset("UDL"): "┤",
    frozenset("LRD"): "┬",
    frozenset("LRU"): "┴",
    frozenset("UDLR"): "┼",
    frozenset("U"): "│",
    frozenset("D"): "│",
    frozenset("L"): "─",
    frozenset("R"): "─",
}
ARROW = {"D": "▼", "U": "▲", "R": "▶", "L": "◀"}
STEP = {"D": (0, 1), "U": (0, -1), "R": (1, 0), "L": (-1, 0)}
OPPOSITE = {"D": "U", "U": "D", "L": "R", "R": "L"}
RAIL_NOTE = "reset/abort: any state ─▶ CLOSE"


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int
    end: int  # first column right of the node and its marks

    @property
    def cx(self) -> int:
        return self.x + self.w // 2

    @property
    def cy(self) -> int:
        return self.y + self.h // 2


def node_of(state: str, as_source: bool) -> str | None:
    if state == "CLOSE":
        return "START" if as_source else "CLOSE"
    return state if state in NODES else None


def where(sock: SocketPath) -> str | None:
    """The node a socket's mark sits in."""
    return node_of(sock.state, as_source=not sock.started)


class Drawing:
    """A width x height grid of (character, tag) cells with the diagram drawn in it."""

    def __init__(self, width: int, height: int, sockets: list[SocketPath], actors: list[str] | None = None) -> None:
        self.width, self.sockets = max(40, width), sockets
        # The explorer's panel order (server, client, others): the same colour in every form.
        order = list(dict.fromkeys([*(actors or ["server", "client"]), *(s.actor for s in sockets)]))
        self.colour = {a: i for i, a in enumerate(order)}
        self.boxed = self.width >= 60 and height >= 28
        nh = 3 if self.boxed else 1
        self.gap = max(1, min(3, (height - 1 - 7 * nh - len(sockets)) // 6))
        self.node_h = nh
        self.bus = 7 * nh + 6 * self.gap
        # Each socket's path below the drawing, the latest movers first (a short panel scrolls).
        self.captioned = sorted((s for s in sockets if s.moves), key=lambda s: -s.moves[-1].t)
        self.height = self.bus + 1 + len(self.captioned)
        self.chars = [[" "] * self.width for _ in range(self.height)]
        self.tags = [[""] * self.width for _ in range(self.height)]
        self.links: dict[tuple[int, int], set[str]] = {}
        self.arrows: dict[tuple[int, int], str] = {}
        self.lit: dict[tuple[int, int], str] = {}
        self.boxes = self._place()
        self._draw()

    # -- geometry ----------------------------------------------------------------------------
    def _marks(self, node: str) -> list[tuple[str, str]]:
        out = []
        for s in self.sockets:
            if where(s) == node:
                out.append((f"●{s.fd}{'·tw' if s.timewait else ''}", f"actor{self.colour[s.actor] % 4}"))
        return out

    def _place(self) -> dict[str, Box]:
        col_w = (self.width - 4) / 3
        boxes: dict[str, Box] = {}
        for node, (c, r) in sorted(NODES.items(), key=lambda kv: -kv[1][0]):  # right to left: marks stop at the next node
            label = "CLOSE" if node == "START" else node
            cx = int(2 + col_w * (0.45, 1.4, 2.25)[c])  # room on the right of each node for its marks
            y = r * (self.node_h + self.gap)
            marks = self._marks(node)
            if self.boxed:
                w = min(int(col_w) - 1, max(len(label) + 4, 15))
                boxes[node] = Box(cx - w // 2, y, w, 3, cx - w // 2 + w)
            else:
                w = len(label) + 2
                room = sum(len(m) + 1 for m, _ in marks)
                nxt = min((b.x - 2 for b in boxes.values() if b.y == y), default=self.width - 2)
                boxes[node] = Box(cx - w // 2, y, w, 1, min(nxt, cx - w // 2 + w + room))
        return boxes

    # -- drawing -----------------------------------------------------------------------------
    def put(self, x: int, y: int, text: str, tag: str) -> None:
        for i, ch in enumerate(text):
            if 0 <= x + i < self.width and 0 <= y < self.height:
                self.chars[y][x + i], self.tags[y][x + i] = ch, tag

    def _draw(self) -> None:
        for src, dst in EDGES:
            self._edge(src, dst, "")
        last: dict[SocketPath, tuple[list[tuple[int, int]], str]] = {}  # socket -> its last move's path, cause
        for s in self.sockets:
            m = s.last
            if m is None:
                continue
            frm, to = node_of(m.old, True), node_of(m.new, False)
            if frm and to and frm != to:
                last[s] = self._edge(frm, to, f"actor{self.colour[s.actor] % 4}"), m.cause
        for (x, y), dirs in self.links.items():
            ch = self.arrows.get((x, y)) or JOIN.get(frozenset(dirs), "┼")
            self.put(x, y, ch, self.lit.get((x, y), "edge"))
        for node, box in self.boxes.items():
            self._node(node, box)
        tw = any(s.timewait for s in self.sockets)
        self.put(2, self.bus, RAIL_NOTE + (" · ·tw: a timewait mini-socket" if tw else ""), "note")
        for s, (path, cause) in last.items():
            self._label(path, cause, f"actor{self.colour[s.actor] % 4}")
        for i, s in enumerate(self.captioned):
            self._caption(self.bus + 1 + i, s)

    def _node(self, node: str, b: Box) -> None:
        label = "CLOSE" if node == "START" else node
        marks = self._marks(node)
        if self.boxed:
            self.put(b.x, b.y, "┌" + f" {label} ".center(b.w - 2, "─") + "┐", "node")
            self.put(b.x, b.y + 1, "│" + " " * (b.w - 2) + "│", "node")
            self.put(b.x, b.y + 2, "└" + "─" * (b.w - 2) + "┘", "node")
            x, room = b.x + 2, b.w - 4
        else:
            self.put(b.x, b.y, f"[{label}]", "node")
            x, room = b.x + b.w + 1, b.end - b.x - b.w - 1
        for text, tag in marks:
            if room <= 0:
                break
            shown = text if len(text) <= room else text[: max(1, room - 1)] + "…"
            self.put(x, b.y + (1 if self.boxed else 0), shown, tag)
            x, room = x + len(shown) + 1, room - len(shown) - 1

    def _route(self, src: str, dst: str) -> tuple[list[tuple[int, int]], str, str]:
        """Waypoints from just outside src to just outside dst, the side it leaves by, and the
        direction it enters dst."""
        s, d = self.boxes[src], self.boxes[dst]
        (sc, sr), (dc, dr) = NODES[src], NODES[dst]
        right = self.width - 1
        if dst == "CLOSE" and (src, dst) not in EDGES:
            if sc == 0:  # down the left rail, along the bus, up into CLOSE
                return [(s.x - 1, s.cy), (0, s.cy), (0, self.bus), (d.cx, self.bus)], "R", "U"
            return [(s.end, s.cy), (right, s.cy), (right, d.cy), (d.end, d.cy)], "L", "L"
        if sr == dr:
            if dc > sc:
                return [(s.end, s.cy), (d.x - 1, d.cy)], "L", "R"
            return [(s.x - 1, s.cy), (d.end, d.cy)], "R", "L"
        if dr > sr:
            y = d.y - 1
            return [(s.cx, s.y + s.h), (s.cx, y), (d.cx, y)], "U", "D"
        y = d.y + d.h
        return [(s.cx, s.y - 1), (s.cx, y), (d.cx, y)], "D", "U"

    def _edge(self, src: str, dst: str, tag: str) -> list[tuple[int, int]]:
        points, leave, enter = self._route(src, dst)
        cells = [points[0]]
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            while (x0, y0) != (x1, y1):
                x0 += (x1 > x0) - (x1 < x0)
                y0 += (y1 > y0) - (y1 < y0)
                cells.append((x0, y0))
        cells = [c for i, c in enumerate(cells) if i == 0 or c != cells[i - 1]]
        self.links.setdefault(cells[0], set()).add(leave)
        for a, b in zip(cells, cells[1:], strict=False):
            d = next(k for k, v in STEP.items() if (a[0] + v[0], a[1] + v[1]) == b)
            self.links.setdefault(a, set()).add(d)
            self.links.setdefault(b, set()).add(OPPOSITE[d])
        self.links[cells[-1]].add(enter)
        if tag or cells[-1] not in self.arrows:
            self.arrows[cells[-1]] = ARROW[enter]
        if tag:
            for c in cells:
                self.lit[c] = tag
        return cells

    def _free(self, x: int, y: int, n: int) -> bool:
        if y < 0 or y >= self.bus or x < 0 or x + n > self.width:
            return False
        return all(self.chars[y][i] == " " and not self.tags[y][i] for i in range(x, x + n))

    def _label(self, path: list[tuple[int, int]], text: str, tag: str) -> None:
        """The cause next to its edge, in the nearest blank cells (the caption always has it)."""
        mx, my = path[len(path) // 2]
        n = len(text)
        spots = [(abs(dy) * 8 + abs(x + n // 2 - mx), x, my + dy) for dy in (0, 1, -1, 2, -2) for x in range(1, self.width - n)]
        for _, x, y in sorted(spots):
            if self._free(x - 1, y, n + 2):
                self.put(x, y, text, tag)
                return

    def _caption(self, y: int, s: SocketPath) -> None:
        tag = f"actor{self.colour[s.actor] % 4}"
        head = f"● {s.name}: "
        self.put(0, y, head, tag)
        room = self.width - len(head)
        moves = s.moves
        path = s.path_text()
        while len(path) > room and len(moves) > 1:
            moves = moves[1:]
            path = "… " + SocketPath(s.actor, s.fd, moves).path_text()
        self.put(len(head), y, path[:room], "")
        if s.last is not None:
            last = edge_text(s.last)
            at = path.rfind(last)
            if at >= 0 and len(head) + at + len(last) <= self.width:
                self.put(len(head) + at, y, last, tag)

    # -- forms -------------------------------------------------------------------------------
    def lines(self) -> list[str]:
        return ["".join(row).rstrip() for row in self.chars]

    def runs(self, y: int) -> list[tuple[str, str]]:
        """Row y as (text, tag) runs, for styling."""
        out: list[tuple[str, str]] = []
        for ch, tag in zip(self.chars[y], self.tags[y], strict=True):
            if out and out[-1][1] == tag:
                out[-1] = (out[-1][0] + ch, tag)
            else:
                out.append((ch, tag))
        return out


# The export's colours (the dark theme's): an SVG has no theme to follow.
SVG_COLOURS = {
    "": "#d0d0d0",
    "edge": "#6c6c6c",
    "node": "#d0d0d0",
    "note": "#8a8a8a",
    "actor0": "#87afd7",
    "actor1": "#ffaf00",
    "actor2": "#d787ff",
    "actor3": "#5fd7af",
}


BOLD = ' font-weight="bold"'


def svg(drawing: Drawing, title: str, colours: dict[str, str] | None = None) -> str:
    """The drawing as a standalone SVG (monospace text, one tspan per run); text is escaped."""
    pal = {**SVG_COLOURS, **(colours or {})}
    cw, lh = 8.4, 17
    w, h = int(drawing.width * cw) + 20, int((drawing.height + 2) * lh) + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">',
        '<rect width="100%" height="100%" fill="#121212"/>',
        '<g font-family="DejaVu Sans Mono, Menlo, monospace" font-size="14" xml:space="preserve">',
        f'<text x="10" y="{lh}" fill="{pal[""]}" font-weight="bold">{safetext.xml(title)}</text>',
    ]
    for y in range(drawing.height):
        spans = "".join(
            f'<tspan fill="{pal.get(tag, pal[""])}"{BOLD if tag.startswith("actor") else ""}>{safetext.xml(text)}</tspan>'
            for text, tag in drawing.runs(y)
        )
        out.append(f'<text x="10" y="{(y + 2) * lh}">{spans}</text>')
    out += ["</g>", "</svg>", ""]
    return "\n".join(out)


def for_export(events: list, width: int = 100) -> Drawing:
    """The diagram as the run ended, roomy (boxed), for the transcript and the bundle."""
    sockets = track(events)
    return Drawing(width, 34 + len(sockets), sockets)


def markdown_section(events: list) -> list[str]:
    d = for_export(events)
    out = ["## TCP states", "", "Each socket in its last state (●), its last move lit; every path in full:", ""]
    out += [*safetext.md_fence(d.lines()[: d.bus + 1]), ""]
    out += [f"- {safetext.md_code(s.name)}: {safetext.md_code(s.path_text())}" for s in d.sockets if s.moves]
    return [*out, ""]
