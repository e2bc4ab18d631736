"""A script's times (packetdrill's ``run.c``: ``adjust_relative_event_times``, ``wait_for_event``,
``verify_time``), kept apart from what the events do.

An absolute time counts from the script's start; a relative one from when the previous event
was done, as packetdrill would have been done with it (a call's return, an injection's write,
an expected packet's arrival), so this runner's own bookkeeping never pushes the script later;
consecutive injected packets count from each other's script times, so a burst keeps its
spacing. Every event must happen within the tolerance: the larger of ``--tolerance_usecs``
(4000) and ``--tolerance_percent`` (12.5) of the time since the previous event.
"""

from __future__ import annotations

import time

from .script import Event, TcpPacket, TimeKind

SPIN = 0.002  # seconds spent spinning before an event, not asleep


class TimingError(Exception):
    """An event that did not happen at its time: packetdrill's "timing error: ..."."""


class Clock:
    def __init__(self, tolerance_usecs: int, percent: float) -> None:
        self.tolerance, self.percent = tolerance_usecs, percent
        self.start = time.monotonic()
        self.done_usecs = 0  # when the previous event was done
        self.last_inbound_usecs: int | None = None  # the previous event's script time, if it was injected
        self.previous_usecs: int | None = None  # the previous event's script time
        self.event_usecs: int | None = None  # this event's

    def restart(self) -> None:
        self.start = time.monotonic()

    def t(self) -> float:
        return time.monotonic() - self.start

    def now_usecs(self) -> int:
        return int(self.t() * 1_000_000)

    def usecs(self, monotonic: float) -> int:
        return int((monotonic - self.start) * 1_000_000)

    def done(self, usecs: int | None = None) -> None:
        """The event in hand is done now (or at ``usecs``, if later than the previous one)."""
        self.done_usecs = self.now_usecs() if usecs is None else max(self.done_usecs, usecs)

    def times(self, ev: Event) -> tuple[int, int | None]:
        """The event's (start, end of its window) in script microseconds."""
        k, start, end = ev.time.kind, ev.time.usecs, ev.time.end_usecs
        inbound = isinstance(ev.action, TcpPacket) and ev.action.inbound
        if k in (TimeKind.ANY, TimeKind.RELATIVE, TimeKind.RELATIVE_RANGE):
            offset = self.last_inbound_usecs if inbound and self.last_inbound_usecs is not None else self.done_usecs
            start += offset
            end = end + offset if end is not None and k is TimeKind.RELATIVE_RANGE else end
        self.last_inbound_usecs = start if inbound else None
        self.previous_usecs, self.event_usecs = self.event_usecs, start
        return start, end

    def tolerance_at(self, start: int, since: int | None = None) -> int:
        # packetdrill's tolerance_percent: a timer due D after the previous event (``since``: a
        # blocking call's start, for its return) may fire up to 12.5% of D late, the timer
        # wheel's granularity since 4.8 (500462a9de65).
        since = self.previous_usecs if since is None else since
        dynamic = int(self.percent / 100 * (start - since)) if since is not None else 0
        return max(self.tolerance, dynamic)

    def verify(self, kind: TimeKind, start: int, end: int | None, actual: int, what: str, since: int | None = None) -> None:
        if kind is TimeKind.ANY:
            return
        tol, at, secs = self.tolerance_at(start, since), f"{actual / 1e6:.6f} sec", lambda u: f"{u / 1e6:.6f}"
        if end is not None:
            if not start - tol <= actual <= end + tol:
                raise TimingError(
                    f"timing error: expected {what} in time range {secs(start)}~{secs(end)} sec but happened at {at}"
                )
        elif abs(actual - start) > tol:
            raise TimingError(
                f"timing error: expected {what} at {secs(start)} sec but happened at {at}; tolerance {secs(tol)} sec"
            )

    def wait(self, usecs: int) -> None:
        """Until the event's time: asleep until just before, then spinning, as packetdrill does
        (a sleep alone wakes late by a scheduler tick on a busy machine)."""
        target = usecs / 1e6
        if target - self.t() > SPIN:
            time.sleep(target - self.t() - SPIN)
        while self.t() < target:
            time.sleep(0)  # lets a blocking call's thread take the GIL as soon as its syscall returns
