"""A stepping session that replays a recorded timeline (tests/data/step-seed-events.jsonl,
recorded from the seed's two programs stepped by keys in a lab up to the client's parked
close()), so the step screen's snapshot does not depend on pids, ports or timing."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

from tuiexplore.timeline import Event, from_wire
from tuiexplore.trace.events import register_wire_types

RECORDED = Path(__file__).parent / "data" / "step-seed-events.jsonl"


def recorded() -> list[Event]:
    register_wire_types()
    return [from_wire(json.loads(line)) for line in RECORDED.read_text().splitlines()]


class ReplaySession:
    def __init__(self, on_event: Callable[[Event], None]) -> None:
        self.on_event = on_event
        self.events = recorded()
        self.stepped: list[int] = []
        self._detached = threading.Event()

    def run(self) -> int:
        for e in self.events:
            self.on_event(e)
        self._detached.wait(30)
        return 0

    def step(self, tid: int) -> None:
        self.stepped.append(tid)

    def request_detach(self) -> None:
        self._detached.set()
