"""x86_64 syscall numbers of the network-relevant calls and their arguments decoded for people.

Everything read from the tracee (buffers, unix paths) is shown as printable ASCII with ``\\xNN``
escapes, so no program can inject markup or terminal escapes into a view.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from typing import Any

from tuiexplore.lab.calls import epoll_names
from tuiexplore.trace import msghdr
from tuiexplore.trace.escaping import bits, escape
from tuiexplore.trace.ptrace import read_mem

SHOW_BYTES = 256

# name -> number (arch/x86/entry/syscalls/syscall_64.tbl)
NUMBERS: dict[str, int] = {
    "read": 0, "write": 1, "close": 3, "poll": 7, "readv": 19, "writev": 20, "select": 23,
    "dup": 32, "dup2": 33, "sendfile": 40, "socket": 41, "connect": 42, "accept": 43, "sendto": 44,
    "recvfrom": 45, "sendmsg": 46, "recvmsg": 47, "shutdown": 48, "bind": 49, "listen": 50,
    "socketpair": 53, "setsockopt": 54, "getsockopt": 55, "clone": 56, "fork": 57, "vfork": 58,
    "exit": 60, "fcntl": 72, "epoll_create": 213, "exit_group": 231, "epoll_wait": 232,
    "epoll_ctl": 233, "pselect6": 270, "ppoll": 271, "epoll_pwait": 281, "accept4": 288,
    "epoll_create1": 291, "dup3": 292, "recvmmsg": 299, "sendmmsg": 307, "clone3": 435,
    "close_range": 436, "epoll_pwait2": 441,
}  # fmt: skip
NAMES = {v: k for k, v in NUMBERS.items()}
# Calls that only matter when their first argument is a socket (ld.so's read(3) of libc is not).
ON_SOCKET_FD = frozenset({"read", "write", "readv", "writev", "close", "dup", "dup2", "dup3", "fcntl", "sendfile"})
# Of those, the ones that change nothing about which fds are sockets: the --fast loop lets them
# pass on an fd known to be plain without looking further.
PLAIN_IO = frozenset(NUMBERS[c] for c in ("read", "write", "readv", "writev"))
F_DUPFD, F_DUPFD_CLOEXEC = 0, 1030
CLOSING = frozenset({"close", "shutdown", "exit_group", "exit", "connect"})

FAMILY = {0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET"}
SOCK_TYPE = {1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 5: "SOCK_SEQPACKET"}
SOCK_FLAGS = {0o4000: "SOCK_NONBLOCK", 0o2000000: "SOCK_CLOEXEC"}
MSG_FLAGS = {
    0x1: "MSG_OOB", 0x2: "MSG_PEEK", 0x4: "MSG_DONTROUTE", 0x20: "MSG_TRUNC", 0x40: "MSG_DONTWAIT",
    0x80: "MSG_EOR", 0x100: "MSG_WAITALL", 0x800: "MSG_CONFIRM", 0x2000: "MSG_ERRQUEUE",
    0x4000: "MSG_NOSIGNAL", 0x8000: "MSG_MORE", 0x10000: "MSG_WAITFORONE", 0x4000000: "MSG_ZEROCOPY",
    0x20000000: "MSG_FASTOPEN", 0x40000000: "MSG_CMSG_CLOEXEC",
}  # fmt: skip
LEVELS = {1: "SOL_SOCKET", 6: "IPPROTO_TCP", 0: "IPPROTO_IP", 41: "IPPROTO_IPV6"}
SOCKOPT_NAMES = {
    1: {2: "SO_REUSEADDR", 4: "SO_ERROR", 7: "SO_SNDBUF", 8: "SO_RCVBUF", 9: "SO_KEEPALIVE", 13: "SO_LINGER", 15: "SO_REUSEPORT"},
    6: {1: "TCP_NODELAY", 4: "TCP_KEEPIDLE", 5: "TCP_KEEPINTVL", 6: "TCP_KEEPCNT", 8: "TCP_LINGER2", 11: "TCP_INFO"},
    41: {26: "IPV6_V6ONLY"},
}
SHUT = {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}
EPOLL_OP = {1: "EPOLL_CTL_ADD", 2: "EPOLL_CTL_DEL", 3: "EPOLL_CTL_MOD"}
POLL_BITS = {
    0x1: "POLLIN",
    0x2: "POLLPRI",
    0x4: "POLLOUT",
    0x8: "POLLERR",
    0x10: "POLLHUP",
    0x20: "POLLNVAL",
    0x2000: "POLLRDHUP",
}
CLONE_BITS = {
    0x100: "CLONE_VM",
    0x200: "CLONE_FS",
    0x400: "CLONE_FILES",
    0x800: "CLONE_SIGHAND",
    0x4000: "CLONE_VFORK",
    0x10000: "CLONE_THREAD",
}


def sockaddr(tid: int, addr: int, length: int) -> dict[str, Any] | None:
    raw = read_mem(tid, addr, min(max(length, 0), 128))
    if len(raw) < 2:
        return None
    fam = struct.unpack_from("=H", raw)[0]
    out: dict[str, Any] = {"family": FAMILY.get(fam, str(fam))}
    if fam == socket.AF_INET and len(raw) >= 8:
        out.update(ip=socket.inet_ntop(socket.AF_INET, raw[4:8]), port=struct.unpack_from("!H", raw, 2)[0])
    elif fam == socket.AF_INET6 and len(raw) >= 24:
        out.update(ip=socket.inet_ntop(socket.AF_INET6, raw[8:24]), port=struct.unpack_from("!H", raw, 2)[0])
    elif fam == socket.AF_UNIX:
        out["path"] = escape(raw[2:].split(b"\0", 1)[0] if raw[2:3] != b"\0" else raw[2:])
    return out


def _int(tid: int, addr: int) -> int | None:
    raw = read_mem(tid, addr, 4)
    return struct.unpack("i", raw)[0] if len(raw) == 4 else None


def _buf(tid: int, addr: int, size: int) -> dict[str, Any]:
    data = read_mem(tid, addr, min(size, SHOW_BYTES))
    return {"data": escape(data), "truncated": size > SHOW_BYTES}


def _optval(tid: int, level: int, opt: int, addr: int, length: int) -> Any:
    if level == 1 and opt == 13 and length >= 8:
        raw = read_mem(tid, addr, 8)
        if len(raw) == 8:
            on, secs = struct.unpack("ii", raw)
            return {"onoff": on, "linger": secs}
    return _int(tid, addr) if length >= 4 else None


def _sockopt(a: tuple[int, ...]) -> dict[str, Any]:
    return {"fd": a[0], "level": LEVELS.get(a[1], a[1]), "option": SOCKOPT_NAMES.get(a[1], {}).get(a[2], a[2])}


def _epoll_events(tid: int, addr: int, n: int) -> list[dict[str, Any]]:
    raw = read_mem(tid, addr, 12 * max(0, min(n, 64)))  # struct epoll_event is packed: =IQ
    out = []
    for i in range(len(raw) // 12):
        mask, data = struct.unpack_from("=IQ", raw, 12 * i)
        # epoll_data is a union; programs keep the fd in its low 32 bits (the seed, Python).
        out.append({"fd": data & 0xFFFFFFFF, "events": epoll_names(mask), "mask": f"{mask:x}"})
    return out


def _pollfds(tid: int, addr: int, n: int, revents: bool) -> list[dict[str, Any]]:
    raw = read_mem(tid, addr, 8 * max(0, min(n, 64)))
    out = []
    for i in range(len(raw) // 8):
        fd, ev, rev = struct.unpack_from("ihh", raw, 8 * i)
        if revents and rev:
            out.append({"fd": fd, "revents": bits(rev & 0xFFFF, POLL_BITS)})
        elif not revents:
            out.append({"fd": fd, "events": bits(ev & 0xFFFF, POLL_BITS)})
    return out


Decoder = Callable[[int, tuple[int, ...]], dict[str, Any]]


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v & 0xFFFFFFFF


ENTRY: dict[str, Decoder] = {
    "socket": lambda t, a: {
        "domain": FAMILY.get(a[0], a[0]),
        "type": "|".join([SOCK_TYPE.get(a[1] & 0xF, str(a[1] & 0xF))] + [n for b, n in SOCK_FLAGS.items() if a[1] & b]),
        "protocol": a[2],
    },
    "bind": lambda t, a: {"fd": a[0], "addr": sockaddr(t, a[1], a[2])},
    "connect": lambda t, a: {"fd": a[0], "addr": sockaddr(t, a[1], a[2])},
    "listen": lambda t, a: {"fd": a[0], "backlog": _s32(a[1])},
    "accept": lambda t, a: {"fd": a[0]},
    "accept4": lambda t, a: {"fd": a[0], "flags": bits(a[3], SOCK_FLAGS)},
    "read": lambda t, a: {"fd": a[0], "count": a[2]},
    "readv": lambda t, a: {"fd": a[0], "iovcnt": a[2]},  # its buffers are read at its exit
    "write": lambda t, a: {"fd": a[0], "count": a[2], **_buf(t, a[1], a[2])},
    "writev": lambda t, a: {"fd": a[0], "iov": msghdr.buffers(t, msghdr.iovecs(t, a[1], a[2]))},
    "sendto": lambda t, a: {"fd": a[0], "count": a[2], **_buf(t, a[1], a[2]), "flags": bits(a[3], MSG_FLAGS)},
    "recvfrom": lambda t, a: {"fd": a[0], "count": a[2], "flags": bits(a[3], MSG_FLAGS)},
    "sendmsg": lambda t, a: {"fd": a[0], **msghdr.message(t, a[1], sockaddr), "flags": bits(a[2], MSG_FLAGS)},
    "recvmsg": lambda t, a: {"fd": a[0], "flags": bits(a[2], MSG_FLAGS)},  # the message is read at its exit
    "sendmmsg": lambda t, a: {
        "fd": a[0],
        "vlen": a[2],
        "msgs": msghdr.vector(t, a[1], a[2], sockaddr),
        "flags": bits(a[3], MSG_FLAGS),
    },
    "recvmmsg": lambda t, a: {"fd": a[0], "vlen": a[2], "flags": bits(a[3], MSG_FLAGS)},
    "sendfile": lambda t, a: {"out_fd": a[0], "in_fd": a[1], "count": a[3]},
    "shutdown": lambda t, a: {"fd": a[0], "how": SHUT.get(a[1], a[1])},
    "setsockopt": lambda t, a: {**_sockopt(a), "value": _optval(t, a[1], a[2], a[3], a[4])},
    "getsockopt": lambda t, a: _sockopt(a),
    "close": lambda t, a: {"fd": _s32(a[0])},
    "close_range": lambda t, a: {"first": a[0], "last": _s32(a[1])},
    "dup": lambda t, a: {"fd": a[0]},
    "dup2": lambda t, a: {"fd": a[0], "newfd": a[1]},
    "dup3": lambda t, a: {"fd": a[0], "newfd": a[1], "flags": bits(a[2], SOCK_FLAGS)},
    "fcntl": lambda t, a: {"fd": a[0], "cmd": "F_DUPFD_CLOEXEC" if a[1] == F_DUPFD_CLOEXEC else "F_DUPFD", "arg": a[2]},
    "epoll_create": lambda t, a: {"size": a[0]},
    "epoll_create1": lambda t, a: {"flags": bits(a[0], {0o2000000: "EPOLL_CLOEXEC"})},
    "epoll_ctl": lambda t, a: {"ep": a[0], "op": EPOLL_OP.get(a[1], a[1]), "fd": a[2], **_ctl_event(t, a[3])},
    "epoll_wait": lambda t, a: {"ep": a[0], "maxevents": a[2], "timeout_ms": _s32(a[3])},
    "epoll_pwait": lambda t, a: {"ep": a[0], "maxevents": a[2], "timeout_ms": _s32(a[3])},
    "epoll_pwait2": lambda t, a: {"ep": a[0], "maxevents": a[2]},
    "poll": lambda t, a: {"fds": _pollfds(t, a[0], a[1], False), "timeout_ms": _s32(a[2])},
    "ppoll": lambda t, a: {"fds": _pollfds(t, a[0], a[1], False)},
    "select": lambda t, a: {"nfds": a[0]},
    "pselect6": lambda t, a: {"nfds": a[0]},
    "clone": lambda t, a: {"flags": bits(a[0] & ~0xFF, CLONE_BITS)},
    "clone3": lambda t, a: {"flags": bits(int.from_bytes(read_mem(t, a[0], 8) or b"\0" * 8, "little"), CLONE_BITS)},
    "fork": lambda t, a: {},
    "vfork": lambda t, a: {},
    "exit": lambda t, a: {"status": _s32(a[0])},
    "exit_group": lambda t, a: {"status": _s32(a[0])},
    "socketpair": lambda t, a: {"domain": FAMILY.get(a[0], a[0])},
}


def _ctl_event(tid: int, addr: int) -> dict[str, Any]:
    raw = read_mem(tid, addr, 12)
    if len(raw) < 12:
        return {}
    mask, data = struct.unpack("=IQ", raw)
    return {"events": epoll_names(mask), "mask": f"{mask:x}", "data": data & 0xFFFFFFFF}


def exit_result(tid: int, call: str, a: tuple[int, ...], ret: int) -> dict[str, Any]:
    """What the call gave back, read at its exit from the pointers saved at its entry."""
    if ret < 0:
        return {}
    if call in ("read", "recvfrom"):
        return _buf(tid, a[1], ret)
    if call == "recvmsg":
        return msghdr.message(tid, a[1], sockaddr, filled=ret, received=True)
    if call == "recvmmsg":
        return {"msgs": msghdr.vector(tid, a[1], ret, sockaddr, received=True)}
    if call == "readv":
        return {"iov": msghdr.buffers(tid, msghdr.iovecs(tid, a[1], a[2]), filled=ret)}
    if call in ("accept", "accept4"):
        plen = _int(tid, a[2]) if a[2] else None
        return {"fd": ret, "peer": sockaddr(tid, a[1], plen) if plen else None}
    if call in ("epoll_wait", "epoll_pwait", "epoll_pwait2"):
        return {"ready": _epoll_events(tid, a[1], ret)}
    if call in ("poll", "ppoll"):
        return {"ready": _pollfds(tid, a[0], a[1], True)}
    if call == "getsockopt":
        length = _int(tid, a[4]) or 0
        return {"value": _optval(tid, a[1], a[2], a[3], length)}
    if call in ("socket", "dup", "dup2", "dup3", "fcntl", "epoll_create", "epoll_create1"):
        return {"fd": ret}
    return {}


def decode_entry(tid: int, call: str, a: tuple[int, ...]) -> dict[str, Any]:
    return ENTRY[call](tid, a)
