"""Starting a script's run process (``agent``) and reading its events, for the CLI and the explorer.

The process runs on this host, or inside a guest kernel (``--kernel``): then it is reached
through the guest's ``Transport``, the one the lab's agent uses there, and the same lines go
both ways.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tuiexplore.lab.client import LabError
from tuiexplore.lab.codec import to_data
from tuiexplore.lab.receive_rules import UNKNOWN, ReceiveRules
from tuiexplore.lab.transport import Transport, last_line
from tuiexplore.timeline import Event, NoteEvent

from .events import READY, EndEvent, decode
from .scriptfile import read_script


@dataclass(frozen=True)
class RunOptions:
    path: str
    defines: dict[str, str] = field(default_factory=dict)
    ipv6: bool = False
    tolerance_usecs: int | None = None  # None: the script's --tolerance_usecs, else packetdrill's 4000
    unread_rule: str | None = None
    counted: bool = False  # each injected line's TCP counter deltas (compare)
    rules: ReceiveRules = UNKNOWN  # where this kernel's receive path differs (rules_probe.py)


class LocalRun(Transport):
    """The run process as a child of this one."""

    def __init__(self) -> None:
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "tuiexplore.packetdrill.agent", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            start_new_session=True,
        )
        self.pid = self.proc.pid

    def send_line(self, line: str) -> None:
        assert self.proc.stdin is not None  # a PIPE
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.close()  # the options are all it reads

    def read(self) -> bytes:
        assert self.proc.stdout is not None  # a PIPE
        return os.read(self.proc.stdout.fileno(), 1 << 16)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def last_words(self) -> str:
        self.proc.wait()
        return last_line(self._stderr) or f"exit status {self.proc.returncode}"

    def stop(self, quit_line: str) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None and not f.closed:
                f.close()
        self._stderr.close()


class ScriptRun:
    """``guest``: a guest's transport for the run process (``Guest.script_transport``), None: this host."""

    def __init__(self, opts: RunOptions, guest: Callable[[], Transport] | None = None) -> None:
        self.opts = opts
        self.error = ""
        self.transport: Transport | None = None
        try:
            self.transport = guest() if guest else LocalRun()
        except LabError as exc:
            self.error = f"the lab could not run: {exc}"

    @property
    def where(self) -> str:
        """Where the script runs when not on this host, e.g. "guest Linux 6.1.176 (...)"."""
        return self.transport.where if self.transport else ""

    def events(self) -> Iterator[Event]:
        """Every event until the run's end (an EndEvent last, also when the process died)."""
        t = self.transport
        if t is None:
            yield NoteEvent(0.0, "error", self.error)
            yield EndEvent(0.0, 2)
            return
        o = self.opts
        options = {"path": o.path, "text": read_script(o.path), "defines": o.defines, "ipv6": o.ipv6,
                   "tolerance_usecs": o.tolerance_usecs, "unread_rule": o.unread_rule, "counted": o.counted,
                   "rules": to_data(o.rules)}  # fmt: skip
        try:
            t.send_line(json.dumps(options))
        except (OSError, ValueError):
            pass  # it is gone: its last words say why
        for text in _lines(t):
            if text == READY:
                continue
            try:
                event = decode(text)
            except (ValueError, KeyError, TypeError):
                continue
            yield event
            if isinstance(event, EndEvent):
                return
        yield NoteEvent(0.0, "error", f"the run's process ended: {t.last_words() or 'no message'}")
        yield EndEvent(0.0, 2)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.stop("")


def _lines(t: Transport) -> Iterator[str]:
    rest = b""
    while chunk := t.read():
        *whole, rest = (rest + chunk).split(b"\n")
        for line in whole:
            yield line.decode(errors="replace").rstrip("\r")
