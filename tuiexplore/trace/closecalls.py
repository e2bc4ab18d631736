"""Closing calls from their park to their verdict: the Stepper's policy for the calls that may
send FIN or RST (close, shutdown, connect(AF_UNSPEC), exit with sockets, a signal death).

One verdict at a time, so that the frames it is judged by are its own: a closing call stepped
while another awaits its verdict is queued. With ``auto`` a closing call waits until nothing is
under way (``Stepper.is_quiet``), then is predicted and run; by keys it is predicted when it
parks and predicted again whenever something changed, until ``step(tid)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from tuiexplore.lab import counters
from tuiexplore.lab.verdict import outcome_of, sent_by
from tuiexplore.timeline import CountersEvent, Event, NoteEvent, VerdictEvent
from tuiexplore.trace import closing
from tuiexplore.trace.events import Parked, StopEvent
from tuiexplore.trace.frames import FrameMatcher
from tuiexplore.trace.sockets import SockInfo

SETTLE_MAX_S = 2.0
RETURN_MAX_S = 5.0  # a closing call that blocks (SO_LINGER) longer is judged anyway


class Host(Protocol):
    """What the closing calls need of the Stepper that owns them."""

    matcher: FrameMatcher
    lab: bool
    changes: int

    def emit(self, ev: Event) -> None: ...
    def rel(self, ts: float | None = None) -> float: ...
    def stop_event(self, n: int, p: Parked, prediction: list | None = None) -> StopEvent: ...
    def drain_frames(self) -> None: ...
    def resume(self, tid: int) -> None: ...
    def holders_among(self) -> set[int] | None: ...
    def verdict_ready(self, mark: int) -> bool: ...


@dataclass
class _Closing:
    """A closing call from its park to its verdict."""

    step: int
    parked: Parked
    targets: list[closing.Target] = field(default_factory=list)
    frames_from: int = 0
    before: dict[str, int] = field(default_factory=dict)
    resumed_at: float = 0.0
    done: bool = False  # returned, or its process exited
    wire_mark: int = 0  # the capture's count when it was done: its frames are read by then
    seen: int = 0  # Host.changes when the prediction was taken

    def begin(self, matcher: FrameMatcher, lab: bool) -> None:
        """Just before the call runs: where its frames start, and the counters to diff."""
        self.frames_from = len(matcher.frames)
        self.before = counters.read() if lab else {}
        self.resumed_at = time.time()

    def judge(self, t: float, matcher: FrameMatcher, lab: bool) -> tuple[dict[str, int], list[VerdictEvent]]:
        deltas = counters.delta(self.before, counters.read()) if lab else {}
        frames = matcher.frames[self.frames_from :] if matcher.capture is not None else None
        p = self.parked
        return deltas, [closing.verdict(t, self.step, p.actor, p.call, x, frames, deltas, matcher.conns) for x in self.targets]


@dataclass(frozen=True)
class _Unpredicted:
    """A process that died with sockets open and gave no stop before the kernel closed them."""

    actor: str
    pid: int
    how: str
    sockets: list[tuple[int, SockInfo]]
    frames_from: int


class ClosingCalls:
    def __init__(self, host: Host, auto: bool) -> None:
        self.host, self.auto = host, auto
        self.waiting: list[tuple[int, Parked]] = []  # auto: waiting for the others to settle
        self.current: _Closing | None = None  # the closing call running, until its verdict
        self.parked: dict[int, _Closing] = {}  # by keys: tid -> parked, predicted
        self.queued: list[int] = []  # stepped while another one awaits its verdict
        self.deaths: list[_Unpredicted] = []
        self.disagreements = 0

    @property
    def busy(self) -> bool:
        return self.current is not None or bool(self.waiting) or bool(self.deaths)

    def park(self, n: int, p: Parked) -> None:
        if self.auto:
            self.waiting.append((n, p))  # not activity: it waits for the others
        else:
            self.parked[p.tid] = self.predict(n, p)

    def step(self, tid: int) -> None:
        """Let a parked closing call run, once no other verdict is pending."""
        if tid not in self.parked:  # its process exited while it was queued
            return
        if self.current is not None:
            if tid not in self.queued:
                self.queued.append(tid)
            return
        c = self.current = self.parked.pop(tid)
        self.repredict(c)  # the state just before it runs
        self.run(c)

    def returned(self, tid: int) -> None:
        if self.current is not None and self.current.parked.tid == tid:
            self.finished(self.current)

    def exited(self, pid: int) -> None:
        self.parked = {tid: c for tid, c in self.parked.items() if c.parked.pid != pid}
        if self.current is not None and self.current.parked.pid == pid:
            self.finished(self.current)

    def finished(self, c: _Closing) -> None:
        c.done = True
        c.wire_mark = self.host.matcher.mark()

    def died_unseen(self, actor: str, pid: int, how: str, socks: list[tuple[int, SockInfo]], frames_from: int) -> None:
        """Killed with connected sockets and no stop on the way (no PTRACE_EVENT_EXIT): what the
        wire shows is reported once it is quiet, with no prediction."""
        live = [(fd, s) for fd, s in socks if s.kind == "tcp" and s.rport]
        if live:
            self.deaths.append(_Unpredicted(actor, pid, how, live, frames_from))

    def clear(self) -> None:
        self.waiting.clear()
        self.parked.clear()
        self.deaths.clear()
        self.current = None

    # -- predictions and verdicts --------------------------------------------------------------
    def predict(self, n: int, p: Parked) -> _Closing:
        h = self.host
        c = _Closing(n, p, closing.predict(p, h.holders_among()), seen=h.changes)
        h.emit(h.stop_event(n, p, [t.to_dict() for t in c.targets]))
        for t in c.targets:
            h.matcher.learn(p.actor, t.sock)
        return c

    def repredict(self, c: _Closing) -> None:
        """A parked closing call's prediction again, from the state now (the peer may have sent
        data or closed since): a changed one is a new ``stop`` event with the same step number."""
        h = self.host
        if c.seen == h.changes:
            return
        c.seen = h.changes
        targets = closing.predict(c.parked, h.holders_among())
        if [t.to_dict() for t in targets] != [t.to_dict() for t in c.targets]:
            c.targets = targets
            h.emit(h.stop_event(c.step, c.parked, [t.to_dict() for t in targets]))

    def tick(self, now: float, quiet: bool) -> None:
        c = self.current
        if c is not None and c.resumed_at:
            # Judged once the frames the call sent (queued on lo before it returned) have been
            # read and no timer of the programs' connections is about to fire; a peer's delayed
            # ACK is not waited for: it is attributed to this step when it comes.
            if (c.done and self.host.verdict_ready(c.wire_mark)) or now - c.resumed_at > RETURN_MAX_S:
                self.judge(c)
            return
        if quiet and self.deaths:
            self.report_deaths()
        if not self.auto:  # by keys: closing calls wait for step(tid), their predictions kept fresh
            for c in list(self.parked.values()) if quiet else []:
                self.repredict(c)
            return
        if self.waiting and (quiet or now - self.waiting[0][1].t > SETTLE_MAX_S):
            n, p = self.waiting.pop(0)
            c = self.current = self.predict(n, p)
            self.run(c)

    def run(self, c: _Closing) -> None:
        c.begin(self.host.matcher, self.host.lab)
        self.host.resume(c.parked.tid)

    def judge(self, c: _Closing) -> None:
        h = self.host
        h.drain_frames()
        deltas, verdicts = c.judge(h.rel(), h.matcher, h.lab)
        if deltas:
            h.emit(CountersEvent(h.rel(), c.step, deltas))
        for v in verdicts:
            self.disagreements += v.agree is False
            h.emit(v)
        self.current = None
        if self.queued:
            self.step(self.queued.pop(0))

    def report_deaths(self) -> None:
        h = self.host
        h.drain_frames()
        for d in self.deaths:
            frames = h.matcher.frames[d.frames_from :]
            for fd, s in d.sockets:
                row = s.row(fd)
                captured = h.matcher.capture is not None
                seen = outcome_of(sent_by(row, frames, h.matcher.conns)) if captured else "nothing (no packets)"
                h.emit(
                    NoteEvent(
                        h.rel(),
                        "warn",
                        f"{d.actor}: pid {d.pid} {d.how}: no prediction could be taken before the kernel closed fd {fd} "
                        f"({s.label()}, {s.inq} unread at its last stop): it gave no stop on its way out; "
                        f"the wire shows {seen}",
                    )
                )
        self.deaths.clear()
