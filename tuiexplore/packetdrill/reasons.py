"""The kernel's own reason for each RST a script's run saw: ``tcp:tcp_send_reset``'s ``reason``
(Linux 6.10 on), read with the lab's tracer (``lab/tracepoints.py``) in the run's namespace.

Root only, as for the lab: tracefs is mounted in the run's private mount namespace. Tracepoints
are global, so only resets on the script's connection count: both its ports, read when each
event arrives (a client script's local port is the kernel's choice, known from its SYN). The
k-th RST the device saw on the connection is the k-th reset the kernel traced on it: the
tracepoint fires in the call that queues the segment, one for one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tuiexplore.lab import tracepoints
from tuiexplore.lab.namespace import LabNamespace
from tuiexplore.lab.tracepoints import TraceEvent, Tracer, TracerUnavailable

WAIT_S = 0.5  # at most, for the reader to pass a barrier: every reset traced before it is read
NEEDS_ROOT = "the kernel's RST reasons (tcp_send_reset tracepoint) need root: verdicts and failing lines name none"


class _ConnTracer(Tracer):
    """The lab's tracer, keeping the resets of one connection whose ports may still change."""

    def __init__(self, tracefs: str, ports: Callable[[], tuple[int, int]], on_event: Callable[[], None]) -> None:
        super().__init__(tracefs, 0, on_event)
        self.ports = ports

    def state_filter(self) -> str:
        return "protocol == 6 && sport == 0 && dport == 0"  # no state changes: only resets are used

    def wants(self, sport: int, dport: int) -> bool:
        return sorted((sport, dport)) == sorted(self.ports())


class Reasons:
    def __init__(self, tracer: Tracer | None) -> None:
        self.tracer = tracer
        self.resets: list[TraceEvent] = []
        self._woken = threading.Event()

    def reason(self, k: int, sport: int, dport: int) -> str | None:
        """The reason of the ``k``-th (from 0) RST from ``sport`` to ``dport``; None without one."""
        t = self.tracer
        if t is None or not t.has_reason:
            return None
        mine = self._read(sport, dport)
        if len(mine) <= k:
            mark, end = t.barrier(), time.monotonic() + WAIT_S
            while t.passed < mark and time.monotonic() < end:
                self._woken.wait(0.01)
                self._woken.clear()
            mine = self._read(sport, dport)
        return mine[k].fields.get("reason") if len(mine) > k else None

    def _read(self, sport: int, dport: int) -> list[TraceEvent]:
        assert self.tracer is not None
        while not self.tracer.events.empty():
            ev = self.tracer.events.get()
            if ev.event == "tcp_send_reset":
                self.resets.append(ev)
        return [r for r in self.resets if (r.sport, r.dport) == (sport, dport)]

    def close(self) -> None:
        if self.tracer is not None:
            self.tracer.close()
            self.tracer = None


def start(ns: LabNamespace, ports: Callable[[], tuple[int, int]]) -> tuple[Reasons, str]:
    """(the run's reasons, "") when the kernel's reasons can be read, else (no reasons, why not)."""
    if ns.mode != "root":
        return Reasons(None), NEEDS_ROOT
    reasons = Reasons(None)
    try:
        path = tracepoints.find_tracefs(mount_if_missing=ns.private_mounts)
        tracer = _ConnTracer(path, ports, reasons._woken.set)
        tracer.start()
    except TracerUnavailable as exc:
        return reasons, f"the kernel's RST reasons are unavailable: {exc}"
    reasons.tracer = tracer
    if not tracer.has_reason:
        return reasons, "this kernel's tcp_send_reset tracepoint gives no reason (added in 6.10)"
    return reasons, ""
