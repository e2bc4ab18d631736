"""Every program's sockets as the kernel has them now, for the step screen's sockets strip.

A snapshot is taken after each stop, return and packet (``take``), through the same
pidfd_getfd duplicates as a prediction (closed again at once), and reported only when it differs
from the last one for that process, so the stream stays small.
"""

from __future__ import annotations

import os
from typing import Any

from tuiexplore.domain import SocketRow
from tuiexplore.trace.events import SocketsEvent
from tuiexplore.trace.sockets import SockInfo, from_row, resolve, socket_fds


def row(fd: int, s: SockInfo) -> dict[str, Any]:
    return {**s.to_dict(), "fd": fd, "recv_q": s.inq, "unsent": s.unsent}


class Inventory:
    def __init__(self) -> None:
        self.last: dict[int, list[dict[str, Any]]] = {}
        self.actors: dict[int, str] = {}  # every traced process seen -> its actor
        self.stale = False  # packets arrived since the last snapshot
        self.frames_at: dict[int, int] = {}  # pid -> frames on the wire when it was last seen alive
        self.sockets: dict[int, list[tuple[int, SockInfo]]] = {}  # the last snapshot, as taken
        self.unix_seen = False  # a traced process held a unix socket: it may have passed fds on

    def _changed(self, t: float, actor: str, pid: int, rows: list[dict[str, Any]]) -> SocketsEvent | None:
        if self.last.get(pid) == rows:
            return None
        self.last[pid] = rows
        return SocketsEvent(t, actor, pid, rows)

    def take(self, t: float, pid: int, frames: int = 0, closed: int | None = None) -> SocketsEvent | None:
        """A traced process's sockets (``frames``: on the wire so far; ``closed``: an fd its
        close() just released); empty once it is gone."""
        actor = self.actors.get(pid, "?")
        found = [(fd, s) for fd in socket_fds(pid) if (s := resolve(pid, fd)) is not None]
        self.unix_seen = self.unix_seen or any(s.kind == "unix" for _, s in found)
        if found or os.path.isdir(f"/proc/{pid}/fd"):
            self.sockets[pid], self.frames_at[pid] = found, frames
        else:  # already gone (reaped before we looked): its last word, less what it closed since
            self.sockets[pid] = [(fd, s) for fd, s in self.sockets.get(pid, []) if fd != closed]
        return self._changed(t, actor, pid, [row(fd, s) for fd, s in found])

    def refresh(self, t: float, gone: set[int], frames: int) -> list[SocketsEvent]:
        """After packets: every process not known to be gone, again."""
        if not self.stale:
            return []
        self.stale = False
        return [ev for pid in self.actors if pid not in gone and (ev := self.take(t, pid, frames)) is not None]

    def of_rows(self, t: float, actor: str, pid: int, sockets: list[SocketRow]) -> SocketsEvent | None:
        """A lab actor's sockets, as its own inventory reported them with its last reply."""
        return self._changed(t, actor, pid, [row(r.fd, from_row(r)) for r in sockets])

    def gone(self, t: float, actor: str, pid: int) -> SocketsEvent | None:
        return self._changed(t, actor, pid, [])


def holders_among(inv: Inventory, roots: set[int]) -> set[int] | None:
    """The processes that may share a traced program's socket: the programs and everything they
    started (a fork inherits the fds), read from /proc/PID/task/TID/children. Anyone else only
    by SCM_RIGHTS over a unix socket: once a traced process held one, every process (None)."""
    if inv.unix_seen:
        return None
    seen: set[int] = set()
    todo = list(roots | set(inv.actors))
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    todo += [int(c) for c in f.read().split()]
            except FileNotFoundError:
                if os.path.isdir(f"/proc/{pid}/task/{tid}"):
                    return None  # a kernel without CONFIG_PROC_CHILDREN: ask every process
            except OSError:
                continue
    return seen
