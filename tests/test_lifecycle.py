"""No leftovers: after a run, a Ctrl-C, a SIGTERM or a killed client, no actor or agent process
survives and no tracefs instance stays behind."""

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import IS_ROOT, ROOT, cli


def lab_processes() -> list[str]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "tuiexplore.lab.agent" in cmd or "tuiexplore.lab.actor" in cmd:
            found.append(f"{pid}: {cmd}")
    return found


def tracefs_instances() -> list[str]:
    if not IS_ROOT:
        return []
    out = subprocess.run(
        ["unshare", "-m", "sh", "-c",
         "mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing; ls /sys/kernel/tracing/instances"],
        capture_output=True, text=True, timeout=10,
    )
    return [n for n in out.stdout.split() if n.startswith("tuiexplore-")]


def wait_clean(timeout: float = 5.0) -> None:
    end = time.time() + timeout
    while time.time() < end and (lab_processes() or tracefs_instances()):
        time.sleep(0.1)
    assert lab_processes() == []
    assert tracefs_instances() == []


def start_long_run():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tuiexplore", "run", "zero-window-close"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    # wait until the lab is up and stepping (header, then the first step)
    for _ in range(5):
        line = proc.stdout.readline()
        if "[ 1]" in line:
            break
    assert lab_processes(), "the lab should be running"
    if IS_ROOT:
        assert tracefs_instances(), "as root the lab traces in an instance of its own"
    return proc


def test_no_leftovers_after_a_run():
    assert cli("run", "seed-rst").returncode == 0
    wait_clean()


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 128 + signal.SIGTERM)])
def test_no_leftovers_after_a_signal(sig, code):
    proc = start_long_run()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    wait_clean()


def test_no_leftovers_when_the_client_is_killed():
    proc = start_long_run()
    proc.kill()
    proc.wait(timeout=10)
    wait_clean(timeout=10)
