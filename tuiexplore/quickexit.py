"""Leaving the process the moment a command is done, where the interpreter's teardown would only
free memory: ~10-20 ms of CPU at the end of every headless run, that its caller waits for.

A command says it may (``allow``, once everything it wrote is closed); the entry point then
leaves (``leave``) as the interpreter would, minus the teardown: no thread to wait for (a
non-daemon thread still running means the ordinary way out), the atexit functions run, the
streams flushed. Only the program's own entry does: a caller of ``cli.main(argv)`` (a test)
gets its status back as always.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

_allowed = False


def allow() -> None:
    """The command has closed every file it wrote and every process it started has ended."""
    global _allowed
    _allowed = True


def leave(status: int) -> None:
    """``os._exit(status)`` if the command allowed it and no thread but daemons runs; else
    return (the ordinary exit follows)."""
    if not _allowed or any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        return
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)
