"""A session bundle for a write-up: the pcap, the JSON Lines timeline, a Markdown transcript
(syscalls, packets in tcpdump notation, verdicts with the source lines of their branch, the
ladder diagram), the session as a packetdrill script and an SVG screenshot of the explorer
showing the same run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tuiexplore import safetext, statedraw
from tuiexplore.domain import LabInfo
from tuiexplore.files import write_file
from tuiexplore.kernel import receipt_source
from tuiexplore.kernel.excerpt import Excerpt
from tuiexplore.lab.sysctl import full_name
from tuiexplore.outputs import BUNDLE
from tuiexplore.packetdrill import writer
from tuiexplore.reports import relaymarks
from tuiexplore.reports.details import branch_lines, elsewhere
from tuiexplore.reports.ladder import ladder
from tuiexplore.reports.transcript import call_text, header, line, result_text
from tuiexplore.scenarios.scenario import Scenario
from tuiexplore.timeline import Event, PacketEvent, StepEvent, VerdictEvent

FILES = (*BUNDLE, "session.cast")  # session.cast: what a terminal showed, so the explorer's ctrl+e only


def markdown(
    scn: Scenario, info: LabInfo, events: list[Event], excerpt: Excerpt, kernel_src: str | None = None, host: bool = True
) -> str:
    """``kernel_src``, ``host``: where the run's kernel's other functions are read (details.verdict_text)."""
    md, code = safetext.markdown, safetext.md_code  # titles, names and results come from files and the lab
    out = [f"# {md(scn.title)}", "", md(scn.summary), ""]
    out += [f"- {md(h.lstrip('# '))}" for h in header(scn.name, scn.title, "", info)[1:]]
    out += ["", "## Steps", "", "| step | actor | call | result |", "| ---: | --- | --- | --- |"]
    for e in events:
        if isinstance(e, StepEvent):
            out.append(f"| {e.step} | {md(e.actor)} | {code(call_text(e.call, e.args))} | {code(result_text(e))} |")
    out += ["", "## Packets (tcpdump notation, relative numbers)", ""]
    released = relaymarks.releases(events)
    packets = [
        f"<{p.step}> {p.src} > {p.dst} {p.sport} > {p.dport}: {p.tcpdump()}{relaymarks.suffix(p, released)}"
        for p in events
        if isinstance(p, PacketEvent)
    ]
    out += [*safetext.md_fence(packets), "", "## Verdicts", ""]
    verdicts = [v for v in events if isinstance(v, VerdictEvent)]
    if not verdicts:
        out.append("No closing call in this run.")
    for v in verdicts:
        mark = {True: "the prediction held", None: "not observed: no packets"}.get(
            v.agree, "**the kernel disagreed with the prediction**"
        )
        head = f"### Step {v.step}: {md(v.actor)} {code(f'{v.call}({v.fd})')} → {v.observed} ({mark})"
        out += [head, "", md(v.explanation), ""]
        if v.advice:
            out += [f"**What to do:** {md(v.advice)}", ""]
        source = receipt_source.deciding(v.path, excerpt, kernel_src, host)  # a receipt's or a timer's, else tcp_close
        for where in elsewhere(v.path):
            out += [f"Not in {md(source.origin)}: {md(where)}.", ""]
        lines = branch_lines(source, v.path)
        if lines:
            out += [f"Branch {code(v.branch)} in {md(source.origin)}:", ""]
            out += [*safetext.md_fence([f"{n}: {source}" for n, source in lines], "c"), ""]
    out += statedraw.markdown_section(events)
    out += ["## Ladder", "", *safetext.md_fence(ladder(events)), "", "## Full transcript", ""]
    out += [*safetext.md_fence([part for e in events for part in line(e).split("\n")]), ""]
    return "\n".join(out)


def write(
    directory: str,
    scn: Scenario,
    info: LabInfo,
    events: list[Event],
    excerpt: Excerpt,
    screenshot: Callable[[str], None],
    kernel_src: str | None = None,
    host: bool = True,
) -> None:
    """The bundle but the pcap (the lab writes that). ``screenshot(path)`` saves the SVG: the
    TUI's job, handed in so that reports never import the TUI. ``kernel_src``, ``host``: markdown's."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    write_text(str(d / "timeline.jsonl"), "".join(e.to_json() + "\n" for e in events))
    write_text(str(d / "transcript.md"), markdown(scn, info, events, excerpt, kernel_src, host))
    write_text(str(d / "diagram.svg"), statedraw.svg(statedraw.for_export(events), f"TCP states: {scn.name}"))
    try:
        write_text(str(d / "session.pkt"), pkt_text(scn, info, events))
    except writer.WriteError:
        pass  # no syscall in the session: no script to write
    screenshot(str(d / "screen.svg"))


def pkt_text(scn: Scenario, info: LabInfo, events: list[Event], side: str | None = None) -> str:
    """The session as a packetdrill script (``side``: whose syscalls; None: by the writer's rule)."""
    origin = writer.Origin(scn.name, scn.title, info.kernel, info.release, info.wire, info.where)
    # The lab's own sysctls (a keepalive scenario's short timers): a replay without them waits
    # for the host's defaults, hours, and fails on the first probe.
    return writer.write(events, origin, side, {full_name(k): str(v) for k, v in info.sysctls.items()})


def write_text(path: str, text: str) -> None:
    """One file of the bundle, opened so that a FIFO or device there cannot hang the export."""
    write_file(path, text.encode())


def summary(directory: str) -> str:
    d = Path(directory)
    return ", ".join(f"{name} ({(d / name).stat().st_size} bytes)" for name in FILES if (d / name).exists())
