"""Every message on the lab's two pipes, typed; ``wire.encode`` and the decoders below are the
only (de)serialisers.

client (lab/client.py) --commands--> agent (lab/agent.py) --requests--> actor (lab/actor.py)
client <--replies + timeline events-- agent <--replies-- actor

Follow a step: ``Lab.step`` sends ``StepCmd``; ``Agent.dispatch`` runs it; the actor gets an
``ActorRequest`` and answers ``Returned``, ``Blocked`` (then later ``Returned``), ``Failed`` or
``Refused``; the agent streams the step's events and ends with ``Done``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from tuiexplore.domain import ActorInventory, LabInfo, PredictionView, SocketRow, StepDone
from tuiexplore.lab.codec import decoder
from tuiexplore.lab.receive_rules import UNKNOWN, ReceiveRules


# -- client -> agent -----------------------------------------------------------------------------
@dataclass(frozen=True)
class StepCmd:
    KIND: ClassVar[str] = "step"
    step: int
    actor: str
    call: str
    args: dict[str, Any]


@dataclass(frozen=True)
class PredictCmd:
    KIND: ClassVar[str] = "predict"
    id: int
    actor: str
    call: str
    args: dict[str, Any]


@dataclass(frozen=True)
class InspectCmd:
    KIND: ClassVar[str] = "inspect"
    id: int


@dataclass(frozen=True)
class PcapCmd:
    """The capture as pcap bytes, not a path: the agent may run in a guest whose root is the
    host's, read-only, so the lab client writes the file."""

    KIND: ClassVar[str] = "pcap"
    id: int


@dataclass(frozen=True)
class ConfigCmd:
    """Settings learnt after start: the unread-data rule and the receive rules, from the running
    kernel's source or a probe (each None: not known)."""

    KIND: ClassVar[str] = "config"
    id: int
    unread_rule: str | None
    rules: ReceiveRules = UNKNOWN


@dataclass(frozen=True)
class StatsCmd:
    KIND: ClassVar[str] = "stats"
    id: int


@dataclass(frozen=True)
class QuitCmd:
    KIND: ClassVar[str] = "quit"


Command = StepCmd | PredictCmd | InspectCmd | PcapCmd | ConfigCmd | StatsCmd | QuitCmd
decode_command = decoder(StepCmd, PredictCmd, InspectCmd, PcapCmd, ConfigCmd, StatsCmd, QuitCmd)


@dataclass(frozen=True)
class LabOptions:
    """The agent's command line (one JSON argument)."""

    KIND: ClassVar[str] = "options"
    actors: list[str] = field(default_factory=list)
    port: int | None = None
    no_tracer: bool = False
    unread_rule: str | None = None
    wire: str = "loopback"  # or "relay" (tuiexplore/relay/)
    sysctls: dict[str, int | str] = field(default_factory=dict)  # set in the lab's namespaces (lab/sysctl.py)
    rules: ReceiveRules = UNKNOWN  # where the kernel's receive path differs (rules_probe.py)


decode_options = decoder(LabOptions)


# -- agent -> client (control lines; events travel as timeline.to_wire lines) --------------------
@dataclass(frozen=True)
class Ready:
    KIND: ClassVar[str] = "ready"
    info: LabInfo


@dataclass(frozen=True)
class Fatal:
    """The lab cannot start or go on; the text is for the user."""

    KIND: ClassVar[str] = "error"
    text: str


@dataclass(frozen=True)
class Done:
    KIND: ClassVar[str] = "done"
    done: StepDone


@dataclass(frozen=True)
class Predictions:
    KIND: ClassVar[str] = "prediction"
    id: int
    predictions: list[PredictionView]


@dataclass(frozen=True)
class Inventory:
    KIND: ClassVar[str] = "sockets"
    id: int
    actors: dict[str, ActorInventory]


@dataclass(frozen=True)
class PcapWritten:
    KIND: ClassVar[str] = "pcap"
    id: int
    frames: int = 0
    error: str = ""
    data: str = ""  # the pcap file, base64 (JSON lines carry no bytes)


@dataclass(frozen=True)
class Stats:
    KIND: ClassVar[str] = "stats"
    id: int
    frames: int
    drops: int


@dataclass(frozen=True)
class Configured:
    KIND: ClassVar[str] = "config"
    id: int


Reply = Ready | Fatal | Done | Predictions | Inventory | PcapWritten | Stats | Configured
decode_reply = decoder(Ready, Fatal, Done, Predictions, Inventory, PcapWritten, Stats, Configured)


def reply_key(msg: Reply) -> Any:
    """What a waiting request matches a reply by: the step number, the request id, or the kind."""
    if isinstance(msg, Done):
        return ("done", msg.done.step)
    if isinstance(msg, (Ready, Fatal)):
        return msg.KIND
    return ("id", msg.id)


# -- agent -> actor ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ActorRequest:
    """One syscall (or ``inspect``: the inventory only). ``block_s``: how long the call may stay
    in the kernel before the actor answers ``Blocked``."""

    KIND: ClassVar[str] = "request"
    id: int
    call: str
    args: dict[str, Any] = field(default_factory=dict)
    block_s: float = 1.0


decode_request = decoder(ActorRequest)


# -- actor -> agent ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Returned:
    """The syscall returned: ``ret`` (-1 with ``errno`` on a syscall error)."""

    KIND: ClassVar[str] = "returned"
    id: int
    ret: int
    errno: str | None
    result: dict[str, Any]
    t0: float
    t1: float
    sockets: list[SocketRow] = field(default_factory=list)


@dataclass(frozen=True)
class Blocked:
    """Still in the kernel after ``block_s``; a ``Returned`` with the same id follows if it ends."""

    KIND: ClassVar[str] = "blocked"
    id: int
    t0: float


@dataclass(frozen=True)
class Failed:
    """The actor could not perform the request (bad arguments, an exception): not a syscall error."""

    KIND: ClassVar[str] = "failed"
    id: int
    message: str
    t0: float
    t1: float
    sockets: list[SocketRow] = field(default_factory=list)


@dataclass(frozen=True)
class Refused:
    """Not started: the actor is still blocked in an earlier request."""

    KIND: ClassVar[str] = "refused"
    id: int
    busy_with: int  # the id of the request still in the kernel


@dataclass(frozen=True)
class Sockets:
    KIND: ClassVar[str] = "inventory"
    id: int
    pid: int
    sockets: list[SocketRow]


ActorReply = Returned | Blocked | Failed | Refused | Sockets
decode_actor_reply = decoder(Returned, Blocked, Failed, Refused, Sockets)
