"""The lab agent: the one process inside the lab's private namespace.

Started by :class:`tuiexplore.lab.client.Lab` as ``python -m tuiexplore.lab.agent``. It enters a
fresh network namespace (first thing, while single-threaded), starts the capture and, as root,
the tracer, spawns one process per actor, and then performs the steps it is sent on stdin, one
at a time. It writes the timeline to stdout as JSON lines (``timeline.to_wire``) plus control
lines ``{"ctl": ...}``. Threads exist only at the edges (stdin, actor pipes, capture, tracer);
they feed one inbox that the main thread alone consumes, so no state is shared.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tuiexplore.lab import counters, namespace, procnet
from tuiexplore.lab.calls import is_closing
from tuiexplore.lab.capture import Capture, CaptureError, Frame, RelativeSeq, write_pcap
from tuiexplore.lab.predict import Prediction, SocketView, kernel_version, predict_close, predict_disconnect, predict_shutdown
from tuiexplore.lab.verdict import judge
from tuiexplore.timeline import CountersEvent, EpollEvent, Event, NoteEvent, PacketEvent, StateEvent, StepEvent, to_wire

QUIET_S = 0.06  # > the 40 ms minimum delayed ACK: a step's late ACK still belongs to it
SETTLE_MAX_S = 2.0
HOLD_S = 0.003
DEFAULT_BLOCK_S = 1.0


@dataclass
class ActorProc:
    name: str
    proc: subprocess.Popen
    pid: int
    sockets: dict[str, dict[str, Any]] = field(default_factory=dict)  # fd name -> actor.describe()
    blocked: dict[str, Any] | None = None  # the request still in the kernel
    alive: bool = True


class Agent:
    def __init__(self, opts: dict[str, Any]) -> None:
        self.opts = opts
        self.inbox: queue.Queue[tuple] = queue.Queue()
        self.out_lock = threading.Lock()
        self.actors: dict[str, ActorProc] = {}
        self.version = kernel_version()
        self.t0 = time.time()
        self.frames: list[Frame] = []
        self.relseq = RelativeSeq()
        self.owners: dict[tuple[int, int], tuple[str, str]] = {}  # (lport, rport) -> (actor, fd)
        self.listeners: dict[int, tuple[str, str]] = {}  # lport -> owner of the listener
        self.known_state: dict[tuple[int, int], str] = {}
        self.fin_with_data: set[tuple[int, int]] = set()  # keys whose peer FIN rode on data
        self.step: int | None = None
        self.current: tuple[str, str | None] | None = None  # (actor, fd) of the step under way
        self.held: list[tuple[float, Any]] = []  # drained but not yet emitted (see drain)
        self.last_t = 0.0  # t of the last event written: the stream never goes back in time
        self.req_id = 0
        self.tracer = None
        self.capture: Capture | None = None
        self.pending_cmds: list[dict[str, Any]] = []
        self.step_resets: list[Any] = []
        self.step_frames: list[Frame] = []

    # -- output ------------------------------------------------------------------------------
    def emit(self, ev: Event) -> None:
        # The stream is in timeline order. Under load a tracepoint or a frame can reach us after
        # a later event went out (beyond HOLD_S); it is then stamped no earlier than that event.
        if ev.t < self.last_t:
            ev = dataclasses.replace(ev, t=self.last_t)
        self.last_t = ev.t
        self._write(to_wire(ev))

    def ctl(self, **msg: Any) -> None:
        self._write(json.dumps({"ctl": msg.pop("kind"), **msg}))

    def _write(self, line: str) -> None:
        with self.out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def rel(self, ts: float) -> float:
        return max(0.0, ts - self.t0)

    def note(self, level: str, text: str) -> None:
        self.emit(NoteEvent(self.rel(time.time()), level, text, self.step))

    # -- start-up ----------------------------------------------------------------------------
    def start(self, ns: namespace.LabNamespace) -> None:
        self.port = self.opts.get("port") or _free_port()
        notes: list[tuple[str, str]] = []
        self.capture = Capture(on_frame=lambda: self.inbox.put(("wake",)))
        # Spawned from this (the main) thread: PR_SET_PDEATHSIG fires when the creating *thread*
        # ends. Their interpreters start while we import scapy and start the sniffer.
        for name in self.opts.get("actors", []):
            self.spawn(name)
        self.capture.start()
        notes += [("info", n) for n in self.capture.notes]
        tracer_state = self.start_tracer(ns)
        if tracer_state:
            notes.append(("warn" if ns.mode == "root" else "info", tracer_state))  # as root, tracing was expected
        self.inspect_all()  # every actor has answered once: ready means ready
        threading.Thread(target=self.read_stdin, daemon=True).start()
        self.t0 = time.time()
        info = {
            "kernel": ".".join(map(str, self.version)),
            "release": os.uname().release,
            "port": self.port,
            "mode": ns.mode,
            "tracepoints": self.tracer is not None,
            "rst_reasons": sorted(self.tracer.reasons.values()) if self.tracer else [],
            "t0": self.t0,
        }
        self.ctl(kind="ready", **info)
        for level, text in notes:
            self.note(level, text)

    def start_tracer(self, ns: namespace.LabNamespace) -> str:
        """Returns an empty string when tracepoints run, else why they do not."""
        if self.opts.get("no_tracer"):
            return "tracepoints off (--no-trace)"
        if ns.mode != "root":
            return (
                "tracepoints unavailable: they need root (this lab runs unprivileged in a user namespace); "
                "verdicts use packets and counters"
            )
        from tuiexplore.lab import tracer

        try:
            path = tracer.find_tracefs(mount_if_missing=ns.private_mounts)
            t = tracer.Tracer(path, self.port, on_event=lambda: self.inbox.put(("wake",)))
            t.start()
        except tracer.TracerUnavailable as exc:
            return f"tracepoints unavailable: {exc}; verdicts use packets and counters"
        self.tracer = t
        if not t.has_reason:
            return f"kernel {os.uname().release} has no RST reasons in tcp_send_reset (added in 6.10)"
        return ""

    def spawn(self, name: str) -> ActorProc:
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        proc = subprocess.Popen(
            [sys.executable, "-m", "tuiexplore.lab.actor", name, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            bufsize=1,
        )
        a = ActorProc(name, proc, proc.pid)
        self.actors[name] = a
        threading.Thread(target=self.read_actor, args=(a,), daemon=True).start()
        return a

    # -- edge threads ------------------------------------------------------------------------
    def read_stdin(self) -> None:
        for line in sys.stdin:
            if line.strip():
                self.inbox.put(("cmd", json.loads(line)))
        self.inbox.put(("cmd", {"cmd": "quit"}))

    def read_actor(self, a: ActorProc) -> None:
        for line in a.proc.stdout:
            self.inbox.put(("actor", a.name, json.loads(line)))
        self.inbox.put(("actor_exit", a.name))

    # -- main loop ---------------------------------------------------------------------------
    def serve(self) -> None:
        while True:
            if self.pending_cmds:
                cmd = self.pending_cmds.pop(0)
            else:
                item = self.inbox.get()
                if item[0] != "cmd":
                    self.handle(item)
                    self.drain(final=True)
                    continue
                cmd = item[1]
            if cmd["cmd"] == "quit":
                return
            self.command(cmd)

    def command(self, cmd: dict[str, Any]) -> None:
        kind = cmd["cmd"]
        if kind == "step":
            self.run_step(cmd["step"], cmd["actor"], cmd["call"], cmd["args"])
        elif kind == "predict":
            preds = self.predict(cmd["actor"], cmd["call"], cmd["args"])
            self.ctl(kind="prediction", id=cmd.get("id"), predictions=[_pred_dict(s["name"], p) for s, p in preds])
        elif kind == "inspect":
            self.ctl(kind="sockets", id=cmd.get("id"), actors=self.inspect_all())
        elif kind == "pcap":
            try:
                write_pcap(cmd["path"], self.frames)
                self.ctl(kind="pcap", id=cmd.get("id"), path=cmd["path"], frames=len(self.frames))
            except OSError as exc:
                self.ctl(kind="pcap", id=cmd.get("id"), error=f"{cmd['path']}: {exc.strerror}")
        elif kind == "config":  # e.g. the running kernel's own source was found after start
            self.opts.update({k: v for k, v in cmd.items() if k in ("unread_rule",)})
            self.ctl(kind="config", id=cmd.get("id"))
        elif kind == "stats":
            self.ctl(kind="stats", id=cmd.get("id"), frames=len(self.frames), drops=self.capture.drops())

    def handle(self, item: tuple) -> None:
        """Anything that arrives while no step waits for it: late replies, actors that died."""
        if item[0] == "actor":
            self.actor_message(item[1], item[2])
        elif item[0] == "actor_exit":
            a = self.actors.get(item[1])
            if a is not None and a.alive:
                a.alive = False
                self.forget_fds(a)
        elif item[0] == "cmd":
            self.pending_cmds.append(item[1])

    def actor_message(self, name: str, msg: dict[str, Any]) -> None:
        a = self.actors[name]
        if "sockets" in msg:
            self.update_sockets(a, msg["sockets"])
        if a.blocked is not None and msg.get("id") == a.blocked["id"] and "ret" in msg:
            req = a.blocked
            a.blocked = None
            took = msg["t1"] - msg["t0"]
            err = f" ({msg['errno']})" if msg.get("errno") else ""
            self.emit(
                NoteEvent(
                    self.rel(msg["t1"]),
                    "info",
                    f"step {req['step']}: {name} {req['call']}() returned {msg['ret']}{err} after {took:.2f} s",
                    req["step"],
                )
            )
            self.emit_epoll(req["step"], name, msg)

    # -- one step ----------------------------------------------------------------------------
    def run_step(self, n: int, actor: str, call: str, args: dict[str, Any]) -> None:
        self.drain(final=True)
        self.step = n
        self.current = (actor, args.get("fd"))
        self.step_frames, self.step_resets = [], []
        wall0 = time.time()
        waited = 0.0
        before = counters.read()
        preds: list[tuple[dict[str, Any], Prediction]] = []
        ok = True
        if call == "sleep":  # the lab waits; no process needed for it
            t = time.time()
            self.emit(StepEvent(self.rel(t), n, actor, call, args, 0, None, {}))
            waited += self.wait(args["ms"] / 1000)
        elif not (a := self.actors.get(actor) or self.spawn(actor)).alive:
            self.emit(StepEvent(self.rel(time.time()), n, actor, call, args, None, "ESRCH", {"message": f"{actor} has exited"}))
            ok = False
        else:
            if is_closing(call, args):
                preds = self.predict(actor, call, args)
            reply, waited_call = self.call(a, n, call, args)
            waited += waited_call
            ok = self.emit_reply(n, a, call, args, reply)
            if call == "exit":
                waited += self.reap(a)
        waited += self.settle()
        self.poll_states()
        delta = counters.delta(before, counters.read())
        if delta:
            self.emit(CountersEvent(self.rel(time.time()), n, delta))
        others = set(self.owners)
        for sock, pred in preds:
            self.emit(
                judge(
                    t=self.rel(time.time()),
                    step=n,
                    actor=actor,
                    call=call,
                    sock=sock,
                    pred=pred,
                    frames=self.step_frames,
                    resets=self.step_resets,
                    deltas=delta,
                    others=others,
                )
            )
        overhead = (time.time() - wall0 - waited) * 1000
        self.ctl(kind="done", step=n, ok=ok, overhead_ms=round(overhead, 3), waited_s=round(waited, 4))
        self.step = self.current = None

    def call(self, a: ActorProc, n: int, call: str, args: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """Send one request; return its reply (or a 'blocked'/'busy' marker) and the time spent blocked."""
        self.req_id += 1
        block_s = _block_bound(call, args, a)
        req = {"id": self.req_id, "call": call, "args": args, "block_s": block_s}
        t = time.time()
        a.proc.stdin.write(json.dumps(req) + "\n")
        a.proc.stdin.flush()
        deadline = t + block_s + 2.0
        while True:
            try:
                item = self.inbox.get(timeout=max(0.0, deadline - time.time()))
            except queue.Empty:  # not even a "blocked" answer: treat the actor as blocked all the same
                a.blocked = {**req, "step": n}
                return {"id": req["id"], "blocked": True, "t0": t}, time.time() - t
            if item[0] == "actor" and item[1] == a.name and item[2].get("id") == req["id"]:
                msg = item[2]
                if msg.get("blocked"):
                    a.blocked = {**req, "step": n}
                    return msg, time.time() - t
                # A call that slept in the kernel (SO_LINGER close, epoll_wait with a timeout) waited;
                # a syscall that returns at once takes microseconds, so 5 ms tells the two apart.
                slept = msg["t1"] - msg["t0"]
                return msg, slept if slept > 0.005 else 0.0
            if item[0] == "actor_exit" and item[1] == a.name:
                return {"id": req["id"], "ret": None, "errno": None, "result": {"message": "the actor process is gone"}}, 0.0
            # Packets wait until the step event is out: it comes first in the timeline.
            self.handle(item)

    def emit_reply(self, n: int, a: ActorProc, call: str, args: dict[str, Any], msg: dict[str, Any]) -> bool:
        t = self.rel(msg.get("t0", time.time()))
        if msg.get("busy"):
            blocked = a.blocked or {}
            self.emit(
                StepEvent(
                    t,
                    n,
                    a.name,
                    call,
                    args,
                    None,
                    None,
                    {"message": f"{a.name} is still blocked in {blocked.get('call')}() from step {blocked.get('step')}"},
                )
            )
            return False
        if msg.get("blocked"):
            self.emit(StepEvent(t, n, a.name, call, args, None, None, {"blocked": True}))
            return True
        if "sockets" in msg:
            self.update_sockets(a, msg["sockets"])
        result = msg["result"]
        if msg["t1"] - msg["t0"] >= 0.05:  # worth saying: the call slept in the kernel
            result = {**result, "blocked_s": round(msg["t1"] - msg["t0"], 3)}
        self.emit(StepEvent(t, n, a.name, call, args, msg["ret"], msg["errno"], result))
        self.emit_epoll(n, a.name, msg)
        return msg["ret"] is not None

    def emit_epoll(self, n: int, actor: str, msg: dict[str, Any]) -> None:
        for ev in msg.get("result", {}).get("ready", []):
            self.emit(EpollEvent(self.rel(msg["t1"]), n, actor, ev["fd"], ev["events"], ev["mask"]))

    def reap(self, a: ActorProc) -> float:
        t = time.time()
        try:
            a.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            a.proc.kill()
        a.alive = False
        self.forget_fds(a)
        return time.time() - t

    def forget_fds(self, a: ActorProc) -> None:
        a.sockets.clear()

    # -- evidence ----------------------------------------------------------------------------
    def wait(self, seconds: float) -> float:
        end = time.time() + seconds
        while (left := end - time.time()) > 0:
            try:
                item = self.inbox.get(timeout=left)
            except queue.Empty:
                break
            self.handle(item)
            self.drain()
        return seconds

    def settle(self) -> float:
        """Wait until the wire and the tracer have been quiet for QUIET_S (bounded)."""
        t = time.time()
        last = t
        while time.time() - t < SETTLE_MAX_S:
            got = self.drain()
            now = time.time()
            if got:
                last = now
            if now - last >= QUIET_S:
                break
            wait = QUIET_S - (now - last)
            if self.held:  # wake up when the oldest held item may go out
                wait = min(wait, max(0.0, self.held[0][0] + HOLD_S - now))
            try:
                item = self.inbox.get(timeout=wait)
            except queue.Empty:
                continue
            self.handle(item)
        self.drain(final=True)
        return time.time() - t

    def drain(self, final: bool = False) -> int:
        """Emit captured packets and trace events, merged in time order.

        Trace events reach us a little later than the frames they go with, so the newest items
        are held back for HOLD_S (except at the end of a step) to emit both in kernel order.
        """
        items = self.held
        got = len(items)
        while True:
            try:
                f = self.capture.frames.get_nowait()
            except queue.Empty:
                break
            items.append((f.ts, f))
        if self.tracer is not None:
            while True:
                try:
                    ev = self.tracer.events.get_nowait()
                except queue.Empty:
                    break
                items.append((ev.ts, ev))
        got = len(items) - got
        items.sort(key=lambda x: x[0])
        cut = len(items) if final else bisect.bisect_right(items, time.time() - HOLD_S, key=lambda x: x[0])
        self.held = items[cut:]
        for _, item in items[:cut]:
            if isinstance(item, Frame):
                self.on_frame(item)
            else:
                self.on_trace(item)
        return got

    def owner(self, lport: int, rport: int) -> tuple[str, str]:
        """Who speaks for this 4-tuple: its socket's owner, else (a connection not accepted yet)
        the listener's actor, with no fd name of its own."""
        if (lport, rport) in self.owners:
            return self.owners[(lport, rport)]
        if lport in self.listeners and rport:
            return self.listeners[lport][0], "?"
        return self.listeners.get(lport, ("?", "?"))

    def on_frame(self, f: Frame) -> None:
        if (f.sport, f.dport) not in self.owners and f.flag_bits & 0x12 == 0x02 and self.current and self.current[1]:
            # A SYN from a port no socket reports: the connect() under way, which failed and
            # gave its port back (ECONNREFUSED) before the actor could read it.
            self.owners[(f.sport, f.dport)] = self.current
        self.frames.append(f)
        if self.step is not None:
            self.step_frames.append(f)
        if f.flag_bits & 0x01 and f.payload_len:
            self.fin_with_data.add((f.dport, f.sport))
        seq, ack = self.relseq(f)
        self.emit(
            PacketEvent(
                self.rel(f.ts),
                self.owner(f.sport, f.dport)[0],
                self.owner(f.dport, f.sport)[0],
                f.sport,
                f.dport,
                f.flags,
                seq,
                ack,
                f.payload_len,
                f.win,
                self.step,
                len(self.frames),
                f.raw,
                options=f.options,
            )
        )

    def on_trace(self, ev: Any) -> None:
        if ev.event == "tcp_send_reset":
            if self.step is not None:
                self.step_resets.append(ev)
            return
        key = (ev.sport, ev.dport)
        if ev.sport == 0 and self.current is not None:
            # connect() traces CLOSE->SYN_SENT before it picks the source port: the socket is
            # the one this step connects, whose port the actor has reported since.
            a = self.actors.get(self.current[0])
            sock = a.sockets.get(self.current[1]) if a else None
            if sock:
                key = (sock["lport"], sock["rport"])
        old, new = ev.fields.get("oldstate", "?").removeprefix("TCP_"), ev.fields.get("newstate", "?").removeprefix("TCP_")
        self.known_state[key] = new
        actor, fd = self.owner(*key)
        self.emit(StateEvent(self.rel(ev.ts), actor, fd, old, new, "tracepoint", self.step))

    def poll_states(self) -> None:
        """States the tracer did not show (TIME_WAIT, or no tracer at all), read from the kernel."""
        self.inspect_all()
        self.listeners = {
            s["lport"]: (a.name, s["name"]) for a in self.actors.values() for s in a.sockets.values() if s["state"] == "LISTEN"
        }
        now = procnet.states()
        for key in sorted(set(now) | set(self.known_state)):
            old = self.known_state.get(key, "CLOSE")
            new = now.get(key, "CLOSE")
            if old != new:
                self.known_state[key] = new
                actor, fd = self.owner(*key)
                self.emit(StateEvent(self.rel(time.time()), actor, fd, old, new, "tcp_info", self.step))
        self.known_state = {k: v for k, v in self.known_state.items() if v != "CLOSE"}

    def inspect_all(self) -> dict[str, Any]:
        live = [a for a in self.actors.values() if a.alive]
        ids = {}
        for a in live:
            self.req_id += 1
            ids[a.name] = self.req_id
            a.proc.stdin.write(json.dumps({"id": self.req_id, "call": "inspect", "args": {}}) + "\n")
            a.proc.stdin.flush()
        result: dict[str, Any] = {}
        deadline = time.time() + 2.0
        while len(result) < len(ids) and time.time() < deadline:
            try:
                item = self.inbox.get(timeout=max(0.0, deadline - time.time()))
            except queue.Empty:
                break
            if item[0] == "actor" and ids.get(item[1]) == item[2].get("id"):
                a = self.actors[item[1]]
                self.update_sockets(a, item[2]["sockets"])
                result[a.name] = {"pid": a.pid, "sockets": list(a.sockets.values()), "blocked": bool(a.blocked)}
            elif item[0] == "actor_exit" and item[1] in ids:
                self.handle(item)
                result[item[1]] = {"pid": None, "sockets": [], "blocked": False}
            else:
                self.handle(item)
        return result

    def update_sockets(self, a: ActorProc, sockets: list[dict[str, Any]]) -> None:
        # Listeners closed in this step stay known until it ends (poll_states): the RSTs of
        # their un-accepted children are still theirs.
        a.sockets = {s["name"]: s for s in sockets}
        for s in sockets:
            if s["state"] == "LISTEN":
                self.listeners[s["lport"]] = (a.name, s["name"])
            elif s["lport"]:
                # Remembered after close: an orphan or TIME_WAIT socket still sends in its owner's name.
                self.owners[(s["lport"], s["rport"])] = (a.name, s["name"])
            if s.get("eof_read"):
                self.fin_with_data.discard((s["lport"], s["rport"]))

    # -- predictions -------------------------------------------------------------------------
    def predict(self, actor: str, call: str, args: dict[str, Any]) -> list[tuple[dict[str, Any], Prediction]]:
        a = self.actors.get(actor)
        if a is None or not a.alive:
            return []
        self.inspect_all()
        states = procnet.states()
        if call == "exit":
            targets = sorted(a.sockets.values(), key=lambda s: s["fd"])
        else:
            s = a.sockets.get(args.get("fd"))
            targets = [s] if s else []
        out = []
        for s in targets:
            view = SocketView(
                state=s["state"],
                inq=s["inq"],
                unsent=s["unsent"],
                linger=tuple(s["linger"]),
                linger2=s["linger2"],
                accept_queue=s.get("accept_queue", 0),
                fin_skb_pending=(s["lport"], s["rport"]) in self.fin_with_data and not s["eof_read"],
                peer_acks_fin=states.get((s["rport"], s["lport"])) in ("ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2"),
            )
            if call == "connect":
                p = predict_disconnect(view, self.version)
            elif call == "shutdown":
                p = predict_shutdown(view, args["how"], self.version)
            else:
                p = predict_close(view, self.version, exiting=call == "exit", unread_rule=self.opts.get("unread_rule"))
            out.append((s, p))
        return out

    # -- shutdown ----------------------------------------------------------------------------
    def close(self) -> None:
        for a in self.actors.values():
            if a.proc.poll() is None:
                a.proc.kill()
        for a in self.actors.values():
            try:
                a.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        if self.tracer is not None:
            self.tracer.close()
            self.tracer = None
        if self.capture is not None:
            self.capture.stop()


def _block_bound(call: str, args: dict[str, Any], a: ActorProc) -> float:
    """How long a call may stay in the kernel before the step reports it as blocked."""
    if call == "epoll_wait" and 0 <= args.get("timeout_ms", 0) <= 10_000:
        return args["timeout_ms"] / 1000 + DEFAULT_BLOCK_S
    if call == "close":
        s = a.sockets.get(args.get("fd"), {})
        on, secs = s.get("linger", (0, 0))
        if on and 0 < secs <= 10:
            return secs + DEFAULT_BLOCK_S
    return DEFAULT_BLOCK_S


def _pred_dict(fd: str, p: Prediction) -> dict[str, Any]:
    return {"fd": fd, "outcome": p.outcome, "branch": p.branch, "reason": p.reason, "text": p.text, "path": list(p.path)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    # No PR_SET_PDEATHSIG here: the client may start us from a short-lived thread. When the
    # client dies, for any reason, our stdin reaches EOF and we stop (read_stdin -> quit).
    opts = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    try:
        ns = namespace.enter()
    except namespace.NamespaceError as exc:
        print(json.dumps({"ctl": "error", "text": str(exc)}), flush=True)
        sys.exit(3)
    agent = Agent(opts)

    def on_term(signum, frame):  # noqa: ANN001, ARG001
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the client decides; Ctrl-C reaches it, not us
    try:
        try:
            agent.start(ns)
        except CaptureError as exc:
            print(json.dumps({"ctl": "error", "text": str(exc)}), flush=True)
            return
        agent.serve()
    finally:
        agent.close()


if __name__ == "__main__":
    main()
