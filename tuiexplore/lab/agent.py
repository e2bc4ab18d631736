"""The lab agent: the one process inside the lab's private namespace.

Started by :class:`tuiexplore.lab.client.Lab` as ``python -m tuiexplore.lab.agent OPTIONS``. It
enters a fresh network namespace (first thing, while single-threaded), starts the capture and,
as root, the tracer, makes the actors (``lab/actors.py``), and then runs the commands of
``lab/protocol.py`` it reads on stdin, one at a time. It writes the timeline to stdout
(``timeline.to_wire`` lines) plus the protocol's replies. Threads exist only at the edges
(stdin, actors, capture, tracer); they post to one inbox that the main thread alone reads, in
``Inbox.handle_next``, so no state is shared.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
import queue
import signal
import socket
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, NoReturn

from tuiexplore.domain import LabInfo
from tuiexplore.lab import inputs, namespace, sysctl
from tuiexplore.lab import protocol as proto
from tuiexplore.lab.actors import Actor, ActorFactory, Actors, FromClient, InboxItem, Wake
from tuiexplore.lab.arrivals import Arrivals
from tuiexplore.lab.attribution import Attribution
from tuiexplore.lab.calls import RECEIVED
from tuiexplore.lab.capture import CaptureError, pcap_bytes
from tuiexplore.lab.codec import encode
from tuiexplore.lab.evidence import Evidence, TracerStart
from tuiexplore.lab.inbox import Inbox
from tuiexplore.lab.output import Output
from tuiexplore.lab.predict import Prediction, kernel_version
from tuiexplore.lab.steps import StepRunner, will_run
from tuiexplore.relay import topology
from tuiexplore.relay.link import LinkError
from tuiexplore.relay.netns import NetnsError

# An actor's first answer at start-up: its interpreter starts in ~0.1 s on a host, several
# seconds in a QEMU TCG guest on a busy host; within the client's 15 s wait for the lab's Ready.
ACTOR_START_S = 10.0


class Agent:
    """Puts the lab together and answers the client's commands, one at a time. The jobs are
    elsewhere: the actor processes (``Actors``), the inbox and its loop (``Inbox``), what is
    written (``Output``), a step (``StepRunner``), frames/trace events/sockets to actors
    (``Attribution``), the evidence (``Evidence``) and the prediction inputs (``inputs``)."""

    def __init__(self, opts: proto.LabOptions, factory: ActorFactory | None = None) -> None:
        self.opts = opts
        self.items: queue.Queue[InboxItem] = queue.Queue()
        self.actors = Actors(self.items.put, factory)
        self.who = Attribution()
        self.out = Output()
        self.inbox = Inbox(self.items, self.actors, self.out, self.who)
        self.version = kernel_version()
        self.evidence: Evidence | None = None
        self.steps: StepRunner | None = None  # once the lab is up
        self.net: topology.Wire | None = None  # the wire, once the lab is up
        self.handlers: dict[type, Callable[[Any], None]] = {
            proto.StepCmd: lambda c: self.out.reply(proto.Done(self._steps().run(c))),
            proto.PredictCmd: self.answer_predict,
            proto.InspectCmd: lambda c: self.out.reply(proto.Inventory(c.id, self.inbox.inspect_all())),
            proto.PcapCmd: self.answer_pcap,
            proto.ConfigCmd: self.configure,
            proto.StatsCmd: self.answer_stats,
        }

    # -- start-up ----------------------------------------------------------------------------
    def start(self, ns: namespace.LabNamespace) -> None:
        self.port = self.opts.port or _free_port()
        self.net = topology.make(self.opts.wire, lambda: self.items.put(Wake()), self.port)
        self.actors.factory = self.actors.factory or self.net.factory
        sysctls, unset = self.set_sysctls()  # before any socket: the lab's own values from the start
        capture = self.net.capture
        # Made from this (the main) thread, while it is the only one: forks of the agent.
        for name in self.opts.actors:
            self.actors.get(name)
        tracing = TracerStart(ns, self.port, self.opts.no_tracer, lambda: self.items.put(Wake()))
        try:
            capture.start()
            self.inbox.inspect_all(within=ACTOR_START_S)  # every actor has answered once: ready means ready
        except BaseException:
            tracing.close()  # its tracefs instance goes too
            raise
        tracer, why_not = tracing.result()
        notes = [("info", n) for n in capture.notes] + [
            ("warn", f"lab sysctls: {why}; the lab goes on without it") for why in unset
        ]
        if sysctls:
            said = ", ".join(f"{sysctl.full_name(k)} = {v}" for k, v in sysctls.items())
            notes.append(("info", f"lab sysctls (the lab's own namespace; the host's are untouched): {said}"))
        if why_not:
            notes.append(("warn" if ns.mode == "root" else "info", why_not))  # as root, tracing was expected
        self.evidence = Evidence(capture, tracer, self.who, self.out.emit, self.out.rel, self.sockets_of, self.net.timers)
        # What a timer's prediction reads: the scenario's value, else a new namespace's default.
        lab_sysctl = lambda name: v if isinstance(v := sysctls.get(name), int) else sysctl.read(name)  # noqa: E731
        arrivals = self.arrivals = Arrivals(self.net, self.who, self.net.states, self.version, self.opts.rules)
        self.steps = StepRunner(
            self.out, self.inbox, self.actors, self.evidence, self.who, self.predict, self.net, lab_sysctl, self.version, arrivals
        )
        threading.Thread(target=self.read_stdin, daemon=True).start()
        info = LabInfo(
            kernel=".".join(map(str, self.version)),
            release=os.uname().release,
            port=self.port,
            mode=ns.mode,
            tracepoints=tracer is not None,
            wire=self.net.wire,
            sysctls=sysctls,
            rst_reasons=sorted(tracer.reasons.values()) if tracer else [],
            t0=self.out.restart_clock(),
        )
        self.out.reply(proto.Ready(info))
        for level, text in notes:
            self.out.note(level, text)

    def set_sysctls(self) -> tuple[dict[str, int | str], list[str]]:
        """The scenario's sysctls, set in each namespace where the lab's sockets live: (the values
        the kernel holds, one line per sysctl it would not set)."""
        net = self._net()
        places = [ns.inside for ns in net.ns.values()] if isinstance(net, topology.RelayWire) else [contextlib.nullcontext]
        held: dict[str, int | str] = {}
        unset: list[str] = []
        for inside in places:
            with inside():
                done, errors = sysctl.apply(self.opts.sysctls)
            held.update(done)
            unset += [e for e in errors if e not in unset]
        return held, unset

    def read_stdin(self) -> None:
        for line in sys.stdin:
            if line.strip():
                self.items.put(FromClient(proto.decode_command(line)))
        self.items.put(FromClient(proto.QuitCmd()))

    # -- the one event loop ------------------------------------------------------------------
    def serve(self) -> None:
        commands = self.inbox.commands
        while True:
            while not commands:
                self.inbox.handle_next(None)
                self._evidence().drain(final=True)
            cmd = commands.popleft()
            if isinstance(cmd, proto.QuitCmd):
                return
            self.handlers[type(cmd)](cmd)

    # start() makes these before any command is served
    def _evidence(self) -> Evidence:
        assert self.evidence is not None, "the lab is not up"
        return self.evidence

    def _net(self) -> topology.Wire:
        assert self.net is not None, "the lab is not up"
        return self.net

    def _steps(self) -> StepRunner:
        assert self.steps is not None, "the lab is not up"
        return self.steps

    def sockets_of(self, name: str) -> dict:
        a = self.actors.by_name.get(name)  # never made just to be asked
        return a.sockets if a else {}

    # -- predictions and the other answers ---------------------------------------------------
    def predict(self, a: Actor, call: str, args: dict[str, Any]) -> list[tuple[Any, Prediction]]:
        self.inbox.inspect_all()
        everyone = [s for b in self.actors.live() for s in b.sockets.values()]
        return inputs.predict(
            call,
            args,
            a.sockets,
            self.who,
            self._net().states(self._evidence().keys()),
            self.version,
            self.opts.unread_rule,
            everyone=everyone,
            frames=self._evidence().frames,
        )

    def answer_predict(self, cmd: proto.PredictCmd) -> None:
        if cmd.call in RECEIVED:  # what a segment the relay delivers will do (lab/arrivals.py)
            self.out.reply(proto.Predictions(cmd.id, [e.view() for e in self._steps().arriving(cmd.actor, cmd.call, cmd.args)]))
            return
        a = self.actors.by_name.get(cmd.actor)
        preds = self.predict(a, cmd.call, cmd.args) if a is not None and will_run(a, cmd.call) else []
        self.out.reply(proto.Predictions(cmd.id, [inputs.view(s.name, p) for s, p in preds]))

    def answer_stats(self, cmd: proto.StatsCmd) -> None:
        ev = self._evidence()
        self.out.reply(proto.Stats(cmd.id, len(ev.frames), ev.capture.drops()))

    def answer_pcap(self, cmd: proto.PcapCmd) -> None:
        frames = self._evidence().frames
        self.out.reply(proto.PcapWritten(cmd.id, frames=len(frames), data=base64.b64encode(pcap_bytes(frames)).decode()))

    def configure(self, cmd: proto.ConfigCmd) -> None:  # e.g. the running kernel's own source was found after start
        self.opts = dataclasses.replace(self.opts, unread_rule=cmd.unread_rule, rules=cmd.rules)
        self.arrivals.rules = cmd.rules
        self.out.reply(proto.Configured(cmd.id))

    # -- shutdown ----------------------------------------------------------------------------
    def close(self) -> None:
        # The actors' processes end (their memory freed) while the lab's other parts close.
        for a in self.actors.all():
            a.stop()
        try:
            if self.evidence is not None:
                self.evidence.close()
            if self.net is not None:
                self.net.close()
        finally:
            for a in self.actors.all():
                a.kill()  # reaped: gone before the agent is


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(opts: proto.LabOptions | None = None) -> None:
    """``opts``: from the command line when not given (a fork of the client gives them)."""
    # No PR_SET_PDEATHSIG here: the client may start us from a short-lived thread. When the
    # client dies, for any reason, our stdin reaches EOF and we stop (read_stdin -> quit).
    if opts is None:
        opts = proto.decode_options(sys.argv[1]) if len(sys.argv) > 1 else proto.LabOptions()
    try:
        ns = namespace.enter()
    except namespace.NamespaceError as exc:
        print(encode(proto.Fatal(str(exc))), flush=True)
        sys.exit(3)
    agent = Agent(opts)

    def on_term(signum: int, frame: FrameType | None) -> NoReturn:  # noqa: ARG001
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the client decides; Ctrl-C reaches it, not us
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a lost terminal, likewise: the client stops us
    try:
        try:
            agent.start(ns)
        except (CaptureError, LinkError, NetnsError) as exc:
            print(encode(proto.Fatal(str(exc))), flush=True)
            return
        agent.serve()
    finally:
        agent.close()


def exit_now() -> NoReturn:
    """After an orderly stop: the actors are reaped, the tracefs instance is removed, every line
    is written, and the namespaces go with the process. What the interpreter's own teardown
    would add is freeing memory (~30 ms of the client's wait at the end of every run)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
    exit_now()  # an exception or a signal's SystemExit takes the ordinary way out instead
