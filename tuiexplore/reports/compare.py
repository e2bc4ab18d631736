"""Two runs side by side, aligned step by step, and the first point where their packets differ.

Steps are aligned by what they do (actor, call, arguments but the lab's port), so a step that
only one scenario has becomes a gap on the other side instead of shifting everything after it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from tuiexplore import safetext
from tuiexplore.reports.sources import SideSource, branch_code, branch_lines
from tuiexplore.reports.transcript import call_text, result_text
from tuiexplore.timeline import Event, PacketEvent, StepEvent, VerdictEvent


@dataclass
class Side:
    step: StepEvent | None
    packets: list[PacketEvent] = field(default_factory=list)
    verdict: VerdictEvent | None = None

    def text(self) -> str:
        if self.step is None:
            return ""
        return f"[{self.step.step}] {self.step.actor} {call_text(self.step.call, self.step.args)} {result_text(self.step)}"

    def wire(self) -> list[str]:
        """Each packet as "client F.", and what the relay did to it: "client F. (held)"."""
        return [f"{p.src} {p.flags}" + (f" ({p.relay})" if p.relay else "") for p in self.packets]


@dataclass
class Row:
    left: Side
    right: Side

    @property
    def one_sided(self) -> bool:
        return (self.left.step is None) != (self.right.step is None)

    @property
    def packets_differ(self) -> bool:
        return self.left.wire() != self.right.wire()

    def label(self, names: tuple[str, str] = ("left", "right")) -> str:
        """The row as the user sees it: its steps' own numbers, shown in brackets on each side
        ("step 11", "step 11 left, 12 right", "step 9, left only")."""
        n = [s.step.step if s.step else None for s in (self.left, self.right)]
        if n[0] == n[1]:
            return f"step {n[0]}"
        if None in n:
            i = 0 if n[1] is None else 1
            return f"step {n[i]}, {names[i]} only"
        return f"step {n[0]} {names[0]}, {n[1]} {names[1]}"


def _sides(events: list[Event]) -> list[Side]:
    sides = {e.step: Side(e) for e in events if isinstance(e, StepEvent)}
    for e in events:
        if isinstance(e, PacketEvent) and e.step in sides:
            sides[e.step].packets.append(e)
        elif isinstance(e, VerdictEvent) and e.step in sides:
            sides[e.step].verdict = e
    return [sides[k] for k in sorted(sides)]


def _signature(side: Side) -> tuple:
    s = side.step
    assert s is not None  # _sides() made one Side per step
    return s.actor, s.call, tuple(sorted((k, str(v)) for k, v in s.args.items() if k != "port"))


def align(left: list[Event], right: list[Event]) -> list[Row]:
    a, b = _sides(left), _sides(right)
    rows: list[Row] = []
    matcher = difflib.SequenceMatcher(a=[_signature(s) for s in a], b=[_signature(s) for s in b], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += [Row(a[i1 + k], b[j1 + k]) for k in range(i2 - i1)]
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        rows += [Row(a[i1 + k], b[j1 + k]) for k in range(paired)]
        rows += [Row(a[i], Side(None)) for i in range(i1 + paired, i2)]
        rows += [Row(Side(None), b[j]) for j in range(j1 + paired, j2)]
    return rows


def first_divergence(rows: list[Row]) -> int | None:
    """The first row where the wire differs (a step only one side has, with no packets, is not)."""
    return next((i for i, r in enumerate(rows) if r.packets_differ), None)


def verdicts_differ(r: Row) -> bool:
    lv, rv = r.left.verdict, r.right.verdict
    if lv is None or rv is None:
        return (lv is None) != (rv is None)
    return (lv.observed, lv.branch) != (rv.observed, rv.branch)


def verdict_rows(rows: list[Row]) -> list[int]:
    return [i for i, r in enumerate(rows) if r.left.verdict or r.right.verdict]


def focus_row(rows: list[Row]) -> int | None:
    """The verdict row the kernel panels open on: the first where the two sides decided
    differently (outcome or branch), else the last verdict."""
    found = verdict_rows(rows)
    return next((i for i in found if verdicts_differ(rows[i])), found[-1] if found else None)


def verdict_text(s: Side, src: SideSource | None) -> str:
    """``-> RST [branch]``, with that side's own lines for the branch (in tcp.c, or in the receipt
    or timer function it decides in) when its source is known."""
    if s.verdict is None:
        return ""
    where = branch_lines(src.deciding(s.verdict.path), s.verdict.path, s.verdict.branch) if src else ""
    return f"-> {s.verdict.observed} [{s.verdict.branch}{' ' + where if where else ''}]"


MIN_WIDTH, MAX_WIDTH = 40, 1000  # the columns the side-by-side text is laid out for ($COLUMNS is untrusted)


def text(
    rows: list[Row],
    names: tuple[str, str],
    width: int = 70,
    sources: tuple[SideSource, SideSource] | None = None,
    kernels: tuple[str, str] | None = None,
) -> list[str]:
    first = first_divergence(rows)
    names = (safetext.terminal(names[0]), safetext.terminal(names[1]))  # titles come from files
    half = (min(max(width, MIN_WIDTH), MAX_WIDTH) - 5) // 2  # a narrower terminal wraps the lines
    out = [f"   {names[0][:half]:<{half}} | {names[1][:half]}"]
    if kernels:
        lk, rk = (f"kernel: {safetext.terminal(k)}" for k in kernels)
        out.append(f"   {lk[:half]:<{half}} | {rk[:half]}")
    if sources:
        lo, ro = (f"branch lines: {safetext.terminal(src.tcp_close.origin)}" for src in sources)  # a path
        out.append(f"   {lo[:half]:<{half}} | {ro[:half]}")
    out.append(f"   {'-' * half}-+-{'-' * half}")
    for i, r in enumerate(rows):
        mark = ">> " if i == first else ("+  " if r.one_sided else "   ")
        out.append(f"{mark}{r.left.text()[:half]:<{half}} | {r.right.text()[:half]}")
        if r.left.packets or r.right.packets:
            lw, rw = "  ".join(r.left.wire()), "  ".join(r.right.wire())
            out.append(f"{mark}{('  ' + lw)[:half]:<{half}} | {('  ' + rw)[:half]}")
        if r.left.verdict or r.right.verdict:
            pair = sources or (None, None)
            lv, rv = ("  " + verdict_text(s, ex) if s.verdict else "" for s, ex in zip((r.left, r.right), pair, strict=True))
            out.append(f"{mark}{lv[:half]:<{half}} | {rv[:half]}")
    if first is None:
        out.append("   the two runs put the same packets on the wire")
    else:
        out.append(f">> first divergence on the wire: {rows[first].label()}")
    if sources:
        out += decision_text(rows, sources, kernels or ("left", "right"))
    return out


def decision_text(rows: list[Row], sources: tuple[SideSource, SideSource], kernels: tuple[str, str]) -> list[str]:
    """The focus row's deciding branch on each side, as that side's own source has it."""
    at = focus_row(rows)
    if at is None:
        return []
    r = rows[at]
    how = "the two sides decide differently" if verdicts_differ(r) else "the last verdict"
    out = [f"== {how} at {r.label()}; each side's branch in its own source:"]
    for side, src, kernel in zip((r.left, r.right), sources, kernels, strict=True):
        if side.verdict is None:
            out.append(f"   {safetext.terminal(kernel)}: no verdict at this step")
            continue
        ex = src.deciding(side.verdict.path)
        out.append(f"   {safetext.terminal(kernel)}: {side.text()} {verdict_text(side, src)}")
        if ex is not src.tcp_close:  # another file than the header's: say which
            out.append(f"     ({safetext.terminal(ex.function)}(), {safetext.terminal(ex.origin)})")
        out += [f"     {safetext.terminal(line)}" for line in branch_code(ex, side.verdict.path, side.verdict.branch)]
    return out
