"""One script on two kernels, line by line: where the two runs part, and what each kernel did.

Each side is a run's events (``client.ScriptRun``) folded onto the script's lines: whether the
line held, the segments the kernel sent (on the ``>`` line that took each, else on the line that
was running), a closing call's verdict with the branch its kernel took, and an injected line's
counters. The runs *part* at the first line where they differ in what the kernel decided: the
line held on one and failed (or was never reached) on the other, the kernel sent other segments
(flags, sequence, acknowledgment, length: a window alone is not a decision, it follows each
machine's memory), or a closing call took another branch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tuiexplore.safetext import terminal
from tuiexplore.timeline import Event, NoteEvent, PacketEvent, VerdictEvent

from .events import EndEvent, LineEvent
from .render import MARKS, packet_text
from .script import Script, TcpPacket

TIMED_OUT = "timed out waiting for packet"  # the runner's failure of a > line that took no segment


@dataclass
class LineRun:
    """One script line on one kernel; ``ok`` None: not reached (or a blocking call never judged)."""

    ok: bool | None = None
    text: str = ""
    sent: list[PacketEvent] = field(default_factory=list)
    verdicts: list[VerdictEvent] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)  # an injected line's (LineEvent.counters)

    def own(self, other: LineRun) -> str:
        """The counters that moved otherwise than on the other kernel: the kernel's own names for
        what it did with the segment (TcpExt.TCPZeroWindowDrop). Shown, never a parting by
        themselves: fast-path counters differ between lines that decide alike."""
        moved = {k: v for k, v in sorted(self.counters.items()) if other.counters.get(k) != v}
        return ", ".join(f"{k} {v:+d}" for k, v in moved.items())

    def decision(self) -> tuple[object, ...]:
        """A verdict's branch is the one its kernel took only when the prediction held: one that
        did not hold says only what the kernel sent."""
        shapes = tuple((p.flags, p.seq, p.len, p.ack) for p in self.sent)
        return self.ok, shapes, tuple((v.observed, v.branch if v.agree is not False else None) for v in self.verdicts)

    def took(self) -> list[str]:
        """The branch each verdict's kernel took, as the summary says it."""
        return [
            f"{v.call}() took {v.branch}" if v.agree is not False else f"{v.call}() -> {v.observed}, not the predicted {v.branch}"
            for v in self.verdicts
        ]

    def shown(self) -> tuple[object, ...]:
        sent, verdicts = tuple(packet_text(p) for p in self.sent), tuple(_verdict(v) for v in self.verdicts)
        return self.ok, self.text, sent, verdicts, tuple(sorted(self.counters.items()))


@dataclass
class SideRun:
    where: str  # "host Linux 6.18.44", "guest Linux 6.1.176 (...)"
    lines: list[LineRun]  # one per script event, in order
    status: int = 2
    notes: list[str] = field(default_factory=list)


def collect(script: Script, where: str, events: Iterable[Event]) -> SideRun:
    side = SideRun(where, [LineRun() for _ in script.events])
    sent: list[PacketEvent] = []
    for e in events:
        if isinstance(e, LineEvent) and 1 <= e.step <= len(side.lines):
            line = side.lines[e.step - 1]
            line.ok, line.text, line.counters = e.ok, e.text, e.counters or line.counters
        elif isinstance(e, PacketEvent) and e.src == "local" and e.step and 1 <= e.step <= len(side.lines):
            sent.append(e)
        elif isinstance(e, VerdictEvent) and 1 <= e.step <= len(side.lines):
            side.lines[e.step - 1].verdicts.append(e)
        elif isinstance(e, NoteEvent) and e.level in ("warn", "error"):
            side.notes.append(e.text)
        elif isinstance(e, EndEvent):
            side.status = e.status
    _place(script, side, sent)
    return side


def _place(script: Script, side: SideRun, sent: list[PacketEvent]) -> None:
    """Each ``>`` line takes the next segment the kernel sent, as the runner's cursor does. A
    segment a timer sent (a delayed ACK) comes in while whichever line is running, which differs
    between a fast machine and a slow guest; the ``>`` line that took it does not. The others
    stay with the line that was running when they came (``PacketEvent.step``)."""
    rest = list(sent)
    for ev, line in zip(script.events, side.lines, strict=True):
        expect = isinstance(ev.action, TcpPacket) and not ev.action.inbound
        if expect and line.ok is not None and rest and TIMED_OUT not in line.text:
            line.sent.append(rest.pop(0))
    for p in rest:
        assert p.step is not None  # collect() keeps only segments sent during a line
        side.lines[p.step - 1].sent.append(p)
    for line in side.lines:
        line.sent.sort(key=lambda p: p.t)


def parting(a: SideRun, b: SideRun) -> int | None:
    """The index of the first line where the two kernels decided differently, None: nowhere."""
    return next((i for i, (x, y) in enumerate(zip(a.lines, b.lines, strict=True)) if x.decision() != y.decision()), None)


def _verdict(v: VerdictEvent) -> str:
    return f"{v.call}() -> {v.observed} [{v.branch}]: {v.explanation}"


def _state(line: LineRun) -> str:
    return "not reached" if line.ok is None and not line.text else MARKS[line.ok].strip() or ".."


def _details(line: LineRun, indent: str, other: LineRun | None = None) -> list[str]:
    out = [f"{indent}sent {terminal(packet_text(p))}" for p in line.sent]
    out += [f"{indent}{terminal(_verdict(v))}" for v in line.verdicts]
    if other is not None and line.own(other):
        out.append(f"{indent}counters {line.own(other)}")
    if line.ok is False:
        out.append(f"{indent}{terminal(line.text)}")
    return out


STATUS = {0: "every line held", 1: "a line did not hold", 2: "not run"}


def text(script: Script, path: str, a: SideRun, b: SideRun) -> list[str]:
    """The comparison for a terminal: each line once where both kernels did the same, both
    sides where they did not (``<<`` marks the first parting), then where and why they part."""
    names = {"A": a, "B": b}
    out = [f"# {terminal(path)} on two kernels"]
    for name, side in names.items():
        out.append(f"#   {name}: {terminal(side.where)}: {STATUS.get(side.status, 'not run')} (exit {side.status})")
        out += [f"#      {name} note: {terminal(n)}" for n in side.notes]
    part = parting(a, b)
    for i, ev in enumerate(script.events):
        x, y = a.lines[i], b.lines[i]
        mark = "  <<" if i == part else ""
        if x.shown() == y.shown():
            out.append(f"{ev.line:>5}  {_state(x):<11} {terminal(ev.source)}")
            out += _details(x, " " * 19)
            continue
        out.append(f"{ev.line:>5}  {'':<11} {terminal(ev.source)}{mark}")
        for (name, side), other in zip(names.items(), (y, x), strict=True):
            line = side.lines[i]
            first = _details(line, "", other)[:1]
            out.append(f"{'':>7}{name} {_state(line):<9} {first[0] if first else ''}".rstrip())
            out += _details(line, " " * 19, other)[1:]
    out += summary(script, a, b)
    return out


def summary(script: Script, a: SideRun, b: SideRun) -> list[str]:
    part = parting(a, b)
    if part is None:
        return ["== the two kernels decided alike on every line"]
    ev = script.events[part]
    said = []
    x, y = a.lines[part], b.lines[part]
    for name, line, other in (("A", x, y), ("B", y, x)):
        what = [f"sent {packet_text(p)}" for p in line.sent] + line.took()
        what += [f"counters {line.own(other)}"] if line.own(other) else []
        said.append(f"{name} {_state(line)}" + (f", {'; '.join(what)}" if what else ", sent nothing"))
    out = [terminal(f"== the runs part at line {ev.line} ({ev.source.strip()}): {' | '.join(said)}")]
    # The segment the kernels took otherwise may have come a line before the one where they
    # part (a dropped FIN shows at the > line after it, when a prediction did not hold): the
    # nearest earlier injected line whose counters moved otherwise says so in the kernels' own
    # words, with the branch each took there. The parting line's own are said above.
    for i in range(part - 1, -1, -1):
        x, y = a.lines[i], b.lines[i]
        if x.counters != y.counters:
            e = script.events[i]
            own = f"A {_own(x, y)} | B {_own(y, x)}"
            out.append(terminal(f"   the kernels' own counters differ at line {e.line} ({e.source.strip()}): {own}"))
            break
    return out


def _own(line: LineRun, other: LineRun) -> str:
    return "; ".join([*line.took(), *([line.own(other)] if line.own(other) else [])]) or "nothing else"
