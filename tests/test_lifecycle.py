"""No leftovers: after a run, a Ctrl-C, a SIGTERM or a killed client, no actor or agent process
survives and no tracefs instance stays behind."""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from conftest import IS_ROOT, ROOT


def lab_processes(tag: str, client: int) -> dict[int, str]:
    """Every process the test's client started (they inherit its environment tag), with its
    command line: the agent and its actors, forks of the client (a headless run's agent is one,
    under the client's command line) or interpreters of their own."""
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == client:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if f"TUIEXPLORE_TEST_TAG={tag}".encode() not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                found[int(pid)] = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return found


def parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rpartition(")")[2].split()[1])


def tracefs_instances() -> list[str]:
    if not IS_ROOT:
        return []
    out = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            "mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing; ls /sys/kernel/tracing/instances",
        ],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return [n for n in out.stdout.split() if n.startswith("tuiexplore-")]


class Run:
    def __init__(self, scenario: str) -> None:
        self.tag = uuid.uuid4().hex
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TUIEXPLORE_TEST_TAG": self.tag}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tuiexplore", "run", scenario],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        # wait until the lab is up and stepping (header, then the first step)
        for _ in range(5):
            if "[ 1]" in self.proc.stdout.readline():
                break
        procs = lab_processes(self.tag, self.proc.pid)
        assert procs, "the lab should be running"
        self.agent = next(pid for pid in procs if parent(pid) == self.proc.pid)
        assert len(procs) == 3, procs  # the agent and its two actors
        assert all(parent(pid) == self.agent for pid in procs if pid != self.agent), procs
        if IS_ROOT:
            assert f"tuiexplore-{self.agent}" in tracefs_instances(), "as root the lab traces in an instance of its own"

    def assert_clean(self, timeout: float = 5.0) -> None:
        end = time.time() + timeout
        while time.time() < end and (lab_processes(self.tag, self.proc.pid) or f"tuiexplore-{self.agent}" in tracefs_instances()):
            time.sleep(0.1)
        assert lab_processes(self.tag, self.proc.pid) == {}
        assert f"tuiexplore-{self.agent}" not in tracefs_instances()


def test_no_leftovers_after_a_run():
    run = Run("seed-rst")
    out, err = run.proc.communicate(timeout=60)
    assert run.proc.returncode == 0, err
    run.assert_clean()


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 128 + signal.SIGTERM)])
def test_no_leftovers_after_a_signal(sig, code):
    run = Run("zero-window-close")
    run.proc.send_signal(sig)
    out, err = run.proc.communicate(timeout=20)
    assert run.proc.returncode == code, err
    assert "Traceback" not in err
    run.assert_clean()


def test_no_leftovers_when_the_client_is_killed():
    run = Run("zero-window-close")
    run.proc.kill()
    run.proc.wait(timeout=10)
    run.assert_clean(timeout=10)


def _instances() -> list[str]:
    out = subprocess.run(
        ["unshare", "-m", "sh", "-c", "d=$(mktemp -d) && mount -t tracefs nodev $d && ls $d/instances; umount $d; rmdir $d"],
        capture_output=True,
        text=True,
    )
    return out.stdout.split()


@pytest.mark.skipif(not IS_ROOT, reason="tracepoints (and so tracefs instances) are root's")
def test_a_killed_agents_tracefs_instance_is_removed_by_the_client():
    """Issue 9: the instance of an agent killed outright goes when its client stops the lab,
    not when some later lab happens to start (tracefs need not be mounted on the host)."""
    from tuiexplore.lab.client import Lab

    lab = Lab()
    lab.start(["server", "client"])
    name = f"tuiexplore-{lab.pid}"
    os.kill(lab.pid, signal.SIGKILL)
    time.sleep(0.3)
    assert name in _instances()  # the agent could not clean up after itself
    lab.close()
    assert name not in _instances()


# The agent's start fails after its tracer began (on a thread of its own, lab/evidence.py's
# TracerStart): the instance it made is removed with the failed start, not left to a later lab.
_FAILED_START = """
import json, os
from unittest import mock
from tuiexplore.lab import namespace, protocol as proto
from tuiexplore.lab.agent import Agent
from tuiexplore.lab.capture import Capture, CaptureError
from tuiexplore.lab.tracepoints import PREFIX, find_tracefs

ns = namespace.enter()
agent = Agent(proto.LabOptions(["server", "client"]))
with mock.patch.object(Capture, "start", side_effect=CaptureError("test: no capture")):
    try:
        agent.start(ns)
        said = "started"
    except CaptureError as exc:
        said = str(exc)
    finally:
        agent.close()
mine = f"{PREFIX}{os.getpid()}"
print(json.dumps({"said": said, "left": mine in os.listdir(os.path.join(find_tracefs(False), "instances"))}))
"""


@pytest.mark.skipif(not IS_ROOT, reason="tracepoints (and so tracefs instances) are root's")
def test_a_start_that_fails_after_the_tracer_began_leaves_no_instance():
    import json

    proc = subprocess.run([sys.executable, "-c", _FAILED_START], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r == {"said": "test: no capture", "left": False}, r


# Closing the lab's evidence fails (here the capture's stop): the actors, already signalled, are
# still reaped, not left as zombies of the agent, and the tracer's removal is still waited for.
_FAILED_CLOSE = """
import json, os
from unittest import mock
from tuiexplore.lab import namespace, protocol as proto
from tuiexplore.lab.agent import Agent
from tuiexplore.lab.capture import Capture

ns = namespace.enter()
agent = Agent(proto.LabOptions(["server", "client"]))
agent.start(ns)
pids = [a.pid for a in agent.actors.all()]
with mock.patch.object(Capture, "stop", side_effect=OSError("test: stop failed")):
    try:
        agent.close()
        said = "closed"
    except OSError as exc:
        said = str(exc)
print(json.dumps({"said": said, "left": [p for p in pids if os.path.exists(f"/proc/{p}")]}))
"""


def test_a_failed_close_still_reaps_the_actors():
    import json

    proc = subprocess.run([sys.executable, "-c", _FAILED_CLOSE], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.splitlines()[-1])  # after the agent's own lines (its Ready)
    assert r == {"said": "test: stop failed", "left": []}, r
