"""The explorer screen: step real syscalls by hand and watch FIN or RST happen.

It never touches the lab itself: the app's LabDriver thread owns it and posts typed messages
(LabStarted, StepStarted, LabEvents in batches, StepFinished) to this screen, each stamped with
the lab's generation. The screen keeps what it was told (models, origins) and pushes it down to
its widgets; key dimming needs no shared state.
"""

from __future__ import annotations

import platform
from functools import singledispatchmethod
from typing import Any

from textual import on
from textual.actions import parse
from textual.app import ComposeResult
from textual.containers import Container
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static

from tuiexplore.domain import LabInfo
from tuiexplore.kernel.excerpt import Excerpt
from tuiexplore.kernel.notes import running_unread_rule
from tuiexplore.reports.details import packet_text
from tuiexplore.reports.transcript import call_text
from tuiexplore.scenarios.scenario import Scenario
from tuiexplore.session import FdModel
from tuiexplore.timeline import Event, NoteEvent, PacketEvent, VerdictEvent
from tuiexplore.tui.actor_logs import ActorLogs
from tuiexplore.tui.autoplay import Autoplay
from tuiexplore.tui.bindings import EXPLORER_BINDINGS, PANELS
from tuiexplore.tui.commands import ActorCalls
from tuiexplore.tui.diagram import StateDiagram
from tuiexplore.tui.dialogs import DialogActions
from tuiexplore.tui.driver import LabDriver, Manual, Next, Restart, SeedLoop, UnreadRule
from tuiexplore.tui.footer import KeysFooter
from tuiexplore.tui.keys import manual_args
from tuiexplore.tui.messages import Busy, KernelSourceFound, LabEvents, LabFailed, LabStarted, StepFinished, StepStarted
from tuiexplore.tui.packets import PacketTable
from tuiexplore.tui.screens import TextScreen
from tuiexplore.tui.status import StatusLine
from tuiexplore.tui.widgets import ActorLog, KernelView, SocketsStrip, VerdictLine, printable

HINT = "Press n or space to run the next step · ? for help · o to open another scenario · s to let the server run the seed loop"


def show_panel(screen: Screen, panels: tuple[str, ...], index: int) -> None:
    """The panel a narrow terminal shows (the others hidden by the stylesheet) and its tab bar."""
    for i, name in enumerate(panels):
        for w in screen.query(f"#{name}"):
            w.set_class(i == index, "-shown")
    tabs = "  ".join(f"[{i + 1} {n.capitalize()}]" if i == index else f" {i + 1} {n.capitalize()} " for i, n in enumerate(panels))
    screen.query_one("#tabs", Static).update(tabs, layout=False)


class ExplorerScreen(DialogActions, Screen):
    BINDINGS = EXPLORER_BINDINGS
    COMMANDS = {ActorCalls}

    shown: reactive[int] = reactive(0)

    def __init__(self, scenario: Scenario, excerpt: Excerpt, autoplay: bool = False, pause_s: float = 2.0) -> None:
        super().__init__()
        self.scenario = scenario
        self.excerpt = excerpt
        self.autoplay = Autoplay(self, autoplay, pause_s)
        self.info: LabInfo | None = None
        self.models: dict[str, FdModel] = {}
        self.cursor = 0
        self.pending = 0
        self.events: list[Event] = []
        self.last_verdict: VerdictEvent | None = None
        self.seed = False  # the seed server loop, as last requested
        self.generation = 0  # of the lab whose messages count (see driver.Restart)
        self.problem = ""  # a background job that failed, for the status line
        self.lab_problem = ""  # the lab's death, which a fresh lab clears

    @property
    def driver(self) -> LabDriver:
        return self.app.driver

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield Static("", id="tabs", markup=False)
        with Container(id="panels"):
            yield ActorLogs(self.actor_names(), id="actors", classes="panel -shown")
            yield KernelView(self.excerpt, id="kernel")
            yield StateDiagram(self.actor_names(), id="diagram")  # after the kernel: it takes its grid cell
            yield PacketTable(id="packets")
            yield SocketsStrip(id="sockets")
        yield Static("", id="narration", markup=False)
        yield VerdictLine(id="verdict")
        yield KeysFooter(compact=True)

    def actor_names(self) -> list[str]:
        names = self.scenario.actors or []
        return list(dict.fromkeys([*(n for n in ("server", "client") if n in names or not names), *names]))

    def on_mount(self) -> None:
        self.query_one("#verdict", VerdictLine).show_text(HINT)
        self.query_one("#narration", Static).display = False
        self.watch_shown(self.shown)
        self.update_status()
        self.app.start_driver(self)

    @on(KernelSourceFound)
    def kernel_source_found(self, m: KernelSourceFound) -> None:
        self.excerpt = m.excerpt
        self.query_one(KernelView).set_excerpt(m.excerpt, m.notes)
        rule = running_unread_rule(m.excerpt, platform.release())
        if rule:
            self.driver.submit(UnreadRule(rule))

    def watch_shown(self, index: int) -> None:
        show_panel(self, PANELS, index)

    def update_status(self) -> None:
        self.query_one(StatusLine).show(
            self.scenario, self.cursor, self.info, self.pending, self.seed, self.problem, self.autoplay.every_s
        )

    # -- messages from the lab ---------------------------------------------------------------
    @on(LabStarted)
    def lab_started(self, m: LabStarted) -> None:
        if m.generation != self.generation:
            return
        self.info = m.info
        if self.problem == self.lab_problem:
            self.problem = ""  # a fresh lab: the old one's death is history
            self.app.error = ""
        self.update_status()

    @on(Busy)
    def busy(self, m: Busy) -> None:
        self.pending = m.pending
        self.update_status()
        if m.pending == 0:
            self.autoplay.schedule()

    @on(StepStarted)
    def step_started(self, m: StepStarted) -> None:
        if m.generation != self.generation:
            return
        logs = self.query_one(ActorLogs)
        logs.origin[m.step] = m.origin
        if m.origin == "scenario":
            text = m.say or f"{m.actor} {m.call}()"
            if m.say:
                logs.narrations[m.step] = m.say
            narration = self.query_one("#narration", Static)
            narration.update(Content(f"» step {m.step}: {printable(text)}"))
            narration.display = True

    @on(LabEvents)
    def lab_events(self, m: LabEvents) -> None:
        if m.generation != self.generation:
            return
        self.events.extend(m.events)
        packets = [e for e in m.events if isinstance(e, PacketEvent)]
        with self.app.batch_update():
            self.query_one(ActorLogs).add_events(m.events)
            for e in m.events:
                self.show_event(e)
            if packets:
                self.query_one(PacketTable).add_packets(packets)
            self.query_one(StateDiagram).add(self.events, m.events)

    # -- what the screen itself shows of an event, chosen by its type (the panels take theirs) --
    @singledispatchmethod
    def show_event(self, e: Event) -> None:
        """Nothing: the actors' lines, packets and states are in their panels."""

    @show_event.register
    def show_verdict(self, e: VerdictEvent) -> None:
        self.last_verdict = e
        self.query_one(VerdictLine).show_verdict(e)
        self.query_one(KernelView).mark(taken=list(e.path), note=f"step {e.step}: {e.branch} ({e.observed})")

    @show_event.register
    def show_note(self, e: NoteEvent) -> None:
        if e.level in ("warn", "error"):
            self.notify(printable(e.text), severity="warning" if e.level == "warn" else "error", markup=False)
        elif e.step is None:
            self.notify(printable(e.text), markup=False, timeout=6)

    @on(StepFinished)
    def step_finished(self, m: StepFinished) -> None:
        if m.generation != self.generation:
            return  # a result of a lab replaced since (r, o, autoplay's restart)
        if m.done is not None and not m.done.ok:
            self.notify(printable(f"step {m.done.step}: {m.done.message}"), severity="warning", markup=False)
        self.models, self.cursor = m.models, m.cursor
        self.query_one(ActorLogs).origin.update(m.origin)
        self.query_one(SocketsStrip).show(m.sockets, m.names)
        if m.prediction:
            p = m.prediction[0]
            nxt = self.scenario.steps[self.cursor]
            self.query_one(KernelView).mark(predicted=list(p.path), note=f"next: {p.branch} predicted ({p.outcome})")
            if m.done is None or not self.last_verdict or self.last_verdict.step != m.done.step:
                self.query_one(VerdictLine).show_text(
                    f"next: {nxt.actor} {call_text(nxt.call, nxt.args)} — predicted {p.outcome} [{p.branch}]: {p.text}"
                )
        self.update_status()
        self.refresh_keys()
        self.autoplay.schedule()

    def refresh_keys(self) -> None:
        """Refresh the footer only when a key's state changed: a refresh recomposes the Footer,
        which costs a full layout (tens of ms on a 2-core machine)."""
        state = tuple(self.check_action(*parse(b.action)[1:]) for b in self.BINDINGS)
        if state != getattr(self, "_key_state", None):
            self._key_state = state
            self.refresh_bindings()

    @on(LabFailed)
    def lab_failed(self, m: LabFailed) -> None:
        if m.cursor is not None:
            self.cursor = m.cursor  # the optimistic advance of n is taken back: that step did not run
        self.problem = self.lab_problem = f"the lab failed: {m.text}"
        self.update_status()
        self.app.error = m.text
        self.query_one(VerdictLine).show_text(f"The lab failed: {m.text}  (r restarts it)")
        self.notify(printable(m.text), severity="error", markup=False, timeout=10)

    # -- actions -----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return True if self.cursor < len(self.scenario.steps) else None
        if action == "manual":
            actor, call = parameters
            return True if manual_args(actor, call, self.models.get(actor, FdModel())) else None
        if action == "verdict":
            return True if self.last_verdict else None
        return True

    def action_next(self) -> None:
        if self.cursor < len(self.scenario.steps):
            self.cursor += 1  # optimistic: repeated presses queue the following steps
            self.driver.submit(Next())

    def action_manual(self, actor: str, call: str) -> None:
        real = manual_args(actor, call, self.models.get(actor, FdModel()))
        if real is not None:
            self.driver.submit(Manual(actor, *real))

    def action_autoplay(self) -> None:
        self.autoplay.toggle()

    def action_pace(self, delta: float) -> None:
        self.autoplay.pace(delta)

    def action_restart(self) -> None:
        self.restart()

    def restart(self, scenario: Scenario | None = None) -> None:
        """A fresh lab: from now on only its messages count (``generation``)."""
        self.generation += 1
        self.clear_panels()
        self.driver.submit(Restart(self.generation, scenario))

    def clear_panels(self) -> None:
        self.events.clear()
        self.models, self.cursor, self.last_verdict = {}, 0, None
        self.query_one(ActorLogs).clear()
        self.query_one(PacketTable).clear()
        self.query_one(PacketTable).packets.clear()
        self.query_one(SocketsStrip).clear()
        self.query_one(StateDiagram).show(self.events, self.actor_names())
        self.query_one(KernelView).mark()
        self.query_one(VerdictLine).show_text(HINT)
        self.query_one("#narration", Static).display = False
        self.seed = False
        self.refresh_keys()

    def action_seed(self) -> None:
        self.seed = not self.seed
        self.driver.submit(SeedLoop(self.seed))
        self.notify("seed server loop " + ("on: step the client, the server reacts" if self.seed else "off"), timeout=4)
        self.update_status()

    def action_show(self, index: int) -> None:
        self.shown = index
        target = self.query_one(f"#{PANELS[index]}")
        (target.query(ActorLog).first() if PANELS[index] == "actors" else target).focus()

    @on(PacketTable.Selected)
    def packet_selected(self, event: PacketTable.Selected) -> None:
        self.app.push_screen(TextScreen(*packet_text(event.packet, self.events)))

    def run_manual(self, actor: str, call: str, args: dict[str, Any]) -> None:
        """A call with explicit arguments (the command palette's entries)."""
        self.driver.submit(Manual(actor, call, args))
