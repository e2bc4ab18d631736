"""The packet exchange as a ladder (sequence) diagram, the whiteboard picture of a teardown.

Plain text, one line per packet, one column per actor:

    step  client                                  server
     <8>  |------------- [S] seq 0 ---------------->|
     <8>  |<--------- [S.] seq 0 ack 1 -------------|
    <14>  |----------- [R.] seq 1 ack 2 ----------->|

On the relay's wire a segment the relay held or dropped stops halfway (``H``, ``X``); a release
draws the held one's second half at the step that delivered it; the other marks are in the label.
"""

from __future__ import annotations

from collections.abc import Iterable

from tuiexplore.reports import relaymarks
from tuiexplore.reports.transcript import call_text
from tuiexplore.timeline import DROPPED, HELD, Event, PacketEvent, StepEvent


def label(p: PacketEvent) -> str:
    mark = relaymarks.mark(p, {})  # as it was when the relay saw it: a release is a row of its own
    return " ".join([f"[{p.flags}]", *p.numbers(), *([f"({mark})"] if mark else [])])


STOPS = {HELD: "H", DROPPED: "X"}  # not delivered when seen: the arrow stops halfway


def actors_of(events: Iterable[Event]) -> list[str]:
    """Actors in order of appearance; '?' (a port no socket owns) last, if it speaks at all."""
    seen: dict[str, None] = {}
    for e in events:
        if isinstance(e, StepEvent):
            seen.setdefault(e.actor)
        elif isinstance(e, PacketEvent):
            seen.setdefault(e.src)
            seen.setdefault(e.dst)
    names = [a for a in seen if a != "?"]
    if "client" in names and "server" in names:  # as on the whiteboard: client left, server right
        names.remove("client")
        names.insert(0, "client")
    return names + (["?"] if "?" in seen else [])


def ladder(events: list[Event], width: int = 72, with_steps: bool = True) -> list[str]:
    """Lines of the diagram. With ``with_steps``, each step's syscall is written at its actor."""
    actors = actors_of(events)
    if len(actors) < 2:
        actors = [*actors, "?"] if actors else ["client", "server"]
    gutter = 6
    span = max(20, (width - gutter) // (len(actors) - 1)) if len(actors) > 1 else width - gutter
    cols = {a: gutter + i * span for i, a in enumerate(actors)}
    right = cols[actors[-1]]

    def lifelines() -> list[str]:
        row = [" "] * (right + 1)
        for c in cols.values():
            row[c] = "|"
        return row

    head = [" "] * (right + 12)
    head[:4] = list("step")
    for actor, c in cols.items():
        name = actor[: span - 2]
        start = max(5, min(c - len(name) // 2, len(head) - len(name)))
        head[start : start + len(name)] = list(name)
    out = ["".join(head).rstrip()]

    def arrow(p: PacketEvent, text: str, part: str, step: int | None) -> None:
        """One packet's arrow: ``part`` "whole", "first" (to halfway, the relay kept it) or
        "second" (from halfway: the relay delivered it later)."""
        a, b = cols.get(p.src, cols[actors[-1]]), cols.get(p.dst, cols[actors[-1]])
        row = lifelines()
        half = (a + b) // 2
        start, end = (half if part == "second" else a), (half if part == "first" else b)
        lo, hi = min(start, end), max(start, end)
        for x in range(lo + 1, hi):
            row[x] = "-"
        head = STOPS.get(p.relay, "?") if part == "first" else (">" if b > a else "<")
        row[end - 1 if end > start else end + 1] = head
        if part == "second":
            row[start] = STOPS[HELD]  # it went on from where it stopped
        text = f" {text} "
        mid = lo + 1 + max(1, (hi - lo - 1 - len(text)) // 2)
        if len(text) < hi - lo - 3:
            row[mid : mid + len(text)] = list(text)
        else:  # too long for the gap: write it after the rightmost lifeline
            row += list(f"  {text.strip()}")
        mark = f"<{step}>" if step is not None else ""
        out.append(f"{mark:>5}" + "".join(row)[5:].rstrip())

    def step_row(e: StepEvent) -> str:
        """A step's syscall, written at its actor's lifeline."""
        row = lifelines()
        text = f" {call_text(e.call, e.args)}"
        if e.errno:
            text += f" {e.errno}"
        c = cols[e.actor]
        if c < right:  # after its own lifeline, up to the next one
            room = span - 2
            text = text if len(text) <= room else text[: room - 1] + "…"
            row[c + 1 : c + 1 + len(text)] = list(text)
        elif len(text) < span // 2:  # the rightmost actor's: left of its lifeline, in its half
            row[c - len(text) - 1 : c - 1] = list(text)
        else:  # longer would reach into the other actor's half: after the lifeline instead
            row += list(f" {text}")
        return f"{'[' + str(e.step) + ']':>5}" + "".join(row)[5:].rstrip()

    packets = {e.index: e for e in events if isinstance(e, PacketEvent)}
    for e in events:
        if isinstance(e, PacketEvent):
            arrow(e, label(e), "first" if e.relay in STOPS else "whole", e.step)
        elif isinstance(e, StepEvent):
            if with_steps and e.actor in cols:
                out.append(step_row(e))
            for n in relaymarks.releases([e]):
                if n in packets:
                    arrow(packets[n], f"#{n} released", "second", e.step)
    return out
