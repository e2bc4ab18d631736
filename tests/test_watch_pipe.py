"""watch -r - as an ssh user meets it (issue 23): `q` ends the program at once though the pipe
(`tcpdump -U -w - |`) is still open and no packet comes; Ctrl-C does not speak of a lab."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pilot_wait import until

from tuiexplore.tui.watch_app import WatchApp
from tuiexplore.watch.engine import Options, Watch

PCAP = Path(__file__).parent / "data" / "watch-world.pcap"


def test_q_ends_a_watch_reading_a_pipe_that_stays_open():
    r, w = os.pipe()
    os.write(w, PCAP.read_bytes())  # the capture so far; the writer keeps the pipe open
    watch = Watch(Options(read="-", stream=os.fdopen(r, "rb")))
    watch.start()

    async def body():
        app = WatchApp(watch)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: watch.stats().connections >= 6, what="the six connections the pipe carried")
            await pilot.press("q")

    try:
        asyncio.run(body())
        t0 = time.monotonic()
        watch.close()
        took = time.monotonic() - t0
        assert not watch._running.is_set(), "the engine thread still waits for the next packet"
        assert took < 1.0, took  # at once: close() used to give the reader 2 s, then leave it blocked
    finally:
        os.close(w)


def test_ctrl_c_in_watch_does_not_speak_of_a_lab():
    proc = subprocess.Popen(
        [sys.executable, "-P", "-m", "tuiexplore", "watch", "-r", "-", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # a test run in the background inherits SIGINT ignored: the child gets its default back
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # Nothing written yet (tcpdump not started): interrupted while it waits on stdin for the pcap
    # header (x86_64: pselect6, 270), before the headless loop, whose Ctrl-C is the normal end.
    deadline = time.monotonic() + 30
    while not Path(f"/proc/{proc.pid}/syscall").read_text().startswith("270 "):
        assert time.monotonic() < deadline, "it never waited on stdin"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert (proc.returncode, err.decode().strip()) == (130, "interrupted")
