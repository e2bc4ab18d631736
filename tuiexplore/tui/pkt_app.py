"""``tuiexplore FILE.pkt``: a packetdrill script stepped one line per ``n`` against the running kernel.

The script's lines are a table, each with its mark (waiting, running, held, failed); under it,
what each step did: the packets sent and injected, the verdict of a closing call with its
branch and advice, and packetdrill's message for a line that failed, which stays marked in
place. Script text is shown as plain text, never markup.

The script runs at its own times, as ``tuiexplore run FILE.pkt`` runs it (``packetdrill.agent``),
and ``n`` walks through what happened one line at a time. It is not paused before each line:
the kernel's timers do not wait for a reader, so a SYN-ACK retransmitted after a second, or a
delayed ACK, would make the script say something else than it does at its own pace (seen:
stepping tcp_close_no_rst live failed on a retransmitted SYN-ACK).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator
from typing import Protocol

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.widgets import DataTable, Footer, Header, RichLog, Static

from tuiexplore import rules_probe
from tuiexplore.cli_common import InputError
from tuiexplore.guest.machine import Guest
from tuiexplore.kernel.excerpt import bundled
from tuiexplore.kernel.notes import version_notes
from tuiexplore.kernel.source import SourceError, discover
from tuiexplore.lab.client import LabError
from tuiexplore.packetdrill.client import RunOptions, ScriptRun
from tuiexplore.packetdrill.command import PktInputError, check
from tuiexplore.packetdrill.events import EndEvent, LineEvent
from tuiexplore.packetdrill.render import packet_text, verdict_head, what
from tuiexplore.packetdrill.script import Script
from tuiexplore.safetext import terminal
from tuiexplore.timeline import Event, NoteEvent, PacketEvent, VerdictEvent
from tuiexplore.tui import theme as themes
from tuiexplore.tui.kernel_view import KernelView

MARKS = {
    "waiting": ("·", "dim"),
    "running": ("▶", "bold yellow"),
    "held": ("✓", "green"),
    "failed": ("✗", "bold red"),
    "blocked": ("…", "yellow"),
}


class Run(Protocol):
    """A script's run as the screen reads it (packetdrill.client.ScriptRun)."""

    @property
    def where(self) -> str: ...  # "" on this host, else e.g. "guest Linux 6.1.176 (...)"

    def events(self) -> Iterator[Event]: ...
    def close(self) -> None: ...


COLUMNS = (("step", "step"), ("line", "line"), ("", "mark"), ("script", "script"))  # (label, key)


class PktApp(App[int]):
    TITLE = "tuiexplore packetdrill"
    # Wide: the script and what it did on the left, the kernel's source on the right. Narrow
    # (80x24): the three stacked, the kernel panel last with its marked line scrolled into view.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    CSS = """
    #body { height: 1fr; }
    #lines { height: 1fr; }
    #detail { height: 1fr; border-top: solid $accent; }
    #kernel { width: 1fr; border: round $accent; border-title-color: $text; }
    .-wide #body { layout: horizontal; }
    .-wide #left { width: 1fr; }
    .-narrow #body { layout: vertical; }
    .-narrow #left { height: 13; }
    .-narrow #lines { height: 6; overflow-x: hidden; }  /* a line's whole text is in the log */
    .-narrow #kernel { height: 1fr; }
    #status { height: 1; padding: 0 1; }
    """
    BINDINGS = [
        Binding("n,space", "next", "Next line", id="pkt_next", tooltip="the script's next line: what the kernel did for it"),
        Binding("q", "quit", "Quit", id="pkt_quit", tooltip="stop the script's run and leave"),
    ]

    def __init__(
        self,
        opts: RunOptions,
        script: Script,
        guest: Guest | None = None,
        start: Callable[[RunOptions], Run] | None = None,
        find_source: bool = True,
    ) -> None:
        """``guest``: --kernel's guest, where the script runs (else this host); ``start``: what
        runs the script (a recorded run in tests); ``find_source``: look for the kernel's own
        source, the running kernel's or the guest line's (else the bundled one is shown)."""
        super().__init__()
        self.opts, self.script, self.guest = opts, script, guest
        self.start = start or (lambda o: ScriptRun(o, guest.script_transport if guest else None))
        self.find_source = find_source
        self.run_: Run | None = None
        self.shown = 0  # lines walked through with n
        self.status_code: int | None = None
        self.marks: dict[int, str] = {}
        self.later: list[Event] = []  # events of lines not walked through yet
        self.said: list[str] = []  # the detail log's lines, unwrapped

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(themes.APP_VARIABLES)  # the kernel panel's marked lines

    def compose(self) -> ComposeResult:
        yield Header()
        with Container(id="body"):
            with Vertical(id="left"):
                yield DataTable(id="lines", cursor_type="row", zebra_stripes=False)
                yield RichLog(id="detail", wrap=True, markup=False)
            yield KernelView(bundled(), id="kernel")
        yield Static(Text(f"{terminal(self.opts.path)} runs at its own times: n shows the next line"), id="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#lines", DataTable)
        for label, key in COLUMNS:
            table.add_column(label, key=key)
        for n, ev in enumerate(self.script.events, 1):
            table.add_row(Text(str(n)), Text(str(ev.line)), self._mark("waiting"), Text(terminal(ev.source)), key=str(n))
            self.marks[n] = "waiting"
        self._read()
        if self.find_source:
            self._find_source()

    @work(thread=True, exit_on_error=False, description="finding tcp.c")
    def _find_source(self) -> None:
        """The kernel's own source when at hand: this machine's for the running kernel, the
        line's cached tree for a guest (never the host's for a guest); else the bundled one stays."""
        tree, release = (self.guest.kernel.source, self.guest.kernel.release) if self.guest else (None, platform.release())
        if self.guest and tree is None:
            return
        try:
            ex = discover(tree)
        except SourceError:
            return
        self.call_from_thread(self.query_one(KernelView).set_excerpt, ex, version_notes(ex, release))

    @work(thread=True, exit_on_error=False)
    def _read(self) -> None:
        run = self.run_ = self.start(self.opts)  # here: a guest boots for seconds
        if run.where:
            self.call_from_thread(self.say, Text(f"the script runs in a {terminal(run.where)}", style="bold"))
        for event in run.events():
            self.call_from_thread(self.arrived, event)

    def _mark(self, what: str) -> Text:
        symbol, style = MARKS[what]
        return Text(symbol, style=style)

    def set_mark(self, step: int, what: str) -> None:
        if not 1 <= step <= len(self.script.events):
            return
        self.marks[step] = what
        table = self.query_one("#lines", DataTable)
        table.update_cell(str(step), "mark", self._mark(what))
        if what == "failed":
            source = self.script.events[step - 1].source
            table.update_cell(str(step), "script", Text(terminal(source), style="bold red"))

    def action_next(self) -> None:
        if self.shown >= len(self.script.events) or self.marks.get(self.shown) == "failed":
            self.bell()
            return
        self.shown += 1
        self.set_mark(self.shown, "running")
        self.query_one("#lines", DataTable).move_cursor(row=self.shown - 1)
        ev = self.script.events[self.shown - 1]
        self.say(Text(f"line {ev.line}: {terminal(ev.source)}", style="bold"))
        due, self.later = [e for e in self.later if _step(e) <= self.shown], [e for e in self.later if _step(e) > self.shown]
        for e in due:
            self.show(e)
        if not any(isinstance(e, VerdictEvent) for e in due):
            self._predict_next()
        self._finished()

    def _predict_next(self) -> None:
        """The next line's predicted branch on the kernel panel, when it is one the app predicts:
        the prediction was made from the live socket before the call ran, its outcome is not told."""
        nxt = [e for e in self.later if isinstance(e, VerdictEvent) and _step(e) == self.shown + 1]
        if nxt:
            p = nxt[0]
            line = self.script.events[self.shown].line
            self.query_one(KernelView).mark(
                predicted=list(p.path), note=f"next: line {line} {what(p.call)} predicted {p.predicted} [{p.branch}]"
            )

    def say(self, text: Text) -> None:
        self.said.append(text.plain)
        self.query_one("#detail", RichLog).write(text)

    def arrived(self, e: Event) -> None:
        if isinstance(e, EndEvent):
            self.status_code = e.status
            self._finished()
        elif _step(e) > self.shown:
            self.later.append(e)
        else:
            self.show(e)

    def _finished(self) -> None:
        """Once the walk reaches where the run ended: say how it ended."""
        if self.status_code == 0 and self.shown >= len(self.script.events):
            self.query_one("#status", Static).update(
                Text("every line held: the kernel did what the script says (q quits)", style="green")
            )

    def show(self, e: Event) -> None:
        if isinstance(e, LineEvent):
            self.set_mark(e.step, "held" if e.ok else "failed" if e.ok is False else "blocked")
            if e.ok is False:
                self.say(Text(terminal(e.text), style="bold red"))
                self.query_one("#status", Static).update(Text(terminal(e.text), style="bold red"))
            elif e.text and e.kind != "syscall":
                self.say(Text(f"  {terminal(e.text)}", style="dim"))
        elif isinstance(e, PacketEvent):
            who = "kernel sent" if e.src == "local" else "peer injected"
            self.say(Text(f"  {who:<13} {terminal(packet_text(e))}"))
        elif isinstance(e, VerdictEvent):
            style = "green" if e.agree else "yellow" if e.agree is None else "bold red"
            self.say(Text(f"  verdict: {verdict_head(e)}", style=style))
            self.say(Text(f"  why: {terminal(e.explanation)}"))
            if e.advice:
                self.say(Text(f"  advice: {terminal(e.advice)}", style="italic"))
            line = self.script.events[e.step - 1].line if 1 <= e.step <= len(self.script.events) else e.step
            self.query_one(KernelView).mark(taken=list(e.path), note=f"line {line}: {e.branch} ({e.observed})")
        elif isinstance(e, NoteEvent):
            self.say(Text(f"  note: {terminal(e.text)}", style="yellow" if e.level != "error" else "bold red"))
        elif isinstance(e, EndEvent):
            self.status_code = e.status
            if e.status == 0:
                self.query_one("#status", Static).update(
                    Text("every line held: the kernel did what the script says (q quits)", style="green")
                )

    def on_unmount(self) -> None:
        if self.run_ is not None:
            self.run_.close()


def open_script(path: str, defines: list[str], ipv6: bool, tolerance_usecs: int | None = None, guest: Guest | None = None) -> int:
    """The explorer's ``FILE.pkt``: a script that cannot be read or run is one line, exit 2."""
    macros = dict(d.partition("=")[::2] for d in defines)
    try:
        checked = check(path, macros)
    except PktInputError as exc:
        raise InputError(str(exc)) from None
    for r in checked.plan.refused:
        raise InputError(f"{path}:{r.line}: refused `{r.text}`: {r.why}")
    try:
        if guest:
            guest.check_scripts()  # one line before the screen, not a note in it
    except LabError as exc:
        raise InputError(str(exc)) from None
    # Before the screen: a kernel without its source is probed once per release (rules_probe.py).
    rules = rules_probe.for_kernel(guest)
    opts = RunOptions(path, macros, ipv6, tolerance_usecs, guest.unread_rule() if guest else None, rules=rules)
    app = PktApp(opts, checked.script, guest)
    app.run()
    return app.status_code if app.status_code is not None else 0


def _step(e: Event) -> int:
    """The script line (step) an event belongs to; 0 for what comes before the first."""
    return getattr(e, "step", None) or 0
