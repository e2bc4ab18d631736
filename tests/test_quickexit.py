"""A headless run leaves the moment it is done (tuiexplore/quickexit.py): its status and every
line it wrote are there, the atexit functions ran, and the interpreter's teardown (here: an
object's __del__) did not; with a non-daemon thread still running, or from a caller of
``cli.main(argv)``, the ordinary way out."""

import json
import os
import subprocess
import sys

from conftest import ROOT

_PROGRAM = """
import atexit, sys, threading
from tuiexplore import cli

class Teardown:
    def __del__(self):
        print("teardown", file=sys.stderr, flush=True)

held = Teardown()
atexit.register(lambda: print("atexit", file=sys.stderr, flush=True))
stop = threading.Event()
if sys.argv[1] == "thread":
    threading.Thread(target=stop.wait).start()  # not a daemon: runs until main() has returned
sys.argv[1:] = sys.argv[2:]
status = cli.main() if sys.argv[1] != "--caller" else cli.main(sys.argv[2:])
print(f"returned {status}", file=sys.stderr, flush=True)
stop.set()
sys.exit(status)
"""


def _run(mode: str, *argv: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", _PROGRAM, mode, *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_headless_run_leaves_without_the_teardown():
    proc = _run("plain", "run", "seed-rst", "--json")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [json.loads(ln)["type"] for ln in lines[:1]] == ["step"] and json.loads(lines[-1])["step"] == 15
    assert "atexit" in proc.stderr
    assert "teardown" not in proc.stderr and "returned" not in proc.stderr, proc.stderr


def test_a_failed_run_leaves_with_its_status():
    proc = _run("plain", "run", "crossing-fins", "--wire", "loopback")  # step 7 needs the relay
    assert proc.returncode == 1, proc.stderr
    assert "FAILED: step 7" in proc.stdout and "teardown" not in proc.stderr


def test_refused_input_takes_the_ordinary_way_out():
    proc = _run("plain", "run", "seed-rst", "--pcap", "/nonexistent-dir/x.pcap")
    assert proc.returncode == 2, proc.stderr  # refused before the lab
    assert "teardown" in proc.stderr


def test_with_a_thread_still_running_the_ordinary_way_out():
    proc = _run("thread", "run", "seed-rst", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "returned 0" in proc.stderr and "teardown" in proc.stderr and "atexit" in proc.stderr


def test_a_caller_of_main_gets_the_status_back():
    proc = _run("plain", "--caller", "run", "seed-rst", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "returned 0" in proc.stderr and "teardown" in proc.stderr
