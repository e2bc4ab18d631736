"""A child process forked from this one, instead of a fresh ``python -m ...``: the lab's agent
forked from a headless client, an actor forked from the agent.

A fresh interpreter costs each child its start-up and its imports (~40-50 ms of CPU, on the
lab's start path); a fork has them already. A fork is safe only while the parent has one thread
(another thread's lock could be held for ever in the child), so the callers fork only then
(``single_threaded``), and exec otherwise. The child keeps stdin and stdout (its pipes to the
parent) and stderr, closes every other fd it inherited (the parent's pipes, the capture, the
terminal's pipe), finds its signals as an exec'd interpreter would, and never returns into the
parent's code, nor flushes the parent's buffers: it ends with os._exit.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import IO


def single_threaded() -> bool:
    """One thread in the process, Python's or not (a library's own thread holds locks too)."""
    return threading.active_count() == 1 and len(os.listdir("/proc/self/task")) == 1


def _as_after_exec() -> None:
    """Signal dispositions as a fresh interpreter finds them: exec resets a caught signal to its
    default and keeps an ignored one ignored; then Python ignores SIGPIPE and catches SIGINT."""
    for sig in signal.valid_signals():
        try:
            if callable(signal.getsignal(sig)):
                signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL, SIGSTOP
            pass
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    if signal.getsignal(signal.SIGINT) == signal.SIG_DFL:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.set_wakeup_fd(-1)
    if faulthandler.is_enabled():  # onto a parent's fd, closed here (or another file by now)
        faulthandler.disable()


class Forked:
    """The part of ``subprocess.Popen`` that ``ScriptedActor`` and ``AgentProcess`` use."""

    def __init__(self, args: list[str], run: Callable[[], None], stderr: int | None = None, new_session: bool = False) -> None:
        """``args``: what it is, for messages (its /proc cmdline stays the parent's); ``run``: its
        life, already imported (its imports would otherwise be the child's); ``stderr``: an fd
        for its stderr, else the parent's; ``new_session``: Popen's start_new_session."""
        child_in, self_out = os.pipe()
        self_in, child_out = os.pipe()
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                if new_session:
                    os.setsid()
                os.dup2(child_in, 0)
                os.dup2(child_out, 1)
                if stderr is not None:
                    os.dup2(stderr, 2)
                os.closerange(3, 1 << 20)  # close_range(2): one call, however many fds
                _as_after_exec()
                sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the child's whole life
                sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
                sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
                run()
                status = 0
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
            except BaseException:  # noqa: BLE001 - said on stderr, and never back into the parent's code
                traceback.print_exc()
            finally:
                for stream in (sys.stdout, sys.stderr):
                    try:
                        stream.flush()
                    except (OSError, ValueError):
                        pass
                os._exit(status)
        os.close(child_in)
        os.close(child_out)
        self.pid = pid
        self.args = args
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

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)
