"""The lab agent: the one process inside the lab's private namespace.

Started by :class:`tuiexplore.lab.client.Lab` as ``python -m tuiexplore.lab.agent OPTIONS``. It
enters a fresh network namespace (first thing, while single-threaded), starts the capture and,
as root, the tracer, makes the actors (``lab/actors.py``), and then runs the commands of
``lab/protocol.py`` it reads on stdin, one at a time. It writes the timeline to stdout
(``timeline.to_wire`` lines) plus the protocol's replies. Threads exist only at the edges
(stdin, actors, capture, tracer); they post to one inbox that the main thread alone reads, in
``handle_next``, so no state is shared.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import os
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from tuiexplore.domain import ActorInventory, LabInfo
from tuiexplore.lab import inputs, namespace, procnet
from tuiexplore.lab import protocol as proto
from tuiexplore.lab.actors import Actor, ActorFactory, ActorGone, Actors, FromActor, FromClient, InboxItem, Wake
from tuiexplore.lab.attribution import Attribution
from tuiexplore.lab.capture import Capture, CaptureError, pcap_bytes
from tuiexplore.lab.evidence import Evidence, start_tracer
from tuiexplore.lab.predict import Prediction, kernel_version
from tuiexplore.lab.steps import StepRunner, will_run
from tuiexplore.lab.wire import encode
from tuiexplore.timeline import Event, NoteEvent, StepEvent, to_wire

ANSWER_S = 2.0  # beyond a request's block_s: an actor that says nothing at all by then is stuck


class Agent(StepRunner):
    def __init__(self, opts: proto.LabOptions, factory: ActorFactory | None = None) -> None:
        self.opts = opts
        self.inbox: queue.Queue[InboxItem] = queue.Queue()
        self.out_lock = threading.Lock()
        self.actors = Actors(self.inbox.put, factory)
        self.who = Attribution()
        self.version = kernel_version()
        self.t0 = time.time()
        self.last_t = 0.0  # t of the last event written: the stream never goes back in time
        self.step: int | None = None
        self.req_ids = iter(range(1, 1 << 62))
        self.replies: dict[int, proto.ActorReply] = {}  # answers to requests someone waits for
        self.pending: collections.deque[proto.Command] = collections.deque()  # commands read during a step
        self.evidence: Evidence | None = None
        self.handlers: dict[type, Callable[[Any], None]] = {
            proto.StepCmd: self.run_step,
            proto.PredictCmd: self.answer_predict,
            proto.InspectCmd: lambda c: self.reply(proto.Inventory(c.id, self.inspect_all())),
            proto.PcapCmd: self.answer_pcap,
            proto.ConfigCmd: self.configure,
            proto.StatsCmd: lambda c: self.reply(proto.Stats(c.id, len(self.evidence.frames), self.evidence.capture.drops())),
        }

    # -- output ------------------------------------------------------------------------------
    def emit(self, ev: Event) -> None:
        # The stream is in timeline order. Under load a tracepoint or a frame can reach us after
        # a later event went out; it is then stamped no earlier than that event.
        if ev.t < self.last_t:
            ev = dataclasses.replace(ev, t=self.last_t)
        self.last_t = ev.t
        self._write(to_wire(ev))

    def reply(self, msg: proto.Reply) -> None:
        self._write(encode(msg))

    def _write(self, line: str) -> None:
        with self.out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def rel(self, ts: float) -> float:
        return max(0.0, ts - self.t0)

    def note(self, level: str, text: str, step: int | None = None, ts: float | None = None) -> None:
        self.emit(NoteEvent(self.rel(ts or time.time()), level, text, self.step if step is None else step))

    def step_event(self, ts: float, n: int, actor: str, call: str, args: dict[str, Any], **outcome: Any) -> None:
        """The one place a StepEvent is made: ret/errno/result default to "no return value"."""
        self.emit(
            StepEvent(self.rel(ts), n, actor, call, args, outcome.get("ret"), outcome.get("errno"), outcome.get("result", {}))
        )

    # -- start-up ----------------------------------------------------------------------------
    def start(self, ns: namespace.LabNamespace) -> None:
        self.port = self.opts.port or _free_port()
        capture = Capture(on_frame=lambda: self.inbox.put(Wake()))
        # Made from this (the main) thread: their interpreters start while we import scapy.
        for name in self.opts.actors:
            self.actors.get(name)
        capture.start()
        notes = [("info", n) for n in capture.notes]
        tracer, why_not = start_tracer(ns, self.port, self.opts.no_tracer, lambda: self.inbox.put(Wake()))
        if why_not:
            notes.append(("warn" if ns.mode == "root" else "info", why_not))  # as root, tracing was expected
        self.evidence = Evidence(capture, tracer, self.who, self.emit, self.rel, self.sockets_of)
        self.inspect_all()  # every actor has answered once: ready means ready
        threading.Thread(target=self.read_stdin, daemon=True).start()
        self.t0 = time.time()
        info = LabInfo(
            kernel=".".join(map(str, self.version)),
            release=os.uname().release,
            port=self.port,
            mode=ns.mode,
            tracepoints=tracer is not None,
            rst_reasons=sorted(tracer.reasons.values()) if tracer else [],
            t0=self.t0,
        )
        self.reply(proto.Ready(info))
        for level, text in notes:
            self.note(level, text)

    def read_stdin(self) -> None:
        for line in sys.stdin:
            if line.strip():
                self.inbox.put(FromClient(proto.decode_command(line)))
        self.inbox.put(FromClient(proto.QuitCmd()))

    # -- the one event loop ------------------------------------------------------------------
    def serve(self) -> None:
        while True:
            while not self.pending:
                self.handle_next(None)
                self.evidence.drain(final=True)
            cmd = self.pending.popleft()
            if isinstance(cmd, proto.QuitCmd):
                return
            self.handlers[type(cmd)](cmd)

    def handle_next(self, timeout: float | None) -> bool:
        """Read and handle one inbox item (False: none came within ``timeout``). Commands that
        arrive while a step runs wait; packets wait for ``drain`` (the step event comes first)."""
        try:
            item = self.inbox.get(timeout=timeout)
        except queue.Empty:
            return False
        if isinstance(item, FromClient):
            self.pending.append(item.cmd)
        elif isinstance(item, FromActor):
            self.on_reply(self.actors.by_name[item.actor], item.reply)
        elif isinstance(item, ActorGone):
            a = self.actors.by_name[item.actor]
            a.alive = False
            a.sockets.clear()
        return True

    def pump(self, until: Callable[[], bool], deadline: float) -> bool:
        """Handle inbox items until ``until()`` holds or the deadline passes."""
        while not until():
            left = deadline - time.time()
            if left <= 0 or not self.handle_next(left):
                return until()
        return True

    def on_reply(self, a: Actor, msg: proto.ActorReply) -> None:
        sockets = getattr(msg, "sockets", None)
        if sockets is not None:
            self.update_sockets(a, sockets)
        pending = a.blocked
        if pending is not None and msg.id == pending.request.id and isinstance(msg, (proto.Returned, proto.Failed)):
            a.blocked = None  # a call that blocked has come back: say so in its step's name
            req, n = pending.request, pending.step
            if isinstance(msg, proto.Returned):
                err = f" ({msg.errno})" if msg.errno else ""
                text = f"step {n}: {a.name} {req.call}() returned {msg.ret}{err} after {msg.t1 - msg.t0:.2f} s"
                self.note("info", text, n, msg.t1)
                self.emit_epoll(n, a.name, msg)
            else:
                self.note("error", f"step {n}: {a.name}: {msg.message}", n, msg.t1)
        elif not isinstance(msg, proto.Blocked) or msg.id not in self.replies:
            self.replies[msg.id] = msg

    def sockets_of(self, name: str) -> dict:
        a = self.actors.by_name.get(name)  # never made just to be asked
        return a.sockets if a else {}

    def update_sockets(self, a: Actor, rows: list) -> None:  # noqa: ANN001 - list[SocketRow]
        a.sockets = {s.name: s for s in rows}
        self.who.sockets(a.name, rows)

    def request(
        self, a: Actor, call: str, args: dict[str, Any], block_s: float
    ) -> tuple[proto.ActorRequest, proto.ActorReply | None]:
        """Send one request and wait for its first answer (None: the actor said nothing in time)."""
        req = proto.ActorRequest(next(self.req_ids), call, args, block_s)
        a.send(req)
        self.pump(lambda: req.id in self.replies or not a.alive, time.time() + block_s + ANSWER_S)
        return req, self.replies.pop(req.id, None)

    def inspect_all(self) -> dict[str, ActorInventory]:
        live = self.actors.live()
        ids = {}
        for a in live:
            ids[a.name] = proto.ActorRequest(next(self.req_ids), "inspect")
            a.send(ids[a.name])
        self.pump(
            lambda: all(r.id in self.replies or not self.actors.get(n).alive for n, r in ids.items()), time.time() + ANSWER_S
        )
        for r in ids.values():
            self.replies.pop(r.id, None)
        return {
            a.name: ActorInventory(a.pid if a.alive else None, list(a.sockets.values()), a.blocked is not None)
            for a in self.actors.all()
            if a.name in ids or not a.alive
        }

    def poll_states(self) -> None:
        """States the tracer did not show (TIME_WAIT, or no tracer at all), read from the kernel."""
        self.inspect_all()
        self.who.reset_listeners({a.name: a.sockets.values() for a in self.actors.all()})
        for key, old, new, (actor, fd) in self.who.changes(procnet.states()):
            self.evidence.state(time.time(), actor, fd, old, new, "tcp_info", self.who.pending_of(key, fd))

    # -- predictions -------------------------------------------------------------------------
    def predict(self, a: Actor, call: str, args: dict[str, Any]) -> list[tuple[Any, Prediction]]:
        self.inspect_all()
        everyone = [s for b in self.actors.live() for s in b.sockets.values()]
        return inputs.predict(
            call,
            args,
            a.sockets,
            self.who,
            procnet.states(),
            self.version,
            self.opts.unread_rule,
            everyone=everyone,
            frames=self.evidence.frames,
        )

    def answer_predict(self, cmd: proto.PredictCmd) -> None:
        a = self.actors.by_name.get(cmd.actor)
        preds = self.predict(a, cmd.call, cmd.args) if a is not None and will_run(a, cmd.call) else []
        self.reply(proto.Predictions(cmd.id, [inputs.view(s.name, p) for s, p in preds]))

    def answer_pcap(self, cmd: proto.PcapCmd) -> None:
        frames = self.evidence.frames
        self.reply(proto.PcapWritten(cmd.id, frames=len(frames), data=base64.b64encode(pcap_bytes(frames)).decode()))

    def configure(self, cmd: proto.ConfigCmd) -> None:  # e.g. the running kernel's own source was found after start
        self.opts = dataclasses.replace(self.opts, unread_rule=cmd.unread_rule)
        self.reply(proto.Configured(cmd.id))

    # -- shutdown ----------------------------------------------------------------------------
    def close(self) -> None:
        for a in self.actors.all():
            a.kill()
        if self.evidence is not None:
            self.evidence.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    # No PR_SET_PDEATHSIG here: the client may start us from a short-lived thread. When the
    # client dies, for any reason, our stdin reaches EOF and we stop (read_stdin -> quit).
    opts = proto.decode_options(sys.argv[1]) if len(sys.argv) > 1 else proto.LabOptions()
    try:
        ns = namespace.enter()
    except namespace.NamespaceError as exc:
        print(encode(proto.Fatal(str(exc))), flush=True)
        sys.exit(3)
    agent = Agent(opts)

    def on_term(signum, frame):  # noqa: ANN001, ARG001
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the client decides; Ctrl-C reaches it, not us
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a lost terminal, likewise: the client stops us
    try:
        try:
            agent.start(ns)
        except CaptureError as exc:
            print(encode(proto.Fatal(str(exc))), flush=True)
            return
        agent.serve()
    finally:
        agent.close()


if __name__ == "__main__":
    main()
