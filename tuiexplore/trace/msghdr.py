"""sendmsg/recvmsg/sendmmsg/recvmmsg (and readv/writev) decoded: the struct msghdr's address,
its iovec buffers and its flags, read from the tracee's memory (x86_64 layouts).

Sent buffers are read at the call's entry; received ones at its exit, where only the returned
length is real data: it fills the iovecs in order, so each buffer shows its share of it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from tuiexplore.trace.escaping import bits, escape
from tuiexplore.trace.ptrace import read_mem

SHOW_BYTES = 256  # of each call, over all its buffers
MAX_IOV = 16
MAX_MSGS = 8  # of a sendmmsg/recvmmsg vector
MSGHDR = struct.Struct("=QI4xQQQQi4x")  # name, namelen, iov, iovlen, control, controllen, flags
MMSGHDR_SIZE = MSGHDR.size + 8  # + unsigned msg_len, padded
IOVEC = struct.Struct("=QQ")
# recvmsg's msg_flags (include/linux/socket.h); MSG_* of the call's own flags are syscalls.MSG_FLAGS
# syscalls.sockaddr(tid, addr, len): passed in, since syscalls imports this module
SockaddrReader = Callable[[int, int, int], dict[str, Any] | None]
MSG_OUT_FLAGS = {0x1: "MSG_OOB", 0x8: "MSG_CTRUNC", 0x20: "MSG_TRUNC", 0x80: "MSG_EOR", 0x2000: "MSG_ERRQUEUE"}


def iovecs(tid: int, addr: int, count: int) -> list[tuple[int, int]]:
    raw = read_mem(tid, addr, IOVEC.size * max(0, min(count, MAX_IOV)))
    return [IOVEC.unpack_from(raw, i * IOVEC.size) for i in range(len(raw) // IOVEC.size)]


def buffers(tid: int, vecs: list[tuple[int, int]], filled: int | None = None) -> list[dict[str, Any]]:
    """Each iovec as {len, data, truncated}; ``filled``: only that many bytes are data (a receive)."""
    left = SHOW_BYTES
    remaining = sum(n for _, n in vecs) if filled is None else filled
    out = []
    for base, size in vecs:
        real = min(size, max(remaining, 0))
        remaining -= real
        shown = read_mem(tid, base, min(real, left)) if real and left > 0 else b""
        left -= len(shown)
        out.append({"len": size, "data": escape(shown), "truncated": len(shown) < real})
    return out


def _msghdr(tid: int, addr: int) -> tuple[int, ...] | None:
    raw = read_mem(tid, addr, MSGHDR.size)
    return MSGHDR.unpack(raw) if len(raw) == MSGHDR.size else None


def message(tid: int, addr: int, sockaddr: SockaddrReader, filled: int | None = None, received: bool = False) -> dict[str, Any]:
    """One struct msghdr: ``sockaddr(tid, addr, len)`` decodes its address (syscalls.sockaddr)."""
    hdr = _msghdr(tid, addr)
    if hdr is None:
        return {"msg": None}
    name, namelen, iov, iovlen, _control, controllen, flags = hdr
    out: dict[str, Any] = {"addr": sockaddr(tid, name, namelen) if name and namelen else None}
    out["iov"] = buffers(tid, iovecs(tid, iov, iovlen), filled)
    if iovlen > MAX_IOV:
        out["iovlen"] = iovlen
    if controllen:
        out["controllen"] = controllen
    if received:
        out["msg_flags"] = bits(flags & 0xFFFFFFFF, MSG_OUT_FLAGS)
    return out


def vector(tid: int, addr: int, count: int, sockaddr: SockaddrReader, received: bool = False) -> list[dict[str, Any]]:
    """The messages of sendmmsg (all, at entry) or recvmmsg (the ``count`` it returned, at exit)."""
    out = []
    for i in range(max(0, min(count, MAX_MSGS))):
        at = addr + i * MMSGHDR_SIZE
        raw = read_mem(tid, at + MSGHDR.size, 4)
        length = struct.unpack("=I", raw)[0] if len(raw) == 4 else 0
        msg = message(tid, at, sockaddr, filled=length if received else None, received=received)
        out.append({**msg, "msg_len": length} if received else msg)
    return out
