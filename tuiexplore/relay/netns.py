"""Network namespaces held by an open file descriptor, entered by the calling thread only.

Python 3.11 has no ``os.setns``/``os.unshare``; libc's work (shared/notes/wire.md). ``setns``
switches the calling thread alone, so a thread that enters a namespace to make a device, a
socket or a child process there comes back before it does anything else.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(RuntimeError):
    """A namespace could not be made or entered; the message says which and why."""


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise NetnsError(f"{what} failed: {os.strerror(err)}")


class NetNs:
    """One network namespace, kept alive by the descriptor even when no process is in it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @classmethod
    def current(cls) -> NetNs:
        return cls(os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC))

    @classmethod
    def new(cls) -> NetNs:
        """A fresh namespace; the calling thread stays where it was."""
        home = cls.current()
        try:
            _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            made = cls.current()
            home.enter()
        finally:
            home.close()
        return made

    def enter(self) -> None:
        _check(_libc.setns(self.fd, CLONE_NEWNET), "setns(CLONE_NEWNET)")

    @contextmanager
    def inside(self) -> Iterator[None]:
        """The calling thread in this namespace for the block, then back where it was."""
        home = NetNs.current()
        try:
            self.enter()
            try:
                yield
            finally:
                home.enter()
        finally:
            home.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
