"""A session bundle for a write-up: the pcap, the JSON Lines timeline, a Markdown transcript
(syscalls, packets in tcpdump notation, verdicts with the source lines of their branch, the
ladder diagram) and an SVG screenshot of the explorer showing the same run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tuiexplore.domain import LabInfo
from tuiexplore.kernel.excerpt import Excerpt
from tuiexplore.reports.details import branch_lines, elsewhere
from tuiexplore.reports.ladder import ladder
from tuiexplore.reports.transcript import call_text, header, line, result_text
from tuiexplore.scenarios.scenario import Scenario
from tuiexplore.timeline import Event, PacketEvent, StepEvent, VerdictEvent

FILES = ("timeline.jsonl", "capture.pcap", "transcript.md", "screen.svg")


def markdown(scn: Scenario, info: LabInfo, events: list[Event], excerpt: Excerpt) -> str:
    out = [f"# {scn.title}", "", scn.summary, ""]
    out += [f"- {h.lstrip('# ')}" for h in header(scn.name, scn.title, "", info)[1:]]
    out += ["", "## Steps", "", "| step | actor | call | result |", "| ---: | --- | --- | --- |"]
    for e in events:
        if isinstance(e, StepEvent):
            cells = (call_text(e.call, e.args), result_text(e))
            call, result = (c.replace("|", "\\|") for c in cells)  # a table cell ends at a bare |
            out.append(f"| {e.step} | {e.actor} | `{call}` | `{result}` |")
    out += ["", "## Packets (tcpdump notation, relative numbers)", "", "```"]
    out += [f"<{p.step}> {p.src} > {p.dst} {p.sport} > {p.dport}: {p.tcpdump()}" for p in events if isinstance(p, PacketEvent)]
    out += ["```", "", "## Verdicts", ""]
    verdicts = [v for v in events if isinstance(v, VerdictEvent)]
    if not verdicts:
        out.append("No closing call in this run.")
    for v in verdicts:
        mark = "the prediction held" if v.agree else "**the kernel disagreed with the prediction**"
        out += [f"### Step {v.step}: {v.actor} `{v.call}({v.fd})` → {v.observed} ({mark})", "", v.explanation, ""]
        for where in elsewhere(v.path):
            out += [f"Not in {excerpt.origin}: {where}.", ""]
        lines = branch_lines(excerpt, v.path)
        if lines:
            out += [f"Branch `{v.branch}` in {excerpt.origin}:", "", "```c", *(f"{n}: {code}" for n, code in lines), "```", ""]
    out += ["## Ladder", "", "```", *ladder(events), "```", "", "## Full transcript", "", "```"]
    out += [line(e) for e in events]
    out += ["```", ""]
    return "\n".join(out)


def write(
    directory: str, scn: Scenario, info: LabInfo, events: list[Event], excerpt: Excerpt, screenshot: Callable[[str], None]
) -> None:
    """The bundle but the pcap (the lab writes that). ``screenshot(path)`` saves the SVG: the
    TUI's job, handed in so that reports never import the TUI."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    (d / "timeline.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    (d / "transcript.md").write_text(markdown(scn, info, events, excerpt))
    screenshot(str(d / "screen.svg"))


def summary(directory: str) -> str:
    d = Path(directory)
    return ", ".join(f"{name} ({(d / name).stat().st_size} bytes)" for name in FILES if (d / name).exists())
