"""A session bundle for a write-up: the pcap, the JSON Lines timeline, a Markdown transcript
(syscalls, packets in tcpdump notation, verdicts with the source lines of their branch, the
ladder diagram) and an SVG screenshot of the explorer showing the same run."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tuiexplore import safetext
from tuiexplore.kernel.excerpt import Excerpt
from tuiexplore.lab.client import LabInfo
from tuiexplore.ladder import ladder
from tuiexplore.scenarios.scenario import Scenario
from tuiexplore.timeline import Event, PacketEvent, StepEvent, VerdictEvent
from tuiexplore.transcript import call_text, header, line, result_text

FILES = ("timeline.jsonl", "capture.pcap", "transcript.md", "screen.svg")


def markdown(scn: Scenario, info: LabInfo, events: list[Event], excerpt: Excerpt) -> str:
    md, code = safetext.markdown, safetext.md_code  # titles, names and results come from files and the lab
    out = [f"# {md(scn.title)}", "", md(scn.summary), ""]
    out += [f"- {md(h.lstrip('# '))}" for h in header(scn.name, scn.title, "", info)[1:]]
    out += ["", "## Steps", "", "| step | actor | call | result |", "| ---: | --- | --- | --- |"]
    for e in events:
        if isinstance(e, StepEvent):
            out.append(f"| {e.step} | {md(e.actor)} | {code(call_text(e.call, e.args))} | {code(result_text(e))} |")
    out += ["", "## Packets (tcpdump notation, relative numbers)", ""]
    packets = [f"<{p.step}> {p.src} > {p.dst} {p.sport} > {p.dport}: {p.tcpdump()}" for p in events if isinstance(p, PacketEvent)]
    out += [*safetext.md_fence(packets), "", "## Verdicts", ""]
    verdicts = [v for v in events if isinstance(v, VerdictEvent)]
    if not verdicts:
        out.append("No closing call in this run.")
    for v in verdicts:
        mark = "the prediction held" if v.agree else "**the kernel disagreed with the prediction**"
        head = f"### Step {v.step}: {md(v.actor)} {code(f'{v.call}({v.fd})')} → {v.observed} ({mark})"
        out += [head, "", md(v.explanation), ""]
        lines = sorted({n for b in ("drain", v.branch) for n in excerpt.branches.get(b, [])})
        if lines and v.branch not in ("listen_stop",):
            out += [f"Branch {code(v.branch)} in {md(excerpt.origin)}:", ""]
            out += [*safetext.md_fence([f"{n}: {excerpt.lines[n - excerpt.first_line].strip()}" for n in lines], "c"), ""]
    out += ["## Ladder", "", *safetext.md_fence(ladder(events)), "", "## Full transcript", ""]
    out += [*safetext.md_fence([part for e in events for part in line(e).split("\n")]), ""]
    return "\n".join(out)


def write_common(directory: str, scn: Scenario, info: LabInfo, events: list[Event], excerpt: Excerpt) -> None:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    (d / "timeline.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    (d / "transcript.md").write_text(markdown(scn, info, events, excerpt))


def screenshot(
    path: str, scn: Scenario, info: LabInfo, events: list[Event], excerpt: Excerpt, size: tuple[int, int] = (160, 48)
) -> None:
    """Replay the run into the explorer, headless, and save what the screen shows."""
    from tuiexplore.tui.app import make_app
    from tuiexplore.tui.replay import replay_factory

    async def shoot() -> None:
        app = make_app(scn, excerpt=excerpt, driver_factory=replay_factory(info, events))
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.3)
            app.save_screenshot(Path(path).name, str(Path(path).parent))

    asyncio.run(shoot())


def summary(directory: str) -> str:
    d = Path(directory)
    return ", ".join(f"{name} ({(d / name).stat().st_size} bytes)" for name in FILES if (d / name).exists())
