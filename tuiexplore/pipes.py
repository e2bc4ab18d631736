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


def output_gone() -> None:
    """After the first failed write: the rest (and Python's flush at exit) goes to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    if threading.current_thread() is threading.main_thread():
        raise OutputClosed
    # The lab's reader thread wrote the line: wake the main thread out of its wait for the lab.
    main = threading.main_thread().ident
    assert main is not None  # the main thread has started: it runs this program
    signal.pthread_kill(main, signal.SIGPIPE)


def on_sigpipe(signum: int, frame: Any) -> None:  # noqa: ARG001
    """The SIGPIPE handler while a command writes to stdout."""
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # once: the lab's shutdown must not be cut short
    raise OutputClosed
