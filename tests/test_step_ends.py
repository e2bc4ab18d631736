"""How a ``tuiexplore step`` run ends (issue 19.2): a program that cannot be executed is one line
and exit status 2, with nothing left running; a switch to the i386 syscall ABI is said and the
run goes on to its verdicts and its end."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest

from tests.conftest import PROGS, build_c, cli
from tests.test_step import events, of
from tuiexplore.trace.launch import Untraceable
from tuiexplore.trace.stepper import Stepper


def left_running(marker: str) -> list[str]:
    """Processes whose command line names ``marker`` (a test's own temporary directory)."""
    out = []
    for p in psutil.process_iter(["cmdline", "status"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if marker in cmd and p.info["status"] != psutil.STATUS_ZOMBIE:
            out.append(f"{p.pid} {cmd}")
    return out


def unexecutable(kind: str, d) -> str:  # noqa: ANN001 - a pytest tmp_path
    p = d / kind
    if kind == "no-shebang":
        p.write_text("echo this is a shell script without its #! line\n")
    elif kind == "no-interpreter":
        src = PROGS / "sigpipe.c"
        subprocess.run(["gcc", "-o", str(p), f"-Wl,--dynamic-linker={d}/missing-ld.so", str(src)], check=True)
    elif kind == "not-executable":
        p.write_text("#!/bin/sh\n")
        p.chmod(0o644)
        return str(p)
    else:
        return str(p)  # missing
    p.chmod(0o755)
    return str(p)


WHY = {
    "no-shebang": "cannot execute it: not a format the kernel can execute (a script needs a '#!' line)",
    "no-interpreter": "cannot execute it: its interpreter is missing",
    "not-executable": "not executable",
    "missing": "no such program",
}


@pytest.mark.parametrize("kind", list(WHY))
@pytest.mark.parametrize("lab", [False, True], ids=["plain", "lab"])
def test_a_program_that_cannot_be_executed_is_one_line_and_exit_2(kind, lab, tmp_path):
    prog = unexecutable(kind, tmp_path)
    r = cli("step", "--auto", *(["--lab"] if lab else []), "--", prog, timeout=60)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"tuiexplore step: {prog}: ") and WHY[kind] in r.stderr
    assert "Traceback" not in r.stdout + r.stderr and "did not start" not in r.stdout
    assert not left_running(str(tmp_path))


@pytest.mark.parametrize("kind", ["no-shebang", "no-interpreter"])
def test_the_keys_mode_refuses_it_at_start(kind, tmp_path):
    prog = unexecutable(kind, tmp_path)
    s = Stepper([("client", [prog])], lambda e: None, auto=False)
    with pytest.raises(Untraceable, match=r"cannot execute it"):
        s.start()
    assert not left_running(str(tmp_path))


def test_a_later_program_that_cannot_be_executed_is_exit_2(tmp_path):
    """The client starts once the server listens: its failed exec is an error note and exit 2."""
    prog = unexecutable("no-shebang", tmp_path)
    server = [sys.executable, str(PROGS / "peer.py"), "47031"]
    r = cli("step", "--auto", "--json", "--lab", "--server", "--", *server, "--client", "--", prog, timeout=60)
    assert r.returncode == 2, r.stderr
    notes = of(events(r.stdout), "note")
    assert [e["text"] for e in notes if e["level"] == "error"] == [f"client: {prog}: {WHY['no-shebang']}"]
    [ending] = [e["text"] for e in notes if e["text"].startswith("a program of the run could not start: ending server pid ")]
    assert ending.endswith("(SIGKILL)")  # it waited for its client, which will never come
    assert not left_running(str(tmp_path))


@pytest.mark.parametrize("lab", [False, True], ids=["plain", "lab"])
def test_an_int80_call_is_said_and_the_rest_is_stepped(lab, tmp_path):
    prog = build_c("abi_switch.c", tmp_path / "abi_switch")
    r = cli("step", "--auto", "--json", *(["--lab"] if lab else []), "--", prog, timeout=60)
    evs = events(r.stdout)
    assert r.returncode == 0, (r.stderr, [e for e in evs if e["type"] in ("verdict", "stop") and e.get("agree") is not True])
    [warn] = [e["text"] for e in of(evs, "note", level="warn") if "syscall ABI" in e["text"]]
    assert "switched to the i386 syscall ABI (call 20)" in warn
    assert [e["call"] for e in of(evs, "stop")][:3] == ["socket", "bind", "listen"]  # after the int $0x80
    [v] = [e for e in of(evs, "verdict") if e["call"] == "close"]
    assert (v["predicted"], v["observed"], v["agree"]) == ("RST", "RST", True)
    notes = [e["text"] for e in of(evs, "note")]
    assert any(n.endswith(" exit 0") and n.startswith("client: pid") for n in notes), notes
    assert not any("did not start" in n for n in notes)
    assert not left_running(str(tmp_path))


@pytest.mark.parametrize("lab", [False, True], ids=["plain", "lab"])
def test_an_exec_of_an_i386_program_is_said_and_runs_to_its_end(lab, tmp_path):
    obj, exe = tmp_path / "i386.o", tmp_path / "i386"
    subprocess.run(["as", "--32", "-o", str(obj), str(PROGS / "i386_exit.s")], check=True)
    subprocess.run(["ld", "-m", "elf_i386", "-o", str(exe), str(obj)], check=True)
    r = cli("step", "--auto", "--json", *(["--lab"] if lab else []), "--", "/bin/sh", "-c", f"exec {exe}", timeout=60)
    assert r.returncode == 0, r.stderr
    notes = [e["text"] for e in of(events(r.stdout), "note")]
    assert any("switched to the i386 syscall ABI" in n for n in notes), notes
    assert any(n.startswith("client: pid") and n.endswith(" exit 7") for n in notes), notes
    assert not left_running(str(tmp_path))


@pytest.mark.parametrize("until_call", [None, "epoll_wait"], ids=["before-listen", "after-listen"])
def test_quitting_the_step_screen_leaves_nothing_unsaid(until_call, seed):
    """q over the seed's server (and its client, started once the server listens) in a lab: the
    --lab child ends, and every program still running is named by pid in what is printed."""
    import asyncio

    from tests.test_step_tui import make_app, press_until
    from tuiexplore.trace.command import left_behind

    programs = [("server", [str(seed / "server"), "9999", "--once"]), ("client", [str(seed / "client"), "9999"])]
    app = make_app(programs, lab=True)

    async def body():
        async with app.run_test(size=(120, 40)) as pilot:
            if until_call:
                await press_until(pilot, app, "server", until_call)
            await pilot.press("q")

    asyncio.run(body())
    said = left_behind(app.session)
    assert app.session.end(10) is None, "the --lab child outlived the stepping"
    alive = left_running(str(seed))
    try:
        assert alive == [] or said.startswith("Left running: "), said
        for line in alive:
            assert f"pid {line.split()[0]}" in said, (alive, said)
    finally:
        for line in alive:
            psutil.Process(int(line.split()[0])).kill()


def test_auto_ends_when_every_program_is_blocked_with_nothing_left_to_step(seed):
    """The seed's server without --once waits in epoll_wait() for ever once its client is gone:
    --auto ends it (SIGTERM, said by pid) after idle.IDLE_S instead of never ending."""
    server, client = [str(seed / "server"), "9999"], [str(seed / "client"), "9999"]
    r = cli("step", "--auto", "--json", "--lab", "--server", "--", *server, "--client", "--", *client, timeout=60)
    assert r.returncode == 0, r.stderr
    notes = [e for e in of(events(r.stdout), "note")]
    [ending] = [e for e in notes if "nothing left to step" in e["text"]]
    pid = next(int(e["text"].split()[3].rstrip(":")) for e in notes if e["text"].startswith("server: started pid"))
    assert f"(server pid {pid} in epoll_wait())" in ending["text"] and ending["text"].endswith("(SIGTERM)")
    assert any(e["text"] == f"server: pid {pid} killed by SIGTERM" for e in notes)
    assert not left_running(str(seed))
