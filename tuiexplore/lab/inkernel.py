"""Whether an actor's call is blocked, asked of the kernel rather than of a clock.

A call that has not returned after its step's bound is either asleep in the kernel (accept with
no client, a read with nothing queued: blocked) or merely slow (a loaded machine, an emulated
guest kernel: still running or waiting for the interpreter's lock). ``/proc/self/task/TID/syscall``
tells the two apart: it names the system call a sleeping thread is in, and says ``running`` for a
thread that is runnable. A thread asleep in futex is waiting for a lock of the interpreter, not
for the network.
"""

from __future__ import annotations

import os
import threading
import time

# futex's number per architecture (asm/unistd.h); elsewhere the clock decides, as it did before.
FUTEX = {"x86_64": 202, "aarch64": 98}.get(os.uname().machine)
POLL_S = 0.01
# A call that never sleeps and never returns within this is reported as blocked all the same, so
# that a step always ends; the kernel answers long before it on any machine the lab runs on.
BOUND_S = 30.0


def asleep_in_syscall(tid: int) -> bool:
    """The thread sleeps in a system call other than futex (True also when the kernel cannot say)."""
    try:
        with open(f"/proc/self/task/{tid}/syscall") as f:
            first = f.read().split(maxsplit=1)
    except OSError:
        return True
    if FUTEX is None or not first:
        return True
    if first[0] in ("running", "-1"):  # runnable, or between system calls
        return False
    return int(first[0]) != FUTEX


def blocked(tid: int | None, done: threading.Event) -> bool:
    """Once a call is past its step's bound: wait until the kernel shows its thread asleep in the
    call (True: it is blocked) or it returns (False)."""
    end = time.monotonic() + BOUND_S
    while tid is not None and not asleep_in_syscall(tid) and time.monotonic() < end:
        if done.wait(POLL_S):
            return False
    return not done.is_set()
