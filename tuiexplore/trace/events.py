"""What the tracer reports (raw stops, for the Stepper), and the timeline events only a traced
program has: a parked syscall and the program's own output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from tuiexplore.timeline import EVENT_TYPES, EpollEvent, Event, StepEvent


@dataclass(frozen=True)
class StopEvent(Event):
    """A task parked at a syscall entry. ``ret`` is None here; the ``step`` event with the same
    step number carries the return value at the call's exit."""

    type: ClassVar[str] = "stop"
    step: int
    actor: str
    pid: int
    tid: int
    call: str
    args: dict[str, Any]
    ret: int | None = None
    socket: dict[str, Any] | None = None  # the fd's socket: 4-tuple, state, inode
    prediction: list[dict[str, Any]] | None = None  # closing calls: one per socket affected


@dataclass(frozen=True)
class OutputEvent(Event):
    """A line the program wrote (escaped): programs never write to the terminal themselves."""

    type: ClassVar[str] = "output"
    actor: str
    pid: int
    stream: str  # "stdout" | "stderr"
    text: str


@dataclass(frozen=True)
class SocketsEvent(Event):
    """A program's sockets now (after a stop, a return, a packet), when they changed: each with
    ``fd``, ``kind``, ``local``, ``remote``, ``state``, ``recv_q`` (unread) and ``unsent``. An
    empty list once the process is gone."""

    type: ClassVar[str] = "sockets"
    actor: str
    pid: int
    sockets: list[dict[str, Any]]


def call_events(t: float, step: int, actor: str, call: str, args: dict, ret: int, err: str | None, result: dict) -> list[Event]:
    """A call that returned: its ``step`` event, and an ``epoll`` event per fd an epoll call reported."""
    out: list[Event] = [StepEvent(t, step, actor, call, args, ret, err, result)]
    if call.startswith("epoll"):
        out += [EpollEvent(t, step, actor, str(e["fd"]), e["events"], e["mask"]) for e in result.get("ready", [])]
    return out


def register_wire_types() -> None:
    """Let timeline.from_wire rebuild these too (the lab child's pipe, trace/child.py)."""
    for cls in (StopEvent, OutputEvent, SocketsEvent):
        EVENT_TYPES.setdefault(cls.type, cls)


# -- the tracer's raw reports (tracer thread -> Stepper) ------------------------------------------
@dataclass(frozen=True)
class Started:
    t: float
    actor: str
    pid: int
    argv: list[str]
    stdout: int
    stderr: int


@dataclass(frozen=True)
class Parked:
    """A task stopped at the entry of a network-relevant call; it runs on at resume(tid)."""

    t: float
    actor: str
    pid: int
    tid: int
    call: str
    args: dict
    raw: tuple[int, ...]


@dataclass(frozen=True)
class Returned:
    t: float
    actor: str
    pid: int
    tid: int
    call: str
    ret: int
    errno: str | None
    result: dict


@dataclass(frozen=True)
class Exited:
    t: float
    actor: str
    pid: int
    status: str  # "exit 0", "killed by SIGKILL"


@dataclass(frozen=True)
class TraceNote:
    t: float
    level: str
    text: str


TraceEvent = Started | Parked | Returned | Exited | TraceNote
