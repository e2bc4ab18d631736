"""A plain-text transcript of a timeline, for pasting into a bug report.

Syscalls with their results, interleaved with tcpdump-style packet lines, state changes, epoll
results, counter deltas and verdicts, in timeline order. Payload bytes arrive already escaped by
the actor (printable ASCII, else \\xNN); every other text from a file or the lab goes through
:func:`safetext.terminal`, so a transcript can be printed on a terminal as it is.
"""

from __future__ import annotations

from typing import Any

from tuiexplore import safetext
from tuiexplore.domain import LabInfo
from tuiexplore.lab.calls import CALLS, LAB_CALLS
from tuiexplore.reports import relaymarks
from tuiexplore.timeline import (
    CountersEvent,
    EpollEvent,
    Event,
    NoteEvent,
    PacketEvent,
    StateEvent,
    StepEvent,
    TimersEvent,
    VerdictEvent,
)


def call_text(call: str, args: dict[str, Any]) -> str:
    spec = CALLS.get(call)
    parts = []
    for a in spec.args if spec else ():
        v = args.get(a.name)
        if v is None or a.kind == "new" or (v == a.default and a.kind not in ("fd", "ep")):
            continue
        parts.append(str(v) if a.kind in ("fd", "ep") else f"{a.name}={_value(v)}")
    return safetext.terminal(f"{call}({', '.join(parts)})")


def _value(v: Any) -> str:
    if isinstance(v, list):
        return "|".join(map(str, v)) if all(isinstance(x, str) for x in v) else "[" + ", ".join(map(str, v)) + "]"
    if isinstance(v, str):
        return repr(v)
    return str(v)


def result_text(e: StepEvent) -> str:
    if e.result.get("blocked"):
        return "... blocked (still in the kernel)"
    if e.result.get("failed"):
        where = "" if e.call in LAB_CALLS else " in the actor"
        return safetext.terminal(f"failed{where}: {e.result.get('message', '')}")
    if e.result.get("refused"):
        return safetext.terminal(f"refused: {e.result.get('message', '')}")
    if e.ret is None:
        return safetext.terminal(f"not performed: {e.result.get('message', '')}")
    text = f"= {e.ret}"
    if e.errno:
        text += safetext.terminal(f" {e.errno} ({e.result.get('message', '')})")
    if "fd" in e.result and e.call in ("socket", "accept", "epoll_create"):
        text += f" [{safetext.terminal(e.result['fd'])}]"
    if e.call == "read" and e.ret and e.ret > 0:
        data = safetext.terminal(e.result.get("data", ""))
        text += f' "{data[:40]}"' + ("..." if len(data) > 40 else "")
    if e.call == "release":
        text += " released " + (", ".join(f"#{n}" for n in e.result.get("released", ())) or "nothing")
    if "blocked_s" in e.result:
        text += f" after {e.result['blocked_s']:.2f} s in the kernel"
    return text


def line(e: Event) -> str:
    """One event as text; a verdict takes two lines, three with its advice."""
    return "\n".join(safetext.terminal(part) for part in _line(e).split("\n"))


def _line(e: Event) -> str:
    t = f"{e.t:8.4f}"
    if isinstance(e, StepEvent):
        return f"{t}  [{e.step:>2}] {e.actor:<8} {call_text(e.call, e.args)} {result_text(e)}"
    if isinstance(e, PacketEvent):
        mark = f"<{e.step}>" if e.step is not None else "   "
        relay = relaymarks.suffix(e, {})  # as the relay saw it: its release is a step of its own
        return f"{t}  {mark:>4} {e.src} > {e.dst} {e.sport} > {e.dport}: {e.tcpdump()}{relay}"
    if isinstance(e, StateEvent):
        return f"{t}       state    {e.actor} {e.who()}: {e.old} -> {e.new} ({e.source})"
    if isinstance(e, EpollEvent):
        return f"{t}       epoll    {e.actor} {e.fd}: {'|'.join(e.events)} (events: {e.mask})"
    if isinstance(e, CountersEvent):
        return f"{t}       counters " + ", ".join(f"{k} {v:+d}" for k, v in e.deltas.items())
    if isinstance(e, VerdictEvent):
        mark = "agrees" if e.agree else "NOT OBSERVED (no packets)" if e.agree is None else "DISAGREES"
        seen = "nothing" if e.agree is None else e.observed
        return (
            f"{t}  VERDICT step {e.step}: {e.actor} {e.call}({e.fd}) predicted {e.predicted} [{e.branch}], "
            f"observed {seen} - {mark}\n{'':10}{e.explanation}" + (f"\n{'':10}advice: {e.advice}" if e.advice else "")
        )
    if isinstance(e, NoteEvent):
        return f"{t}       {e.level}: {e.text}"
    if isinstance(e, TimersEvent):
        pending = "; ".join(f"{p['actor']} {p['fd']} ({p['state']}): {p['text']}" for p in e.timers)
        return f"{t}       timers   {pending or 'none pending any more'}"
    return f"{t}  {e.to_json()}"


def header(name: str, title: str, summary: str, info: LabInfo) -> list[str]:
    mode = "root, private netns" if info.mode == "root" else "unprivileged, user+network namespace"
    trace = "tracepoints on" if info.tracepoints else "tracepoints off"
    kernel = info.where or f"kernel {info.release}"
    wire = " · relay wire (server and client in two namespaces)" if info.wire == "relay" else ""
    out = [f"# {name}: {title}", f"# {kernel} · lab port {info.port} · {mode} · {trace}{wire}"]
    if info.sysctls:
        out.append("# lab sysctls: " + ", ".join(f"{k} = {v}" for k, v in info.sysctls.items()))
    out += [f"# {s}" for s in summary.splitlines()]  # a multi-line summary stays a comment
    return [safetext.terminal(h) for h in out]


def where_note(info: LabInfo) -> NoteEvent:
    """For the JSON stream: the lab did not run on this host's kernel."""
    return NoteEvent(0.0, "info", f"the lab ran in a {info.where}, not on this host's kernel", None)
