"""The one thread that talks to the lab for the UI: requests run in order, results are posted."""

from __future__ import annotations

import copy
import queue
import threading
from collections.abc import Callable
from typing import Any

import psutil
from textual.message_pump import MessagePump

from tuiexplore.domain import ActorInventory
from tuiexplore.lab.client import LabError
from tuiexplore.scenarios.scenario import Scenario
from tuiexplore.session import Session
from tuiexplore.tui.messages import Busy, LabEvents, LabFailed, LabStarted, StepFinished, StepStarted


def process_names(actors: dict[str, ActorInventory]) -> dict[int, str]:
    """Who owns each actor's sockets, as the OS says (psutil): pid -> process name."""
    names = {}
    for info in actors.values():
        pid = info.pid
        if pid:
            try:
                names[pid] = psutil.Process(pid).name()
            except psutil.Error:
                names[pid] = "(gone)"
    return names


class LabDriver(threading.Thread):
    """Owns the Session; the UI sends it requests with ``submit`` and receives messages only."""

    def __init__(
        self, target: MessagePump, scenario: Scenario, tracer: bool = True, session_factory: Callable[..., Session] = Session
    ) -> None:
        super().__init__(name="lab-driver", daemon=True)
        self.target = target
        self._requests: queue.Queue[tuple[str, tuple[Any, ...]] | None] = queue.Queue()
        self._session = session_factory(
            scenario, on_batch=self._post_events, tracer=tracer, on_step=lambda *a: target.post_message(StepStarted(*a))
        )

    def _post_events(self, events) -> None:  # noqa: ANN001 - list[Event], called on the lab's reader thread
        self.target.post_message(LabEvents(events))

    def submit(self, op: str, *args: Any) -> None:
        self._requests.put((op, args))
        self.target.post_message(Busy(self._requests.qsize()))

    def stop(self) -> None:
        self._requests.put(None)

    def run(self) -> None:
        self._do("start")
        while (req := self._requests.get()) is not None:
            self._do(req[0], *req[1])
            self.target.post_message(Busy(self._requests.qsize()))
        self._session.close()

    def _do(self, op: str, *args: Any) -> None:
        s = self._session
        try:
            done = None
            if op in ("start", "restart", "load"):
                if op == "load":
                    s.scenario = args[0]
                    s.seed_server = False
                info = s.start() if op == "start" else s.restart()
                self.target.post_message(LabStarted(info, s.scenario))
            elif op == "next":
                done = s.run_next()
            elif op == "manual":
                done = s.run_manual(*args)
            elif op == "pcap":
                s.lab.write_pcap(args[0])
                return
            elif op == "rule":
                s.set_unread_rule(args[0])
                return
            elif op == "seed":
                s.seed_server = args[0]
                if s.seed_server:
                    s.run_seed_server()
            sockets = s.inspect()
            self.target.post_message(
                StepFinished(
                    done, dict(s.origin), copy.deepcopy(s.fds), s.cursor, s.predict_next(), sockets, process_names(sockets)
                )
            )
        except LabError as exc:
            self.target.post_message(LabFailed(str(exc)))
        except Exception as exc:  # noqa: BLE001 - a dead driver would leave the UI waiting forever
            self.target.post_message(LabFailed(f"internal error in {op}: {type(exc).__name__}: {exc}"))
