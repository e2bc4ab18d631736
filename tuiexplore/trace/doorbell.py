"""The tracer's doorbell: a ``sleep`` child seized with EXITKILL (it dies with us), signalled to
wake the tracer's blocking waitpid when a command is queued: nothing polls, and no signal
handler runs in the app (notes/ptrace.md §7)."""

from __future__ import annotations

import os
import signal

from tuiexplore.trace import launch, ptrace


class Doorbell:
    def __init__(self) -> None:
        self.pid = 0

    def install(self, what: str) -> None:
        """On the tracer's thread (the seizing thread is the only one that may ptrace it)."""
        pid = os.posix_spawn("/bin/sleep", ["sleep", "1000000"], dict(os.environ), setsigmask=())
        launch.seize_or_kill(pid, ptrace.O_EXITKILL, what)
        self.pid = pid

    def ring(self) -> None:
        """Any thread."""
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGUSR1)
            except ProcessLookupError:
                pass

    def answer(self, status: int) -> None:
        """Its stop (the ring) is swallowed: it goes back to sleep."""
        if os.WIFSTOPPED(status):
            ptrace.resume(self.pid, 0, ptrace.PTRACE_CONT)

    def remove(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, ptrace.WALL)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.pid = 0
