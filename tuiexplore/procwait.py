"""Waiting for a child process to end, woken by the kernel when it does.

``Popen.wait(timeout)`` polls: it sleeps between looks, up to 50 ms each, so a lab that takes
60 ms to stop was seen gone after up to 110. A pidfd becomes readable the moment the process
exits (Linux >= 5.3); older kernels fall back to the polling wait.
"""

from __future__ import annotations

import os
import select
import subprocess
from typing import Any, Protocol


class Child(Protocol):
    """What of ``subprocess.Popen`` is used here (lab/forked.py's ``Forked`` has it too)."""

    pid: int
    args: Any

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...


def wait_exit(proc: Child, timeout: float) -> int:
    """``proc.wait(timeout)``: its return code, or ``subprocess.TimeoutExpired``."""
    if proc.poll() is not None:
        return proc.wait()
    try:
        fd = os.pidfd_open(proc.pid)
    except OSError:  # no pidfds, or just reaped by another thread's wait
        return proc.wait(timeout)
    try:
        if not select.select([fd], [], [], timeout)[0]:
            raise subprocess.TimeoutExpired(proc.args, timeout)
    finally:
        os.close(fd)
    return proc.wait()
