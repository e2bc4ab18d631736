"""The one thread that talks to the lab for the UI: requests run in order, results are posted."""

from __future__ import annotations

import copy
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.message_pump import MessagePump

from tuiexplore.lab.client import LabError
from tuiexplore.lab.names import process_names
from tuiexplore.lab.receive_rules import ReceiveRules
from tuiexplore.lab.transport import AgentProcess, Transport
from tuiexplore.reports import pcapng
from tuiexplore.scenarios.scenario import Scenario
from tuiexplore.session import Session
from tuiexplore.timeline import Event
from tuiexplore.tui.messages import Busy, LabEvents, LabFailed, LabStarted, StepFinished, StepStarted


# -- what the UI asks of the driver (typed; ``LabDriver._do`` is the one dispatcher) ----------
@dataclass(frozen=True)
class Next:
    """The scenario's next step."""


@dataclass(frozen=True)
class Manual:
    actor: str
    call: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Restart:
    """A fresh lab; messages about earlier labs carry an older ``generation`` and are dropped."""

    generation: int
    scenario: Scenario | None = None  # another scenario to load (``o``), else the same again


@dataclass(frozen=True)
class SavePcap:
    paths: tuple[str, ...]  # each written from the same frames
    events: tuple[Event, ...] = ()  # for a .pcapng: the relay's marks as comments (reports/pcapng.py)


@dataclass(frozen=True)
class KernelRules:
    """The lab kernel's rules from its source or a probe (unread_probe.py, rules_probe.py)."""

    unread_rule: str | None
    rules: ReceiveRules


@dataclass(frozen=True)
class SeedLoop:
    on: bool


Request = Next | Manual | Restart | SavePcap | KernelRules | SeedLoop


class LabDriver(threading.Thread):
    """Owns the Session; the UI sends it requests with ``submit`` and receives messages only."""

    def __init__(
        self, target: MessagePump, scenario: Scenario, tracer: bool = True, transport: Callable[..., Transport] = AgentProcess
    ) -> None:
        super().__init__(name="lab-driver", daemon=True)
        self.target = target
        self._requests: queue.Queue[Request | None] = queue.Queue()
        self._session = Session(scenario, self._post_events, tracer, self._post_step, transport, self._post_dead)
        self.generation = 0  # of the lab now running (the driver thread's view)

    def _post_events(self, events: list[Event], generation: int) -> None:  # on the lab's reader thread
        self.target.post_message(LabEvents(events, generation))

    def _post_dead(self, why: str, generation: int) -> None:  # on the lab's reader thread, as it notices
        if generation == self.generation:
            self.target.post_message(LabFailed(why))

    def _post_step(self, step: int, actor: str, call: str, origin: str, say: str | None) -> None:
        self.target.post_message(StepStarted(step, actor, call, origin, say, self.generation))

    def submit(self, req: Request) -> None:
        self._requests.put(req)
        self.target.post_message(Busy(self._requests.qsize()))

    def stop(self) -> None:
        self._requests.put(None)

    def run(self) -> None:
        self._do(None)
        while (req := self._requests.get()) is not None:
            self._do(req)
            self.target.post_message(Busy(self._requests.qsize()))
        self._session.close()

    def _do(self, req: Request | None) -> None:
        """Perform one request (None: the first start); every outcome is posted, none raised."""
        s = self._session
        try:
            done = None
            if req is None or isinstance(req, Restart):
                if req is not None:
                    self.generation = s.generation = req.generation
                    if req.scenario is not None:
                        s.scenario, s.seed_server = req.scenario, False
                info = s.start() if req is None else s.restart()
                self.target.post_message(LabStarted(info, self.generation))
            elif isinstance(req, Next):
                done = s.run_next()
            elif isinstance(req, Manual):
                done = s.run_manual(req.actor, req.call, req.args)
            elif isinstance(req, SavePcap):
                if s.lab is None:
                    raise LabError("the lab is not running")
                pcapng.write(list(req.paths), s.lab.pcap(), list(req.events))
                return
            elif isinstance(req, KernelRules):
                s.set_rules(req.unread_rule, req.rules)
                return
            elif isinstance(req, SeedLoop):
                s.seed_server = req.on
                if s.seed_server:
                    s.run_seed_server()
            sockets = s.inspect()
            self.target.post_message(
                StepFinished(
                    done,
                    dict(s.origin),
                    copy.deepcopy(s.fds),
                    s.cursor,
                    s.predict_next(),
                    sockets,
                    process_names(sockets, guest=bool(s.info and s.info.where)),
                    self.generation,
                )
            )
        except LabError as exc:
            self.target.post_message(LabFailed(str(exc), s.cursor))
        except Exception as exc:  # noqa: BLE001 - a dead driver would leave the UI waiting forever
            self.target.post_message(LabFailed(f"internal error in {type(req).__name__}: {type(exc).__name__}: {exc}"))
