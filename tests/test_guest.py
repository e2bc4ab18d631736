"""The lab inside a QEMU guest kernel (scripts/setup.sh installs QEMU and fetches one kernel).

The tests that boot a guest (~12 s each under TCG) are marked ``guest``; CI runs them.
"""

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from conftest import ROOT, cli

from tuiexplore.guest import catalog
from tuiexplore.guest.commands import resolve
from tuiexplore.guest.machine import GuestError
from tuiexplore.lab.predict import kernel_version

GUEST_TOOLS = ("qemu-system-x86_64", "virtiofsd")


def _kernel() -> catalog.Kernel:
    ks = catalog.cached()
    assert ks, "no guest kernel cached: run scripts/setup.sh test (as root it fetches one)"
    return next((k for k in ks if k.label == "6.1"), ks[0])  # 6.1: initramfs path, no RST reasons


def _guest_procs(pid: int) -> list[psutil.Process]:
    try:
        kids = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p for p in kids if _name(p).startswith(GUEST_TOOLS)]


def _name(p: psutil.Process) -> str:
    try:
        return p.name()
    except psutil.Error:
        return ""


def _alive(p: psutil.Process) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _all_gone(procs: list[psutil.Process], within: float = 15.0) -> list[str]:
    end = time.monotonic() + within
    alive = procs
    while alive and time.monotonic() < end:
        alive = [p for p in alive if _alive(p)]
        time.sleep(0.1)
    return [f"{_name(p)} {p.pid}" for p in alive]


@pytest.mark.guest
def test_seed_rst_on_a_guest_kernel():
    k = _kernel()
    out = cli("run", "seed-rst", "--kernel", k.label, timeout=240)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    header = [ln for ln in out.stdout.splitlines() if ln.startswith("# guest Linux")]
    assert header and f"guest Linux {k.version} ({k.release}, QEMU" in header[0], out.stdout[:500]
    assert "client > server" in out.stdout and "Flags [R.]" in out.stdout
    assert "predicted RST [data_was_unread], observed RST - agrees" in out.stdout
    assert "TcpExt.TCPAbortOnClose +1" in out.stdout


@pytest.mark.guest
def test_json_note_names_the_guest_kernel():
    k = _kernel()
    out = cli("run", "seed-rst", "--json", "--kernel", k.label, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    events = [json.loads(line) for line in out.stdout.splitlines()]
    notes = [e["text"] for e in events if e["type"] == "note"]
    assert any(f"guest Linux {k.version}" in n for n in notes), notes
    verdicts = [e for e in events if e["type"] == "verdict"]
    assert [(v["observed"], v["agree"]) for v in verdicts] == [("RST", True)]
    # The verdict came from the guest's kernel: before 6.10 there is no RST reason to report.
    if kernel_version(k.version) < (6, 10, 0):
        assert verdicts[0]["rst_reason"] is None


@pytest.mark.guest
@pytest.mark.parametrize("how", ["normal", "SIGINT", "SIGTERM", "SIGKILL"])
def test_every_exit_path_stops_the_guest(how):
    """The app's own QEMU and virtiofsd (its children: other labs may run meanwhile) are gone
    after it exits, however it exits; SIGKILL leaves the clean-up to PR_SET_PDEATHSIG."""
    k = _kernel()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    scenario = "clean-close" if how == "normal" else "zero-window-close"
    app = subprocess.Popen(
        [sys.executable, "-m", "tuiexplore", "run", scenario, "--json", "--kernel", k.label],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        assert app.stdout.readline(), "the guest lab never became ready"  # the first event: the guest is up
        procs = _guest_procs(app.pid)
        assert sorted({_name(p)[:9] for p in procs}) == ["qemu-syst", "virtiofsd"], [_name(p) for p in procs]
        if how != "normal":
            app.send_signal(getattr(signal, how))
        app.stdout.read()
        rc = app.wait(timeout=60)
        assert _all_gone(procs) == []
        assert rc == {"normal": 0, "SIGINT": 130, "SIGTERM": 128 + signal.SIGTERM, "SIGKILL": -signal.SIGKILL}[how]
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()


def test_unknown_kernel_is_one_line():
    with pytest.raises(GuestError, match="no cached kernel '9.99'.*kernels get"):
        resolve("9.99")
    out = cli("run", "seed-rst", "--kernel", "9.99")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr


@pytest.mark.guest
def test_kernels_lists_the_host_and_the_cache():
    k = _kernel()
    out = cli("kernels")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("host ") and "this machine" in lines[0]
    assert any(ln.startswith(f"{k.label} ") and k.version in ln for ln in lines), lines


def test_kernels_get_unknown_line_is_one_line():
    out = cli("kernels", "get", "4.19")
    assert out.returncode == 1 and out.stderr.strip() == (
        "tuiexplore: unknown kernel line '4.19'; choose one of: 5.10, 6.1, 6.12, 7.x"
    ), out.stderr
