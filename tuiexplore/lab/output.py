"""What the agent writes on stdout: the timeline, in order and on the lab's clock, and the
protocol's replies. Every line the client reads comes from here, and only the agent's main
thread writes (the threads at the edges post to its inbox), so lines never interleave."""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any

from tuiexplore.lab import protocol as proto
from tuiexplore.lab.codec import encode
from tuiexplore.timeline import EpollEvent, Event, NoteEvent, StepEvent, to_wire


class Output:
    def __init__(self) -> None:
        self.t0 = time.time()  # the lab's clock starts again when the lab is ready (``restart_clock``)
        self.last_t = 0.0  # t of the last event written: the stream never goes back in time
        self.step: int | None = None  # the step running now: a note without one belongs to it

    def restart_clock(self) -> float:
        self.t0 = time.time()
        return self.t0

    def rel(self, ts: float) -> float:
        return max(0.0, ts - self.t0)

    def emit(self, ev: Event) -> None:
        # The stream is in timeline order. Under load a tracepoint or a frame can reach us after
        # a later event went out; it is then stamped no earlier than that event.
        if ev.t < self.last_t:
            ev = dataclasses.replace(ev, t=self.last_t)
        self.last_t = ev.t
        self._write(to_wire(ev))

    def reply(self, msg: proto.Reply) -> None:
        self._write(encode(msg))

    def note(self, level: str, text: str, step: int | None = None, ts: float | None = None) -> None:
        self.emit(NoteEvent(self.rel(ts or time.time()), level, text, self.step if step is None else step))

    def step_event(self, ts: float, n: int, actor: str, call: str, args: dict[str, Any], **outcome: Any) -> None:
        """The one place a StepEvent is made: ret/errno/result default to "no return value"."""
        self.emit(
            StepEvent(self.rel(ts), n, actor, call, args, outcome.get("ret"), outcome.get("errno"), outcome.get("result", {}))
        )

    def epoll(self, n: int, actor: str, msg: proto.Returned) -> None:
        """The ready list of an epoll_wait that returned, one event per file descriptor."""
        for ev in msg.result.get("ready", []):
            self.emit(EpollEvent(self.rel(msg.t1), n, actor, ev["fd"], ev["events"], ev["mask"]))

    def _write(self, line: str) -> None:
        sys.stdout.write(line + "\n")  # looked up each time: tests capture it
        sys.stdout.flush()
