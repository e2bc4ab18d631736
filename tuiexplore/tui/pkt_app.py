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

from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, RichLog, Static

from tuiexplore.cli_common import InputError
from tuiexplore.guest.machine import Guest
from tuiexplore.lab.client import LabError
from tuiexplore.lab.transport import Transport
from tuiexplore.packetdrill.client import RunOptions, ScriptRun
from tuiexplore.packetdrill.command import PktInputError, check
from tuiexplore.packetdrill.events import EndEvent, LineEvent
from tuiexplore.packetdrill.render import packet_text
from tuiexplore.packetdrill.script import Script
from tuiexplore.safetext import terminal
from tuiexplore.timeline import Event, NoteEvent, PacketEvent, VerdictEvent

MARKS = {
    "waiting": ("·", "dim"),
    "running": ("▶", "bold yellow"),
    "held": ("✓", "green"),
    "failed": ("✗", "bold red"),
    "blocked": ("…", "yellow"),
}
COLUMNS = (("step", "step"), ("line", "line"), ("", "mark"), ("script", "script"))  # (label, key)


class PktApp(App[int]):
    TITLE = "tuiexplore packetdrill"
    CSS = """
    #lines { height: 1fr; }
    #detail { height: 1fr; border-top: solid $accent; }
    #status { height: 1; padding: 0 1; }
    """
    BINDINGS = [
        Binding("n,space", "next", "Next line", id="pkt_next", tooltip="the script's next line: what the kernel did for it"),
        Binding("q", "quit", "Quit", id="pkt_quit", tooltip="stop the script's run and leave"),
    ]

    def __init__(self, opts: RunOptions, script: Script, guest: Callable[[], Transport] | None = None) -> None:
        super().__init__()
        self.opts, self.script, self.guest = opts, script, guest  # guest: --kernel's script_transport
        self.run_: ScriptRun | None = None
        self.shown = 0  # lines walked through with n
        self.status_code: int | None = None
        self.marks: dict[int, str] = {}
        self.later: list[Event] = []  # events of lines not walked through yet
        self.said: list[str] = []  # the detail log's lines, unwrapped

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="lines", cursor_type="row", zebra_stripes=False)
        yield RichLog(id="detail", wrap=True, markup=False)
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

    @work(thread=True, exit_on_error=False)
    def _read(self) -> None:
        run = self.run_ = ScriptRun(self.opts, self.guest)  # here: a guest boots for seconds
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
        self._finished()

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
            held = "held" if e.agree else "DID NOT HOLD"
            style = "green" if e.agree else "bold red"
            self.say(
                Text(f"  verdict: {e.call}() -> {e.observed}, predicted {e.predicted} ({held}); branch {e.branch}", style=style)
            )
            self.say(Text(f"  why: {terminal(e.explanation)}"))
            if e.advice:
                self.say(Text(f"  advice: {terminal(e.advice)}", style="italic"))
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
    opts = RunOptions(path, macros, ipv6, tolerance_usecs, guest.unread_rule() if guest else None)
    app = PktApp(opts, checked.script, guest.script_transport if guest else None)
    app.run()
    return app.status_code if app.status_code is not None else 0


def _step(e: Event) -> int:
    """The script line (step) an event belongs to; 0 for what comes before the first."""
    return getattr(e, "step", None) or 0
