"""What the user's shell gave ``tuiexplore step``, so that the stepped programs get it too.

A program run bare inherits its shell's signal dispositions, signal mask and environment. The
tool's own processes change them: the Python interpreter ignores SIGPIPE and SIGXFSZ and (PEP 538)
may add ``LC_CTYPE`` to its environment, glibc's posix_spawn leaves its internal signals 32 and 33
ignored in the child, the explorer drops ``COLUMNS``/``LINES``. So the first ``tuiexplore``
process takes the origin before any of that matters, the ``--serve`` child gets it in its argv,
and the launch helper (launch.py) puts it back just before the program's execve.

- The environment is read from ``/proc/self/environ``: the block the kernel laid out at execve,
  which setenv/putenv never write into, so it is what the shell passed.
- Ignored signals: the ones ignored now, less SIGPIPE and SIGXFSZ, which the interpreter ignores
  unconditionally at start-up (a user's own ignore of those two cannot be seen and is not kept).
- The mask: the calling thread's (the interpreter blocks nothing at start-up).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field

PYTHON_IGNORES = frozenset({signal.SIGPIPE, signal.SIGXFSZ})


def _mask(sigs: frozenset[int]) -> int:
    return sum(1 << (s - 1) for s in sigs)


def _sigs(mask: int) -> frozenset[int]:
    return frozenset(s for s in range(1, 65) if mask >> (s - 1) & 1)


def read_environ(path: str = "/proc/self/environ") -> dict[bytes, bytes]:
    with open(path, "rb") as f:
        block = f.read()
    out: dict[bytes, bytes] = {}
    for item in block.split(b"\0"):
        key, eq, value = item.partition(b"=")
        if eq and key:
            out.setdefault(key, value)
    return out


@dataclass(frozen=True)
class Origin:
    ignored: frozenset[int] = frozenset()
    blocked: frozenset[int] = frozenset()
    env: dict[bytes, bytes] = field(default_factory=dict)

    @classmethod
    def capture(cls) -> Origin:
        """This process's origin: the one ``remember`` took at start-up, else taken now."""
        return _REMEMBERED[0] if _REMEMBERED else cls.now()

    @classmethod
    def now(cls) -> Origin:
        ignored = frozenset(s for s in signal.valid_signals() if signal.getsignal(s) == signal.SIG_IGN) - PYTHON_IGNORES
        blocked = frozenset(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        return cls(ignored, blocked, read_environ())

    def to_arg(self) -> str:
        """For the ``--serve`` child's argv (its environment is this origin's already)."""
        return f"{_mask(self.ignored):x}:{_mask(self.blocked):x}"

    @classmethod
    def from_arg(cls, arg: str) -> Origin:
        ign, _, blk = arg.partition(":")
        return cls(_sigs(int(ign, 16)), _sigs(int(blk, 16)), read_environ())

    def masks(self) -> tuple[str, str]:
        """(ignored, blocked) as hex for the launch helper."""
        return f"{_mask(self.ignored):x}", f"{_mask(self.blocked):x}"

    def with_env(self, extra: dict[str, str]) -> dict[bytes, bytes]:
        return {**self.env, **{os.fsencode(k): os.fsencode(v) for k, v in extra.items()}}


_REMEMBERED: list[Origin] = []  # at most one: taken before the CLI installs its own handlers


def remember() -> None:
    """First thing in the CLI, before it handles SIGHUP and SIGTERM itself (cli.py)."""
    _REMEMBERED[:] = [Origin.now()]
