"""The explorer screen: step real syscalls by hand and watch FIN or RST happen.

It never touches the lab itself: the app's LabDriver thread owns it and posts typed messages
(LabStarted, StepStarted, LabEvents in batches, StepFinished) to this screen, each stamped with
the lab's generation. The screen keeps what it was told (models, origins) and pushes it down to
its widgets (``panels.py`` draws it); key dimming needs no shared state. Its report dialogs and
export are functions of that state in ``dialogs.py``, opened by the screen's own actions.
"""

from __future__ import annotations

import platform
from functools import partial, singledispatchmethod
from typing import Any, Protocol, cast

from textual import on
from textual.actions import parse
from textual.app import ComposeResult
from textual.containers import Container
from textual.message_pump import MessagePump
from textual.reactive import reactive
from textual.widgets import Static

from tuiexplore.domain import LabInfo
from tuiexplore.kernel.excerpt import Excerpt
from tuiexplore.kernel.notes import running_unread_rule
from tuiexplore.lab.receive_rules import ReceiveRules
from tuiexplore.reports.details import featured, packet_text
from tuiexplore.room import NO_ROOM, Room
from tuiexplore.scenarios.scenario import Scenario
from tuiexplore.session import FdModel
from tuiexplore.timeline import Event, NoteEvent, VerdictEvent
from tuiexplore.tui.actor_logs import ActorLogs
from tuiexplore.tui.autoplay import Autoplay
from tuiexplore.tui.bindings import EXPLORER_BINDINGS, PANELS
from tuiexplore.tui.commands import ActorCalls
from tuiexplore.tui.diagram import StateDiagram, toggle_diagram
from tuiexplore.tui.dialogs import DIALOGS, export_bundle
from tuiexplore.tui.driver import KernelRules, LabDriver, Manual, Next, Restart, SeedLoop
from tuiexplore.tui.footer import KeysFooter
from tuiexplore.tui.frames import PromptFrames
from tuiexplore.tui.kernel_view import KernelView
from tuiexplore.tui.keyhelp import spoken
from tuiexplore.tui.keys import manual_args
from tuiexplore.tui.messages import Busy, KernelSourceFound, LabEvents, LabFailed, LabStarted, StepFinished, StepStarted
from tuiexplore.tui.packets import PacketTable
from tuiexplore.tui.panels import add_events, clear_panels, narrate, replace_actors, show_hint, show_panel, show_prediction
from tuiexplore.tui.quiz import QuizCommands, QuizKeeper, QuizLine
from tuiexplore.tui.recorded import recording_to_file, stop
from tuiexplore.tui.screens import ScenarioPicker, TextScreen
from tuiexplore.tui.status import StatusLine
from tuiexplore.tui.widgets import ActorLog, SocketsStrip, VerdictLine, printable
from tuiexplore.unread_probe import known as probed_unread_rule


class ExplorerHost(Protocol):
    """What this screen asks of its app (app.ExplorerApp, which imports this module)."""

    driver: LabDriver | None
    error: str
    kernel_src: str | None  # --kernel-src, or the guest line's tree
    transport: object | None  # how a guest's lab is reached; None: the lab runs on this machine

    def start_driver(self, target: MessagePump) -> None: ...


class ExplorerScreen(PromptFrames):
    BINDINGS = [*EXPLORER_BINDINGS]
    COMMANDS = {ActorCalls, QuizCommands}

    shown: reactive[int] = reactive(0)

    def __init__(
        self, scenario: Scenario, excerpt: Excerpt, autoplay: bool = False, pause_s: float = 2.0, room: Room = NO_ROOM
    ) -> None:
        super().__init__()
        self.scenario = scenario
        self.excerpt = excerpt
        self.autoplay = Autoplay(self, autoplay, pause_s, room.once)
        self.quiz = QuizKeeper(self, room.quiz, room.lessons)
        self.info: LabInfo | None = None
        self.models: dict[str, FdModel] = {}
        self.cursor = 0
        self.pending = 0
        self.events: list[Event] = []
        self.verdicts: list[VerdictEvent] = []
        self.last_verdict: VerdictEvent | None = None  # the one shown: reports.details.featured()
        self.seed = False  # the seed server loop, as last requested
        self.generation = 0  # of the lab whose messages count (see driver.Restart)
        self.problem = ""  # a background job that failed, for the status line
        self.lab_problem = ""  # the lab's death, which a fresh lab clears

    @property
    def host(self) -> ExplorerHost:
        return cast(ExplorerHost, self.app)  # ExplorerApp is the only app that shows this screen

    @property
    def source_place(self) -> tuple[str | None, bool]:
        """Where the run's kernel's other functions are read (receipt_source.deciding): its tree
        (--kernel-src, a guest line's), and whether this machine's trees may be looked in (not for
        a guest's kernel)."""
        return self.host.kernel_src, self.host.transport is None

    @property
    def driver(self) -> LabDriver:
        driver = self.host.driver
        assert driver is not None, "the driver starts as the screen mounts"
        return driver

    # -- layout ------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield Static("", id="tabs", markup=False)
        with Container(id="panels"):
            yield ActorLogs(self.actor_names(), id="actors", classes="panel -shown")
            yield KernelView(self.excerpt, self.host.kernel_src, host=self.host.transport is None, id="kernel")
            yield StateDiagram(self.actor_names(), id="diagram")  # after the kernel: it takes its grid cell
            yield PacketTable(id="packets")
            yield SocketsStrip(id="sockets")
        yield Static("", id="narration", markup=False)
        yield VerdictLine(id="verdict")
        yield QuizLine(id="quiz")
        yield KeysFooter(compact=True)

    def actor_names(self) -> list[str]:
        names = self.scenario.actors or []
        return list(dict.fromkeys([*(n for n in ("server", "client") if n in names or not names), *names]))

    def on_mount(self) -> None:
        show_hint(self, self.autoplay.every_s)
        self.watch_shown(self.shown)
        self.quiz.show()
        self.update_status()
        self.host.start_driver(self)

    @on(KernelSourceFound)
    def kernel_source_found(self, m: KernelSourceFound) -> None:
        self.excerpt = m.excerpt
        self.query_one(KernelView).set_excerpt(m.excerpt, m.notes)
        # Else what a probe found for the lab's own kernel release (unread_probe.py; a guest's is not the host's).
        rule = running_unread_rule(m.excerpt, platform.release()) or (
            probed_unread_rule(self.info.release) if self.info else None
        )
        if rule or m.rules != ReceiveRules():
            self.driver.submit(KernelRules(rule, m.rules))

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
            self.host.error = ""
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
        self.query_one(KernelView).show_expected()  # the step that was predicted (or another) runs now
        logs = self.query_one(ActorLogs)
        logs.origin[m.step] = m.origin
        if m.origin == "scenario":
            if m.say:
                logs.narrations[m.step] = m.say
            narrate(self, m.step, m.say or f"{m.actor} {m.call}()")

    @on(LabEvents)
    def lab_events(self, m: LabEvents) -> None:
        if m.generation != self.generation:
            return
        self.events.extend(m.events)
        with self.app.batch_update():
            add_events(self, self.events, m.events)
            for e in m.events:
                self.show_event(e)

    # -- what the screen itself shows of an event, chosen by its type (the panels take theirs) --
    @singledispatchmethod
    def show_event(self, e: Event) -> None:
        """Nothing: the actors' lines, packets and states are in their panels."""

    @show_event.register
    def show_verdict(self, e: VerdictEvent) -> None:
        self.verdicts.append(e)
        v = self.last_verdict = featured(self.verdicts) or e  # never None: e is in the list
        newer = (
            ""
            if v is e
            else f"newer: step {e.step} {e.actor} {e.call}({e.fd}) → {e.observed} [{e.branch}] · v lists every verdict"
        )
        self.query_one(VerdictLine).show_verdict(v, then=newer)
        self.query_one(KernelView).mark(taken=list(v.path), note=f"step {v.step}: {v.branch} ({v.observed})")

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
            just_judged = m.done is not None and self.verdicts and self.verdicts[-1].step == m.done.step
            nxt = self.scenario.steps[self.cursor]
            if not self.quiz.hides(nxt, on_verdict_line=not just_judged):  # a quiz shows it after the answer
                show_prediction(self, m.prediction[0], nxt, on_verdict_line=not just_judged)
        self.quiz.step_finished(m)
        self.update_status()
        self.refresh_keys()
        self.autoplay.schedule()

    def refresh_keys(self) -> None:
        """Refresh the footer only when a key's state changed: a refresh recomposes the Footer,
        which costs a full layout (tens of ms on a 2-core machine)."""
        state = tuple(self.check_action(*parse(b.action)[1:]) for b in EXPLORER_BINDINGS)
        if state != getattr(self, "_key_state", None):
            self._key_state = state
            self.refresh_bindings()

    @on(LabFailed)
    def lab_failed(self, m: LabFailed) -> None:
        if m.cursor is not None:
            self.cursor = m.cursor  # the optimistic advance of n is taken back: that step did not run
        self.problem = self.lab_problem = f"the lab failed: {m.text}"
        self.update_status()
        self.host.error = m.text
        restart = spoken(self.app, EXPLORER_BINDINGS, "{restart}")
        self.query_one(VerdictLine).show_text(f"The lab failed: {m.text}  ({restart} restarts it)")
        self.notify(printable(m.text), severity="error", markup=False, timeout=10)

    # -- actions -----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return True if self.cursor < len(self.scenario.steps) else None
        if action == "manual":
            actor, call = map(str, parameters)
            return True if manual_args(actor, call, self.models.get(actor, FdModel())) else None
        if action == "dialog" and parameters == ("verdict",):
            return True if self.last_verdict else None
        if action == "quiz_answers":
            return self.quiz.on
        if action == "stop_recording":  # not with --once: nobody at the keys (an unattended recording)
            return recording_to_file(self.app) and not self.autoplay.once
        return True

    def action_next(self) -> None:
        if self.cursor < len(self.scenario.steps) and not self.quiz.holds():
            self.cursor += 1  # optimistic: repeated presses queue the following steps
            self.driver.submit(Next())

    def action_manual(self, actor: str, call: str) -> None:
        real = manual_args(actor, call, self.models.get(actor, FdModel()))
        if real is not None:
            self.driver.submit(Manual(actor, *real))

    def action_autoplay(self) -> None:
        self.autoplay.toggle()
        self.hint_again()

    def action_pace(self, delta: float) -> None:
        self.autoplay.pace(delta)
        self.hint_again()

    def hint_again(self) -> None:
        """Before the first step the hint names the keys of the mode the explorer is in."""
        if self.cursor == 0 and not self.events:
            show_hint(self, self.autoplay.every_s)

    def action_restart(self) -> None:
        self.quiz.reset()
        self.restart()

    def action_back(self) -> None:
        """Step back: a fresh lab replays the scenario up to the step before the last one."""
        target = max(0, self.cursor - 1)
        self.restart()
        for _ in range(target):
            self.action_next()

    def restart(self, scenario: Scenario | None = None) -> None:
        """A fresh lab: from now on only its messages count (``generation``)."""
        self.generation += 1
        self.events.clear()
        self.models, self.cursor, self.last_verdict, self.seed = {}, 0, None, False
        self.quiz.restarted()
        self.verdicts.clear()
        clear_panels(self, self.actor_names(), self.autoplay.every_s)
        self.refresh_keys()
        self.driver.submit(Restart(self.generation, scenario))

    def action_seed(self) -> None:
        self.seed = not self.seed
        self.driver.submit(SeedLoop(self.seed))
        self.notify("seed server loop " + ("on: step the client, the server reacts" if self.seed else "off"), timeout=4)
        self.update_status()

    def action_show(self, index: int) -> None:
        self.shown = index
        target = self.query_one(f"#{PANELS[index]}")
        (target.query(ActorLog).first() if PANELS[index] == "actors" else target).focus()

    def action_diagram(self) -> None:
        toggle_diagram(self, partial(self.action_show, PANELS.index("diagram")))

    def action_dialog(self, name: str) -> None:
        """A report in a dialog (``dialogs.DIALOGS``), if it has anything to show yet."""
        if (dialog := DIALOGS[name](self)) is not None:
            self.app.push_screen(dialog)

    def action_export(self) -> None:
        if notice := export_bundle(self):
            self.notify(notice.text, severity=notice.severity, timeout=notice.timeout, markup=False)

    def action_open(self) -> None:
        async def chosen(scn: object) -> None:
            if isinstance(scn, Scenario):  # None: the picker was closed without a choice
                self.quiz.reset()
                await self.load_scenario(scn)

        self.app.push_screen(ScenarioPicker(), chosen)

    async def load_scenario(self, scn: Scenario) -> None:
        """Another scenario in a fresh lab (o, the quiz's next lesson)."""
        self.scenario = scn
        self.restart(scn)
        await replace_actors(self, self.actor_names())
        self.update_status()

    def action_quiz_answers(self) -> None:
        self.quiz.answers()

    def action_stop_recording(self) -> None:
        if said := stop(self.app):
            self.notify(said, timeout=6)
            self.refresh_keys()

    @on(PacketTable.Selected)
    def packet_selected(self, event: PacketTable.Selected) -> None:
        self.app.push_screen(TextScreen(*packet_text(event.packet, self.events)))

    def action_wait_timer(self) -> None:
        self.run_manual("lab", "wait", {})  # the lab's own step, like a scenario's wait

    def run_manual(self, actor: str, call: str, args: dict[str, Any]) -> None:
        """A call with explicit arguments (the command palette's entries)."""
        self.driver.submit(Manual(actor, call, args))
