"""The recorded seed-rst timeline, replayed into the explorer (memray style): the screen can be
snapshotted without a lab and with stable ports, times and pids."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from tuiexplore.domain import ActorInventory, LabInfo, SocketRow
from tuiexplore.timeline import from_wire
from tuiexplore.tui.replay import replay_factory

DATA = Path(__file__).parent / "data" / "seed-rst-events.jsonl"
INFO = LabInfo(kernel="6.18.44", release="6.18.44-test", port=40000, mode="root", tracepoints=True)
SOCKETS = {
    "server": ActorInventory(
        pid=1001,
        sockets=[
            SocketRow("listener", 3, "LISTEN", linger2=60, backlog=16, lport=40000),
            SocketRow("conn", 5, "CLOSE", linger2=60, lport=40000, rport=50000),
        ],
    ),
    "client": ActorInventory(pid=1002),
}


def recorded(path: Path) -> list:
    return [from_wire(json.loads(line)) for line in path.read_text().splitlines()]


EVENTS = recorded(DATA)
FakeDriver = replay_factory(INFO, EVENTS, SOCKETS, {1001: "te-server", 1002: "te-client"})
# half-close up to its shutdown(SHUT_WR) verdict (step 8): tcp_close() does not run.
SHUTDOWN_EVENTS = recorded(DATA.parent / "half-close-events.jsonl")
ShutdownDriver = replay_factory(INFO, SHUTDOWN_EVENTS)
# crossing-fins with a sleep before the server's close (the client's FIN retransmitted, held too)
# and a release of packet #4 only: one segment released, one still held (recorded with
# runner.run and timeline.to_wire, as the others).
RELAY_EVENTS = recorded(DATA.parent / "crossing-fins-events.jsonl")
RelayDriver = replay_factory(replace(INFO, wire="relay"), RELAY_EVENTS)
