"""The edge between a stepping session and the step screen: the session's own thread runs it
and posts typed messages; the screen only consumes them and sends commands back
(``step(tid)``, ``request_detach()``, both safe from any thread).

Events are batched without a timer: the first event after the screen took the last batch posts
a ``TraceEvents`` message, and every event until the screen takes it joins the same batch.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

from textual._context import NoActiveAppError
from textual.message import Message
from textual.message_pump import MessagePump

from tuiexplore.timeline import Event
from tuiexplore.trace.command import Ending


class SteppingSession(Ending, Protocol):
    """What the screen needs of a stepper: trace.stepper.Stepper in this process, or
    trace.child.ChildStepper when the programs run inside a lab namespace."""

    def start(self) -> None: ...
    def run(self) -> int: ...
    def step(self, tid: int) -> None: ...
    def request_detach(self) -> None: ...


@dataclass
class TraceEvents(Message):
    """Events in timeline order; ``take()`` them on the UI's side (later ones start a new batch)."""

    batcher: EventBatcher = field(repr=False)
    batch: list[Event] = field(default_factory=list)

    def take(self) -> list[Event]:
        return self.batcher.close(self.batch)


@dataclass
class TraceEnded(Message):
    """run() returned: every program exited, or the session detached. ``error``: it failed."""

    status: int | None
    error: str = ""


class EventBatcher:
    """The session's ``on_event``: called on the session's thread, posts to the screen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[Event] | None = None
        self._target: MessagePump | None = None
        self._early: list[Event] = []  # start() reports before the screen exists

    def attach(self, target: MessagePump) -> None:
        with self._lock:
            self._target, early, self._early = target, self._early, []
        for e in early:
            self(e)

    def __call__(self, e: Event) -> None:
        with self._lock:
            if self._target is None:
                self._early.append(e)
                return
            if self._open is not None:
                self._open.append(e)
                return
            batch = self._open = [e]
            target = self._target
        post(target, TraceEvents(self, batch))

    def close(self, batch: list[Event]) -> list[Event]:
        with self._lock:
            if self._open is batch:
                self._open = None
            return list(batch)


class SessionThread(threading.Thread):
    """Runs the session until it ends and says so; owned by the step app."""

    def __init__(self, session: SteppingSession, target: MessagePump) -> None:
        super().__init__(name="stepper", daemon=True)
        self.session, self.target = session, target

    def run(self) -> None:
        try:
            status = self.session.run()
        except Exception as exc:  # noqa: BLE001 - a dead session would leave the screen waiting forever
            post(self.target, TraceEnded(None, f"{type(exc).__name__}: {exc}"))
            return
        post(self.target, TraceEnded(status))


def post(target: MessagePump, message: Message) -> None:
    """From the session's thread. Once the app has closed the screen there is no one to tell,
    and the session must go on to its detach rather than die of it."""
    try:
        target.post_message(message)
    except NoActiveAppError:
        pass
