"""A program under ``tuiexplore step`` inherits what it would from the user's shell (issue 19).

tests/step_programs/fidelity.c prints its /proc/self/status signal and privilege lines, its open
fds, rlimits, umask, cwd and environment. It runs bare and under ``step`` (``--auto`` and the
keys mode's Stepper, plain and ``--lab``, as root and as uid 65534), started the same way: an
environment with no locale (the interpreter's PEP 538 coercion would add LC_CTYPE), umask 027,
SIGHUP ignored and SIGUSR2 blocked (as nohup and a shell's own mask would leave them), a lower
RLIMIT_NOFILE. Every line must be the same, but for the few the tool must change, each said below.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
import scapy

import tuiexplore
from tests.conftest import ROOT, build_c
from tests.test_unprivileged import readable_python

# The keys mode without a terminal: the same Stepper (plain) or ChildStepper (--lab) the step
# screen drives. fidelity.c makes no call that parks, so run() returns when it has exited.
KEYS = """
import sys
from tuiexplore.trace.child import ChildStepper
from tuiexplore.trace.events import OutputEvent
from tuiexplore.trace.stepper import Stepper

def show(e):
    if isinstance(e, OutputEvent):
        print(e.text, flush=True)

programs = [("client", sys.argv[2:])]
s = ChildStepper(programs, show, lab=True) if sys.argv[1] == "lab" else Stepper(programs, show, auto=False)
s.start()
sys.exit(s.run())
"""


def shell_like() -> None:
    """What a user's shell may leave a program, all of it different from the defaults. Every
    other disposition and the mask are set, not inherited: a test run from a non-interactive
    shell's background job has SIGQUIT ignored (and SIGINT too), which bare and stepped programs
    would both inherit, but not the lines the test expects."""
    os.umask(0o027)
    for sig in signal.valid_signals():
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):  # 32 and 33, glibc's own, cannot be set from Python
                pass
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, {signal.SIGUSR2})
    resource.setrlimit(resource.RLIMIT_NOFILE, (1000, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A world-readable copy of the code and the program, for uid 65534."""
    d = Path(tempfile.mkdtemp(prefix="tuiexplore-fidelity-", dir="/tmp"))
    os.chmod(d, 0o755)
    for mod in (tuiexplore, scapy, psutil):
        src = Path(mod.__file__).parent
        shutil.copytree(src, d / src.name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("fidelity", "sigpipe", "abi_switch"):
        build_c(f"{name}.c", d / name)
    subprocess.run(["chmod", "-R", "a+rX", str(d)], check=True)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run(cmd: list[str], user: str, site: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
    """``cmd`` started as the user's shell would, as ``user``; its result and its output lines
    (bare: stdout from a file, as step's programs get one; step: the output events)."""
    py = readable_python() if user == "nobody" else sys.executable
    cmd = [py if c == "PYTHON" else c for c in cmd]
    if user == "nobody":
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONPATH": str(site if user == "nobody" else ROOT), "FOO": "b a r"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        r = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=site, preexec_fn=shell_like, timeout=60
        )
        out.seek(0)
        err.seek(0)
        r.stdout, r.stderr = out.read().decode(), err.read().decode()
    return r, r.stdout.splitlines()


def step_lines(r: subprocess.CompletedProcess, how: str) -> list[str]:
    if how == "keys":
        return r.stdout.splitlines()
    return [e["text"] for e in map(json.loads, r.stdout.splitlines()) if e["type"] == "output" and e["stream"] == "stdout"]


def comparable(lines: list[str]) -> list[str]:
    # SigQ counts the queued signals of the whole user (other processes', the tool's own): not the program's.
    return [x for x in lines if not x.startswith("status SigQ")]


@pytest.mark.parametrize("user", ["root", "nobody"])
@pytest.mark.parametrize("lab", [False, True], ids=["plain", "lab"])
@pytest.mark.parametrize("how", ["auto", "keys"])
def test_the_program_gets_what_the_shell_gives_it(how, lab, user, site):
    if user == "root" and os.geteuid() != 0:
        pytest.skip("the root case needs root")  # the nobody case runs as the user itself then
    user = user if os.geteuid() == 0 else "self"
    prog = str(site / "fidelity")
    r_bare, bare = run([prog], user, site)
    assert r_bare.returncode == 0, r_bare.stderr
    if how == "auto":
        cmd = ["PYTHON", "-m", "tuiexplore", "step", "--auto", "--json", *(["--lab"] if lab else []), "--", prog]
    else:
        cmd = ["PYTHON", "-c", KEYS, "lab" if lab else "plain", prog]
    r, _ = run(cmd, user, site)
    assert r.returncode == 0, r.stderr
    stepped = step_lines(r, how)
    assert "status SigIgn: 0000000000000001" in bare and "status SigBlk: 0000000000000800" in bare  # the setup took
    expected = comparable(bare)
    if how == "auto":
        # The --auto seccomp filter (README: what step must change); without root also
        # no_new_privs, which the kernel requires for a filter (said in a note, checked below).
        expected = [x.replace("Seccomp: 0", "Seccomp: 2") for x in expected]
        if user != "root":
            expected = [x.replace("NoNewPrivs: 0", "NoNewPrivs: 1") for x in expected]
    if lab and user != "root":
        # Unprivileged --lab: the private network namespace needs a user namespace, whose
        # capability bounding set starts full (the program runs there as the user, with no
        # capabilities: CapPrm/CapEff/CapAmb are compared).
        expected = [x for x in expected if not x.startswith("status CapBnd")]
        stepped = [x for x in stepped if not x.startswith("status CapBnd")]
    assert comparable(stepped) == expected
    if how == "auto":
        notes = [e["text"] for e in map(json.loads, r.stdout.splitlines()) if e["type"] == "note"]
        assert any("no_new_privs" in n for n in notes) == (user != "root"), notes


@pytest.mark.parametrize("user", ["root", "nobody"])
@pytest.mark.parametrize("lab", [False, True], ids=["plain", "lab"])
def test_a_program_killed_by_sigpipe_bare_is_killed_by_it_stepped(lab, user, site):
    if user == "root" and os.geteuid() != 0:
        pytest.skip("the root case needs root")
    user = user if os.geteuid() == 0 else "self"
    r_bare, _ = run([str(site / "sigpipe")], user, site)
    assert r_bare.returncode == -signal.SIGPIPE
    lab_opt = ["--lab"] if lab else []
    r, _ = run(["PYTHON", "-m", "tuiexplore", "step", "--auto", "--json", *lab_opt, "--", str(site / "sigpipe")], user, site)
    evs = [json.loads(x) for x in r.stdout.splitlines()]
    notes = [e["text"] for e in evs if e["type"] == "note"]
    assert any(n.endswith("killed by SIGPIPE") for n in notes), notes
    assert r.returncode != 2, r.stderr  # --auto ended on its own (run() has a timeout), not an unusable input
