"""Detaching from, or killing, the stepping app leaves the traced program running correctly.

No lab here: the traced program talks to a peer in the test process over the user's loopback,
which also exercises capture outside a lab (filtered to the program's own connection).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import ROOT

WAITER = Path(__file__).parent / "step_programs" / "waiter.py"


def start_stepping(port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tuiexplore", "step", "--auto", "--json", "--", sys.executable, str(WAITER), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def read_until_blocked(proc: subprocess.Popen) -> list[dict]:
    """Events up to the program's recv() stop (from then on it sits in the kernel, traced) and
    its SYN, which the capture thread may deliver a little later."""
    seen = []
    for line in proc.stdout:
        ev = json.loads(line)
        seen.append(ev)
        blocked = any(e["type"] == "stop" and e["call"] == "recvfrom" for e in seen)
        if blocked and any(e["type"] == "packet" and e["flags"] == "S" for e in seen):
            return seen
    raise AssertionError(f"no recvfrom stop; stderr: {proc.stderr.read()}")


@pytest.mark.parametrize("how", ["detach", "sigkill"])
def test_program_runs_on_after_the_app_lets_go(how):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(20)
    port = ls.getsockname()[1]
    proc = start_stepping(port)
    guard = threading.Timer(60, proc.kill)  # a stream that never shows the stop must not hang the suite
    guard.start()
    try:
        conn, _ = ls.accept()
        conn.settimeout(10)
        seen = read_until_blocked(proc)
        connect = next(e for e in seen if e["type"] == "stop" and e["call"] == "connect")
        assert connect["args"]["addr"]["port"] == port
        assert any(e["type"] == "packet" and e["flags"] == "S" and e["dport"] == port for e in seen)
        assert all(e["type"] != "packet" or port in (e["sport"], e["dport"]) for e in seen), "only our own connection"
        if how == "detach":
            proc.send_signal(signal.SIGINT)  # headless: Ctrl-C detaches
            rest, err = proc.communicate(timeout=20)
            assert proc.returncode == 130 and "detached" in err
            lines = [json.loads(line) for line in rest.splitlines()]  # the program's prints never appear raw
            assert any(e["type"] == "note" and "detached" in e["text"] for e in lines)
        else:
            proc.kill()
            proc.wait(timeout=10)
        conn.sendall(b"go")
        got = b""
        while (chunk := conn.recv(100)) != b"":  # b"" is the FIN; a reset would raise
            got += chunk
        assert got == b"bye:go"
    finally:
        guard.cancel()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        ls.close()
