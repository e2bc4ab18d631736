"""A stepping session over traced programs: the tracer's stops become the contract's timeline.

The Stepper is an event source like the lab: it turns the tracer's raw stops, the capture's
frames, the programs' output and a lab server's calls into typed timeline events (``stop``,
``step``, ``epoll``, ``packet``, ``counters``, ``verdict``, ``note``, ``output``, ``sockets``),
handed to ``on_event`` in order from the thread that runs ``run()``. Policy lives here (closing
calls in closecalls.py, the programs' start order in programs.py), mechanism in the tracer:

- ``auto``: every parked call runs on at once, except closing calls, which first wait until
  nothing is under way (``Quiet``: no traced task running, every frame read, no ACK owed, no
  timer about to fire; as a person pressing a key would be slower than the peer), then get
  their prediction from the socket's real state and run.
- manual (``auto=False``): a parked call waits for ``step(tid)``; closing calls still get their
  prediction when they park and their verdict when the wire is quiet after they ran.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from tuiexplore.lab.capture import Capture
from tuiexplore.timeline import Event, NoteEvent
from tuiexplore.trace import closing, sockets
from tuiexplore.trace.closecalls import ClosingCalls
from tuiexplore.trace.events import Exited, Parked, Returned, Started, StopEvent, TraceEvent, TraceNote, call_events
from tuiexplore.trace.frames import FrameMatcher
from tuiexplore.trace.idle import IDLE_S, KILL_AFTER_S, Idle
from tuiexplore.trace.inventory import Inventory, holders_among
from tuiexplore.trace.launch import Untraceable, resolve
from tuiexplore.trace.origin import Origin
from tuiexplore.trace.peer import ENV, SERVERS, PeerCall, PeerEnded
from tuiexplore.trace.programs import DEFER_MAX_S, Programs
from tuiexplore.trace.ptrace_loop import PtraceLoop
from tuiexplore.trace.quiet import Quiet
from tuiexplore.trace.tasks import running

TICK_S = 0.05
CATCH_UP_S = 0.5  # bounds the wait for a starved sniffer thread at a call's return
BUSY_TICK_S = 0.001  # while a closing call waits for its turn or its verdict: the kernel's pace
PEER_GRACE_S = 2.0  # how long a lab server may go on once the traced programs are gone
NO_NEW_PRIVS = (
    "the programs run with no_new_privs set: without CAP_SYS_ADMIN the kernel installs the --auto seccomp filter "
    "only then, so a set-uid program does not gain its privileges"
)


@dataclass(frozen=True)
class _Command:
    kind: str  # "step" | "detach"
    tid: int = 0


class Stepper:
    def __init__(
        self,
        programs: list[tuple[str, list[str]]],
        on_event: Callable[[Event], None],
        *,
        auto: bool = True,
        lab: bool = False,
        capture: bool = True,
        with_server: str | None = None,
        fast: bool = False,
        origin: Origin | None = None,
    ) -> None:
        self.programs = programs
        self.on_event = on_event
        self.auto = auto
        self.lab = lab  # counters are exact only in a private namespace
        self.inbox: queue.Queue[TraceEvent | PeerCall | PeerEnded | _Command | None] = queue.Queue()
        self.peer = SERVERS[with_server](self.inbox.put) if with_server else None
        extra = {ENV: self.peer.address} if self.peer is not None else {}
        self.origin = origin or Origin.capture()
        self.ptrace = PtraceLoop(self.inbox.put, self.origin, extra, fast=fast)
        self.matcher = FrameMatcher(Capture(on_frame=lambda: self.inbox.put(None)) if capture else None)
        self.quiet = Quiet(self.matcher)
        self.t0 = time.time()
        self.steps = 0
        self.calls: dict[int, tuple[int, Parked]] = {}  # tid -> its parked or running call
        self.parked: dict[int, tuple[int, Parked]] = {}  # waiting for step(tid) (manual)
        self.closing = ClosingCalls(self, auto)
        self.changes = 0  # calls returned and frames seen: a parked prediction may be stale
        self.progs = Programs(programs, self.ptrace)
        self.last_activity = time.time()
        self.last_t = 0.0
        self.inventory = Inventory()
        self.ending = False  # end_programs() was called
        self.idle = Idle()

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Capture first (the first SYN must not be missed), then the programs; raises Untraceable."""
        for _, argv in self.programs:
            resolve(argv)  # refused before anything starts
        if why := self.matcher.start():
            self.note("warn", why)
        self.t0 = time.time()
        if not self.lab:
            self.note("info", "outside a lab: packets on lo only, filtered to the programs' own sockets; no counters")
        if self.ptrace.fast and os.geteuid() != 0:  # as launch.HELPER decides
            self.note("info", NO_NEW_PRIVS)
        try:
            if self.peer is not None:  # the lab server listens first, so the programs' connect() finds it
                self.note("info", self.peer.listen())
            self.ptrace.start(self.progs.first())
        except Untraceable:
            self.stop_capture()
            if self.peer is not None:
                self.peer.stop()
            raise

    def run(self) -> int:
        """Until every program has exited (or the session detached). 0 when every verdict held."""
        try:
            while True:
                try:
                    item = self.inbox.get(timeout=BUSY_TICK_S if self.closing.busy else TICK_S)
                except queue.Empty:
                    item = None
                if item is not None:
                    self.handle(item)
                self.tick()
                if self.finished():
                    break
        finally:
            self.flush_outputs(final=True)
            self.stop_capture()
        return 2 if self.ptrace.failed else 1 if self.closing.disagreements else 0

    def step(self, tid: int) -> None:
        """Manual mode: let the parked call of ``tid`` run. Any thread; applied by run()'s loop."""
        self.inbox.put(_Command("step", tid))

    def request_detach(self) -> None:
        """Any thread: run()'s loop detaches and returns (the UI's d key, or quitting)."""
        self.inbox.put(_Command("detach"))

    def _step(self, tid: int) -> None:
        if tid not in self.parked:
            return
        self.parked.pop(tid)
        if tid in self.closing.parked:
            self.closing.step(tid)  # now, or once the verdict under way is out
        else:
            self.ptrace.resume(tid)

    def resume(self, tid: int) -> None:  # a parked closing call runs now: activity from here on
        self.last_activity = time.time()
        self.ptrace.resume(tid)

    def verdict_ready(self, mark: int) -> bool:
        """A closing call that returned at ``mark`` can be judged (``Quiet.wire_done``)."""
        return self.quiet.wire_done(mark)

    def holders_among(self) -> set[int] | None:
        return holders_among(self.inventory, self.progs.alive)

    def detach(self, timeout: float = 5.0) -> None:
        """Let the programs run on (untraced; with the seccomp filter, traced by a loop that no longer
        parks) and report what was still under way. From the thread of run() (other threads:
        request_detach). If the tracer thread does not answer, the kernel detaches when we exit."""
        self.ptrace.detach()
        for actor, _ in self.progs.deferred:  # waiting for a server's listen() that will not be stepped now
            self.note("info", f"{actor}: not started: the stepping ended before the server listened")
        self.progs.deferred = []
        end = time.time() + timeout
        while not self.ptrace.join(0.05) and not self.ptrace.detached and time.time() < end:
            pass
        for item in _drain(self.inbox):
            if item is not None and not isinstance(item, Parked | _Command):  # a stop that raced the detach ran untraced
                self.handle(item)
        self.closing.clear()
        self.flush_outputs(final=True)
        self.stop_capture()

    def end_programs(self, why: str, sig: int = signal.SIGKILL) -> None:
        """--auto: the run cannot go on; its programs are ended (under the seccomp filter they
        cannot be detached), each said by pid."""
        self.ending = True
        left = self.still_running()
        if left:
            names = ", ".join(f"{actor} pid {pid}" for actor, pid in left)
            self.note("warn", f"{why}: ending {names} ({signal.Signals(sig).name})")
        for _, pid in left:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def end(self, timeout: float) -> int | None:  # noqa: ARG002 - ChildStepper's, which may outlive us
        """No child here: nothing outlives this process but the programs themselves."""
        return None

    def end_if_idle(self, now: float) -> None:
        """--auto: programs blocked for good are ended (idle.py), SIGKILL if SIGTERM did not do."""
        if self.idle.terminated_at:
            if now - self.idle.terminated_at > KILL_AFTER_S and self.still_running():
                self.idle.terminated_at = now
                self.end_programs("still running after SIGTERM", signal.SIGKILL)
            return
        if now - self.last_activity < IDLE_S:
            return  # not idle long enough to ask /proc about every program, as each tick would
        blocked = self.idle.check(now, self.last_activity, self.still_running())
        if blocked:
            self.idle.terminated_at = now
            said = ", ".join(f"{actor} pid {pid} in {call}()" for actor, pid, call in blocked)
            self.end_programs(f"nothing left to step for {IDLE_S:.0f} s, every program blocked ({said})", signal.SIGTERM)

    def still_running(self) -> list[tuple[str, int]]:
        """(actor, pid) of the programs started and not yet gone (after a detach: running on)."""
        return [(self.ptrace.actors.get(pid, "?"), pid) for pid in sorted(self.progs.alive) if running(pid)]

    def finished(self) -> bool:
        tracer_done = self.ptrace.detached or (not self.progs.alive and self.ptrace.join(0))
        done = tracer_done and not self.progs.deferred and self.inbox.empty() and not self.closing.busy
        if done and self.peer is not None and not self.peer.done.is_set() and not self.ptrace.detached:
            if time.time() - self.last_activity < PEER_GRACE_S:  # its answer to the programs' last packets
                return False
            self.peer.stop()
            self.note("info", f"{self.peer.name}: stopped, the traced programs are gone")
        return done

    def stop_capture(self) -> None:
        self.drain_frames()
        self.matcher.stop()

    # -- output --------------------------------------------------------------------------------
    def emit(self, ev: Event) -> None:
        if ev.t < self.last_t:  # the stream never goes back in time (frames are stamped by the kernel)
            ev = dataclasses.replace(ev, t=self.last_t)
        self.last_t = ev.t
        self.on_event(ev)

    def rel(self, ts: float | None = None) -> float:
        return max(0.0, (time.time() if ts is None else ts) - self.t0)

    def note(self, level: str, text: str) -> None:
        current = self.closing.current
        self.emit(NoteEvent(self.rel(), level, text, current.step if current else None))

    # -- events from the tracer ----------------------------------------------------------------
    def handle(self, ev: TraceEvent | PeerCall | PeerEnded | _Command) -> None:
        if isinstance(ev, _Command):
            self._step(ev.tid) if ev.kind == "step" else self.detach()
        elif isinstance(ev, Parked):
            self.steps += 1
            n = self.steps
            self.calls[ev.tid] = (n, ev)
            self.inventory.actors[ev.pid] = ev.actor
            if closing.is_closing(ev):
                self.closing.park(n, ev)
                if not self.auto:
                    self.parked[ev.tid] = (n, ev)
                    self.snapshot(ev.pid)
                return
            self.last_activity = time.time()
            self.emit(self.stop_event(n, ev))
            self.snapshot(ev.pid)
            if self.auto:
                self.ptrace.resume(ev.tid)
            else:
                self.parked[ev.tid] = (n, ev)
        elif isinstance(ev, Returned):
            self.last_activity = time.time()
            self.returned(ev)
        elif isinstance(ev, Started):
            self.progs.started(ev)
            self.emit(NoteEvent(self.rel(ev.t), "info", f"{ev.actor}: started pid {ev.pid}: {' '.join(ev.argv)}"))
        elif isinstance(ev, Exited):
            self.last_activity = time.time()
            self.parked = {tid: v for tid, v in self.parked.items() if v[1].pid != ev.pid}
            self.closing.exited(ev.pid)
            if ev.status.startswith("killed") and ev.pid not in self.ptrace.dying:
                last = self.inventory.sockets.get(ev.pid, [])
                self.closing.died_unseen(ev.actor, ev.pid, ev.status, last, self.inventory.frames_at.get(ev.pid, 0))
            self.flush_outputs(final=True)
            self.emit(NoteEvent(self.rel(ev.t), "info", f"{ev.actor}: pid {ev.pid} {ev.status}"))
            self.emit_if(self.inventory.gone(self.rel(ev.t), ev.actor, ev.pid))
            self.progs.exited(ev.actor, ev.pid)
        elif isinstance(ev, TraceNote):
            self.emit(NoteEvent(self.rel(ev.t), ev.level, ev.text))
        elif isinstance(ev, PeerCall):
            self.peer_call(ev)
        elif isinstance(ev, PeerEnded):
            self.emit(NoteEvent(self.rel(), "info", f"{ev.actor}: {ev.why}"))

    def peer_call(self, c: PeerCall) -> None:
        """A call the lab server made: a step of its own, its sockets learnt for the wire."""
        self.steps += 1
        self.changes += 1
        self.last_activity = time.time()
        for row in c.sockets:
            self.matcher.learn(c.actor, sockets.from_row(row))
        self.drain_frames()
        for ev in call_events(self.rel(c.t), self.steps, c.actor, c.call, c.args, c.ret, c.errno, c.result):
            self.emit(ev)
        self.emit_if(self.inventory.of_rows(self.rel(c.t), c.actor, c.pid, c.sockets))

    def snapshot(self, pid: int, closed: int | None = None) -> None:
        self.emit_if(self.inventory.take(self.rel(), pid, len(self.matcher.frames), closed))

    def emit_if(self, ev: Event | None) -> None:
        if ev is not None:
            self.emit(ev)

    def stop_event(self, n: int, p: Parked, prediction: list | None = None) -> StopEvent:
        fd = p.args.get("fd")
        s = sockets.resolve(p.pid, fd) if isinstance(fd, int) and fd >= 0 else None
        if s is not None:
            self.matcher.learn(p.actor, s)
        return StopEvent(self.rel(p.t), n, p.actor, p.pid, p.tid, p.call, p.args, None, s.to_dict() if s else None, prediction)

    def returned(self, r: Returned) -> None:
        self.changes += 1
        n, p = self.calls.pop(r.tid, (0, None))
        args = p.args if p is not None else {}
        for ev in call_events(self.rel(r.t), n, r.actor, r.call, args, r.ret, r.errno, r.result):
            self.emit(ev)
        if r.call == "listen":
            self.progs.listened(r.actor)
        if r.errno is None:
            self.matcher.learn_call(r.actor, r.pid, r.call, r.ret, args.get("fd"))
        self.catch_up()
        self.closing.returned(r.tid)
        self.snapshot(r.pid, closed=args.get("fd") if r.call == "close" and r.errno is None else None)

    def tick(self) -> None:
        self.drain_frames()
        self.flush_outputs()
        now = time.time()
        if self.auto and self.ptrace.failed and self.progs.alive and not self.ending:
            self.end_programs("a program of the run could not start")
        if self.auto and not self.progs.deferred and not self.closing.busy:
            self.end_if_idle(now)
        if self.auto and self.progs.overdue(now):  # by keys, the user sets the pace
            self.note("warn", f"the server did not listen() within {DEFER_MAX_S:.0f} s; starting the others anyway")
            self.progs.launch_deferred()
        quiet = self.is_quiet(now)
        for ev in self.inventory.refresh(self.rel(), self.progs.gone, len(self.matcher.frames)) if quiet else []:
            self.emit(ev)  # what the packets did to the programs' sockets
        self.closing.tick(now, quiet)

    def is_quiet(self, now: float) -> bool:
        """Nothing under way (``Quiet``), no stop or frame waiting to be handled, and a lab
        server, if any, settled."""
        if not self.inbox.empty() or (self.peer is not None and not self.peer.settled()):
            return False
        held = {p.tid for _, p in self.closing.waiting} | set(self.parked) | set(self.closing.parked)
        return self.quiet.settled(now, self.progs.alive, held)

    # -- the wire and the programs' output -----------------------------------------------------
    def catch_up(self) -> None:
        """Every frame lo carried until a call returned is read before anything that came after
        it is handled: a starved sniffer thread would otherwise let a connect()'s handshake land
        in the step of the next call."""
        mark, deadline = self.matcher.mark(), time.time() + CATCH_UP_S
        while not self.matcher.caught_up(mark) and time.time() < deadline:
            time.sleep(0.0002)
        self.drain_frames()

    def drain_frames(self) -> None:
        new = self.matcher.collect()
        if new:
            self.last_activity = max(self.last_activity, time.time())
            self.changes += 1
            self.inventory.stale = True
        current = self.closing.current
        step = current.step if current else (self.steps or None)
        connecting = any(p.call == "connect" for _, p in self.calls.values())
        # A late ACK belongs to the step whose data or FIN it answers (``Acks``), not this one.
        for ev in self.matcher.take(new, lambda f: self.quiet.acks.frame(f, step), self.t0, connecting):
            self.emit(ev)

    def flush_outputs(self, final: bool = False) -> None:
        for ev in self.progs.output(self.rel(), final):
            self.emit(ev)


def _drain(q: queue.Queue) -> list:
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out
