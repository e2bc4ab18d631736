"""How the client reaches its agent: a byte stream of JSON lines each way.

``Transport`` is all that ``Lab`` needs; ``AgentProcess`` (today's) runs the agent as a child
process on this host and talks over its stdin/stdout. An agent elsewhere (inside a guest kernel,
over a serial line or vsock) is another ``Transport``, handed to ``Lab(transport=...)``.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import subprocess
import sys
import tempfile
from abc import ABC, abstractmethod
from typing import IO

from tuiexplore.lab.codec import encode
from tuiexplore.lab.forked import Forked, single_threaded
from tuiexplore.lab.protocol import LabOptions
from tuiexplore.lab.tracepoints import PREFIX, TRACEFS_PATHS
from tuiexplore.procwait import wait_exit

PR_SET_NAME = 15


class Transport(ABC):
    pid: int | None = None
    where: str = ""  # where the agent runs when not on this host, e.g. "guest Linux 6.1.176 (...)"

    @abstractmethod
    def send_line(self, line: str) -> None:
        """One line (no newline) to the agent; raises OSError or ValueError once it is gone."""

    @abstractmethod
    def read(self) -> bytes:
        """The next bytes from the agent, as they come; b"" once it is gone."""

    @abstractmethod
    def alive(self) -> bool: ...

    @abstractmethod
    def last_words(self) -> str:
        """What the agent said last on its way out (for the error message), or ""."""

    @abstractmethod
    def stop(self, quit_line: str) -> None:
        """Ask the agent to quit with ``quit_line``; force it if it does not."""


def last_line(f: IO[str]) -> str:
    """The last non-blank line written to a log file (an agent's stderr, a guest's console)."""
    try:
        f.seek(0)
        lines = [ln for ln in f.read().splitlines() if ln.strip()]
    except (OSError, ValueError):
        lines = []
    return lines[-1] if lines else ""


class AgentProcess(Transport):
    def __init__(self, opts: LabOptions) -> None:
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._proc: subprocess.Popen | Forked
        if single_threaded():  # (a headless run) a fork has the interpreter and most imports already
            in_fork = functools.partial(agent_in_fork, opts, env["PYTHONPATH"])
            self._proc = Forked(["fork", "tuiexplore.lab.agent"], in_fork, stderr=self._stderr.fileno(), new_session=True)
        else:
            self._proc = subprocess.Popen(
                [sys.executable, "-P", "-m", "tuiexplore.lab.agent", encode(opts)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=env,
                text=True,
                bufsize=1,
                start_new_session=True,  # Ctrl-C in the terminal reaches us; we stop the lab in order
            )
        self.pid = self._proc.pid
        assert self._proc.stdin is not None and self._proc.stdout is not None  # both PIPEs
        self._stdin, self._stdout = self._proc.stdin, self._proc.stdout

    def send_line(self, line: str) -> None:
        self._stdin.write(line + "\n")
        self._stdin.flush()

    def read(self) -> bytes:
        return os.read(self._stdout.fileno(), 1 << 16)

    def alive(self) -> bool:
        return self._proc.poll() is None

    def last_words(self) -> str:
        line = last_line(self._stderr)
        if line:
            return line
        try:
            rc = wait_exit(self._proc, 1)  # its stdout just closed: it is exiting or gone
        except subprocess.TimeoutExpired:
            return ""
        if rc < 0:
            return f"killed by {signal.Signals(-rc).name}"
        return f"exited with status {rc}" if rc else ""

    def stop(self, quit_line: str) -> None:
        proc = self._proc
        try:
            if proc.poll() is None:
                self.send_line(quit_line)
                wait_exit(proc, 5)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            proc.send_signal(signal.SIGTERM)
            try:
                wait_exit(proc, 3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:  # killed outright, it could not remove its tracefs instance: we do
            remove_instance(f"{PREFIX}{proc.pid}")
        self._stderr.close()


def agent_in_fork(opts: LabOptions, pythonpath: str) -> None:
    """The agent's life in a fork of its client, set up as the exec'd ``python -P -m
    tuiexplore.lab.agent`` would be: no current directory on the module path (where a stray
    ``json.py`` would be imported as root), the package's root on its children's PYTHONPATH,
    and a name of its own (the client's command line is its /proc cmdline)."""
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
    os.environ["PYTHONPATH"] = pythonpath
    ctypes.CDLL(None).prctl(PR_SET_NAME, ctypes.c_char_p(b"te-agent"))
    from tuiexplore.lab import agent

    agent.main(opts)


# The agent mounts tracefs in a mount namespace of its own, so the host may have none mounted;
# an instance is global to the kernel, though, so a short-lived private mount reaches it.
_RMDIR_IN_PRIVATE_MOUNT = 'd=$(mktemp -d) && mount -t tracefs nodev "$d" && rmdir "$d/instances/$1"; umount "$d"; rmdir "$d"'


def remove_instance(name: str) -> None:
    """Remove a dead agent's tracefs instance (its tracepoints stay on and buffer until then)."""
    for base in TRACEFS_PATHS:
        if os.path.isdir(os.path.join(base, "instances")):
            try:
                os.rmdir(os.path.join(base, "instances", name))
            except OSError:
                pass
            return
    if os.geteuid() == 0:  # only root has tracepoints, so only root's labs leave instances
        try:
            cmd = ["unshare", "--mount", "sh", "-c", _RMDIR_IN_PRIVATE_MOUNT, "sh", name]
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=5, check=False)
        except (OSError, subprocess.TimeoutExpired):
            pass
