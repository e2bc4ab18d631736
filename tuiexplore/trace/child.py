"""Stepping in a child process: for a UI that must stay in its own namespace, and for --auto.

Entering a namespace (unshare) is for a single-threaded process, and the explorer is threaded
and must keep the user's network. So the step screen's ``--lab`` runs
``tuiexplore step --serve --lab -- ...`` as a child: it enters a fresh namespace, runs a manual
Stepper there and speaks the agent's pipe language, one ``timeline.to_wire`` line per event on
stdout (after a first ``ready`` line, and a last ``done STATUS`` line), commands on stdin
(``step TID``, ``detach``). The parent side, ``ChildStepper``, has the Stepper's interface, so
the screen cannot tell them apart. If the parent goes away (stdin at EOF), the child detaches:
the programs run on correctly.

``--auto`` runs its Stepper in such a child too (``--serve --auto``), with the seccomp filter
(trace/seccomp.py): programs under that filter cannot be detached, so the child, in its own
session, is their keeper. When the parent is interrupted or killed, the child stops stepping and
goes on tracing them, unstepped, until they have all exited: they run on correctly either way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tuiexplore.procwait import wait_exit
from tuiexplore.timeline import Event, from_wire, to_wire
from tuiexplore.trace.events import register_wire_types
from tuiexplore.trace.launch import Untraceable
from tuiexplore.trace.origin import Origin
from tuiexplore.trace.tasks import running

if TYPE_CHECKING:  # imported by serve() alone: the parent's side never loads the tracer
    from tuiexplore.trace.stepper import Stepper

READY = "ready"
DONE = "done"
START_TIMEOUT_S = 30.0


def serve(
    programs: list[tuple[str, list[str]]],
    lab: bool,
    capture: bool,
    with_server: str | None = None,
    auto: bool = False,
    origin: Origin | None = None,
) -> int:
    """The child's side: stdout carries only protocol lines, until the parent is gone."""
    from tuiexplore.trace.stepper import Stepper

    ns = enter_lab() if lab else None
    if lab and ns is None:
        return 1
    lock = threading.Lock()
    early: list[Event] | None = []  # start()'s own notes come after the ready line

    def emit(e: Event) -> None:
        with lock:
            if early is not None:
                early.append(e)
            else:
                _write(to_wire(e))

    stepper = Stepper(programs, emit, auto=auto, lab=lab, capture=capture, with_server=with_server, fast=auto, origin=origin)
    try:
        stepper.start()
    except Untraceable as exc:
        print(f"tuiexplore step: {exc}", file=sys.stderr)
        return 2
    with lock:
        _write(READY)
        held, early = early or [], None
        for e in held:
            _write(to_wire(e))
    if ns is not None:
        stepper.note("info", f"lab: private network namespace ({ns.mode}), counters exact")
    threading.Thread(target=_commands, args=(stepper,), name="commands", daemon=True).start()
    status = stepper.run()
    kept = " ".join(f"{actor}:{pid}" for actor, pid in stepper.still_running())
    with lock:
        _write(f"{DONE} {status} {kept}".rstrip())  # the programs that outlive the stepping
        _close_stdout()
    stepper.ptrace.join()  # --auto after a detach: the keeper, until the programs have exited
    if stepper.peer is not None:  # a lab server serves detached programs on, until they are gone
        while not stepper.peer.done.wait(0.5) and any(running(pid) for pid in stepper.inventory.actors):
            pass
        stepper.peer.stop()
    return status


def _write(line: str) -> None:
    """A protocol line; once the parent is gone (a broken pipe) they go nowhere."""
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except (OSError, ValueError):
        _close_stdout()


def _close_stdout() -> None:
    """The parent sees the end; later writes (from the detach's reports) are dropped."""
    try:
        sys.stdout.close()
    except OSError:
        pass
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


def enter_lab() -> Any:
    """This process becomes the lab's (still single-threaded: the programs inherit the namespace);
    None after saying in one line why it could not."""
    from tuiexplore.lab import namespace

    try:
        return namespace.enter(as_self=True)  # the programs run as the user, as they would bare
    except namespace.NamespaceError as exc:
        print(f"tuiexplore step: {exc}", file=sys.stderr)
        return None


def _commands(stepper: Stepper) -> None:
    for line in sys.stdin:
        word, _, arg = line.strip().partition(" ")
        if word == "step" and arg.isdigit():
            stepper.step(int(arg))
        elif word == "detach":
            break
    stepper.request_detach()  # "detach", or the parent is gone


class ChildStepper:
    """The parent's side: start() raises Untraceable with the child's one line; run() delivers
    its events to ``on_event`` on the calling thread until the child ends."""

    def __init__(
        self,
        programs: list[tuple[str, list[str]]],
        on_event: Callable[[Event], None],
        capture: bool = True,
        with_server: str | None = None,
        lab: bool = True,
        auto: bool = False,
    ) -> None:
        register_wire_types()
        self.programs, self.on_event, self.capture, self.with_server = programs, on_event, capture, with_server
        self.lab, self.auto = lab, auto
        self.origin = Origin.capture()  # the user's, handed on to the child and its programs
        self.proc: subprocess.Popen[str] | None = None
        self.kept: list[tuple[str, int]] = []  # the programs still running when the stepping ended
        self._stderr = tempfile.TemporaryFile(mode="w+")  # never the terminal the UI draws on
        self._lock = threading.Lock()

    def argv(self) -> list[str]:
        out = [sys.executable, "-P", "-m", "tuiexplore", "step", "--serve", "--origin", self.origin.to_arg()]
        out += [] if self.capture else ["--no-capture"]
        out += (["--lab"] if self.lab else []) + (["--auto"] if self.auto else [])
        out += ["--with-server", self.with_server] if self.with_server else []
        for name, argv in self.programs:
            out += ["--actor", name, "--", *argv]
        return out

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
            start_new_session=True,  # a terminal's Ctrl-C is the parent's to handle, never the keeper's
            env=self.origin.env,  # the user's: the child's /proc/self/environ is what the programs get
        )
        assert self.proc.stdout is not None  # a PIPE
        first = self.proc.stdout.readline().strip()
        if first != READY:
            self.proc.wait(START_TIMEOUT_S)
            self._stderr.seek(0)
            lines = [x.strip() for x in self._stderr.read().splitlines() if x.strip()]
            why = lines[-1].removeprefix("tuiexplore step: ") if lines else f"the lab child exited with {self.proc.returncode}"
            raise Untraceable(why)

    def run(self) -> int:
        """The events until the child's ``done`` (it may then live on as the programs' keeper)."""
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(DONE):
                _, status, *kept = line.split()
                self.kept = [(actor, int(pid)) for actor, _, pid in (k.rpartition(":") for k in kept)]
                return int(status)
            self.on_event(from_wire(json.loads(line)))
        return self.proc.wait()

    def still_running(self) -> list[tuple[str, int]]:
        """(actor, pid) of the programs that outlived the stepping, as the child last said."""
        return [(actor, pid) for actor, pid in self.kept if running(pid)]

    def end(self, timeout: float) -> int | None:
        """Wait for the child (it may keep --auto programs to their end); its pid if it lives on."""
        if self.proc is None:
            return None
        try:
            wait_exit(self.proc, timeout)
        except subprocess.TimeoutExpired:
            return self.proc.pid
        return None

    def errors(self) -> list[str]:
        """What the child wrote to its stderr (never to the terminal the UI draws on)."""
        self._stderr.seek(0)
        return [x.rstrip() for x in self._stderr.read().splitlines() if x.strip()]

    def _send(self, line: str) -> None:
        if self.proc is None or self.proc.stdin is None:
            return  # not started: nothing to command
        with self._lock:
            try:
                self.proc.stdin.write(line + "\n")
                self.proc.stdin.flush()
            except (OSError, ValueError):  # the child is gone already: nothing left to command
                pass

    def step(self, tid: int) -> None:
        self._send(f"step {tid}")

    def request_detach(self) -> None:
        self._send("detach")
