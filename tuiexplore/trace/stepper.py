"""A stepping session over traced programs: the tracer's stops become the contract's timeline.

The Stepper is an event source like the lab: it turns the tracer's raw stops, the capture's
frames and the programs' output into typed timeline events (``stop``, ``step``, ``epoll``,
``packet``, ``counters``, ``verdict``, ``note``, ``output``), handed to ``on_event`` in order
from the thread that runs ``run()``. Policy lives here, mechanism in the tracer:

- ``auto``: every parked call runs on at once, except closing calls, which first wait until the
  other programs and the wire have been quiet for QUIET_S (as a person pressing a key would be
  slower than the peer), then get their prediction from the socket's real state and run.
- manual (``auto=False``): a parked call waits for ``step(tid)``; closing calls still get their
  prediction when they park and their verdict when the wire is quiet after they ran.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tuiexplore.lab import counters
from tuiexplore.lab.capture import Capture, CaptureError
from tuiexplore.timeline import CountersEvent, EpollEvent, Event, NoteEvent, StepEvent, VerdictEvent
from tuiexplore.trace import closing, sockets
from tuiexplore.trace.events import Exited, OutputEvent, Parked, Returned, Started, StopEvent, TraceEvent, TraceNote
from tuiexplore.trace.inventory import Inventory
from tuiexplore.trace.launch import Untraceable, resolve
from tuiexplore.trace.output import OutputReader
from tuiexplore.trace.peer import ENV, SERVERS, PeerCall, PeerEnded, PeerError
from tuiexplore.trace.syscalls import escape
from tuiexplore.trace.tracer import Tracer
from tuiexplore.trace.wire import Wire

QUIET_S = 0.06  # > the 40 ms minimum delayed ACK, as in the lab
SETTLE_MAX_S = 2.0
RETURN_MAX_S = 5.0  # a closing call that blocks (SO_LINGER) longer is judged anyway
TICK_S = 0.05
DEFER_MAX_S = 5.0
PEER_GRACE_S = 2.0  # how long a lab server may go on once the traced programs are gone
FD_CALLS_TO_LEARN = ("socket", "bind", "listen", "connect", "accept", "accept4", "dup", "dup2", "dup3", "fcntl")


@dataclass(frozen=True)
class _Command:
    kind: str  # "step" | "detach"
    tid: int = 0


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
    seen: int = 0  # Stepper.changes when the prediction was taken

    def begin(self, wire: Wire, lab: bool) -> None:
        """Just before the call runs: where its frames start, and the counters to diff."""
        self.frames_from = len(wire.frames)
        self.before = counters.read() if lab else {}
        self.resumed_at = time.time()

    def judge(self, t: float, wire: Wire, lab: bool) -> tuple[dict[str, int], list[VerdictEvent]]:
        deltas = counters.delta(self.before, counters.read()) if lab else {}
        frames = wire.frames[self.frames_from :]
        p = self.parked
        return deltas, [closing.verdict(t, self.step, p.actor, p.call, x, frames, deltas, wire.conns) for x in self.targets]


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
    ) -> None:
        self.programs = programs
        self.on_event = on_event
        self.auto = auto
        self.lab = lab  # counters are exact only in a private namespace
        self.inbox: queue.Queue[TraceEvent | PeerCall | PeerEnded | _Command | None] = queue.Queue()
        self.peer = SERVERS[with_server](self.inbox.put) if with_server else None
        env = {**os.environ, ENV: self.peer.address} if self.peer is not None else None
        self.tracer = Tracer(self.inbox.put, env=env)
        self.capture = Capture(on_frame=lambda: self.inbox.put(None)) if capture else None
        self.wire = Wire()
        self.t0 = time.time()
        self.steps = 0
        self.calls: dict[int, tuple[int, Parked]] = {}  # tid -> its parked or running call
        self.parked: dict[int, tuple[int, Parked]] = {}  # waiting for step(tid) (manual)
        self.waiting: list[tuple[int, Parked]] = []  # closing calls waiting to settle (auto)
        self.current: _Closing | None = None  # the closing call running, until its verdict
        self.closings: dict[int, _Closing] = {}  # tid -> a closing call parked (manual), predicted
        self.queued: list[int] = []  # closing calls stepped while another one awaits its verdict
        self.changes = 0  # calls returned and frames seen: a parked prediction may be stale
        self.outputs: dict[int, OutputReader] = {}
        self.alive: set[int] = set()
        self.last_activity = time.time()
        self.disagreements = 0
        self.last_t = 0.0
        self.deferred: list[tuple[str, list[str]]] = []
        self.deferred_since = 0.0
        self.inventory = Inventory()
        self.pids: dict[int, str] = {}  # every traced process seen -> its actor
        self.stale = False  # packets arrived since the last sockets snapshot

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Capture first (the first SYN must not be missed), then the programs; raises Untraceable."""
        for _, argv in self.programs:
            resolve(argv)  # refused before anything starts
        if self.capture is not None:
            try:
                self.capture.start()
            except CaptureError as exc:
                self.capture = None
                self.note("warn", f"no packets: {exc}")
        self.t0 = time.time()
        if self.peer is not None:
            self.start_peer()
        if not self.lab:
            self.note("info", "outside a lab: packets on lo only, filtered to the programs' own sockets; no counters")
        # The seed's setup: the others start once the server listens, so their connect() finds it.
        first = [p for p in self.programs if p[0] == "server"] or self.programs
        self.deferred = [p for p in self.programs if p not in first]
        self.deferred_since = time.time()
        try:
            self.tracer.start(first)
        except Untraceable:
            self.stop_capture()
            if self.peer is not None:
                self.peer.stop()
            raise

    def start_peer(self) -> None:
        """The lab server listens before the traced programs start, so their connect() finds it."""
        assert self.peer is not None
        try:
            self.peer.start()
        except PeerError as exc:
            self.peer.stop()
            self.stop_capture()
            raise Untraceable(f"--with-server: {exc}") from None
        where = self.peer.address
        self.note("info", f"{self.peer.name}: a lab actor (the seed's epoll server) listens on {where}; ${ENV}={where}")

    def run(self) -> int:
        """Until every program has exited (or the session detached). 0 when every verdict held."""
        try:
            while True:
                try:
                    item = self.inbox.get(timeout=TICK_S)
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
        return 1 if self.disagreements else 0

    def step(self, tid: int) -> None:
        """Manual mode: let the parked call of ``tid`` run. Any thread; applied by run()'s loop."""
        self.inbox.put(_Command("step", tid))

    def request_detach(self) -> None:
        """Any thread: run()'s loop detaches and returns (the UI's d key, or quitting)."""
        self.inbox.put(_Command("detach"))

    def _step(self, tid: int) -> None:
        if tid not in self.parked:
            return
        if tid in self.closings:
            if self.current is not None:  # one verdict at a time: its frames must be its own
                if tid not in self.queued:
                    self.queued.append(tid)
                return
            c = self.current = self.closings.pop(tid)
            self.parked.pop(tid)
            self.repredict(c)  # the state just before it runs
            self.run_closing(c)
            return
        self.parked.pop(tid)
        self.tracer.resume(tid)

    def detach(self, timeout: float = 5.0) -> None:
        """Let the programs run on untraced, and report what was still under way. From the thread
        of run() (or once run() is over; other threads: request_detach). If the tracer thread does
        not answer, the kernel detaches when we exit anyway."""
        self.tracer.detach()
        self.tracer.join(timeout)
        for item in _drain(self.inbox):
            if item is not None and not isinstance(item, Parked | _Command):  # a stop that raced the detach ran untraced
                self.handle(item)
        self.waiting.clear()
        self.closings.clear()
        self.current = None
        self.flush_outputs(final=True)
        self.stop_capture()

    def launch_deferred(self) -> None:
        for actor, argv in self.deferred:
            self.tracer.launch(actor, argv)
        self.deferred = []

    def finished(self) -> bool:
        tracer_done = self.tracer.detached or (not self.alive and self.tracer.join(0))
        done = tracer_done and not self.deferred and self.inbox.empty() and self.current is None and not self.waiting
        if done and self.peer is not None and not self.peer.done.is_set():
            if time.time() - self.last_activity < PEER_GRACE_S:  # its answer to the programs' last packets
                return False
            self.peer.stop()
            self.note("info", f"{self.peer.name}: stopped, the traced programs are gone")
        return done

    def stop_capture(self) -> None:
        if self.capture is not None:
            self.drain_frames()
            self.capture.stop()
            self.capture = None

    # -- output --------------------------------------------------------------------------------
    def emit(self, ev: Event) -> None:
        if ev.t < self.last_t:  # the stream never goes back in time (frames are stamped by the kernel)
            ev = dataclasses.replace(ev, t=self.last_t)
        self.last_t = ev.t
        self.on_event(ev)

    def rel(self, ts: float | None = None) -> float:
        return max(0.0, (time.time() if ts is None else ts) - self.t0)

    def note(self, level: str, text: str) -> None:
        self.emit(NoteEvent(self.rel(), level, text, self.current.step if self.current else None))

    # -- events from the tracer ----------------------------------------------------------------
    def handle(self, ev: TraceEvent | _Command) -> None:
        if isinstance(ev, _Command):
            self._step(ev.tid) if ev.kind == "step" else self.detach()
        elif isinstance(ev, Parked):
            self.steps += 1
            n = self.steps
            self.calls[ev.tid] = (n, ev)
            self.pids[ev.pid] = ev.actor
            if closing.is_closing(ev):
                if self.auto:
                    self.waiting.append((n, ev))  # not activity: it waits for the others
                    return
                self.parked[ev.tid] = (n, ev)
                self.closings[ev.tid] = self.predict(n, ev)
                self.snapshot(ev.pid)
                return
            self.last_activity = time.time()
            self.emit(self.stop_event(n, ev))
            self.snapshot(ev.pid)
            if self.auto:
                self.tracer.resume(ev.tid)
            else:
                self.parked[ev.tid] = (n, ev)
        elif isinstance(ev, Returned):
            self.last_activity = time.time()
            self.returned(ev)
        elif isinstance(ev, Started):
            self.alive.add(ev.pid)
            self.outputs[ev.pid] = OutputReader(ev.actor, ev.pid, {"stdout": ev.stdout, "stderr": ev.stderr})
            self.emit(NoteEvent(self.rel(ev.t), "info", f"{ev.actor}: started pid {ev.pid}: {' '.join(ev.argv)}"))
        elif isinstance(ev, Exited):
            self.last_activity = time.time()
            self.alive.discard(ev.pid)
            self.parked = {tid: v for tid, v in self.parked.items() if v[1].pid != ev.pid}
            self.closings = {tid: c for tid, c in self.closings.items() if c.parked.pid != ev.pid}
            if self.current is not None and self.current.parked.pid == ev.pid:
                self.current.done = True
            self.flush_outputs(final=True)
            self.emit(NoteEvent(self.rel(ev.t), "info", f"{ev.actor}: pid {ev.pid} {ev.status}"))
            self.emit_if(self.inventory.gone(self.rel(ev.t), ev.actor, ev.pid))
            if ev.actor == "server" and self.deferred:  # it will never listen(): start the others now
                self.launch_deferred()
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
            self.wire.learn(c.actor, sockets.from_row(row))
        self.drain_frames()
        self.emit(StepEvent(self.rel(c.t), self.steps, c.actor, c.call, c.args, c.ret, c.errno, c.result))
        for ev in c.result.get("ready", []):
            self.emit(EpollEvent(self.rel(c.t), self.steps, c.actor, str(ev["fd"]), ev["events"], ev["mask"]))
        self.emit_if(self.inventory.of_rows(self.rel(c.t), c.actor, c.pid, c.sockets))

    def snapshot(self, pid: int) -> None:
        self.emit_if(self.inventory.take(self.rel(), self.pids.get(pid, "?"), pid))

    def emit_if(self, ev: Event | None) -> None:
        if ev is not None:
            self.emit(ev)

    def stop_event(self, n: int, p: Parked, prediction: list | None = None) -> StopEvent:
        fd = p.args.get("fd")
        s = sockets.resolve(p.pid, fd) if isinstance(fd, int) and fd >= 0 else None
        if s is not None:
            self.wire.learn(p.actor, s)
        return StopEvent(self.rel(p.t), n, p.actor, p.pid, p.tid, p.call, p.args, None, s.to_dict() if s else None, prediction)

    def returned(self, r: Returned) -> None:
        self.changes += 1
        n, p = self.calls.pop(r.tid, (0, None))
        args = p.args if p is not None else {}
        self.emit(StepEvent(self.rel(r.t), n, r.actor, r.call, args, r.ret, r.errno, r.result))
        for ev in r.result.get("ready", []) if r.call.startswith("epoll") else []:
            self.emit(EpollEvent(self.rel(r.t), n, r.actor, str(ev["fd"]), ev["events"], ev["mask"]))
        if r.call == "listen" and r.actor == "server" and self.deferred:
            self.launch_deferred()
        if r.errno is None and r.call in FD_CALLS_TO_LEARN:
            fd = r.ret if r.call in ("socket", "accept", "accept4", "dup", "dup2", "dup3", "fcntl") else None
            self.learn(r, [fd, args.get("fd")])
        if self.current is not None and self.current.parked.tid == r.tid:
            self.current.done = True
        self.snapshot(r.pid)

    def learn(self, r: Returned, fds: list[int | None]) -> None:
        """The endpoints a call created (its new fd, or the fd it acted on), for the wire."""
        self.wire.learn_fds(r.actor, r.pid, fds)
        self.drain_frames()

    # -- closing calls -------------------------------------------------------------------------
    def predict(self, n: int, p: Parked) -> _Closing:
        c = _Closing(n, p, closing.predict(p), seen=self.changes)
        self.emit(self.stop_event(n, p, [t.to_dict() for t in c.targets]))
        for t in c.targets:
            self.wire.learn(p.actor, t.sock)
        return c

    def repredict(self, c: _Closing) -> None:
        """A parked closing call's prediction again, from the state now (the peer may have sent
        data or closed since): a changed one is a new ``stop`` event with the same step number."""
        if c.seen == self.changes:
            return
        c.seen = self.changes
        targets = closing.predict(c.parked)
        if [t.to_dict() for t in targets] != [t.to_dict() for t in c.targets]:
            c.targets = targets
            self.emit(self.stop_event(c.step, c.parked, [t.to_dict() for t in targets]))

    def tick(self) -> None:
        self.drain_frames()
        self.flush_outputs()
        now = time.time()
        if self.deferred and self.auto and now - self.deferred_since > DEFER_MAX_S:  # by keys, the user sets the pace
            self.note("warn", f"the server did not listen() within {DEFER_MAX_S:.0f} s; starting the others anyway")
            self.launch_deferred()
        quiet = now - self.last_activity >= QUIET_S and (self.peer is None or self.peer.settled())
        if quiet and self.stale:  # what the packets did to the programs' sockets
            self.stale = False
            for pid in [p for p in self.pids if p in self.alive or p not in self.outputs]:
                self.snapshot(pid)
        c = self.current
        if c is not None and c.resumed_at:
            if (c.done and quiet) or now - c.resumed_at > RETURN_MAX_S:
                self.judge(c)
            return
        if not self.auto:  # manual: closing calls wait for step(tid), their predictions kept fresh
            for c in list(self.closings.values()) if quiet else []:
                self.repredict(c)
            return
        if self.waiting and (quiet or now - self.waiting[0][1].t > SETTLE_MAX_S):
            n, p = self.waiting.pop(0)
            c = self.current = self.predict(n, p)
            self.run_closing(c)

    def run_closing(self, c: _Closing) -> None:
        c.begin(self.wire, self.lab)
        self.last_activity = c.resumed_at
        self.tracer.resume(c.parked.tid)

    def judge(self, c: _Closing) -> None:
        self.drain_frames()
        deltas, verdicts = c.judge(self.rel(), self.wire, self.lab)
        if deltas:
            self.emit(CountersEvent(self.rel(), c.step, deltas))
        for v in verdicts:
            self.disagreements += not v.agree
            self.emit(v)
        self.current = None
        if self.queued:
            self._step(self.queued.pop(0))

    # -- the wire and the programs' output -----------------------------------------------------
    def drain_frames(self) -> None:
        if self.capture is None:
            return
        new = []
        while True:
            try:
                new.append(self.capture.frames.get_nowait())
            except queue.Empty:
                break
        if new:
            self.last_activity = max(self.last_activity, time.time())
            self.changes += 1
            self.stale = True
        step = self.current.step if self.current else (self.steps or None)
        connecting = any(p.call == "connect" for _, p in self.calls.values())
        for ev in self.wire.take(new, step, self.t0, connecting):
            self.emit(ev)

    def flush_outputs(self, final: bool = False) -> None:
        for out in self.outputs.values():
            for stream, line in out.lines(final):
                self.emit(OutputEvent(self.rel(), out.actor, out.pid, stream, escape(line)))


def _drain(q: queue.Queue) -> list:
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out
