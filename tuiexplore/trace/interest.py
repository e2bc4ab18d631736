"""Which syscall entries a traced task parks at: the network-relevant ones, decoded.

read/write/close & co. only matter on a socket (ld.so's read(3) of libc does not), exit only
when sockets die with it, a thread's exit never (its siblings keep the fd table).
"""

from __future__ import annotations

import os
import time

from tuiexplore.trace import syscalls
from tuiexplore.trace.events import Parked
from tuiexplore.trace.sockets import PlainFds, socket_fds


class Interest:
    def __init__(self) -> None:
        self.plain = PlainFds()

    def parked(self, actor: str, pid: int, tid: int, nr: int, a: tuple[int, ...]) -> Parked | None:
        """The call to park at, decoded; None to let it pass."""
        call = syscalls.NAMES.get(nr)
        if call is None:
            return None
        if call in ("exit", "exit_group") and not socket_fds(pid):
            return None  # nothing of interest dies with it
        if call == "exit" and _threads(pid) > 1:
            return None  # one thread ends; the fd table lives on with its siblings
        if call in syscalls.ON_SOCKET_FD:
            if call == "fcntl" and a[1] not in (syscalls.F_DUPFD, syscalls.F_DUPFD_CLOEXEC):
                return None
            if not self.plain.is_socket(pid, tid, call, a):
                return None
        elif call == "close_range":
            self.plain.reset(pid)
        return Parked(time.time(), actor, pid, tid, call, syscalls.decode_entry(tid, call, a), a)


def _threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0
