"""A traced program's fd as a socket: its 4-tuple and real state, and who else holds it.

The state is read from a duplicate taken with pidfd_getfd (any netns, ~8 us), which is closed
again at once: a duplicate still open when the program's close() runs keeps the socket alive, and
the FIN would go out only when we let go (measured, notes §5).
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from tuiexplore.domain import SocketRow
from tuiexplore.lab.calls import SIOCINQ, SIOCOUTQNSD, TCP_INFO, TCP_LINGER2, TCP_STATES
from tuiexplore.lab.predict import SocketView
from tuiexplore.trace.ptrace import pidfd_getfd


@dataclass(frozen=True)
class SockInfo:
    inode: int
    family: str
    kind: str  # "tcp", "udp", "unix", ...
    laddr: str = ""
    lport: int = 0
    raddr: str = ""
    rport: int = 0
    state: str = ""
    inq: int = 0
    unsent: int = 0
    linger: tuple[int, int] = (0, 0)
    linger2: int = 0
    accept_queue: int = 0

    def label(self) -> str:
        if self.kind != "tcp":
            return f"{self.kind} socket"
        local = _hostport(self.laddr, self.lport)
        return f"{local} -> {_hostport(self.raddr, self.rport)} {self.state}" if self.rport else f"{local} {self.state}"

    def row(self, fd: int) -> SocketRow:
        """The socket as the domain's records carry it, named by its fd."""
        return SocketRow(
            name=str(fd),
            fd=fd,
            state=self.state,
            linger=self.linger,
            linger2=self.linger2,
            lport=self.lport,
            rport=self.rport,
            inq=self.inq,
            unsent=self.unsent,
            accept_queue=self.accept_queue,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "local": _hostport(self.laddr, self.lport),
            "remote": _hostport(self.raddr, self.rport) if self.rport else None,
            "state": self.state,
            "inode": self.inode,
        }

    def view(self, peer_acks_fin: bool = True) -> SocketView:
        return SocketView(
            state=self.state,
            inq=self.inq,
            unsent=self.unsent,
            linger=self.linger,
            linger2=self.linger2,
            accept_queue=self.accept_queue,
            peer_acks_fin=peer_acks_fin,
        )


def _hostport(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def inode_of(pid: int, fd: int) -> int | None:
    """The socket inode behind /proc/PID/fd/FD, or None when it is not a socket."""
    try:
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return None
    return int(link[8:-1]) if link.startswith("socket:[") else None


def _ioctl_int(fd: int, req: int) -> int:
    try:
        return struct.unpack("i", fcntl.ioctl(fd, req, b"\0" * 4))[0]
    except OSError:
        return 0


def resolve(pid: int, fd: int) -> SockInfo | None:
    """The socket's real state now; None when FD is not a socket (or the process is gone)."""
    inode = inode_of(pid, fd)
    if inode is None:
        return None
    try:
        dup = pidfd_getfd(pid, fd)
    except OSError:
        return SockInfo(inode, "?", "socket")
    try:
        s = socket.socket(fileno=dup)
        try:
            return _describe(s, inode)
        finally:
            s.detach()
    finally:
        os.close(dup)


def _describe(s: socket.socket, inode: int) -> SockInfo:
    fam = {socket.AF_INET: "AF_INET", socket.AF_INET6: "AF_INET6", socket.AF_UNIX: "AF_UNIX"}.get(s.family, str(s.family))
    if s.family not in (socket.AF_INET, socket.AF_INET6):
        return SockInfo(inode, fam, "unix" if s.family == socket.AF_UNIX else "socket")
    if s.type != socket.SOCK_STREAM:
        return SockInfo(inode, fam, "udp" if s.type == socket.SOCK_DGRAM else "socket")
    laddr, lport = s.getsockname()[:2]
    try:
        raddr, rport = s.getpeername()[:2]
    except OSError:
        raddr, rport = "", 0
    info = s.getsockopt(socket.IPPROTO_TCP, TCP_INFO, 104)
    state = TCP_STATES.get(info[0], str(info[0]))
    on, secs = struct.unpack("ii", s.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))
    linger2 = struct.unpack("i", s.getsockopt(socket.IPPROTO_TCP, TCP_LINGER2, 4))[0]
    common = dict(laddr=laddr, lport=lport, raddr=raddr, rport=rport, state=state, linger=(on, secs), linger2=linger2)
    if state == "LISTEN":  # TCP_INFO's tcpi_unacked is the accept queue's length for a listener
        return SockInfo(inode, fam, "tcp", accept_queue=struct.unpack_from("I", info, 24)[0], **common)
    return SockInfo(inode, fam, "tcp", inq=_ioctl_int(s.fileno(), SIOCINQ), unsent=_ioctl_int(s.fileno(), SIOCOUTQNSD), **common)


def holders(inode: int, skip: tuple[int, int] | None = None, pids: Iterable[int] | None = None) -> list[tuple[int, int]]:
    """Every (pid, fd) that refers to this socket, except ``skip``: a dup, a forked child;
    among ``pids`` (None: every process, ~30 ms on a host with ~150 processes). Threads share
    their process's table, so /proc/PID (not each task) is enough."""
    target = f"socket:[{inode}]"
    out = []
    for pid in sorted(pids) if pids is not None else (int(n) for n in os.listdir("/proc") if n.isdigit()):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target and (pid, int(fd)) != skip:
                    out.append((pid, int(fd)))
            except OSError:
                continue
    return out


def socket_fds(pid: int) -> list[int]:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    return sorted(int(fd) for fd in fds if inode_of(pid, int(fd)) is not None)


class PlainFds:
    """Per process, fds known not to be sockets, so a read() of a pipe passes without a readlink.
    An fd number changes meaning only after it is closed (close, dup2 over it, close_range, exec)
    or handed in by recvmsg (SCM_RIGHTS), and each of those forgets it."""

    def __init__(self) -> None:
        self._by_pid: dict[int, set[int]] = {}

    def is_socket(self, pid: int, tid: int, call: str, a: tuple[int, ...]) -> bool:
        fd, plain = a[0] & 0xFFFFFFFF, self._by_pid.setdefault(pid, set())
        if call in ("dup2", "dup3"):
            plain.discard(a[1] & 0xFFFFFFFF)
        if fd in plain:
            if call == "close":
                plain.discard(fd)
            return False
        if inode_of(tid, fd) is None:
            if call != "close":
                plain.add(fd)
            return False
        return True

    def known_plain(self, pid: int, fd: int) -> bool:
        plain = self._by_pid.get(pid)
        return plain is not None and (fd & 0xFFFFFFFF) in plain

    def forget(self, pid: int, call: str, a: tuple[int, ...], ret: int) -> None:
        """At the exit of a call that may have made an fd a socket."""
        plain = self._by_pid.get(pid)
        if plain is None:
            return
        if call == "recvmsg":
            plain.clear()
        elif ret >= 0:
            plain.discard(ret)
            if call in ("dup2", "dup3"):
                plain.discard(a[1] & 0xFFFFFFFF)

    def reset(self, pid: int) -> None:
        self._by_pid.pop(pid, None)


def from_row(row: SocketRow, addr: str = "127.0.0.1") -> SockInfo:
    """A lab actor's socket (as its inventory reports it) in the traced sockets' shape."""
    local = addr if row.lport else "0.0.0.0"
    return SockInfo(0, "AF_INET", "tcp", local, row.lport, addr if row.rport else "", row.rport, row.state, row.inq, row.unsent)
