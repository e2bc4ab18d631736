"""Starting a script's run process (``agent``) and reading its events, for the CLI and the explorer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from tuiexplore.timeline import Event, NoteEvent

from .events import EndEvent, decode


@dataclass(frozen=True)
class RunOptions:
    path: str
    defines: dict[str, str] = field(default_factory=dict)
    ipv6: bool = False
    tolerance_usecs: int | None = None  # None: the script's --tolerance_usecs, else packetdrill's 4000
    unread_rule: str | None = None


class ScriptRun:
    def __init__(self, opts: RunOptions) -> None:
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        self._stderr = tempfile.TemporaryFile(mode="w+")
        arg = json.dumps(
            {"path": opts.path, "defines": opts.defines, "ipv6": opts.ipv6, "tolerance_usecs": opts.tolerance_usecs,
             "unread_rule": opts.unread_rule}
        )  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "tuiexplore.packetdrill.agent", arg],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            text=True,
            bufsize=1,
            start_new_session=True,
        )

    def events(self) -> Iterator[Event]:
        """Every event until the run's end (an EndEvent last, also when the process died)."""
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            try:
                event = decode(text)
            except (ValueError, KeyError, TypeError):
                continue
            yield event
            if isinstance(event, EndEvent):
                return
        self.proc.wait()
        self._stderr.seek(0)
        last = [ln for ln in self._stderr.read().splitlines() if ln.strip()][-1:]
        yield NoteEvent(0.0, "error", f"the run's process ended ({self.proc.returncode}): {last[0] if last else 'no message'}")
        yield EndEvent(0.0, 2)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()
