"""What the relay's wire did to each segment, read from a timeline: the one place the packet
list, the transcript and the ladder take their marks from.

A packet event says what the relay did when it saw the segment (``PacketEvent.relay``: held,
dropped, duplicated, delayed, injected); a ``release`` step's result names the held ones it
delivered (``{"released": [4, 6]}``). A held segment is held until such a step names it.
"""

from __future__ import annotations

from collections.abc import Iterable

from tuiexplore.timeline import HELD, Event, PacketEvent, StepEvent


def releases(events: Iterable[Event]) -> dict[int, int]:
    """Packet number -> the step whose release delivered it."""
    out: dict[int, int] = {}
    for e in events:
        if isinstance(e, StepEvent) and e.call == "release" and e.ret == 0:
            for n in e.result.get("released", ()):
                if isinstance(n, int):  # "?": a frame not in the list yet (topology.number)
                    out[n] = e.step
    return out


def mark(p: PacketEvent, released: dict[int, int]) -> str:
    """The packet's mark in words, "" for a segment the wire passed on as it came."""
    if p.relay == HELD:
        step = released.get(p.index)
        return f"held #{p.index}" if step is None else f"#{p.index} released <{step}>"
    return p.relay


def suffix(p: PacketEvent, released: dict[int, int]) -> str:
    """The mark at the end of a packet's line in a transcript, "" without one."""
    text = mark(p, released)
    return f"  [relay: {text}]" if text else ""


def still_held(events: list[Event]) -> list[PacketEvent]:
    """The segments the relay holds now, in the order it took them."""
    released = releases(events)
    return [e for e in events if isinstance(e, PacketEvent) and e.relay == HELD and e.index not in released]
