"""Entering the lab's private network namespace (and, as root, a private mount namespace).

Called once, first thing, by the lab agent process while it is still single-threaded (a
multi-threaded process cannot join a new user namespace). The process that runs the UI never
changes namespace.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
from dataclasses import dataclass

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_libc = ctypes.CDLL(None, use_errno=True)


class NamespaceError(RuntimeError):
    """The lab cannot get a private network namespace; the message says why and what to do."""


@dataclass(frozen=True)
class LabNamespace:
    mode: str  # "root" (CLONE_NEWNET) or "userns" (CLONE_NEWUSER|CLONE_NEWNET)
    private_mounts: bool  # a mount namespace of our own, where tracefs may be mounted


def _unshare(flags: int) -> int:
    return 0 if _libc.unshare(flags) == 0 else ctypes.get_errno()


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def enter(as_self: bool = False) -> LabNamespace:
    """``as_self``: without root, keep the user's own uid and gid inside the user namespace (the
    step child's programs then run as the user, as bare) rather than map them to its root; the
    calling process keeps the namespace's capabilities either way until it execs."""
    if os.geteuid() == 0:
        err = _unshare(CLONE_NEWNET | CLONE_NEWNS)
        if err == 0:
            private = _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) == 0
            lo_up()
            return LabNamespace("root", private)
        # Root without CAP_SYS_ADMIN (a container): a user namespace may still be allowed.
    uid, gid = os.getuid(), os.getgid()
    err = _unshare(CLONE_NEWUSER | CLONE_NEWNET)
    if err:
        raise NamespaceError(
            f"cannot create a private network namespace: unshare(CLONE_NEWUSER|CLONE_NEWNET) failed with "
            f"{errno.errorcode.get(err, err)} ({os.strerror(err)}). Run as root, or allow unprivileged user "
            "namespaces (sysctl user.max_user_namespaces > 0; on Debian kernel.unprivileged_userns_clone=1; "
            "on Ubuntu 24.04+ kernel.apparmor_restrict_unprivileged_userns=0)."
        )
    try:
        _write("/proc/self/setgroups", "deny")
        inner_uid, inner_gid = (uid, gid) if as_self else (0, 0)
        _write("/proc/self/uid_map", f"{inner_uid} {uid} 1")
        _write("/proc/self/gid_map", f"{inner_gid} {gid} 1")
        lo_up()
    except OSError as exc:
        raise NamespaceError(
            f"a user namespace was created but could not be set up ({exc.strerror}: {exc.filename or 'lo'}); "
            "a security module (AppArmor/SELinux) may restrict unprivileged user namespaces. Run as root, or "
            "lift the restriction (Ubuntu: sysctl kernel.apparmor_restrict_unprivileged_userns=0)."
        ) from exc
    return LabNamespace("userns", False)


def lo_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack_from("16sH", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
