"""The relay lab's capture: the relay's frames, plus the server side's loopback, as one source
(``lab.capture.FrameSource``).

Sockets of one side that talk to each other (a process that connects to its own listener)
never reach the wire: their frames are on that namespace's ``lo``, where the usual capture sees
them. Both sources feed one queue, and both barriers must have been passed: lo's (its count in
the server's namespace) and the relay's (relay.py).
"""

from __future__ import annotations

from tuiexplore.lab.capture import Capture
from tuiexplore.relay.netns import NetNs
from tuiexplore.relay.relay import Relay


class RelayCapture:
    def __init__(self, relay: Relay, lo: Capture, server_ns: NetNs) -> None:
        self.relay, self.lo, self.server_ns = relay, lo, server_ns
        self.frames = relay.frames
        self.notes = lo.notes

    def start(self) -> None:
        # The packet socket, and the count lo's barrier reads, belong to the namespace they are made in.
        with self.server_ns.inside():
            self.lo.start()
        self.relay.start()

    def drops(self) -> int:
        return self.lo.drops() + self.relay.drops()

    def caught_up(self) -> bool:
        return self.relay.caught_up() and self.lo.caught_up()

    def due(self) -> float | None:
        return self.relay.due()

    def stop(self) -> None:
        self.relay.stop()
        self.lo.stop()
