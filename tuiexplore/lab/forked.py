"""An actor process forked from the agent, instead of a fresh ``python -m tuiexplore.lab.actor``.

A fresh interpreter costs each actor its start-up and its imports (~40-50 ms of CPU, on the
lab's start path); a fork of the agent has them already. A fork is safe only while the agent
has one thread (another thread's lock could be held for ever in the child), so the caller
forks only then, and execs otherwise. The child keeps stdin, stdout (its pipes to the agent)
and stderr, closes every other fd it inherited (the agent's pipes to the client, the other
actors' pipes, the capture), and never returns into the agent's code: it ends with os._exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import traceback
from typing import IO


class Forked:
    """The part of ``subprocess.Popen`` that ``ScriptedActor`` uses, for a forked child."""

    def __init__(self, name: str) -> None:
        from tuiexplore.lab import actor  # imported here, before the fork: the child runs it

        child_in, self_out = os.pipe()
        self_in, child_out = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                os.dup2(child_in, 0)
                os.dup2(child_out, 1)
                os.closerange(3, 1 << 20)  # close_range(2): one call, however many fds
                signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the agent's handler raises into its code
                sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the child's whole life
                sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
                actor.run(name, parent)
                status = 0
            except BaseException:  # noqa: BLE001 - said on stderr, and never back into the agent's code
                traceback.print_exc()
            finally:
                os._exit(status)
        os.close(child_in)
        os.close(child_out)
        self.pid = pid
        self.args = ["fork", "tuiexplore.lab.actor", name]
        self.returncode: int | None = None
        self.stdin: IO[str] = open(self_out, "w", buffering=1)  # noqa: SIM115 - closed with the process
        self.stdout: IO[str] = open(self_in, buffering=1)  # noqa: SIM115

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Popen's: blocks, or polls up to ``timeout`` (procwait.wait_exit does better with a pidfd)."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is None:
                self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
            elif time.monotonic() > end:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            else:
                time.sleep(0.005)
        return self.poll() or 0

    def kill(self) -> None:
        if self.returncode is None:
            os.kill(self.pid, signal.SIGKILL)
