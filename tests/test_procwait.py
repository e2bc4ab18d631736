"""wait_exit: Popen.wait(timeout) woken by the child's pidfd."""

import subprocess
import sys

import pytest

from tuiexplore.procwait import wait_exit


def test_returns_the_exit_status_of_a_child_that_ends_while_waited_for():
    proc = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(0.05); sys.exit(7)"])
    assert wait_exit(proc, 10) == 7
    assert proc.returncode == 7


def test_a_child_already_gone_and_reaped():
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert wait_exit(proc, 0) == 0


def test_a_live_child_is_a_timeout_and_stays_waitable():
    proc = subprocess.Popen(["sleep", "30"])
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            wait_exit(proc, 0.05)
        assert proc.poll() is None
        proc.kill()
        assert wait_exit(proc, 10) == -9
    finally:
        proc.kill()
        proc.wait()
