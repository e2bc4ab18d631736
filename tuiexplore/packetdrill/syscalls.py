"""The script's system calls (packetdrill's ``run_system_call.c``): each made with libc itself,
as packetdrill makes them, so the kernel's return value and errno are what the script checks
(Python's socket objects would wait on a non-blocking connect, retry, or raise their own errors).

Script fds are names: ``socket(...) = 3`` means "the fd this call returns is the script's 3",
whatever number the kernel gave. ``...`` addresses are packetdrill's: the local address and
port 8080 for bind, the remote one for connect.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import socket
import struct
from dataclasses import dataclass

from .netdev import Addresses
from .run_packet import DEFAULT_PORT
from .script import BitOr, Call, Ellipsis_, Expr, Int, List, Str, Struct, Syscall, Word

_libc = ctypes.CDLL(None, use_errno=True)

# Names a script may use, with the kernel's values (include/uapi/...), Python's where it has them.
SYMBOLS: dict[str, int] = {
    "AF_INET": socket.AF_INET, "AF_INET6": socket.AF_INET6, "AF_UNSPEC": socket.AF_UNSPEC,
    "PF_INET": socket.AF_INET, "PF_INET6": socket.AF_INET6,
    "SOCK_STREAM": socket.SOCK_STREAM, "SOCK_NONBLOCK": 0o4000, "SOCK_CLOEXEC": 0o2000000,
    "IPPROTO_TCP": 6, "IPPROTO_IP": 0, "IPPROTO_IPV6": 41, "SOL_SOCKET": 1, "SOL_TCP": 6, "SOL_IP": 0, "SOL_IPV6": 41,
    "SO_REUSEADDR": 2, "SO_KEEPALIVE": 9, "SO_LINGER": 13, "SO_RCVBUF": 8, "SO_SNDBUF": 7, "SO_ERROR": 4,
    "SO_REUSEPORT": 15, "SO_RCVLOWAT": 18, "SO_SNDBUFFORCE": 32, "SO_RCVBUFFORCE": 33, "SO_MARK": 36,
    "TCP_NODELAY": 1, "TCP_MAXSEG": 2, "TCP_CORK": 3, "TCP_KEEPIDLE": 4, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 6,
    "TCP_SYNCNT": 7, "TCP_LINGER2": 8, "TCP_DEFER_ACCEPT": 9, "TCP_WINDOW_CLAMP": 10, "TCP_INFO": 11,
    "TCP_QUICKACK": 12, "TCP_CONGESTION": 13, "TCP_USER_TIMEOUT": 18, "TCP_FASTOPEN": 23,
    "TCP_NOTSENT_LOWAT": 25, "TCP_FASTOPEN_CONNECT": 30, "TCP_FASTOPEN_NO_COOKIE": 34,
    "F_GETFL": 3, "F_SETFL": 4, "O_RDONLY": 0, "O_WRONLY": 1, "O_RDWR": 2, "O_NONBLOCK": 0o4000,
    "SHUT_RD": 0, "SHUT_WR": 1, "SHUT_RDWR": 2,
    "MSG_PEEK": 2, "MSG_DONTWAIT": 0x40, "MSG_WAITALL": 0x100, "MSG_NOSIGNAL": 0x4000, "MSG_FASTOPEN": 0x20000000,
    "POLLIN": 0x1, "POLLPRI": 0x2, "POLLOUT": 0x4, "POLLERR": 0x8, "POLLHUP": 0x10, "POLLNVAL": 0x20,
    "POLLRDNORM": 0x40, "POLLRDBAND": 0x80, "POLLWRNORM": 0x100, "POLLWRBAND": 0x200, "POLLRDHUP": 0x2000,
    "SIOCINQ": 0x541B, "FIONREAD": 0x541B, "SIOCOUTQ": 0x5411, "SIOCOUTQNSD": 0x894B,
    "EPOLLIN": 0x1, "EPOLLPRI": 0x2, "EPOLLOUT": 0x4, "EPOLLERR": 0x8, "EPOLLHUP": 0x10, "EPOLLRDNORM": 0x40,
    "EPOLLRDBAND": 0x80, "EPOLLWRNORM": 0x100, "EPOLLWRBAND": 0x200, "EPOLLRDHUP": 0x2000, "EPOLLET": 1 << 31,
    "EPOLL_CTL_ADD": 1, "EPOLL_CTL_DEL": 2, "EPOLL_CTL_MOD": 3,
}  # fmt: skip
# struct epoll_event is packed on x86-64 (__EPOLL_PACKED): events, then the 64-bit data the
# script's fd is kept in.
_EPOLL_EVENT = struct.Struct("=IQ")
# What a script's counts may ask for: each is the size of a buffer made here and handed to the
# kernel, so a larger one is refused before anything is allocated, and a negative one never
# reaches the kernel as a huge size_t over a buffer smaller than it.
BUFFER_MAX = 64 << 20  # bytes a read, recv, write or send may name
EVENTS_MAX = 1024  # epoll_wait's maxevents
SYMBOLS.update({name: number for number, name in errno_mod.errorcode.items()})  # getsockopt(SO_ERROR)'s [ECONNRESET]


class SyscallError(Exception):
    """A call the script wrote that cannot be made (an unknown name, a script fd never opened)."""


@dataclass(frozen=True)
class Outcome:
    ret: int
    errno: str | None
    fd: int | None = None  # the live fd the call acted on
    new_fd: int | None = None  # the live fd socket()/accept() made
    value: int | None = None  # what getsockopt() read


def value(e: Expr) -> int | None:
    """An integer argument: a number, a name, ``A|B``, ``[n]``; None for ``...``."""
    if isinstance(e, Ellipsis_):
        return None
    if isinstance(e, Int):
        return e.value
    if isinstance(e, Word):
        if e.name not in SYMBOLS:
            raise SyscallError(f"unknown symbol {e.name}")
        return SYMBOLS[e.name]
    if isinstance(e, BitOr):
        out = 0
        for t in e.terms:
            out |= value(t) or 0
        return out
    if isinstance(e, List) and len(e.items) == 1:
        return value(e.items[0])
    if isinstance(e, Call) and e.name in ("htons", "htonl") and len(e.args) == 1:
        return value(e.args[0])
    raise SyscallError(f"not an integer argument: {type(e).__name__}")


def count(e: Expr, most: int, what: str = "a byte count") -> int:
    """A count the script gives for a buffer: 0 to ``most``."""
    n = value(e) or 0
    if not 0 <= n <= most:
        raise SyscallError(f"{what} out of range (0..{most}): {n}")
    return n


class Syscalls:
    def __init__(self, addrs: Addresses) -> None:
        self.addrs = addrs
        self.fds: dict[int, int] = {}  # script fd -> live fd
        self.read: dict[int, int] = {}  # live fd -> bytes its reads returned (see verdicts.row)

    def live(self, e: Expr) -> int:
        n = value(e)
        if n is None or n not in self.fds:
            raise SyscallError(f"fd {n} is not open in this script")
        return self.fds[n]

    def close_all(self) -> None:
        for fd in self.fds.values():
            _libc.close(fd)
        self.fds.clear()

    def sockaddr(self, e: Expr, remote: bool) -> bytes:
        a = self.addrs
        port = DEFAULT_PORT
        if isinstance(e, Struct):
            p = e.get("sin_port") or e.get("sin6_port")
            port = value(p) or DEFAULT_PORT if p is not None else DEFAULT_PORT
        elif isinstance(e, Word) and e.name == "AF_UNSPEC":
            return struct.pack("H14x", socket.AF_UNSPEC)
        host = socket.inet_pton(a.family, a.remote if remote else a.local)
        if a.family == socket.AF_INET:
            return struct.pack("=H", socket.AF_INET) + struct.pack("!H4s8x", port, host)
        return struct.pack("=H", socket.AF_INET6) + struct.pack("!HI16sI", port, 0, host, 0)

    def run(self, call: Syscall) -> Outcome:
        """Make the call; ``errno`` is its name when it returned -1."""
        name, args = call.name, call.args
        method = getattr(self, "_" + name, None)
        if method is None:
            raise SyscallError(f"the system call {name}() is not supported")
        try:
            ret, fd, extra = method(args)
        except IndexError:
            raise SyscallError(f"{name}() needs more arguments than the line gives") from None
        except (OverflowError, struct.error, ctypes.ArgumentError) as exc:
            raise SyscallError(f"an argument of {name}() is out of range: {exc}") from None
        err = ctypes.get_errno() if ret == -1 else 0
        errname = errno_mod.errorcode.get(err, str(err)) if ret == -1 else None
        if name in ("read", "recv") and ret > 0 and fd is not None:
            self.read[fd] = self.read.get(fd, 0) + ret
        new = ret if name in ("socket", "accept", "accept4") and ret >= 0 else None
        if new is not None:
            self.read.pop(new, None)
            script_fd = value(call.result)
            if script_fd is not None:
                self.fds[script_fd] = new
        if name == "epoll_create" and ret >= 0 and (script_fd := value(call.result)) is not None:
            self.fds[script_fd] = ret  # a name for it, not the socket under test
        if name == "close" and ret == 0:
            n = value(args[0])
            self.fds.pop(n if n is not None else -1, None)
        return Outcome(ret, errname, fd, new, extra)

    @staticmethod
    def expected(call: Syscall) -> int | None:
        """The value a call reads back that its line checks: getsockopt's optval, ioctl's
        value, poll's first revents; None when the line does not say."""
        args = call.args
        if call.name == "getsockopt" and len(args) > 3:
            return value(args[3])
        if call.name == "ioctl" and len(args) > 2:
            return value(args[2])
        if call.name == "epoll_wait" and len(args) > 1 and isinstance(args[1], Struct) and args[1].get("events") is not None:
            return value(args[1].get("events") or Int(0, "0"))
        if call.name == "poll" and args and isinstance(args[0], List) and args[0].items and isinstance(args[0].items[0], Struct):
            revents = args[0].items[0].get("revents")
            return value(revents) if revents is not None else None
        return None

    # Each returns (return value, the live fd acted on, the value it read back).
    def _socket(self, args: tuple[Expr, ...]) -> tuple[int, int | None, None]:
        domain = value(args[0])
        kind = value(args[1]) or socket.SOCK_STREAM
        proto = value(args[2]) if len(args) > 2 else 0
        fam = self.addrs.family if domain in (None, socket.AF_INET, socket.AF_INET6) else domain
        return _libc.socket(fam, kind, proto or 0), None, None

    def _bind(self, args: tuple[Expr, ...]) -> tuple[int, int, None]:
        fd = self.live(args[0])
        sa = self.sockaddr(args[1], remote=False)
        return _libc.bind(fd, sa, len(sa)), fd, None

    def _listen(self, args: tuple[Expr, ...]) -> tuple[int, int, None]:
        fd = self.live(args[0])
        return _libc.listen(fd, value(args[1]) or 0), fd, None

    def _accept(self, args: tuple[Expr, ...]) -> tuple[int, int, None]:
        fd = self.live(args[0])
        return _libc.accept(fd, None, None), fd, None

    def _accept4(self, args: tuple[Expr, ...]) -> tuple[int, int, None]:
        fd = self.live(args[0])
        return _libc.accept4(fd, None, None, value(args[3]) or 0 if len(args) > 3 else 0), fd, None

    def _connect(self, args: tuple[Expr, ...]) -> tuple[int, int, None]:
        fd = self.live(args[0])
        sa = self.sockaddr(args[1], remote=True)
        return _libc.connect(fd, sa, len(sa)), fd, None

    def _read(self, args: tuple[Expr, ...]) -> tuple[int, int, None]:
        fd = self.live(args[0])
        n = count(args[2], BUFFER_MAX)
        return _libc.read(fd, ctypes.create_string_buffer(max(n, 1)), n), fd, None

    def _recv(self, args: tuple[Expr, ...]) -> tuple[int, int, None]:
        fd = self.live(args[0])
        n = count(args[2], BUFFER_MAX)
        return _libc.recv(fd, ctypes.create_string_buffer(max(n, 1)), n, value(args[3]) or 0), fd, None

    def _data(self, buf: Expr, n: int) -> bytes:
        return buf.value.encode()[:n].ljust(n, b"\0") if isinstance(buf, Str) else b"\0" * n

    def _write(self, args: tuple[Expr, ...]) -> tuple[int, int, None]:
        fd = self.live(args[0])
        n = count(args[2], BUFFER_MAX)
        return _libc.write(fd, self._data(args[1], n), n), fd, None

    def _send(self, args: tuple[Expr, ...]) -> tuple[int, int, None]:
        fd = self.live(args[0])
        n = count(args[2], BUFFER_MAX)
        return _libc.send(fd, self._data(args[1], n), n, value(args[3]) or 0), fd, None

    def _sendto(self, args: tuple[Expr, ...]) -> tuple[int, int, None]:
        fd = self.live(args[0])
        n = count(args[2], BUFFER_MAX)
        sa = self.sockaddr(args[4], remote=True)
        return _libc.sendto(fd, self._data(args[1], n), n, value(args[3]) or 0, sa, len(sa)), fd, None

    def _close(self, args: tuple[Expr, ...]) -> tuple[int, int, None]:
        fd = self.live(args[0])
        return _libc.close(fd), fd, None

    def _shutdown(self, args: tuple[Expr, ...]) -> tuple[int, int, None]:
        fd = self.live(args[0])
        return _libc.shutdown(fd, value(args[1]) or 0), fd, None

    def _fcntl(self, args: tuple[Expr, ...]) -> tuple[int, int, None]:
        fd = self.live(args[0])
        arg = value(args[2]) if len(args) > 2 else 0
        return _libc.fcntl(fd, value(args[1]) or 0, arg or 0), fd, None

    def _setsockopt(self, args: tuple[Expr, ...]) -> tuple[int, int, None]:
        fd = self.live(args[0])
        level, opt, v = value(args[1]) or 0, value(args[2]) or 0, args[3]
        if isinstance(v, Struct):  # struct linger {onoff, linger}
            raw = struct.pack("ii", *(value(x) or 0 for _, x in v.fields[:2]))
        elif isinstance(v, Str):
            raw = v.value.encode()
        else:
            raw = struct.pack("i", value(v) or 0)
        return _libc.setsockopt(fd, level, opt, raw, len(raw)), fd, None

    def _getsockopt(self, args: tuple[Expr, ...]) -> tuple[int, int, int | None]:
        fd = self.live(args[0])
        buf = ctypes.create_string_buffer(4)
        size = ctypes.c_uint32(4)
        ret = _libc.getsockopt(fd, value(args[1]) or 0, value(args[2]) or 0, buf, ctypes.byref(size))
        return ret, fd, struct.unpack("i", buf.raw)[0] if ret == 0 else None

    def _ioctl(self, args: tuple[Expr, ...]) -> tuple[int, int, int | None]:
        fd = self.live(args[0])
        v = ctypes.c_int(0)
        ret = _libc.ioctl(fd, value(args[1]) or 0, ctypes.byref(v))
        return ret, fd, v.value if ret == 0 else None

    def _poll(self, args: tuple[Expr, ...]) -> tuple[int, int | None, int | None]:
        """``poll([{fd=4, events=POLLIN, revents=...}], 1, 0)``: the first entry's revents is read back."""
        entries = args[0].items if isinstance(args[0], List) else ()
        fds = [
            (self.live(e.get("fd") or Ellipsis_()), value(e.get("events") or Int(0, "0")) or 0)
            for e in entries
            if isinstance(e, Struct)
        ]
        raw = ctypes.create_string_buffer(b"".join(struct.pack("ihh", fd, ev, 0) for fd, ev in fds) or b"\0" * 8)
        ret = _libc.poll(raw, len(fds), value(args[2]) or 0 if len(args) > 2 else 0)
        first = struct.unpack_from("ihh", raw.raw)[2] if fds and ret >= 0 else None
        return ret, fds[0][0] if fds else None, first

    def _epoll_create(self, args: tuple[Expr, ...]) -> tuple[int, None, None]:
        return _libc.epoll_create(value(args[0]) or 1 if args else 1), None, None

    def _epoll_ctl(self, args: tuple[Expr, ...]) -> tuple[int, None, None]:
        """``epoll_ctl(4, EPOLL_CTL_ADD, 3, {events=EPOLLIN, fd=3})``: the event's data is the script's fd."""
        ep, fd = self.live(args[0]), self.live(args[2])
        spec = args[3] if len(args) > 3 and isinstance(args[3], Struct) else None
        events = value(spec.get("events") or Int(0, "0")) or 0 if spec is not None else 0
        event = ctypes.create_string_buffer(_EPOLL_EVENT.pack(events, value(args[2]) or 0))
        return _libc.epoll_ctl(ep, value(args[1]) or 0, fd, event), None, None

    def _epoll_wait(self, args: tuple[Expr, ...]) -> tuple[int, None, int | None]:
        """``epoll_wait(4, {events=EPOLLIN, fd=3}, 10, 1000)``: the first ready event's events are read back."""
        most = max(1, count(args[2], EVENTS_MAX, "maxevents")) if len(args) > 2 else 1
        ready = ctypes.create_string_buffer(_EPOLL_EVENT.size * most)
        ret = _libc.epoll_wait(self.live(args[0]), ready, most, value(args[3]) if len(args) > 3 else 0)
        return ret, None, _EPOLL_EVENT.unpack_from(ready.raw)[0] if ret > 0 else None
