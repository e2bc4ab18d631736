"""The lab as an ordinary user: a user + network namespace, no tracepoints, same verdicts.

As root (CI), the test drops to uid 65534 with setpriv. That uid must be able to read the
interpreter and the packages, so they are copied to a world-readable directory first.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
import scapy
from conftest import ROOT

import tuiexplore


def readable_python() -> str:
    base = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    # The distribution's interpreter first: a build under /root may pass a probe (setpriv keeps the
    # saved uid 0) yet be unreachable from inside the lab's user namespace.
    for candidate in ("/usr/bin/python3", base):
        probe = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                candidate,
                "-c",
                "import sys; print(sys.version_info[:2])",
            ],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == str(sys.version_info[:2]):
            return candidate
    pytest.fail("no Python interpreter readable by uid 65534 (scripts/setup.sh builds the venv on /usr/bin/python3)")


def as_nobody(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python ARGS`` as uid 65534 when the tests run as root (else as the user already)."""
    if os.geteuid() != 0:
        return subprocess.run(
            [sys.executable, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    site = Path(tempfile.mkdtemp(prefix="tuiexplore-unpriv-", dir="/tmp"))
    try:
        os.chmod(site, 0o755)
        for mod in (tuiexplore, scapy, psutil):
            src = Path(mod.__file__).parent
            shutil.copytree(src, site / src.name, ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run(["chmod", "-R", "a+rX", str(site)], check=True)
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", readable_python(), *args]
        return subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=site,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(site), "HOME": "/tmp"},
        )
    finally:
        shutil.rmtree(site, ignore_errors=True)


def test_seed_rst_unprivileged():
    proc = as_nobody("-m", "tuiexplore", "run", "seed-rst", "--json")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    notes = [e["text"] for e in events if e["type"] == "note"]
    assert any("tracepoints unavailable" in n and "root" in n for n in notes), notes
    v = next(e for e in events if e["type"] == "verdict")
    assert (v["predicted"], v["observed"], v["branch"], v["agree"]) == ("RST", "RST", "data_was_unread", True)
    assert v["rst_reason"] is None and v["counters"]["TcpExt.TCPAbortOnClose"] == 1
