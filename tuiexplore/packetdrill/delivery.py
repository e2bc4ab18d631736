"""When each captured segment reached its receiver, from what the timeline says the wire did.

On loopback every segment arrives as it is sent. On the relay's wire (tuiexplore/relay/) a
segment may be dropped, held until a ``release`` step, delayed, duplicated, or made by the
scripted peer; the lab says so in its notes (``relay: drop #4 (client F.)``, numbered as the
packet list numbers packets) and a release step lists the packets it delivered. A written
script injects only what its socket's kernel really received, when it received it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tuiexplore.timeline import Event, NoteEvent, PacketEvent, StepEvent

# relay/topology.py's RelayWire.notes: "relay: {what} #{number} ({from side} {flags})"
_RELAY_NOTE = re.compile(r"^relay: (inject|drop|hold|duplicate|delay (\d+) ms) #(\d+) ")


@dataclass
class Delivery:
    injected: set[int] = field(default_factory=set)  # packet numbers the scripted peer made
    arrivals: dict[int, list[float]] = field(default_factory=dict)  # number -> times it arrived; absent: as sent

    def times(self, p: PacketEvent) -> list[float]:
        return self.arrivals.get(p.index, [p.t])


def delivery(events: list[Event]) -> Delivery:
    out = Delivery()
    sent = {e.index: e.t for e in events if isinstance(e, PacketEvent)}
    for e in events:
        if isinstance(e, NoteEvent) and (m := _RELAY_NOTE.match(e.text)):
            what, ms, number = m.group(1), m.group(2), int(m.group(3))
            t = sent.get(number, e.t)
            if what == "inject":
                out.injected.add(number)
            elif what == "duplicate":
                out.arrivals[number] = [t, t]
            elif ms is not None:
                out.arrivals[number] = [t + int(ms) / 1000]
            else:  # dropped, or held until a release below
                out.arrivals.setdefault(number, [])
        elif isinstance(e, StepEvent) and e.call == "release":
            for number in e.result.get("released", []):
                if isinstance(number, int):
                    out.arrivals[number] = [e.t]
    return out
