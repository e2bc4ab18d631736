"""The packet exchange as a ladder (sequence) diagram, the whiteboard picture of a teardown.

Plain text, one line per packet, one column per actor:

    step  client                                  server
     <8>  |------------- [S] seq 0 ---------------->|
     <8>  |<--------- [S.] seq 0 ack 1 -------------|
    <14>  |----------- [R.] seq 1 ack 2 ----------->|
"""

from __future__ import annotations

from collections.abc import Iterable

from tuiexplore.reports.transcript import call_text
from tuiexplore.timeline import Event, PacketEvent, StepEvent


def label(p: PacketEvent) -> str:
    return " ".join([f"[{p.flags}]", *p.numbers()])


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
    for e in events:
        if isinstance(e, PacketEvent):
            a, b = cols.get(e.src, cols[actors[-1]]), cols.get(e.dst, cols[actors[-1]])
            row = lifelines()
            lo, hi = min(a, b), max(a, b)
            for x in range(lo + 1, hi):
                row[x] = "-"
            if b > a:
                row[hi - 1] = ">"
            else:
                row[lo + 1] = "<"
            text = f" {label(e)} "
            mid = lo + 1 + max(1, (hi - lo - 1 - len(text)) // 2)
            if len(text) < hi - lo - 3:
                row[mid : mid + len(text)] = list(text)
            else:  # too long for the gap: write it after the rightmost lifeline
                row += list(f"  {text.strip()}")
            step = f"<{e.step}>" if e.step is not None else ""
            out.append(f"{step:>5}" + "".join(row)[5:].rstrip())
        elif isinstance(e, StepEvent) and with_steps and e.actor in cols:
            row = lifelines()
            text = f" {call_text(e.call, e.args)}"
            if e.errno:
                text += f" {e.errno}"
            c = cols[e.actor]
            room = span - 2
            text = text if len(text) <= room else text[: room - 1] + "…"
            start = c + 1 if c < right else max(gutter + 1, c - len(text) - 1)
            row[start : start + len(text)] = list(text)
            out.append(f"{'[' + str(e.step) + ']':>5}" + "".join(row)[5:].rstrip())
    return out
