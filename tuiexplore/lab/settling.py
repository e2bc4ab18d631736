"""When a step is over: when the kernel says nothing more is coming, not after a quiet period.

A step's call has returned when this is asked. What it set off may still be under way:
- frames the wire carried that the capture has not read (``FrameSource.caught_up``: on lo,
  lo's own count, so a frame still in the kernel's backlog queue counts too; on the relay's
  wire, the count at the relay's ends against the frames it has handed on);
- a frame the relay delays on purpose, due within HORIZON_S;
- an ACK a receiver owes for data, SYN or FIN it got (``Acks``: the delayed-ACK timer is in no
  table the kernel gives us), for at most ACK_BOUND_S;
- a retransmit, zero-window probe or keepalive/FIN_WAIT2 timer of any lab socket (orphans and
  connections not accepted yet included: sock_diag, as /proc/net/tcp shows them, looked up in
  every namespace of the lab's wire) due within HORIZON_S;
- tracepoints not read yet: a marker written to the tracer's buffer once the rest is done, and
  read back (``Tracer.barrier``).
Each of these ends as soon as the kernel has done it; none is a fixed wait.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tuiexplore.lab import procnet
from tuiexplore.lab.acks import Acks
from tuiexplore.lab.capture import FrameSource

# TCP_DELACK_MAX (200 ms) and a margin: by then a receiver has sent the ACK it owed, unless the
# segment never reached a socket (a SYN a full listener dropped), which the client's SYN
# retransmission, seconds later, shows.
ACK_BOUND_S = 0.25
# A timer due this soon fires within the step: the shortest TCP timer that sends (the RTO) is
# 200 ms, so in practice this is a timer already due (a probe backing off, a FIN_WAIT2 timeout
# set short), whose frames belong to this step.
HORIZON_S = 0.06
TICK_S = 0.002  # past a timer's expiry (sock_diag gives it in ms), for it to have run
POLL_S = 0.005  # between looks while frames or the tracer's marker are on their way
TIME_WAIT = 3  # the TIME_WAIT timer sends nothing when it fires
SENDING_TIMERS = (1, 4)  # retransmission (and loss probe), zero-window probe


class Settling:
    def __init__(
        self,
        capture: FrameSource,
        tracer: Any,
        acks: Acks,
        keys: Callable[[], set[procnet.Key]],
        timers: Callable[[Iterable[procnet.Key]], list[procnet.Timer]] = procnet.lookup_timers,
    ) -> None:
        """``keys``: every lab socket's (local port, remote port), for ``timers``: sock_diag
        lookups in the wire's namespaces."""
        self.capture, self.tracer, self.acks, self.keys, self.lookup = capture, tracer, acks, keys, timers
        self.barrier: int | None = None  # the tracer's marker, written once the rest was done
        self.timers: list[procnet.Timer] = []  # armed, and not due within the horizon

    def still_to_come(self, now: float) -> float | None:
        """How long to wait before looking again (None: the kernel is done with the step)."""
        wait = self._wire(now)
        if wait is not None:
            self.barrier = None  # something happened after the marker: a new one when it is done
            return wait
        if self.tracer is None:
            return None
        if self.barrier is None:
            self.barrier = self.tracer.barrier()
        return None if self.tracer.passed >= self.barrier else POLL_S

    def _wire(self, now: float) -> float | None:
        if not self.capture.caught_up():
            return POLL_S  # a frame wakes the agent's inbox before that
        delayed = self.capture.due()
        if delayed is not None and delayed <= HORIZON_S:
            return delayed + TICK_S
        since = self.acks.owed_since()
        if since is not None and now - since < ACK_BOUND_S:
            return since + ACK_BOUND_S - now
        timers = [t for t in self.lookup(self.keys()) if t.kind != TIME_WAIT]
        due = [t.due_s for t in timers if t.due_s <= HORIZON_S]
        if due:
            return max(min(due), 0.0) + TICK_S
        self.timers = timers
        return None
