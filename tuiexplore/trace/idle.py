"""When ``--auto`` has nothing left to step: every program still running has been blocked, in a
call that waits for another program or the wire, with nothing happening for IDLE_S.

A server whose client is gone waits in accept()/epoll_wait() for ever, so ``--auto`` would never
end. Such programs are ended (SIGTERM, then SIGKILL after KILL_AFTER_S: under the seccomp filter
they cannot be detached), each said by pid. A program sleeping (nanosleep) or computing still has
something to do and is left alone; a call with a timeout returns, which is activity.
"""

from __future__ import annotations

import os

from tuiexplore.trace.syscalls import NAMES

IDLE_S = 5.0
KILL_AFTER_S = 2.0
WAITS = {
    "accept", "accept4", "read", "readv", "recvfrom", "recvmsg", "recvmmsg",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6",
}  # fmt: skip
WAIT_CHILD = {61: "wait4", 247: "waitid"}  # a parent waiting for its blocked children


def blocked_in(pid: int) -> str | None:
    """The call that every task of ``pid`` sleeps in, when each sleeps in one of WAITS."""
    calls = set()
    try:
        tids = os.listdir(f"/proc/{pid}/task")
        for tid in tids:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                if f.read().rpartition(")")[2].split()[0] != "S":
                    return None
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                word = f.read().split()[0]
            nr = int(word) if word.lstrip("-").isdigit() else -1  # "running" while on a CPU
            name = NAMES.get(nr) or WAIT_CHILD.get(nr)
            if name is None or (name not in WAITS and nr not in WAIT_CHILD):
                return None
            calls.add(name)
    except OSError:
        return None
    return "/".join(sorted(calls)) or None


class Idle:
    def __init__(self) -> None:
        self.terminated_at = 0.0  # SIGTERM sent to the blocked programs

    def check(self, now: float, quiet_since: float, programs: list[tuple[str, int]]) -> list[tuple[str, int, str]]:
        """(actor, pid, call) of the programs to end now; [] while any has something left to do."""
        if not programs or now - quiet_since < IDLE_S:
            return []
        blocked = [(actor, pid, blocked_in(pid)) for actor, pid in programs]
        if any(call is None for _, _, call in blocked):
            return []
        return [(actor, pid, call or "") for actor, pid, call in blocked]
