"""The step screen: the user's own programs, each in its panel like a lab actor, stopped at the
entry of every network-relevant syscall.

A stepping session (trace.stepper.Stepper, or trace.child.ChildStepper inside a lab) runs on its
own thread and posts batched ``TraceEvents``; this screen shows them with the explorer's widgets
and answers with ``step(tid)``. It keeps which calls are parked, per program, in arrival order:
``n`` runs the selected program's oldest, ``N`` keeps running that program's calls until a
closing call parks, ``g`` does so for every program.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Protocol, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static

from tuiexplore.kernel.excerpt import Excerpt
from tuiexplore.reports.details import packet_text
from tuiexplore.timeline import CountersEvent, EpollEvent, Event, NoteEvent, PacketEvent, StepEvent, VerdictEvent
from tuiexplore.trace.describe import args_text, parked_text, prediction_words, return_text, stop_text
from tuiexplore.trace.events import OutputEvent, SocketsEvent, StopEvent
from tuiexplore.tui.footer import KeysFooter
from tuiexplore.tui.messages import KernelSourceFound
from tuiexplore.tui.packets import PacketTable
from tuiexplore.tui.panels import show_panel
from tuiexplore.tui.screens import TextScreen
from tuiexplore.tui.step_feed import SteppingSession, TraceEnded, TraceEvents
from tuiexplore.tui.step_help import StepHelp
from tuiexplore.tui.step_sockets import StepSockets
from tuiexplore.tui.widgets import ActorLog, KernelView, VerdictLine, printable

PANELS = ("actors", "packets", "kernel", "output")
HINT = (
    "n runs the selected program's parked call · N to its next closing call · g all to the next closing call · tab: next program"
)

STEP_BINDINGS = [
    Binding("n,space", "run_one", "Run call", id="step.next"),
    Binding("N", "until_close", "To next close", id="step.until"),
    Binding("g", "go", "Go (all)", id="step.go"),
    Binding("tab", "select(1)", "Next program", id="step.select", show=False),
    Binding("shift+tab", "select(-1)", "Previous program", id="step.select_back", show=False),
    Binding("d", "detach", "Detach", id="step.detach"),
    Binding("question_mark", "help", "Help", id="step.help"),
    Binding("q", "app.quit", "Quit", id="step.quit", tooltip="detaches first: the programs run on"),
    *[Binding(str(i + 1), f"show({i})", PANELS[i].capitalize(), id=f"step.show.{PANELS[i]}", show=False) for i in range(4)],
]


def status_text(
    where: str, parked: dict[str, list[StopEvent]], selected: str, free: bool, until_close: set[str], ended: str
) -> str:
    """The status line: where the programs run, who is parked in what, who runs on."""
    parts = [f"step {where}"]
    waiting = [f"{a} {q[0].call}()" for a, q in parked.items() if q]
    parts.append("parked: " + (", ".join(waiting) if waiting else "none"))
    parts.append(f"selected: {selected}")
    if free:
        parts.append("g: all run to the next closing call")
    elif until_close:
        parts.append(f"N: {', '.join(sorted(until_close))} to the next closing call")
    if ended:
        parts.append(ended)
    return " · ".join(parts)


def predicted_path(e: StopEvent) -> list[str]:
    return [b for p in e.prediction or [] for b in p.get("path") or [p["branch"]]]


class StepHost(Protocol):
    """What this screen asks of its app (step_app.StepApp, which imports this module)."""

    def start_session(self, screen: StepScreen) -> None: ...


class StepScreen(Screen):
    BINDINGS = [*STEP_BINDINGS]
    # Screen CSS (not DEFAULT_CSS, which the app's stylesheet would override): the output row is
    # fixed, as an "auto" row would follow the log's virtual height and leave a hole.
    CSS = """
    StepScreen #panels { grid-rows: 1fr 1fr 8; }
    StepScreen #output { column-span: 2; height: 8; }
    StepScreen.-narrow #panels { grid-rows: 1fr; }
    StepScreen.-narrow #output { column-span: 1; height: 1fr; }
    """

    shown: reactive[int] = reactive(0)

    def __init__(self, session: SteppingSession, actors: list[str], excerpt: Excerpt, where: str) -> None:
        super().__init__()
        self.session, self.actors, self.excerpt, self.where = session, actors, excerpt, where
        self.selected = actors[0]
        self.parked: dict[str, list[StopEvent]] = {a: [] for a in actors}  # oldest first
        self.until_close: set[str] = set()  # N: these programs run on to their next closing call
        self.free = False  # g: every program does
        self.actor_of: dict[int, str] = {}  # step number -> program
        self.events: list[Event] = []
        self.ended = ""  # why stepping is over (exited, detached, failed)

    def compose(self) -> ComposeResult:
        yield Static("", id="status", markup=False)
        yield Static("", id="tabs", markup=False)
        with Container(id="panels"):
            with Horizontal(id="actors", classes="panel -shown"):
                for actor in self.actors:
                    yield ActorLog(actor, id=f"actor-{actor}")
            yield KernelView(self.excerpt, id="kernel")
            yield PacketTable(id="packets")
            yield ActorLog("output", id="output", classes="panel")
        yield StepSockets(id="step-sockets")
        yield VerdictLine(id="verdict")
        yield KeysFooter(compact=True)

    @property
    def host(self) -> StepHost:
        return cast(StepHost, self.app)  # StepApp is the only app that shows this screen

    def on_mount(self) -> None:
        self.query_one("#output", ActorLog).border_title = "Output (the programs' stdout and stderr)"
        self.query_one(VerdictLine).show_text(HINT)
        self.watch_shown(self.shown)
        self.select(self.selected)
        self.host.start_session(self)

    def watch_shown(self, index: int) -> None:
        show_panel(self, PANELS, index)

    def log_of(self, actor: str) -> ActorLog:
        found = self.query(f"#actor-{actor}")
        if found:
            return found.first(ActorLog)
        self.actors.append(actor)
        self.parked.setdefault(actor, [])
        log = ActorLog(actor, id=f"actor-{actor}")
        self.query_one("#actors").mount(log)
        return log

    # -- the session's events ------------------------------------------------------------------
    @on(TraceEvents)
    def trace_events(self, m: TraceEvents) -> None:
        events = m.take()
        self.events.extend(events)
        packets = [e for e in events if isinstance(e, PacketEvent)]
        with self.app.batch_update():
            for e in events:
                self.show_event(e)
            if packets:
                self.query_one(PacketTable).add_packets(packets)
            self.update_status()

    # -- one method per kind of event, chosen by its type --------------------------------------
    @singledispatchmethod
    def show_event(self, e: Event) -> None:
        """Events without a view of their own here (packets go to the table in a batch)."""

    @show_event.register
    def show_sockets(self, e: SocketsEvent) -> None:
        self.query_one(StepSockets).show(e)

    @show_event.register
    def show_return(self, e: StepEvent) -> None:
        self.unparked_call(e)
        queue = self.parked.get(e.actor, [])
        queue[:] = [p for p in queue if p.step != e.step]  # it ran (a replay, or stepped elsewhere)
        failed = e.errno is not None
        self.log_of(e.actor).write(Text(f"     ↳ {printable(return_text(e))}", style="actorlog--error" if failed else ""))

    @show_event.register
    def show_epoll(self, e: EpollEvent) -> None:
        self.log_of(e.actor).add_epoll(e)

    @show_event.register
    def show_verdict(self, e: VerdictEvent) -> None:
        nxt = self.parked_closing()
        self.query_one(VerdictLine).show_verdict(e, then=parked_text(nxt) if nxt else "")
        self.query_one(KernelView).mark(
            predicted=predicted_path(nxt) if nxt else None,
            taken=list(e.path),
            note=f"step {e.step}: {e.branch} ({e.observed})",
        )
        held = "not observed (no packets)" if e.agree is None else f"{e.observed}, {'as' if e.agree else 'NOT as'} predicted"
        self.log_of(e.actor).add_note(NoteEvent(e.t, "info", f"verdict: {held}"))

    @show_event.register
    def show_counters(self, e: CountersEvent) -> None:
        text = "counters " + ", ".join(f"{k} +{v}" for k, v in e.deltas.items())
        self.log_of(self.actor_of.get(e.step, self.selected)).add_note(NoteEvent(e.t, "info", text))

    @show_event.register
    def show_output(self, e: OutputEvent) -> None:
        mark = ">" if e.stream == "stdout" else "!>"
        self.query_one("#output", ActorLog).write(Text(f"{e.actor}{mark} {printable(e.text)}"))

    @show_event.register
    def show_note(self, e: NoteEvent) -> None:
        self.query_one("#output", ActorLog).add_note(e)
        if e.level in ("warn", "error"):
            self.notify(printable(e.text), severity="warning" if e.level == "warn" else "error", markup=False)

    def unparked_call(self, e: StepEvent) -> None:
        """A call that never parked (a lab server's, --with-server): its line comes with its result."""
        if e.step in self.actor_of:
            return
        self.actor_of[e.step] = e.actor
        line = Text(f"[{e.step:>2}] ", style="actorlog--step")
        line.append(printable(f"{e.call}({args_text(e.args)})"))
        self.log_of(e.actor).write(line)

    @show_event.register
    def stopped(self, e: StopEvent) -> None:
        self.actor_of[e.step] = e.actor
        queue = self.parked.setdefault(e.actor, [])
        again = next((i for i, p in enumerate(queue) if p.step == e.step), None)
        log = self.log_of(e.actor)
        if again is not None:  # the same parked call, predicted anew after the wire changed
            queue[again] = e
            log.add_note(NoteEvent(e.t, "info", f"[{e.step}] prediction now: {prediction_words(e)}"))
            self.show_prediction(e)
            return
        line = Text(f"[{e.step:>2}] ", style="actorlog--step")
        line.append(printable(stop_text(e)))
        if e.tid != e.pid:
            line.append(f"  (thread {e.tid})", style="actorlog--note")
        log.write(line)
        closing = e.prediction is not None
        if closing:
            self.free = False
            self.until_close.discard(e.actor)
            self.show_prediction(e)
        elif self.free or e.actor in self.until_close:
            self.session.step(e.tid)
            return
        queue.append(e)

    def show_prediction(self, e: StopEvent) -> None:
        """A parked closing call: what it will send, before it runs (the kernel panel and the
        verdict line), and who else holds the socket."""
        preds = e.prediction or []
        self.query_one(KernelView).mark(
            predicted=predicted_path(e),
            note=f"step {e.step}: {', '.join(p['branch'] for p in preds) or 'no TCP socket'} predicted",
        )
        self.query_one(VerdictLine).show_text(parked_text(e))

    def parked_closing(self) -> StopEvent | None:
        """The selected program's parked closing call, else any program's."""
        order = [self.selected, *(a for a in self.parked if a != self.selected)]
        return next((p for a in order for p in self.parked.get(a, []) if p.prediction is not None), None)

    @on(KernelSourceFound)
    def kernel_source_found(self, m: KernelSourceFound) -> None:
        self.query_one(KernelView).set_excerpt(m.excerpt, m.notes)

    @on(TraceEnded)
    def trace_ended(self, m: TraceEnded) -> None:
        self.ended = f"stepping failed: {m.error}" if m.error else "stepping is over (the programs exited or were detached)"
        for queue in self.parked.values():
            queue.clear()
        self.query_one("#output", ActorLog).add_note(NoteEvent(0.0, "info", self.ended))
        self.update_status()
        self.refresh_bindings()

    # -- status and selection ------------------------------------------------------------------
    def update_status(self) -> None:
        text = status_text(self.where, self.parked, self.selected, self.free, self.until_close, self.ended)
        self.query_one("#status", Static).update(text, layout=False)

    def select(self, actor: str) -> None:
        self.selected = actor
        for log in self.query(ActorLog):
            if log.id != "output":
                log.border_title = Content(("▶ " if log.actor == actor else "") + log.actor.capitalize())
        self.log_of(actor).focus()
        self.update_status()

    def on_descendant_focus(self, event) -> None:  # noqa: ANN001 - textual's DescendantFocus
        w = event.widget
        if isinstance(w, ActorLog) and w.id != "output" and w.actor != self.selected:
            self.select(w.actor)

    # -- keys ----------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("run_one", "until_close", "go", "detach"):
            return None if self.ended else True
        return True

    def run_parked(self, actor: str) -> bool:
        queue = self.parked.get(actor) or []
        if not queue:
            return False
        self.session.step(queue.pop(0).tid)
        return True

    def action_run_one(self) -> None:
        if not self.run_parked(self.selected):
            self.notify(f"{self.selected} has no parked call (it is running or blocked in the kernel)", timeout=3)
        self.update_status()

    def action_until_close(self) -> None:
        self.until_close.add(self.selected)
        self.run_parked(self.selected)
        self.update_status()

    def action_go(self) -> None:
        self.free = True
        self.run_parked(self.selected)  # the selected program's closing call too: the user chose to go on
        for queue in self.parked.values():
            for e in [p for p in queue if p.prediction is None]:
                queue.remove(e)
                self.session.step(e.tid)
        self.update_status()

    def action_select(self, delta: int) -> None:
        i = self.actors.index(self.selected) if self.selected in self.actors else 0
        self.select(self.actors[(i + delta) % len(self.actors)])

    def action_detach(self) -> None:
        self.session.request_detach()
        self.notify("detaching: the programs run on untraced", timeout=4)

    def action_help(self) -> None:
        self.app.push_screen(StepHelp())

    def action_show(self, index: int) -> None:
        self.shown = index
        target = self.query_one(f"#{PANELS[index]}")
        (self.log_of(self.selected) if PANELS[index] == "actors" else target).focus()

    @on(PacketTable.Selected)
    def packet_selected(self, event: PacketTable.Selected) -> None:
        self.app.push_screen(TextScreen(*packet_text(event.packet, self.events)))
