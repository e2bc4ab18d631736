"""A closed stdout (``tuiexplore run seed-rst | head -1``): the command ends at once and quietly
with 141, as a process killed by SIGPIPE (``grep``, ``cat``) shows it to the shell, after the
lab is stopped. The write that fails may be the lab's reader thread's, so the main thread is
woken with a SIGPIPE of its own."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any


class OutputClosed(Exception):
    """Whoever read stdout went away; raised in the main thread so the lab stops on the way out."""


EXIT_PIPE = 128 + signal.SIGPIPE
failure: list[str] = []  # why stdout failed when it was not a closed pipe (one line), for the main thread
_gone = threading.Event()  # stdout is gone: set before the main thread is woken


def output_gone() -> None:
    """After the first failed write: the rest (and Python's flush at exit) goes to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    _gone.set()
    if threading.current_thread() is threading.main_thread():
        raise OutputClosed
    # The lab's reader thread wrote the line: wake the main thread out of its wait for the lab.
    main = threading.main_thread().ident
    assert main is not None  # the main thread has started: it runs this program
    signal.pthread_kill(main, signal.SIGPIPE)


def output_failed(message: str) -> None:
    """A write to stdout failed otherwise (``> /dev/full``): kept for the main thread to say,
    then handled as a closed stdout, so the lab stops at once either way."""
    failure.append(message)
    output_gone()


def on_sigpipe(signum: int, frame: Any) -> None:  # noqa: ARG001
    """The SIGPIPE handler while a command writes to stdout. A SIGPIPE from another pipe (the
    agent's stdin, when a guest's QEMU exits at once) is not stdout's: that write fails with
    EPIPE and the lab says why it stopped."""
    if not _gone.is_set():
        return
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # once: the lab's shutdown must not be cut short
    raise OutputClosed
