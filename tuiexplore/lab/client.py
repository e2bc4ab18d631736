"""The lab as the UI and the CLI see it: start an agent process, send it steps, receive events.

The calling process never changes namespace. Events arrive on a reader thread and are handed to
``on_event`` (the TUI posts them as batched messages; the CLI collects them). Every method that
waits has a deadline: a wedged agent is reported, never waited on forever.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from tuiexplore.lab.tracer import PREFIX, TRACEFS_PATHS
from tuiexplore.timeline import Event, from_wire


class LabError(RuntimeError):
    """The lab could not start or stopped answering; the message is for the user."""


@dataclass(frozen=True)
class LabInfo:
    kernel: str
    release: str
    port: int
    mode: str
    tracepoints: bool
    rst_reasons: list[str] = field(default_factory=list)
    t0: float = 0.0
    where: str = ""  # set by a launcher: e.g. "guest Linux 6.1.176 (..., QEMU TCG)"; "" = this host


@dataclass(frozen=True)
class StepDone:
    step: int
    ok: bool
    overhead_ms: float
    waited_s: float


class AgentLauncher(Protocol):
    """Starts the agent somewhere else (e.g. inside a guest kernel: tuiexplore.guest.machine).
    ``spawn`` returns a Popen-like object (stdin, stdout, pid, poll, wait, send_signal, kill)
    whose text pipes speak the agent's protocol."""

    start_timeout: float
    kernel_version: str  # of the kernel the agent will run on, e.g. "6.1.176"

    def describe(self) -> str: ...

    def spawn(self, opts: dict[str, Any], env: dict[str, str], stderr: IO[str]) -> subprocess.Popen: ...


class Lab:
    def __init__(
        self,
        on_event: Callable[[Event], None] | None = None,
        on_batch: Callable[[list[Event]], None] | None = None,
        launcher: AgentLauncher | None = None,
    ) -> None:
        """``on_event`` gets events one by one; ``on_batch`` gets every event that arrived in one
        read from the agent's pipe, in order (what a UI wants: one message per batch).
        ``launcher``: where the agent runs; None is a local child process."""
        self.launcher = launcher
        self.on_event = on_event
        self.on_batch = on_batch
        self.info: LabInfo | None = None
        self._proc: subprocess.Popen | None = None
        self._replies: dict[Any, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._dead = False

    # -- life cycle --------------------------------------------------------------------------
    def start(
        self, actors: list[str] | None = None, port: int | None = None, tracer: bool = True, timeout: float = 15.0
    ) -> LabInfo:
        opts = {"actors": actors or [], "port": port, "no_tracer": not tracer, "parent": os.getpid()}
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        if self.launcher is not None:
            return self._start_launched(opts, env, timeout)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tuiexplore.lab.agent", json.dumps(opts)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            text=True,
            bufsize=1,
            start_new_session=True,  # Ctrl-C in the terminal reaches us; we stop the lab in order
        )
        threading.Thread(target=self._read, name="lab-reader", daemon=True).start()
        ready = self._wait("ready", timeout)
        ready.pop("ctl", None)
        self.info = LabInfo(**ready)
        return self.info

    def _start_launched(self, opts: dict[str, Any], env: dict[str, str], timeout: float) -> LabInfo:
        try:
            self._proc = self.launcher.spawn(opts, env, self._stderr)
        except RuntimeError as exc:
            raise LabError(str(exc)) from None
        threading.Thread(target=self._read, name="lab-reader", daemon=True).start()
        ready = self._wait("ready", max(timeout, self.launcher.start_timeout))
        ready.pop("ctl", None)
        self.info = LabInfo(**ready, where=self.launcher.describe())
        return self.info

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                proc.stdin.flush()
                proc.wait(timeout=5)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # A lab killed outright cannot remove its tracefs instance; where we can see it, we do.
        for base in TRACEFS_PATHS:
            try:
                os.rmdir(os.path.join(base, "instances", f"{PREFIX}{proc.pid}"))
            except OSError:
                pass
        self._stderr.close()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    # -- requests ----------------------------------------------------------------------------
    def step(self, n: int, actor: str, call: str, args: dict[str, Any], timeout: float = 60.0) -> StepDone:
        self._send({"cmd": "step", "step": n, "actor": actor, "call": call, "args": args})
        msg = self._wait(("done", n), timeout)
        return StepDone(n, msg["ok"], msg["overhead_ms"], msg["waited_s"])

    def predict(self, actor: str, call: str, args: dict[str, Any]) -> list[dict[str, Any]]:
        return self._ask("prediction", {"cmd": "predict", "actor": actor, "call": call, "args": args})["predictions"]

    def inspect(self) -> dict[str, Any]:
        return self._ask("sockets", {"cmd": "inspect"})["actors"]

    def write_pcap(self, path: str) -> int:
        reply = self._ask("pcap", {"cmd": "pcap", "path": os.path.abspath(path)})
        if "error" in reply:
            raise LabError(f"cannot write the pcap: {reply['error']}")
        return reply["frames"]

    def set_unread_rule(self, rule: str | None) -> None:
        """How the running kernel judges unread data, from its own source ("copied_seq"/"skb_len")."""
        self._ask("config", {"cmd": "config", "unread_rule": rule})

    def stats(self) -> dict[str, int]:
        return self._ask("stats", {"cmd": "stats"})

    def _ask(self, kind: str, cmd: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        cmd["id"] = next(self._ids)
        self._send(cmd)
        return self._wait((kind, cmd["id"]), timeout)

    def _send(self, cmd: dict[str, Any]) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise LabError(self._why_dead())
        try:
            self._proc.stdin.write(json.dumps(cmd) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise LabError(self._why_dead()) from exc

    # -- the reader thread -------------------------------------------------------------------
    def _read(self) -> None:
        fd = self._proc.stdout.fileno()
        pending = b""
        while chunk := os.read(fd, 1 << 16):
            *lines, pending = (pending + chunk).split(b"\n")
            batch: list[Event] = []
            for line in lines:
                msg = json.loads(line)
                if "ctl" not in msg:
                    batch.append(from_wire(msg))
                    continue
                self._deliver(batch)  # a reply is seen only after the events before it
                batch = []
                kind = msg["ctl"]
                key = kind if kind in ("ready", "error") else (kind, msg.get("step", msg.get("id")))
                with self._cond:
                    self._replies[key] = msg
                    self._cond.notify_all()
            self._deliver(batch)
        with self._cond:
            self._dead = True
            self._cond.notify_all()

    def _deliver(self, batch: list[Event]) -> None:
        if not batch:
            return
        if self.on_event:
            for e in batch:
                self.on_event(e)
        if self.on_batch:
            self.on_batch(batch)

    def _wait(self, key: Any, timeout: float) -> dict[str, Any]:
        with self._cond:
            ok = self._cond.wait_for(lambda: key in self._replies or "error" in self._replies or self._dead, timeout)
            if key in self._replies:
                return self._replies.pop(key)
        if "error" in self._replies:
            raise LabError(self._replies["error"]["text"])
        if not ok:
            raise LabError(f"the lab did not answer within {timeout:.0f} s (waiting for {key})")
        raise LabError(self._why_dead())

    def _why_dead(self) -> str:
        if "error" in self._replies:
            return self._replies["error"]["text"]
        try:
            self._stderr.seek(0)
            lines = [ln for ln in self._stderr.read().splitlines() if ln.strip()]
        except (OSError, ValueError):
            lines = []
        last = lines[-1] if lines else "no message"
        return f"the lab process stopped unexpectedly ({last})"
