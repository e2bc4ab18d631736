"""A stand-in for the lab driver (memray style): it posts a recorded seed-rst timeline, so the
screen can be snapshotted without a lab and with stable ports, times and pids."""

from __future__ import annotations

import json
from pathlib import Path

from tuiexplore.lab.client import LabInfo, StepDone
from tuiexplore.session import FdModel
from tuiexplore.timeline import StepEvent, from_wire
from tuiexplore.tui.messages import Busy, LabEvents, LabStarted, StepFinished

DATA = Path(__file__).parent / "data" / "seed-rst-events.jsonl"
INFO = LabInfo(kernel="6.18.44", release="6.18.44-test", port=40000, mode="root", tracepoints=True)
SOCKETS = {
    "server": {
        "pid": 1001,
        "blocked": False,
        "sockets": [
            {
                "name": "listener",
                "fd": 3,
                "state": "LISTEN",
                "inq": 0,
                "outq": 0,
                "unsent": 0,
                "linger": [0, 0],
                "linger2": 60,
                "accept_queue": 0,
                "backlog": 16,
                "lport": 40000,
                "rport": 0,
                "eof_read": False,
            },
            {
                "name": "conn",
                "fd": 5,
                "state": "CLOSE",
                "inq": 0,
                "outq": 0,
                "unsent": 0,
                "linger": [0, 0],
                "linger2": 60,
                "lport": 40000,
                "rport": 50000,
                "eof_read": False,
            },
        ],
    },
    "client": {"pid": 1002, "blocked": False, "sockets": []},
}


class FakeDriver:
    def __init__(self, target, scenario, tracer=True) -> None:  # noqa: ANN001
        self.target, self.scenario, self.submitted = target, scenario, []

    def start(self) -> None:
        events = [from_wire(json.loads(line)) for line in DATA.read_text().splitlines()]
        last = max(e.step for e in events if isinstance(e, StepEvent))
        self.target.post_message(LabStarted(INFO, self.scenario))
        self.target.post_message(LabEvents(events))
        models = {
            "server": FdModel(sockets=["listener", "conn"], epolls=["ep"], listeners={"listener"}, connected={"conn"}),
            "client": FdModel(),
        }
        self.target.post_message(
            StepFinished(StepDone(last, True, 1.0, 0.06), {}, models, last, [], SOCKETS, {1001: "te-server", 1002: "te-client"})
        )
        self.target.post_message(Busy(0))

    def submit(self, op: str, *args) -> None:  # noqa: ANN002
        self.submitted.append((op, args))

    def stop(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass
