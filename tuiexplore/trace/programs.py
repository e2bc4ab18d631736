"""The traced programs' life cycle for the Stepper: who starts when, who is alive, their output.

The seed's setup: with a program named ``server`` it starts first and the others once its
``listen()`` has returned, so their connect() finds it (or once it exited, which means it never
will; with ``auto`` after DEFER_MAX_S anyway). Output is read from the files the programs write
to and becomes escaped ``output`` events.
"""

from __future__ import annotations

import time

from tuiexplore.trace.escaping import escape
from tuiexplore.trace.events import OutputEvent, Started
from tuiexplore.trace.output import OutputReader
from tuiexplore.trace.ptrace_loop import PtraceLoop

DEFER_MAX_S = 5.0


class Programs:
    def __init__(self, programs: list[tuple[str, list[str]]], ptrace: PtraceLoop) -> None:
        self.programs, self.ptrace = programs, ptrace
        self.deferred: list[tuple[str, list[str]]] = []
        self.deferred_since = 0.0
        self.alive: set[int] = set()
        self.gone: set[int] = set()  # every traced process that exited
        self.outputs: dict[int, OutputReader] = {}

    def first(self) -> list[tuple[str, list[str]]]:
        """The programs to start now; the others wait for the server's listen()."""
        first = [p for p in self.programs if p[0] == "server"] or self.programs
        self.deferred = [p for p in self.programs if p not in first]
        self.deferred_since = time.time()
        return first

    def launch_deferred(self) -> None:
        for actor, argv in self.deferred:
            self.ptrace.launch(actor, argv)
        self.deferred = []

    def overdue(self, now: float) -> bool:
        return bool(self.deferred) and now - self.deferred_since > DEFER_MAX_S

    def started(self, ev: Started) -> None:
        self.alive.add(ev.pid)
        self.outputs[ev.pid] = OutputReader(ev.actor, ev.pid, {"stdout": ev.stdout, "stderr": ev.stderr})

    def exited(self, actor: str, pid: int) -> None:
        self.alive.discard(pid)
        self.gone.add(pid)
        if actor == "server" and self.deferred:  # it will never listen(): start the others now
            self.launch_deferred()

    def listened(self, actor: str) -> None:
        if actor == "server" and self.deferred:
            self.launch_deferred()

    def output(self, t: float, final: bool = False) -> list[OutputEvent]:
        return [
            OutputEvent(t, out.actor, out.pid, stream, escape(line))
            for out in self.outputs.values()
            for stream, line in out.lines(final)
        ]
