"""How one step runs in the agent, and the rules for its outcome (``domain.OUTCOMES``).

:class:`StepRunner` is given what a step needs and nothing else: the output, the inbox (to ask
the actors and wait), the actors, the evidence, and how to predict. The agent makes one when the
lab is up and hands it each ``StepCmd``; any :class:`~tuiexplore.lab.actors.Actor` can be
stepped (a scripted actor process today, a traced program or a test's fake alike).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tuiexplore.domain import BLOCKED, FAILED, REFUSED, RETURNED, SocketRow, StepDone
from tuiexplore.lab import counters, procnet, sysctl, timerpath, timers
from tuiexplore.lab import protocol as proto
from tuiexplore.lab.actors import Actor, Actors, PendingCall
from tuiexplore.lab.arrivals import Arrivals, Expected
from tuiexplore.lab.attribution import Attribution
from tuiexplore.lab.calls import WIRE_CALLS, is_closing
from tuiexplore.lab.evidence import Evidence
from tuiexplore.lab.inbox import Inbox
from tuiexplore.lab.output import Output
from tuiexplore.lab.predict import Prediction
from tuiexplore.lab.timerwait import NOTHING, TimerWait
from tuiexplore.relay import topology
from tuiexplore.timeline import CountersEvent, TimersEvent

DEFAULT_BLOCK_S = 1.0

Predict = Callable[[Actor, str, dict[str, Any]], list[tuple[Any, Prediction]]]


class StepRunner:
    def __init__(
        self,
        out: Output,
        inbox: Inbox,
        actors: Actors,
        evidence: Evidence,
        who: Attribution,
        predict: Predict,
        net: topology.Wire | None = None,
        sysctl: timerpath.Sysctl = sysctl.read,
        version: tuple[int, int, int] = (0, 0, 0),
        arrivals: Arrivals | None = None,
    ) -> None:
        self.out, self.inbox, self.actors, self.evidence, self.who, self.predict = out, inbox, actors, evidence, who, predict
        # The lab's wire (relay/topology.py): its namespaces' counters and socket states, the
        # wire calls, what the relay did; None is loopback without its wire object (a test's).
        self.net = net
        self.counters = net.counters if net is not None else counters.read
        self.states = net.states if net is not None else procnet.lookup_states
        self.timers = net.timers if net is not None else procnet.lookup_timers
        self.timers_shown = False  # the last step's end named a pending timer
        self.sysctl, self.version = sysctl, version  # what a timer's prediction reads (lab/timerpath.py)
        self.options = timerpath.SocketOptions()
        self.arrivals = arrivals  # what a segment the relay delivers will do (lab/arrivals.py)

    def run(self, cmd: proto.StepCmd) -> StepDone:
        n, actor, call, args = cmd.step, cmd.actor, cmd.call, cmd.args
        self.evidence.drain(final=True)
        self.out.step = n
        self.evidence.begin_step(n, (actor, args.get("fd") or ""))  # "": a call without an fd
        wall0 = time.time()
        before = self.counters()
        preds: list[tuple[Any, Prediction]] = []
        coming: list[Expected] = []
        if call == "sleep":  # the lab waits; no process needed for it
            self.out.step_event(time.time(), n, actor, call, args, ret=0)
            outcome, message = RETURNED, ""
            waited = self.wait(args["ms"] / 1000)
        elif call == "wait":  # the lab waits for the kernel's next timer; its verdict is the timer's socket's
            outcome, message, waited, preds, actor = self.wait_timer(n, actor, args)
        elif call in WIRE_CALLS:
            coming = self.arriving(actor, call, args)
            (outcome, message), waited = self.control(n, actor, call, args), 0.0
        else:
            a = self.actors.get(actor)
            if is_closing(call, args) and will_run(a, call):
                preds = self.predict(a, call, args)
            outcome, message, waited = self.perform(n, a, call, args)
        waited += self.evidence.settle(self.inbox.handle_next)
        for text in self.net.notes(self.evidence.frames) if self.net is not None else []:
            self.out.note("info", text)
        self.poll_states()
        self.show_timers(n)
        delta = counters.delta(before, self.counters())
        if delta:
            self.out.emit(CountersEvent(self.out.rel(time.time()), n, delta))
        for verdict in self.evidence.verdicts(self.out.rel(time.time()), n, actor, call, preds, delta):
            self.out.emit(verdict)
        if self.arrivals is not None and outcome == RETURNED:
            ev = self.evidence
            for e in coming:
                self.out.emit(self.arrivals.judge(self.out.rel(time.time()), n, call, e, ev.step_frames, ev.step_resets))
        overhead = (time.time() - wall0 - waited) * 1000
        self.out.step = None
        self.evidence.end_step()
        return StepDone(n, outcome in (RETURNED, BLOCKED), round(overhead, 3), round(waited, 4), outcome, message)

    def perform(self, n: int, a: Actor, call: str, args: dict[str, Any]) -> tuple[str, str, float]:
        """Have the actor make the call; emit its step event. Returns (outcome, message, seconds waited)."""
        t = time.time()
        if not a.alive:
            message = f"{a.name} has exited"
            self.out.step_event(t, n, a.name, call, args, errno="ESRCH", result={"message": message})
            return REFUSED, message, 0.0
        if not will_run(a, call):
            return self.refuse(t, n, a, call, args)
        req, msg = self.inbox.request(a, call, args, _block_bound(call, args, a))
        waited = time.time() - t
        if isinstance(msg, proto.Refused):
            return self.refuse(t, n, a, call, args)
        if msg is None and a.alive or isinstance(msg, proto.Blocked):
            # No answer at all is treated like a "blocked" one: the call is somewhere in the kernel.
            a.blocked = PendingCall(req, n)
            self.out.step_event(getattr(msg, "t0", t), n, a.name, call, args, result={"blocked": True})
            return BLOCKED, "", waited
        if isinstance(msg, proto.Returned):
            result = msg.result
            slept = msg.t1 - msg.t0
            if slept >= 0.05:  # worth saying: the call slept in the kernel
                result = {**result, "blocked_s": round(slept, 3)}
            self.out.step_event(msg.t0, n, a.name, call, args, ret=msg.ret, errno=msg.errno, result=result)
            self.out.epoll(n, a.name, msg)
            self.options.seen(a.name, call, args, msg.ret, msg.result)
            # A call that slept in the kernel (SO_LINGER close, epoll_wait with a timeout) waited;
            # a syscall that returns at once takes microseconds, so 5 ms tells the two apart.
            waited = slept if slept > 0.005 else 0.0
            if call == "exit":
                waited += self.reap(a)
            return RETURNED, "", waited
        message = msg.message if isinstance(msg, proto.Failed) else f"{a.name}: the actor process is gone"
        self.out.step_event(getattr(msg, "t0", t), n, a.name, call, args, result={"message": message, "failed": True})
        return FAILED, message, 0.0

    def control(self, n: int, actor: str, call: str, args: dict[str, Any]) -> tuple[str, str]:
        """A wire call: the relay's next rule for the actor's direction, or a release."""
        deadline = time.time() + max(0, args.get("timeout_ms", 0)) / 1000  # -1 (epoll's "for ever"): look once
        while True:  # an expect waits (bounded) for the segment it checks
            done, said = self.net.control(actor, call, args, self.evidence.frames) if self.net is not None else (False, "")
            if done is not None or time.time() >= deadline:
                break
            self.inbox.handle_next(0.005)
            self.evidence.drain(final=True)
        if done:
            self.out.step_event(time.time(), n, actor, call, args, ret=0, result=said)
            return RETURNED, ""
        message = said or f"{call} needs the relay's wire"
        self.out.step_event(time.time(), n, actor, call, args, result={"message": message, "failed": True})
        return FAILED, message

    def arriving(self, actor: str, call: str, args: dict[str, Any]) -> list[Expected]:
        if self.arrivals is None:
            return []
        self.inbox.inspect_all()
        held = [s for a in self.actors.live() for s in a.sockets.values()]
        return self.arrivals.predict(actor, call, args, self.evidence.frames, held)

    def refuse(self, t: float, n: int, a: Actor, call: str, args: dict[str, Any]) -> tuple[str, str, float]:
        busy = a.blocked
        where = f" in {busy.request.call}() from step {busy.step}" if busy else ""
        message = f"{a.name} is still blocked{where}; this step was not sent"
        self.out.step_event(t, n, a.name, call, args, result={"message": message, "refused": True})
        return REFUSED, message, 0.0

    def reap(self, a: Actor) -> float:
        t = time.time()
        a.reap(timeout=5)
        a.alive = False
        a.sockets.clear()
        return time.time() - t

    # -- evidence ----------------------------------------------------------------------------
    def wait(self, seconds: float) -> float:
        end = time.time() + seconds
        while (left := end - time.time()) > 0:
            self.inbox.handle_next(left)
            self.evidence.drain()
        return seconds

    def wait_timer(self, n: int, actor: str, args: dict[str, Any]) -> tuple[str, str, float, list, str]:
        """The lab waits until the next pending timer has fired (lab/timerwait.py), its effect
        predicted first (lab/timerpath.py): (outcome, message, waited, predictions, whose)."""
        waiting = TimerWait(self.pending, self.wait)
        timer, why = waiting.next(args.get("max_ms", 10_000))
        if why == NOTHING:
            self.out.step_event(time.time(), n, actor, "wait", args, ret=0, result={"timer": None})
            self.out.note("info", f"wait: {why}")
            return RETURNED, "", 0.0, [], actor
        if timer is None:
            self.out.step_event(time.time(), n, actor, "wait", args, result={"message": why, "failed": True})
            return FAILED, why, 0.0, [], actor
        preds = [self.predict_timer(timer)]
        self.out.step_event(time.time(), n, actor, "wait", args, ret=0, result={"timer": timer.to_dict()})
        fired, waited, said = waiting.until_fired(timer)
        waited += self.evidence.settle(self.inbox.handle_next)  # what the timer sent comes before the note
        self.out.note("info" if fired else "warn", said)
        return (RETURNED, "", waited, preds, timer.actor) if fired else (FAILED, said, waited, [], actor)

    def predict_timer(self, timer: timers.Pending) -> tuple[SocketRow, Prediction]:
        a = self.actors.by_name.get(timer.actor)
        orphan = a is None or not a.alive or timer.fd not in a.sockets
        at = time.time() + timer.due_ms / 1000
        elapsed = timerpath.first_unacked_ms(timer, self.evidence.frames, at)
        sock = timerpath.TimerSocket(orphan, self.options.of(timer.actor, timer.fd), elapsed)
        row = SocketRow(timer.fd, -1, timer.state, lport=timer.lport, rport=timer.rport)
        return row, timerpath.predict_timer(timer, sock, self.sysctl, self.version)

    def pending(self) -> list[timers.Pending]:
        return timers.pending(self.timers(self.evidence.keys()), self.who.owner)

    def show_timers(self, n: int) -> None:
        """The lab sockets' pending timers at the step's end (and once, empty, when none is left)."""
        now = self.pending()
        if now or self.timers_shown:
            self.out.emit(TimersEvent(self.out.rel(time.time()), n, [p.to_dict() for p in now]))
        self.timers_shown = bool(now)

    def poll_states(self) -> None:
        """States the tracer did not show (TIME_WAIT, or no tracer at all), read from the kernel."""
        self.inbox.inspect_all()
        self.who.reset_listeners({a.name: a.sockets.values() for a in self.actors.all()})
        for key, old, new, (actor, fd) in self.who.changes(self.states(self.evidence.keys())):
            self.evidence.state(time.time(), actor, fd, old, new, "tcp_info", self.who.pending_of(key, fd))


def will_run(a: Actor, call: str) -> bool:
    """A blocked actor is refused every call but exit, which ends it whatever it is in."""
    return a.alive and (a.blocked is None or call == "exit")


def _block_bound(call: str, args: dict[str, Any], a: Actor) -> float:
    """How long a call may stay in the kernel before the step reports it as blocked."""
    if call == "epoll_wait" and 0 <= args.get("timeout_ms", 0) <= 10_000:
        return args["timeout_ms"] / 1000 + DEFAULT_BLOCK_S
    if call == "close":
        s = a.sockets.get(args["fd"]) if "fd" in args else None
        on, secs = s.linger if s else (0, 0)
        if on and 0 < secs <= 10:
            return secs + DEFAULT_BLOCK_S
    return DEFAULT_BLOCK_S
