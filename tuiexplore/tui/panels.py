"""The explorer's panels and the two lines under them (narration, verdict), drawn from what the
screen hands over: the screen keeps the state and decides, these functions only put it on its
widgets. Also the narrow terminal's one shown panel, which the stepper's screen shares."""

from __future__ import annotations

from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from tuiexplore.domain import PredictionView
from tuiexplore.reports.transcript import call_text
from tuiexplore.scenarios.scenario import Step
from tuiexplore.timeline import Event, PacketEvent
from tuiexplore.tui.actor_logs import ActorLogs
from tuiexplore.tui.bindings import EXPLORER_BINDINGS
from tuiexplore.tui.diagram import StateDiagram
from tuiexplore.tui.kernel_view import KernelView
from tuiexplore.tui.keyhelp import spoken
from tuiexplore.tui.packets import PacketTable
from tuiexplore.tui.widgets import ActorLog, SocketsStrip, VerdictLine, printable, relayout

# {binding id}: its keys in force (keyhelp.spoken)
HINT = (
    "Press {next} to run the next step · {help} for help · {open} to open another scenario · "
    "{seed} to let the server run the seed loop"
)
PLAYING = (
    "Playing: a step every {every} s · {autoplay} pauses (then {next} steps by hand) · "
    "{slower} and {faster} change the pace · {help} for help"
)


def show_panel(screen: Screen, panels: tuple[str, ...], index: int) -> None:
    """The panel a narrow terminal shows (the others hidden by the stylesheet) and its tab bar."""
    for i, name in enumerate(panels):
        for w in screen.query(f"#{name}"):
            w.set_class(i == index, "-shown")
    tabs = "  ".join(f"[{i + 1} {n.capitalize()}]" if i == index else f" {i + 1} {n.capitalize()} " for i, n in enumerate(panels))
    screen.query_one("#tabs", Static).update(tabs, layout=False)


def show_hint(screen: Screen, every_s: float | None = None) -> None:
    """The lines under the panels before the first step: no narration, the keys to start with
    (``every_s``: autoplay's pause while it plays, when the keys to start with are others)."""
    text = HINT if every_s is None else PLAYING.replace("{every}", f"{every_s:g}")
    screen.query_one(VerdictLine).show_text(spoken(screen.app, EXPLORER_BINDINGS, text))
    screen.query_one("#narration", Static).display = False


def narrate(screen: Screen, step: int, text: str) -> None:
    narration = screen.query_one("#narration", Static)
    narration.update(Content(f"» step {step}: {printable(text)}"), layout=False)
    narration.display = True
    relayout(narration)  # one line or two: its height follows the text


def add_events(screen: Screen, timeline: list[Event], batch: list[Event]) -> None:
    """``batch``, the newest part of ``timeline``, to the actors, packets and diagram panels (the
    sockets panel is redrawn from each step's result instead)."""
    screen.query_one(ActorLogs).add_events(batch)
    table = screen.query_one(PacketTable)
    if packets := [e for e in batch if isinstance(e, PacketEvent)]:
        table.add_packets(packets)
    table.add_releases(batch)
    screen.query_one(StateDiagram).add(timeline, batch)


def show_prediction(screen: Screen, p: PredictionView, nxt: Step, on_verdict_line: bool) -> None:
    """The next step's predicted branch on the kernel panel, and said on the verdict line unless
    that line is to keep the verdict of the step just done; then the panel keeps that verdict's
    marks too, until the next step starts (a wait's timer lines would otherwise be gone at once)."""
    note = f"next: {p.branch} predicted ({p.outcome})"
    screen.query_one(KernelView).expect(list(p.path), note, keep=not on_verdict_line)
    if on_verdict_line:
        screen.query_one(VerdictLine).show_text(
            f"next: {nxt.actor} {call_text(nxt.call, nxt.args)} — predicted {p.outcome} [{p.branch}]: {p.text}"
        )


def clear_panels(screen: Screen, actors: list[str], every_s: float | None = None) -> None:
    """Every panel and line as before the first step (the diagram drawn for ``actors``)."""
    screen.query_one(ActorLogs).clear()
    screen.query_one(PacketTable).clear()
    screen.query_one(SocketsStrip).reset()
    screen.query_one(StateDiagram).show([], actors)
    screen.query_one(KernelView).mark()
    show_hint(screen, every_s)


async def replace_actors(screen: Screen, actors: list[str]) -> None:
    """Another scenario's actors panel, its first log focused."""
    screen.set_focus(None)  # focus on a removed panel would cut the app's keys off
    await screen.query_one(ActorLogs).replace(actors)
    screen.query(ActorLog).first().focus()
