"""The explorer's panels. Everything shown from the lab is plain text (Text/Content), never
markup: payloads and process names are untrusted bytes, already made printable by the lab."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.containers import VerticalScroll
from textual.content import Content
from textual.highlight import highlight
from textual.widgets import DataTable, RichLog, Static

from tuiexplore.kernel.excerpt import ELSEWHERE, Excerpt
from tuiexplore.timeline import EpollEvent, NoteEvent, PacketEvent, StepEvent, VerdictEvent
from tuiexplore.transcript import call_text, result_text

MAX_PACKETS = 2000


def printable(text: str) -> str:
    """Control characters (ESC above all) as \\xNN: nothing reaches the terminal raw."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


class ActorLog(RichLog):
    """One actor's syscalls with their results, and its epoll event log."""

    def __init__(self, actor: str, **kw: Any) -> None:
        super().__init__(markup=False, highlight=False, wrap=True, min_width=20, max_lines=2000, **kw)
        self.actor = actor
        self.border_title = actor.capitalize()

    def add_step(self, e: StepEvent, origin: str) -> None:
        style = "dim" if origin == "server policy" else ""
        line = Text(f"[{e.step:>2}] ", style="bold")
        line.append(call_text(e.call, e.args), style=style)
        line.append(" " + printable(result_text(e)), style="bold red" if e.errno else style)
        if origin == "server policy":
            line.append("  (server loop)", style="dim italic")
        self.write(line)

    def add_epoll(self, e: EpollEvent) -> None:
        self.write(Text(f"     epoll {e.fd}: {'|'.join(e.events)}  events: {e.mask}", style="italic"))

    def add_note(self, e: NoteEvent) -> None:
        self.write(Text(f"     {printable(e.text)}", style="dim"))


class PacketTable(DataTable):
    """The live packet stream in tcpdump notation; FIN and RST coloured from the theme."""

    COLUMNS = ("#", "step", "t", "direction", "flags", "seq", "ack", "len", "win")

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, classes="panel", **kw)
        self.border_title = "Packets"
        self.packets: dict[int, PacketEvent] = {}

    def on_mount(self) -> None:
        for c in self.COLUMNS:
            self.add_column(c, key=c)

    def flag_style(self, flags: str) -> str:
        v = self.app.theme_variables
        if "R" in flags:
            return f"bold {v.get('rst', 'red')}"
        if "F" in flags:
            return f"bold {v.get('fin', 'green')}"
        return ""

    def add_packets(self, packets: list[PacketEvent]) -> None:
        rows = []
        for p in packets:
            self.packets[p.index] = p
            rows.append(
                (
                    Text(str(p.index)),
                    Text(f"<{p.step}>" if p.step is not None else ""),
                    Text(f"{p.t:.4f}"),
                    Text(f"{p.src} → {p.dst}"),
                    Text(f"[{p.flags}]", style=self.flag_style(p.flags)),
                    Text(str(p.seq)),
                    Text(str(p.ack) if "." in p.flags else ""),
                    Text(str(p.len)),
                    Text(str(p.win)),
                )
            )
        at_end = self.cursor_row >= self.row_count - 1
        for p, row in zip(packets, rows, strict=True):
            self.add_row(*row, key=str(p.index))
        while self.row_count > MAX_PACKETS:
            self.remove_row(self.coordinate_to_cell_key((0, 0)).row_key)
        if at_end and self.row_count:
            self.move_cursor(row=self.row_count - 1)
        self.border_subtitle = f"{len(self.packets)} captured"


class SocketsStrip(DataTable):
    COLUMNS = ("actor", "pid", "process", "fd", "state", "Recv-Q", "Send-Q", "unsent", "SO_LINGER", "LINGER2", "backlog")

    def __init__(self, **kw: Any) -> None:
        super().__init__(cursor_type="row", show_cursor=False, classes="panel", **kw)
        self.border_title = "Sockets"

    def on_mount(self) -> None:
        for c in self.COLUMNS:
            self.add_column(c, key=c)

    def show(self, actors: dict[str, Any], names: dict[int, str]) -> None:
        self.clear()
        for actor, info in actors.items():
            pid = info.get("pid")
            proc = printable(names.get(pid, "")) if pid else "exited"
            if not info.get("sockets"):
                self.add_row(Text(actor), Text(str(pid or "-")), Text(proc), Text("-"), *[Text("")] * 7)
            for s in info.get("sockets", []):
                lingr = f"{{{s['linger'][0]}, {s['linger'][1]}}}" if s["linger"][0] else "off"
                self.add_row(
                    Text(actor),
                    Text(str(pid)),
                    Text(proc),
                    Text(f"{s['name']} ({s['fd']})"),
                    Text(s["state"]),
                    Text(str(s["inq"])),
                    Text(str(s["outq"])),
                    Text(str(s["unsent"])),
                    Text(lingr),
                    Text(str(s["linger2"])),
                    Text(f"{s['accept_queue']}/{s['backlog']}" if s["state"] == "LISTEN" else ""),
                )


class KernelView(VerticalScroll):
    """The tcp_close source with line numbers; the predicted branch and the taken one marked."""

    def __init__(self, excerpt: Excerpt, **kw: Any) -> None:
        super().__init__(classes="panel", **kw)
        self.excerpt = excerpt
        self.border_title = f"Kernel: tcp_close() · {excerpt.origin}"
        self.predicted: list[str] = []
        self.taken: list[str] = []
        self.note = ""
        self._code = Static("", markup=False)

    def compose(self):  # noqa: ANN201
        yield self._code

    def on_mount(self) -> None:
        self.render_code()

    def mark(self, predicted: list[str] | None = None, taken: list[str] | None = None, note: str = "") -> None:
        self.predicted, self.taken, self.note = predicted or [], taken or [], note
        self.render_code()

    def lines_of(self, branches: list[str]) -> set[int]:
        return {n for b in branches for n in self.excerpt.branches.get(b, [])}

    def render_code(self) -> None:
        ex = self.excerpt
        # Tabs at 4 columns: the kernel's 8 would push the code off a side panel.
        code = highlight(ex.text().expandtabs(4), language="c")
        lines = code.split("\n")
        hot, pred = self.lines_of(self.taken), self.lines_of(self.predicted)
        width = len(str(ex.last_line))
        out = []
        for i, line in enumerate(lines):
            n = ex.first_line + i
            mark = "▶" if n in hot else ("?" if n in pred else " ")
            gutter = Content.styled(f"{n:>{width}} {mark} ", "$text-muted")
            row = gutter + line
            if n in hot:
                row = row.stylize_before("on $hot-line")
            elif n in pred:
                row = row.stylize_before("on $predicted-line")
            out.append(row)
        self._code.update(Content("\n").join(out))
        # A fixed size spares every screen layout from measuring ~200 highlighted lines.
        self._code.styles.width = max(row.cell_length for row in out) + 1
        self._code.styles.height = len(out)
        # Scroll to the decisive branch (the last one marked), not to the drain loop before it.
        decisive = self.taken[-1:] or self.predicted[-1:]
        target = sorted(self.lines_of(decisive) or hot or pred)
        if target:
            self.scroll_to(y=max(0, target[0] - ex.first_line - 3), animate=False)
        sub = [ELSEWHERE[b] for b in self.taken + self.predicted if b in ELSEWHERE]
        self.border_subtitle = " · ".join(dict.fromkeys([*sub, *([self.note] if self.note else []), ex.hint]))


class VerdictLine(Static):
    """The latest verdict in one line (or the prediction for the next closing step)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__("", markup=False, **kw)

    def show_verdict(self, v: VerdictEvent) -> None:
        mark = "✓ prediction held" if v.agree else "✗ the kernel disagreed with the prediction"
        head = Content.styled(
            f"step {v.step} {v.actor} {v.call}({v.fd}) → {v.observed}",
            "bold $rst" if v.observed == "RST" else ("bold $fin" if v.observed == "FIN" else "bold"),
        )
        self.update(head + Content(f"  {mark}\n{printable(v.explanation)}"))
        self.set_class(not v.agree, "-disagree")

    def show_text(self, text: str) -> None:
        self.update(Content(printable(text)))
        self.set_class(False, "-disagree")
