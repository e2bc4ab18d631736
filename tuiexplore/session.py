"""An interactive lab session: a scenario to step through, manual steps that may depart from it,
restarts, and the seed server's own loop. No UI code: the TUI drives it from one worker thread.

Steps are numbered in the order they run, whatever their origin (scenario, key, palette,
server policy); ``origin`` records which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuiexplore.domain import REFUSED, ActorInventory, LabInfo, PredictionView, StepDone
from tuiexplore.lab.calls import RECEIVED, ArgError, complete_args, is_closing
from tuiexplore.lab.client import Lab, LabError
from tuiexplore.lab.protocol import LabOptions
from tuiexplore.lab.receive_rules import ReceiveRules
from tuiexplore.lab.transport import AgentProcess, Transport
from tuiexplore.scenarios.scenario import Scenario, Step
from tuiexplore.timeline import Event, StepEvent

SEED_EVENTS = ["EPOLLIN", "EPOLLOUT", "EPOLLRDHUP", "EPOLLHUP"]


@dataclass
class FdModel:
    """What an actor holds, as far as its steps said (for defaults and for dimming keys)."""

    sockets: list[str] = field(default_factory=list)  # open sockets, oldest first
    epolls: list[str] = field(default_factory=list)
    listeners: set[str] = field(default_factory=set)
    connected: set[str] = field(default_factory=set)
    exited: bool = False

    def latest(self, kind: str = "socket") -> str | None:
        names = {"socket": self.sockets, "epoll": self.epolls}[kind]
        return names[-1] if names else None

    def conn(self) -> str | None:
        """The socket a default read/write/close should use: the newest non-listener."""
        return next((s for s in reversed(self.sockets) if s not in self.listeners), None)

    def fresh_name(self, base: str) -> str:
        taken = set(self.sockets) | set(self.epolls)
        if base not in taken:
            return base
        return next(f"{base}{i}" for i in range(2, 1000) if f"{base}{i}" not in taken)


class Session:
    def __init__(
        self,
        scenario: Scenario,
        on_batch: Callable[[list[Event], int], None],
        tracer: bool = True,
        on_step: Callable[[int, str, str, str, str | None], None] | None = None,
        transport: Callable[[LabOptions], Transport] = AgentProcess,
        on_dead: Callable[[str, int], None] | None = None,
    ) -> None:
        """``on_step(number, actor, call, origin, say)`` is called as each step is sent to the lab;
        ``say`` is the scenario step's narration, if it has one."""
        self.scenario = scenario
        self._on_step = on_step or (lambda *a: None)
        self.tracer = tracer
        self.transport = transport  # how each lab's agent is reached (a guest kernel's, say)
        self._on_batch = on_batch
        self._on_dead = on_dead or (lambda why, generation: None)
        self.lab: Lab | None = None
        self.info: LabInfo | None = None
        self.cursor = 0  # index of the scenario's next step
        self.number = 0  # steps run so far
        self.origin: dict[int, str] = {}  # step number -> "scenario" | "manual" | "server policy"
        self.fds: dict[str, FdModel] = {}
        self.results: dict[int, StepEvent] = {}
        self.seed_server = False
        self._seed_written: set[str] = set()
        self.unread_rule: str | None = None  # from the running kernel's own source, when found
        self.rules = ReceiveRules()  # the receive rules (rules_probe.py), as far as known
        self.generation = 0  # handed to on_batch with the events of the lab it belongs to

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> LabInfo:
        generation = self.generation
        self.lab = Lab(
            on_batch=lambda events: self._batch(events, generation),
            transport=self.transport,
            on_dead=lambda why: self._on_dead(why, generation),
        )
        actors = list(dict.fromkeys([*(self.scenario.actors or []), "server", "client"]))
        self.info = self.lab.start(
            actors,
            self.scenario.port,
            self.tracer,
            unread_rule=self.unread_rule,
            wire=self.scenario.wire,
            sysctls=self.scenario.sysctls,
            rules=self.rules,
        )
        return self.info

    def set_rules(self, unread_rule: str | None, rules: ReceiveRules) -> None:
        """The kernel's rules learnt after start: this lab's and every later one's."""
        self.unread_rule, self.rules = unread_rule, rules
        if self.lab is not None:
            self.lab.set_rules(unread_rule, rules)

    def restart(self) -> LabInfo:
        self.close()
        self.cursor = self.number = 0
        self.origin.clear()
        self.fds.clear()
        self.results.clear()
        self._seed_written.clear()
        return self.start()

    def close(self) -> None:
        if self.lab is not None:
            self.lab.close()
            self.lab = None

    def _batch(self, events: list[Event], generation: int) -> None:
        if generation != self.generation:
            return  # the last words of a lab that was replaced
        for e in events:
            if isinstance(e, StepEvent):
                self.results[e.step] = e
                self._track(e)
        self._on_batch(events, generation)

    # -- steps -------------------------------------------------------------------------------
    @property
    def next_step(self) -> Step | None:
        return self.scenario.steps[self.cursor] if self.cursor < len(self.scenario.steps) else None

    def run_next(self) -> StepDone | None:
        step = self.next_step
        if step is None:
            return None
        self.cursor += 1
        try:
            return self._run(step.actor, step.call, step.args, "scenario", step.say)
        except LabError:
            self.cursor -= 1  # the step never ran: it is still the next one
            raise

    def run_manual(self, actor: str, call: str, args: dict[str, Any]) -> StepDone:
        return self._run(actor, call, args, "manual")

    def _run(self, actor: str, call: str, args: dict[str, Any], origin: str, say: str | None = None) -> StepDone:
        lab, info = self.lab, self.info
        if lab is None or info is None:  # closed (the app is quitting) or never started
            raise LabError("the lab is not running")
        lab.ensure_alive()  # a dead lab's step is neither numbered nor announced
        self.number += 1
        n = self.number
        self.origin[n] = origin
        self._on_step(n, actor, call, origin, say)
        try:
            full = complete_args(call, args, info.port)
        except ArgError as exc:  # refused before any syscall, shown like any step that did not run
            t = max((e.t for e in self.results.values()), default=0.0)
            message = f"{exc.field}: {exc}"
            self._batch([StepEvent(t, n, actor, call, args, None, None, {"message": message, "refused": True})], self.generation)
            return StepDone(n, False, 0.0, 0.0, REFUSED, message)
        done = lab.step(n, actor, call, full)
        if self.seed_server and actor != "server" and origin != "server policy":
            self.run_seed_server()
        return done

    def predict(self, actor: str, call: str, args: dict[str, Any]) -> list[PredictionView]:
        return self.lab.predict(actor, call, args) if self.lab else []

    def predict_next(self) -> list[PredictionView]:
        """The prediction for the scenario's next step, if it is a closing call."""
        step = self.next_step
        if step is None or not (is_closing(step.call, step.args) or step.call in RECEIVED):
            return []
        return self.predict(step.actor, step.call, step.args)

    def inspect(self) -> dict[str, ActorInventory]:
        return self.lab.inspect() if self.lab else {}

    # -- what each actor holds ---------------------------------------------------------------
    def model(self, actor: str) -> FdModel:
        return self.fds.setdefault(actor, FdModel())

    def _track(self, e: StepEvent) -> None:
        m = self.model(e.actor)
        ok = e.ret is not None and e.ret >= 0 and not e.errno
        name = e.result.get("fd")
        if e.call in ("socket", "accept") and ok and name is not None:
            m.sockets.append(name)
            if e.call == "accept":
                m.connected.add(name)
        elif e.call == "epoll_create" and ok and name is not None:
            m.epolls.append(name)
        elif e.call == "listen" and ok:
            m.listeners.add(e.args["fd"])
        elif e.call == "connect" and (ok or e.errno == "EINPROGRESS"):
            if e.args.get("family") == "AF_UNSPEC":
                m.connected.discard(e.args["fd"])
            else:
                m.connected.add(e.args["fd"])
        elif e.call == "close" and ok:
            fd = e.args["fd"]
            for names in (m.sockets, m.epolls):
                if fd in names:
                    names.remove(fd)
            m.listeners.discard(fd)
            m.connected.discard(fd)
        elif e.call == "exit":
            self.fds[e.actor] = FdModel(exited=True)

    def fresh_name(self, actor: str, base: str) -> str:
        return self.model(actor).fresh_name(base)

    # -- the seed server's loop --------------------------------------------------------------
    def run_seed_server(self) -> None:
        """The seed's server, one real syscall per step: set up a listener in epoll, then on each
        wake-up accept, write "1" once on a connection's EPOLLOUT, and close on HUP/ERR."""
        m = self.model("server")
        if m.exited:
            return
        run = lambda call, **a: self._run("server", call, a, "server policy")  # noqa: E731
        if not m.listeners:
            lst = self.fresh_name("server", "listener")
            run("socket", **{"as": lst})
            run("setsockopt", fd=lst, option="SO_REUSEADDR", value=1)
            run("bind", fd=lst)
            run("listen", fd=lst)
        ep = m.latest("epoll")
        if ep is None:
            ep = self.fresh_name("server", "ep")
            run("epoll_create", **{"as": ep})
            for lst in sorted(m.listeners):
                run("epoll_ctl", ep=ep, op="ADD", fd=lst, events=["EPOLLIN"])
        for _ in range(8):  # bounded: a wake-up with nothing to do ends the loop
            done = run("epoll_wait", ep=ep, timeout_ms=0)
            ready = self.results.get(done.step)
            acted = False
            for ev in ready.result.get("ready", []) if ready else []:
                fd, names = ev["fd"], set(ev["events"])
                if fd in m.listeners and "EPOLLIN" in names:
                    conn = self.fresh_name("server", "conn")
                    run("accept", fd=fd, **{"as": conn})
                    run("epoll_ctl", ep=ep, op="ADD", fd=conn, events=SEED_EVENTS)
                    acted = True
                elif names & {"EPOLLHUP", "EPOLLERR", "EPOLLRDHUP"} and fd in m.sockets:
                    run("close", fd=fd)
                    acted = True
                elif "EPOLLOUT" in names and fd not in self._seed_written and fd in m.sockets:
                    self._seed_written.add(fd)
                    run("write", fd=fd, data="1")
                    acted = True
            if not acted:
                return
