"""--record: an asciicast v2 file of what the terminal showed, bounded in size, that replays to
the screen the demo ended on (pyte, a terminal emulator library, and the real asciinema player)."""

from __future__ import annotations

import io
import json
import subprocess

import pyte
import pytest

from tests.conftest import cli
from tuiexplore.recording import IDLE_S, Recorder, read_cast


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def screen_after(events: list[list], width: int, height: int, feed: str | None = None) -> list[str]:
    """The screen a terminal of that size shows after the recording's output (or ``feed``)."""
    screen = pyte.Screen(width, height)
    stream = pyte.Stream(screen)
    stream.feed(feed if feed is not None else "".join(d for _, kind, d in events if kind == "o"))
    return screen.display


def test_header_events_idle_compression_and_resize():
    sink, clock = io.StringIO(), Clock()
    rec = Recorder(sink, 80, 24, title="t", clock=clock)
    clock.now += 0.5
    rec.output("a")
    clock.now += 600  # someone reading the screen for ten minutes
    rec.output("b")
    rec.resize(100, 30)
    rec.resize(100, 30)  # no change: no event
    lines = [json.loads(line) for line in sink.getvalue().splitlines()]
    assert lines[0]["version"] == 2 and (lines[0]["width"], lines[0]["height"]) == (80, 24)
    assert lines[0]["idle_time_limit"] == IDLE_S and isinstance(lines[0]["timestamp"], int)
    assert lines[1] == [0.5, "o", "a"]
    assert lines[2] == [0.5 + IDLE_S, "o", "b"]
    assert lines[3] == [0.5 + IDLE_S, "r", "100x30"]
    assert len(lines) == 4


def test_input_setup_is_not_recorded_and_the_end_restores_the_terminal():
    sink = io.StringIO()
    rec = Recorder(sink, 80, 24, clock=Clock())
    rec.output("\x1b[?1049h\x1b[?1000h\x1b[?2026$p\x1b[>25u")  # nothing shown: no event at all
    rec.output("\x1b[?25l\x1b[1;1Hhello\x1b[?1049l")
    rec.sink.close = lambda: None  # keep the StringIO readable after close()
    rec.close()
    events = [json.loads(line) for line in sink.getvalue().splitlines()[1:]]
    assert [e[2] for e in events] == ["\x1b[?25l\x1b[1;1Hhello", "\x1b[?7h\x1b[0m\x1b[24;1H\x1b[?25h"]


def test_the_cap_ends_the_recording_with_a_line_that_says_so():
    sink, clock = io.StringIO(), Clock()
    rec = Recorder(sink, 70, 5, clock=clock, max_bytes=1000)
    for i in range(100):
        clock.now += 0.1
        rec.output(f"\x1b[1;1Hframe {i:03d}" + " " * 20)
    assert rec.capped == "the recording stopped at its cap of 1000 bytes"
    assert len(sink.getvalue()) < 1300
    events = [json.loads(line) for line in sink.getvalue().splitlines()[1:]]
    screen = screen_after(events, 70, 5)
    assert screen[4].rstrip() == "[tuiexplore: the recording stopped at its cap of 1000 bytes]"
    assert "frame" in screen[0]  # the last frame before the cap is still there above it


@pytest.fixture(scope="module")
def demo_cast(tmp_path_factory) -> str:
    """``demo seed-rst --record`` with no terminal (the test's pipes), as a CI job would make one."""
    path = str(tmp_path_factory.mktemp("cast") / "seed-rst.cast")
    r = cli("demo", "seed-rst", "--pause", "0.3", "--size", "120x36", "--record", path, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert "no terminal: recording the demo in a 120x36 pseudo-terminal" in r.stderr
    return path


def test_demo_record_headless_is_valid_asciicast_v2(demo_cast):
    header, events = read_cast(demo_cast)
    assert header["version"] == 2 and (header["width"], header["height"]) == (120, 36)
    assert all(len(e) == 3 and isinstance(e[0], float | int) and e[1] in ("o", "r") and isinstance(e[2], str) for e in events)
    times = [e[0] for e in events]
    assert times == sorted(times) and times[-1] > 4  # real timing: 15 steps at 0.3 s and a 4 s hold
    assert not any("\x1b[?1049" in e[2] or "\x1b[?1000h" in e[2] for e in events)


def test_demo_record_replays_to_the_rst_verdict(demo_cast):
    header, events = read_cast(demo_cast)
    screen = "\n".join(screen_after(events, header["width"], header["height"]))
    assert "step 15/15" in screen  # the end of the scenario
    assert "Flags [R.]" in screen  # the client's reset in the packets panel
    assert "close(sock) → RST" in screen  # the verdict line


def test_demo_record_plays_with_asciinema(demo_cast):
    header, _ = read_cast(demo_cast)
    r = subprocess.run(["asciinema", "play", "-i", "0.1", demo_cast], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    screen = "\n".join(screen_after([], header["width"], header["height"], feed=r.stdout))
    assert "close(sock) → RST" in screen and "Flags [R.]" in screen


def test_record_to_an_unwritable_path_is_one_line(tmp_path):
    r = cli("demo", "seed-rst", "--record", str(tmp_path / "no" / "such" / "x.cast"), stdin=subprocess.DEVNULL)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "cannot write there" in r.stderr


def test_copy_to_gives_the_recording_so_far_and_recording_goes_on(tmp_path):
    """The export bundle's session.cast, taken while the session is still recorded."""
    from tuiexplore.recording import open_recorder

    rec = open_recorder(None, 80, 24)
    rec.output("before")
    rec.copy_to(str(tmp_path / "session.cast"))
    rec.output("after")
    header, events = read_cast(str(tmp_path / "session.cast"))
    assert header["version"] == 2 and [e[2] for e in events] == ["before"]
    rec.sink.seek(0)
    assert [json.loads(line)[2] for line in rec.sink.read().splitlines()[1:]] == ["before", "after"]
    rec.close()


def run_in_terminal(args: list[str], keys: bytes, wait_for: bytes, width: int = 120, height: int = 36) -> int:
    """``tuiexplore ARGS`` in a pty of its own, as a terminal would run it: ``keys`` typed once
    ``wait_for`` was drawn; its exit status."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import sys
    import termios
    import time

    from tests.conftest import ROOT

    pid, master = pty.fork()
    if pid == 0:
        # execve with os.environ: under pytest the C environment that execv passes on held COLUMNS=80
        # LINES=24 (os.environ did not), and they override the pty's size
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        os.execve(sys.executable, [sys.executable, "-m", "tuiexplore", *args], {**env, "PYTHONPATH": str(ROOT)})
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    seen, typed, end = b"", False, time.monotonic() + 60
    try:
        while time.monotonic() < end:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
            if not typed and wait_for in seen:
                time.sleep(1)
                os.write(master, keys)
                typed = True
    finally:
        os.close(master)
    assert typed, seen[-2000:]
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_watch_record_in_a_terminal(tmp_path):
    """``watch -r PCAP --record``: the screen of the watch, replayed, shows its connections."""
    from tests.conftest import ROOT

    cast = str(tmp_path / "watch.cast")
    pcap = str(ROOT / "tests" / "data" / "watch-world.pcap")
    assert run_in_terminal(["watch", "-r", pcap, "--record", cast], b"q", b"RST") == 0
    header, events = read_cast(cast)
    assert header["version"] == 2 and (header["width"], header["height"]) == (120, 36)
    screen = "\n".join(screen_after(events, 120, 36))
    # At 120 columns the table wraps the long endings over two rows (tui/fit_columns.py).
    assert "RST by client: unread" in screen and "FIN/FIN, client first" in screen and "6 finished" in screen
