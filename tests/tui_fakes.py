"""The recorded seed-rst timeline, replayed into the explorer (memray style): the screen can be
snapshotted without a lab and with stable ports, times and pids."""

from __future__ import annotations

import json
from pathlib import Path

from tuiexplore.lab.client import LabInfo
from tuiexplore.timeline import from_wire
from tuiexplore.tui.replay import replay_factory

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
EVENTS = [from_wire(json.loads(line)) for line in DATA.read_text().splitlines()]
FakeDriver = replay_factory(INFO, EVENTS, SOCKETS, {1001: "te-server", 1002: "te-client"})
