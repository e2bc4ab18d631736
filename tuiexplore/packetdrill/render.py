"""A script run's events as transcript lines (untrusted text made safe for a terminal)."""

from __future__ import annotations

from tuiexplore.safetext import terminal
from tuiexplore.timeline import Event, NoteEvent, PacketEvent, StepEvent, VerdictEvent

from .events import EndEvent, LineEvent

MARKS = {True: "ok  ", False: "FAIL", None: "..  "}


def packet_text(e: PacketEvent) -> str:
    text = f"{e.flags or '-'} {e.seq}:{e.seq + e.len}({e.len})"
    if "." in e.flags:
        text += f" ack {e.ack}"
    text += f" win {e.win}"
    return text + (f" <{e.options}>" if e.options else "")


def what(call: str) -> str:
    """A verdict's subject: a closing call, or an injected segment (its receipt)."""
    return "segment" if call == "inject" else f"{call}()"


def verdict_head(e: VerdictEvent) -> str:
    held = {True: "held", False: "DID NOT HOLD", None: "not judged"}[e.agree]
    return f"{what(e.call)} -> {e.observed}, predicted {e.predicted} ({held}); branch {e.branch}"


def line(e: Event) -> str:
    if isinstance(e, LineEvent):
        out = f"{e.line:>5}  {MARKS[e.ok]}  {terminal(e.source)}"
        if e.text and e.ok is not False and e.kind != "syscall":
            out += f"    # {terminal(e.text)}"
        return out
    if isinstance(e, PacketEvent):
        who = "sent" if e.src == "local" else "injected"
        return f"{e.t:>10.6f}  {who:<8} {terminal(packet_text(e))}"
    if isinstance(e, VerdictEvent):
        out = f"{'':>10}  verdict  {verdict_head(e)}"
        out += f": {terminal(e.explanation)}"
        return out + (f"\n{'':>10}  advice   {terminal(e.advice)}" if e.advice else "")
    if isinstance(e, NoteEvent):
        return f"    #  {terminal(e.text)}"
    if isinstance(e, EndEvent):
        return (
            f"# {'every line held' if e.status == 0 else 'a line did not hold' if e.status == 1 else 'not run'} (exit {e.status})"
        )
    if isinstance(e, StepEvent):
        return ""
    return ""
