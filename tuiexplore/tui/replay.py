"""A driver that replays a finished run's timeline into the explorer (no lab): for exports'
screenshots and for showing a recorded run. Same interface as LabDriver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.message_pump import MessagePump

from tuiexplore.domain import LabInfo, StepDone
from tuiexplore.scenarios.scenario import Scenario
from tuiexplore.session import FdModel
from tuiexplore.timeline import Event, StepEvent
from tuiexplore.tui.messages import Busy, LabEvents, LabStarted, StepFinished


def replay_factory(
    info: LabInfo, events: list[Event], sockets: dict[str, Any] | None = None, names: dict[int, str] | None = None
) -> Callable[..., ReplayDriver]:
    def make(target: MessagePump, scenario: Scenario, tracer: bool = True) -> ReplayDriver:
        return ReplayDriver(target, scenario, info, events, sockets or {}, names or {})

    return make


class ReplayDriver:
    def __init__(
        self,
        target: MessagePump,
        scenario: Scenario,
        info: LabInfo,
        events: list[Event],
        sockets: dict[str, Any],
        names: dict[int, str],
    ) -> None:
        self.target, self.scenario, self.info, self.events = target, scenario, info, events
        self.sockets, self.names = sockets, names

    def start(self) -> None:
        steps = [e.step for e in self.events if isinstance(e, StepEvent)]
        self.target.post_message(LabStarted(self.info))
        self.target.post_message(LabEvents(list(self.events)))
        last = max(steps, default=0)
        self.target.post_message(
            StepFinished(
                StepDone(last, True, 0.0, 0.0),
                {},
                {"server": FdModel(), "client": FdModel()},
                min(last, len(self.scenario.steps)),
                [],
                self.sockets,
                self.names,
            )
        )
        self.target.post_message(Busy(0))

    def submit(self, req: object) -> None:
        """A replay does not step: requests are ignored."""

    def stop(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass
