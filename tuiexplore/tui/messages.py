"""Typed messages from the lab's worker thread to the UI (posted, never called across threads)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tuiexplore.domain import ActorInventory, LabInfo, PredictionView, StepDone
from tuiexplore.kernel.excerpt import Excerpt
from tuiexplore.lab.receive_rules import UNKNOWN, ReceiveRules
from tuiexplore.session import FdModel
from tuiexplore.timeline import Event


@dataclass
class LabStarted(Message):
    info: LabInfo
    generation: int = 0  # which lab (see driver.Restart): late messages of an earlier one are dropped


@dataclass
class LabEvents(Message):
    """Every event that arrived in one read from the lab, in timeline order."""

    events: list[Event]
    generation: int = 0


@dataclass
class StepFinished(Message):
    done: StepDone | None
    origin: dict[int, str]  # step number -> where it came from
    models: dict[str, FdModel]  # copies: what each actor holds now
    cursor: int  # index of the scenario's next step
    prediction: list[PredictionView]  # for the scenario's next step, if it is a closing call
    sockets: dict[str, ActorInventory]  # the agent's inventory
    names: dict[int, str]  # pid -> process name (psutil), untrusted text
    generation: int = 0


@dataclass
class StepStarted(Message):
    step: int
    actor: str
    call: str
    origin: str  # "scenario" | "manual" | "server policy"
    say: str | None = None  # the scenario step's narration
    generation: int = 0


@dataclass
class LabFailed(Message):
    text: str
    cursor: int | None = None  # the scenario step really next, when a step in flight failed


@dataclass
class Busy(Message):
    """How many requests wait for the lab (0: idle)."""

    pending: int


@dataclass
class KernelSourceFound(Message):
    """The tcp_close source to show (the running kernel's, or the bundled one) and what it means."""

    excerpt: Excerpt
    notes: list[str]
    rules: ReceiveRules = UNKNOWN  # the lab's kernel's receive rules, as far as known
