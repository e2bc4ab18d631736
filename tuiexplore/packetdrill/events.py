"""What a script run says about each of its lines, on top of the contract's events
(``timeline``): one ``line`` event per script line when it has held, failed or been skipped."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from tuiexplore.timeline import Event, from_wire, to_wire


@dataclass(frozen=True)
class LineEvent(Event):
    """``ok``: True held, False failed (``text`` is packetdrill's ``FILE:LINE: ...`` message),
    None neither yet (a blocking call under way) or skipped (``text`` says which)."""

    type: ClassVar[str] = "line"
    step: int
    line: int
    source: str
    kind: str  # syscall, inject, expect, shell, code
    ok: bool | None
    text: str = ""
    # An injected line's own deltas of the namespace's TCP counters, when the run was asked for
    # them (compare): the kernel's account of what it did with the segment (TCPZeroWindowDrop).
    counters: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if not self.counters:
            del d["counters"]  # only where asked for: a plain run's lines are as they were
        return d


@dataclass(frozen=True)
class EndEvent(Event):
    """The run is over: ``status`` is packetdrill's exit status (0 every line held, 1 one failed)."""

    type: ClassVar[str] = "end"
    status: int


# The run process's first line, before it reads its options: a guest's transport waits for it.
READY = '{"ready": "packetdrill"}'

_OWN: dict[str, type[Event]] = {"line": LineEvent, "end": EndEvent}


def encode(event: Event) -> str:
    if type(event) in _OWN.values():
        return json.dumps({"type": event.type, **asdict(event)})
    return to_wire(event)


def decode(text: str) -> Event:
    d: dict[str, Any] = json.loads(text)
    kind = d.get("type")
    if kind in _OWN:
        d.pop("type")
        return _OWN[kind](**d)
    return from_wire(d)
