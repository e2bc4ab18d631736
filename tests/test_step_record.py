"""``tuiexplore step --record FILE.cast``: the step screen as asciicast v2, like the explorer's.
The seed's client is stepped by keys in a real pseudo-terminal (g, then n at its close()), and
the file, replayed into pyte, ends on the screen that shows the RST verdict."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time

import pyte
import pytest

from tests.conftest import IS_ROOT, ROOT, cli
from tests.test_recording import screen_after
from tuiexplore.recording import read_cast

W, H = 120, 36


def drive(args: list[str], steps: list[tuple[str, bytes]], timeout: float = 90) -> tuple[int, str]:
    """``tuiexplore ARGS`` in a W x H pty; for each (text, key): once ``text`` is on the screen (a
    pyte terminal fed what it draws), ``key`` is typed. Its exit status and its last screen."""
    pid, master = pty.fork()
    if pid == 0:
        # execve with os.environ: under pytest the C environment that execv passes on held COLUMNS=80
        # LINES=24 (os.environ did not), and they override the pty's size
        env = {"TERM": "xterm-256color", **{k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}}
        os.execve(sys.executable, [sys.executable, "-m", "tuiexplore", *args], {**env, "PYTHONPATH": str(ROOT)})
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", H, W, 0, 0))
    screen = pyte.Screen(W, H)
    stream = pyte.ByteStream(screen)
    todo, end = list(steps), time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                stream.feed(data)
            if todo and todo[0][0] in "\n".join(screen.display):
                time.sleep(0.3)
                os.write(master, todo.pop(0)[1])
    finally:
        os.close(master)
    assert not todo, (todo, "\n".join(screen.display))
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), "\n".join(screen.display)


@pytest.mark.skipif(not IS_ROOT, reason="--lab makes a network namespace (CI runs as root)")
def test_step_record_replays_to_the_verdict(seed, tmp_path):
    cast = str(tmp_path / "step.cast")
    args = ["step", "--lab", "--with-server", "seed", "--record", cast, "--", str(seed / "client"), "9999"]
    steps = [("parked: client socket()", b"g"), ("parked: client close()", b"n"), ("close(3) → RST", b"q")]
    status, _ = drive(args, steps)
    assert status == 0
    header, events = read_cast(cast)
    assert header["version"] == 2 and (header["width"], header["height"]) == (W, H)
    assert header["title"] == f"tuiexplore step: {seed / 'client'} 9999"
    assert all(len(e) == 3 and e[1] in ("o", "r") and isinstance(e[2], str) for e in events)
    times = [e[0] for e in events]
    assert times == sorted(times)
    assert not any("\x1b[?1049" in e[2] or "\x1b[?1000h" in e[2] for e in events)
    replayed = "\n".join(screen_after(events, W, H))
    assert re.search(r"step \d+ client close\(3\) → RST  ✓ prediction held", replayed), replayed
    assert "close() -> RST" in replayed and "never read" in replayed


def test_step_record_is_for_the_screen_and_a_path_it_can_write(tmp_path):
    r = cli("step", "--auto", "--record", str(tmp_path / "x.cast"), "--", "/bin/true")
    assert r.returncode == 2
    assert r.stderr.strip() == "tuiexplore step: --record writes what the step screen shows: leave out --auto"
    r = cli("step", "--record", str(tmp_path / "no" / "such" / "x.cast"), "--", "/bin/true")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "cannot write there" in r.stderr, r.stderr
