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


Arrival = tuple[float, float]  # when, and the timeline position of what delivered it (for ties)


@dataclass
class Delivery:
    injected: set[int] = field(default_factory=set)  # packet numbers the scripted peer made
    arrivals: dict[int, list[Arrival]] = field(default_factory=dict)  # number -> its arrivals; absent: as sent

    def times(self, p: PacketEvent, order: float) -> list[Arrival]:
        return self.arrivals.get(p.index, [(p.t, order)])


def delivery(events: list[Event]) -> Delivery:
    out = Delivery()
    sent = {e.index: (e.t, float(i)) for i, e in enumerate(events) if isinstance(e, PacketEvent)}
    for i, e in enumerate(events):
        if isinstance(e, NoteEvent) and (m := _RELAY_NOTE.match(e.text)):
            what, ms, number = m.group(1), m.group(2), int(m.group(3))
            t, order = sent.get(number, (e.t, float(i)))
            if what == "inject":
                out.injected.add(number)
            elif what == "duplicate":
                out.arrivals[number] = [(t, order), (t, order)]
            elif ms is not None:
                out.arrivals[number] = [(t + int(ms) / 1000, order)]
            else:  # dropped, or held until a release below
                out.arrivals.setdefault(number, [])
        elif isinstance(e, StepEvent) and e.call == "release":
            for number in e.result.get("released", []):
                if isinstance(number, int):
                    out.arrivals[number] = [(e.t, i + 0.5)]  # after the release step's own line
    return out
