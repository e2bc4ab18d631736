"""Running a screen with no terminal attached, in a pseudo-terminal of a chosen size.

``demo --record`` from a script or a CI job has no terminal, and Textual draws nothing without
one (its headless driver writes no output). So the demo runs again as a child process whose
stdin, stdout and stderr are the slave side of a pty, which it takes for a terminal; the child
records itself (``--record``) and this process only reads the master side so that the child
never blocks on a full pty buffer, and waits for it.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios


def run_in_pty(argv: list[str], width: int, height: int) -> int:
    """Run ``python -m tuiexplore ARGV`` in a ``width`` x ``height`` pty; its exit status."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TEXTUAL_DRIVER")}
    env.setdefault("TERM", "xterm-256color")
    try:
        child = subprocess.Popen(
            [sys.executable, "-P", "-m", "tuiexplore", *argv],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": env["TERM"] if env["TERM"] != "dumb" else "xterm-256color"},
            start_new_session=True,  # the pty is its terminal; our own signals are not its
        )
    finally:
        os.close(slave)
    tail = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every slave fd is closed, the child is gone
                    break
                if not chunk:
                    break
                tail = (tail + chunk)[-4096:]
            elif child.poll() is not None:
                break
        return child.wait()
    finally:
        if child.poll() is None:
            child.terminate()
            child.wait()
        os.close(master)
        _say_errors(tail, child.returncode)


def _say_errors(tail: bytes, code: int | None) -> None:
    """A child that failed said why on its terminal, which is ours to pass on: its last line
    (``tuiexplore: ...`` as the CLI prints errors)."""
    if code in (0, None):
        return
    text = tail.decode("utf-8", "replace")
    lines = [line for line in text.replace("\r", "\n").split("\n") if line.startswith("tuiexplore:")]
    if lines:
        from tuiexplore.safetext import terminal

        print(terminal(lines[-1]), file=sys.stderr)
