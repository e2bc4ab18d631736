"""The relay lab's capture: the relay's frames, plus the server side's loopback, as one source.

Sockets of one side that talk to each other (a process that connects to its own listener)
never reach the wire: their frames are on that namespace's ``lo``, where the usual capture sees
them. Both sources feed one queue; the loopback capture alone can be behind (the relay queues
a frame before it writes it on), so its counts are the barrier's.
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
        with self.server_ns.inside():  # the packet socket belongs to the namespace it is made in
            self.lo.start()
        self.relay.start()

    def drops(self) -> int:
        return self.lo.drops() + self.relay.drops()

    def pending(self) -> int:
        return self.lo.pending() + self.relay.pending()

    def mark(self) -> int:
        return self.lo.mark()

    def read_up_to(self, mark: int) -> bool:
        return self.lo.read_up_to(mark)

    def stop(self) -> None:
        self.relay.stop()
        self.lo.stop()
