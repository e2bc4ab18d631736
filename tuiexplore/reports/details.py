"""The detail texts: a verdict, a packet and the tcp_close_state() table, as plain text that the
explorer shows in a dialog and the CLI prints. The source lines of a verdict come from the
branch path it carries (``VerdictEvent.path``), never from a guess at which branches ran."""

from __future__ import annotations

from tuiexplore.kernel import receipt_source
from tuiexplore.kernel.excerpt import ELSEWHERE, Excerpt
from tuiexplore.lab.predict import CLOSE_STATE
from tuiexplore.reports.transcript import call_text
from tuiexplore.timeline import CountersEvent, Event, PacketEvent, StateEvent, StepEvent, VerdictEvent


def branch_lines(excerpt: Excerpt, path: tuple[str, ...] | list[str]) -> list[tuple[int, str]]:
    """(line number, code) of every branch on the path that is in the shown source."""
    numbers = sorted({n for b in path if b not in ELSEWHERE for n in excerpt.branches.get(b, [])})
    return [(n, excerpt.lines[n - excerpt.first_line].strip()) for n in numbers]


def elsewhere(path: tuple[str, ...] | list[str]) -> list[str]:
    """Where the code of branches outside tcp_close() is (shutdown, connect(AF_UNSPEC), ...)."""
    return [ELSEWHERE[b] for b in path if b in ELSEWHERE]


HELD = {True: "agree", None: "not observed (no packets)", False: "DISAGREE"}


def featured(verdicts: list[VerdictEvent]) -> VerdictEvent | None:
    """The verdict that answers the question: the newest FIN or RST, kept over later verdicts that
    sent nothing until its own actor makes another closing call (the seed loop's close(conn) ->
    none a moment after the client's RST does not hide it)."""
    shown = None
    for v in verdicts:
        if shown is None or v.observed != "none" or v.actor == shown.actor or shown.observed == "none":
            shown = v
    return shown


def verdict_list(verdicts: list[VerdictEvent], shown: VerdictEvent | None) -> list[str]:
    """Every verdict of the run, one line each, the one shown marked."""
    return [
        f"{'▶' if v is shown else ' '} step {v.step} {v.actor} {v.call}({v.fd}) → {v.observed} [{v.branch}]"
        + {True: "", None: "  NOT OBSERVED", False: "  DISAGREES"}[v.agree]
        for v in verdicts
    ]


def verdict_text(
    v: VerdictEvent, events: list[Event], excerpt: Excerpt, kernel_src: str | None = None, host: bool = True
) -> tuple[str, str]:
    lines = [
        v.explanation,
        "",
        f"predicted {v.predicted} via branch {v.branch}; observed {v.observed}; {HELD[v.agree]}",
        *(["", f"What to do: {v.advice}"] if v.advice else []),
        "",
        "Packets of this step:",
    ]
    lines += [f"  #{p.index} {p.src} > {p.dst}: {p.tcpdump()}" for p in events if isinstance(p, PacketEvent) and p.step == v.step]
    lines += ["", "State changes:"] + [
        f"  {s.actor} {s.fd}: {s.old} -> {s.new} ({s.source})" for s in events if isinstance(s, StateEvent) and s.step == v.step
    ]
    lines += ["", "Counters:"] + [
        f"  {k} {d:+d}" for c in events if isinstance(c, CountersEvent) and c.step == v.step for k, d in c.deltas.items()
    ]
    # a receipt's or a timer's function, else tcp_close: from the run's kernel's own tree (``kernel_src``;
    # ``host`` False: a guest's, never this machine's), else the bundled excerpt
    source = receipt_source.deciding(v.path, excerpt, kernel_src, host)
    lines += ["", f"Source ({source.origin}):"]
    lines += [f"  {where}" for where in elsewhere(v.path)]
    lines += [f"  {n}: {code}" for n, code in branch_lines(source, v.path)]
    every = [e for e in events if isinstance(e, VerdictEvent)]
    if len(every) > 1:
        lines += ["", "Every verdict of this run (▶ the one above):", *verdict_list(every, v)]
    return f"Verdict of step {v.step}", "\n".join(lines)


def packet_text(p: PacketEvent, events: list[Event]) -> tuple[str, str]:
    from scapy.layers import inet, inet6  # noqa: F401 - bind IP/IPv6/TCP under Ether for the dissection
    from scapy.layers.l2 import Ether

    dissection = Ether(p.raw).show(dump=True) or ""  # typed Optional: None is show() without dump
    why = [f"#{p.index} {p.src} > {p.dst} {p.sport} > {p.dport}: {p.tcpdump()}"]
    step = next((e for e in events if isinstance(e, StepEvent) and e.step == p.step), None)
    if step:
        why.append(f"Sent during step {step.step}: {step.actor} {call_text(step.call, step.args)}")
    verdict = next((e for e in events if isinstance(e, VerdictEvent) and e.step == p.step), None)
    if verdict and ("R" in p.flags or "F" in p.flags):
        why.append(f"Kernel branch: {verdict.branch} — {verdict.explanation}")
    return f"Packet #{p.index}", "\n".join(why) + "\n\n" + dissection


def table_text(ex: Excerpt) -> tuple[str, list[str]]:
    """tcp_close_state() and its new_state[] table from the source, else the model the predictor uses."""
    if ex.table:
        width = len(str(ex.table_first_line + len(ex.table)))
        body = [f"{ex.table_first_line + i:>{width}}   {line.expandtabs(4)}" for i, line in enumerate(ex.table)]
        return (
            f"tcp_close_state() and its transition table, {ex.table_first_line}-{ex.table_first_line + len(ex.table) - 1}",
            body,
        )
    body = [f"  {old:<12} -> {new:<10} {'send FIN' if fin else ''}" for old, (new, fin) in CLOSE_STATE.items()]
    return "no kernel source with tcp_close_state() was found; tuiexplore's model of its table:", body
