"""The typed events every view consumes: one ordered timeline, kernel -> evidence -> view.

``to_json()`` gives exactly the contract's JSON Lines shape (shared/README.md); fields that the
contract does not name (raw frame bytes, explanations) stay on the dataclass for the views.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from tuiexplore.lab.codec import to_data
from tuiexplore.safetext import json_line
from tuiexplore.tcpdump import frame_options


@dataclass(frozen=True)
class Event:
    type: ClassVar[str] = "event"
    internal: ClassVar[tuple[str, ...]] = ()
    t: float

    def to_dict(self) -> dict[str, Any]:
        d = {"type": self.type, **to_data(self)}
        for k in self.internal:
            d.pop(k, None)
        d["t"] = round(self.t, 6)
        return d

    def to_json(self) -> str:
        return json_line(self.to_dict())


@dataclass(frozen=True)
class StepEvent(Event):
    """A syscall an actor made: its arguments, its return value or errno, and its result (new fd name, bytes read, ...)."""

    type: ClassVar[str] = "step"
    step: int
    actor: str
    call: str
    args: dict[str, Any]
    ret: int | None
    errno: str | None
    result: dict[str, Any]


@dataclass(frozen=True)
class EpollEvent(Event):
    """What epoll_wait reported for one fd: the event names and the hex mask."""

    type: ClassVar[str] = "epoll"
    step: int
    actor: str
    fd: str
    events: list[str]
    mask: str


# PacketEvent.relay's words, as the relay writes them (relay/relay.py) and the views read them
# (reports/relaymarks.py); a delay is "delayed N ms".
HELD, DROPPED, DUPLICATED, INJECTED = "held", "dropped", "duplicated", "injected"


@dataclass(frozen=True)
class PacketEvent(Event):
    """A TCP segment on the wire: from/to (actor names, or "?"), ports, tcpdump's flags, relative
    seq/ack, length, window, options; on the relay's wire what the relay did to it (relay, when it
    did more than pass it on: held, dropped, duplicated, delayed N ms, injected)."""

    type: ClassVar[str] = "packet"
    internal: ClassVar[tuple[str, ...]] = ("raw", "index")
    src: str
    dst: str
    sport: int
    dport: int
    flags: str
    seq: int
    ack: int
    len: int
    win: int
    step: int | None = None
    index: int = 0
    raw: bytes = b""
    options: str = ""  # tcpdump's "options [...]" text; added to the contract, older streams lack it
    # What the relay's wire did with the segment when it saw it: "held", "dropped", "duplicated",
    # "delayed 300 ms", or "injected" (the scripted peer's own); "" passed on as it came. Added to
    # the contract, only on the packets it names (loopback's never have it).
    relay: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["from"], d["to"] = d.pop("src"), d.pop("dst")
        if d["step"] is None:
            del d["step"]
        if not d["relay"]:
            del d["relay"]
        return d

    def numbers(self, seq_ack: tuple[int, int] | None = None) -> list[str]:
        """seq and ack as tcpdump prints them: a range for data, seq alone for SYN/FIN/RST;
        ``seq_ack`` gives other numbers (the absolute ones of -S)."""
        seq, ack = seq_ack or (self.seq, self.ack)
        parts = []
        if self.len:
            parts.append(f"seq {seq}:{(seq + self.len) & 0xFFFFFFFF}")
        elif "S" in self.flags or "F" in self.flags or "R" in self.flags:
            parts.append(f"seq {seq}")
        if "." in self.flags:
            parts.append(f"ack {ack}")
        return parts

    def tcpdump(self, options: bool = True, seq_ack: tuple[int, int] | None = None) -> str:
        """The packet in tcpdump's words (relative sequence numbers unless ``seq_ack``)."""
        opts = [f"options [{self.options}]"] if options and self.options else []
        return ", ".join([f"Flags [{self.flags}]", *self.numbers(seq_ack), f"win {self.win}", *opts, f"length {self.len}"])


@dataclass(frozen=True)
class StateEvent(Event):
    """A socket moved from one TCP state to another; ``source``: ``tracepoint`` or ``tcp_info``."""

    type: ClassVar[str] = "state"
    internal: ClassVar[tuple[str, ...]] = ("listener",)
    actor: str
    fd: str
    old: str
    new: str
    source: str
    step: int | None = None
    listener: str | None = None  # for a connection not accepted yet (fd "?"): whose accept queue holds it

    def who(self) -> str:
        """The socket in words: its fd name, or whose new connection it is while nobody accepted it."""
        return f"{self.listener}'s new connection (not accepted yet)" if self.listener else self.fd

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if d["step"] is None:
            del d["step"]
        return d


UNOBSERVED = "unobserved"  # a verdict's ``observed`` where there was no evidence (no capture)


@dataclass(frozen=True)
class VerdictEvent(Event):
    """What a closing call did (FIN, RST or none) against what was predicted, with the kernel branch, RST reason and counters."""

    type: ClassVar[str] = "verdict"
    internal: ClassVar[tuple[str, ...]] = ("explanation", "path")
    step: int
    actor: str
    fd: str
    call: str
    predicted: str
    observed: str
    branch: str
    rst_reason: str | None
    counters: dict[str, int]
    agree: bool | None  # None: not observed (UNOBSERVED: no packets to judge by), neither held nor not
    explanation: str = ""
    # The branches the prediction went through, in order (predict.py ids): the one source the
    # kernel panel, the verdict dialog and the transcript mark lines from.
    path: tuple[str, ...] = ()
    # What to change in the program that made the call (lab/advice.py); added to the contract,
    # older streams lack it.
    advice: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", tuple(self.path))  # a list when read back from the wire


@dataclass(frozen=True)
class CountersEvent(Event):
    """The kernel counters a step changed (nonzero deltas only, e.g. ``TcpExt.TCPAbortOnClose``)."""

    type: ClassVar[str] = "counters"
    step: int
    deltas: dict[str, int]


@dataclass(frozen=True)
class NoteEvent(Event):
    """A message about the run (``info``, ``warn``, ``error``), e.g. why tracepoints are unavailable."""

    type: ClassVar[str] = "note"
    level: str
    text: str
    step: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if d["step"] is None:
            del d["step"]
        return d


@dataclass(frozen=True)
class TimersEvent(Event):
    """The lab sockets' pending timers after a step, from the kernel (sock_diag), soonest first:
    each with `actor`, `fd`, `state`, `kind`, `due_ms` and `text` (e.g. "FIN retransmission due in
    204 ms"). Sent after a step that leaves one pending, and (empty) after the step that saw the
    last one go; added to the contract, older streams lack it."""

    type: ClassVar[str] = "timers"
    step: int
    timers: list[dict[str, Any]]


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls for cls in (StepEvent, EpollEvent, PacketEvent, StateEvent, VerdictEvent, CountersEvent, NoteEvent, TimersEvent)
}


def to_wire(event: Event) -> str:
    """Everything, internal fields included, for the agent -> client pipe."""
    d = to_data(event)
    d["type"] = event.type
    if isinstance(event, PacketEvent):
        d["raw"] = event.raw.hex()
    return json.dumps(d)


def from_wire(d: dict[str, Any]) -> Event:
    d = dict(d)
    cls = EVENT_TYPES[d.pop("type")]
    if cls is PacketEvent:
        d["raw"] = bytes.fromhex(d.get("raw", ""))
        d.setdefault("options", frame_options(d["raw"]))  # a stream recorded before options existed
    return cls(**d)
