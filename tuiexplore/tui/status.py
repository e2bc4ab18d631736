"""The status line: the scenario, where it stands, the lab, the queue and the modes, fitted to the
terminal so that the step counter and the next step always stay.

What gives way first when the line is too long: the lab details (kernel, mode, port), then the
scenario's title (its name stays), then the end of the last extra, then the end of the next
call's text.
"""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widgets import Static

from tuiexplore.domain import LabInfo
from tuiexplore.reports.transcript import call_text
from tuiexplore.scenarios.scenario import Scenario
from tuiexplore.tui.widgets import printable

SEP = " · "
KEEP = 12  # an extra stays, cut with "…", while this much of it fits: a long error still says what failed


def fit(parts: list[str], width: int) -> str:
    """parts: ["name: title", "step k/N next: ...", lab details, extras...] joined to fit width.
    The extras (working, server loop, a problem, autoplay) say what the app is doing: they outrank the title."""
    if len(SEP.join(parts)) <= width or len(parts) < 2:
        return SEP.join(parts)[: max(width, 1)]
    head, step, rest = parts[0], parts[1], parts[3:]  # parts[2], the lab details, go first
    name = head.split(": ", 1)[0]
    while rest and len(SEP.join([name, step, *rest[:-1], rest[-1][:KEEP]])) > width:
        rest = rest[:-1]
    room = width - len(SEP.join(["", step, *rest]))
    if room < len(head):
        head = head[: room - 1] + "…" if room > len(name) + 3 else name
    line = SEP.join([head, step, *rest])
    return line if len(line) <= width else line[: width - 1] + "…"


class StatusLine(Static):
    """A Static that re-fits its parts whenever its width changes."""

    def __init__(self, **kw: Any) -> None:
        super().__init__("", markup=False, **kw)
        self.parts: list[str] = []

    def show(
        self,
        scn: Scenario,
        cursor: int,
        info: LabInfo | None,
        pending: int,
        seed: bool,
        problem: str,
        autoplay_s: float | None,
    ) -> None:
        nxt = scn.steps[cursor] if cursor < len(scn.steps) else None
        parts = [f"{scn.name or 'scenario'}: {scn.title}"]
        parts.append(
            f"step {cursor}/{len(scn.steps)}"
            + (f" next: {nxt.actor} {call_text(nxt.call, nxt.args)}" if nxt else " (scenario done; manual keys still work)")
        )
        if info:
            mode = "root" if info.mode == "root" else "unprivileged"
            tracepoints = "on" if info.tracepoints else "off"
            kernel = info.where or f"kernel {info.kernel}"
            parts.append(f"{kernel} · {mode} · tracepoints {tracepoints} · port {info.port}")
            if info.sysctls:  # the scenario's [lab] sysctls, the lab's own
                parts[-1] += " · " + ", ".join(f"{k} = {v}" for k, v in info.sysctls.items())
        else:
            parts.append("starting the lab…")
        if pending:
            parts.append(f"working ({pending} queued)")
        if seed:
            parts.append("server loop ON")
        if problem:
            parts.append(f"⚠ {problem}")
        if autoplay_s is not None:
            parts.append(f"autoplay every {autoplay_s:.1f} s (a pause, +/- pace, b back)")
        self.parts = [printable(p) for p in parts]  # titles come from files
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        width = self.content_region.width or 200
        self.update(Content(fit(self.parts, width)), layout=False)
