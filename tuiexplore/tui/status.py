"""The status line: the scenario, where it stands, the lab, the queue and the modes."""

from __future__ import annotations

from textual.widgets import Static

from tuiexplore.domain import LabInfo
from tuiexplore.reports.transcript import call_text
from tuiexplore.scenarios.scenario import Scenario


class StatusLine(Static):
    def __init__(self, **kw: object) -> None:
        super().__init__("", markup=False, **kw)

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
            parts.append(f"kernel {info.kernel} · {mode} · tracepoints {tracepoints} · port {info.port}")
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
        self.update(" · ".join(parts), layout=False)
