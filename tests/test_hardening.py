"""Hostile input, closed pipes and signals (issue 9): one test per defect class, through the CLI
and, where it applies, the explorer."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time
import xml.etree.ElementTree as ET

import psutil
import pytest
from conftest import IS_ROOT, ROOT, cli
from test_tui import idle, until

from tuiexplore.domain import REFUSED
from tuiexplore.lab.calls import ArgError, complete_args
from tuiexplore.scenarios.reader import MAX_BYTES
from tuiexplore.scenarios.scenario import MAX_ACTORS, load
from tuiexplore.session import Session
from tuiexplore.tui.app import make_app
from tuiexplore.tui.compare_app import CompareApp
from tuiexplore.tui.screens import ScenarioPicker

HEAD = 'title = "t"\n\n[[step]]\nactor = "client"\ncall = "socket"\nas = "c"\n\n'
CONTROL = {chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]} - {"\n"}


def one_line_exit_2(proc: subprocess.CompletedProcess, starts: str) -> str:
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith(f"tuiexplore: {starts}"), err
    assert not CONTROL & set(err), err
    return err


# -- range checks (kernel limits), scenario and manual steps alike ----------------------------
OUT_OF_RANGE = [
    ("value", 'call = "setsockopt"\nfd = "c"\noption = "SO_LINGER"\nvalue = [1, 1099511627776]'),
    ("value", 'call = "setsockopt"\nfd = "c"\noption = "SO_LINGER"\nvalue = [4294967296, 0]'),
    ("backlog", 'call = "listen"\nfd = "c"\nbacklog = 1099511627776'),
    ("size", 'call = "read"\nfd = "c"\nsize = 40000000'),
    ("port", 'call = "bind"\nfd = "c"\nport = 65536'),
    ("ms", 'call = "sleep"\nms = -5'),
    (
        "timeout_ms",
        'call = "epoll_create"\nas = "e"\n[[step]]\nactor = "client"\ncall = "epoll_wait"\nep = "e"\ntimeout_ms = 99999999',
    ),
]


@pytest.mark.parametrize("field,body", OUT_OF_RANGE, ids=[f"{c[0]}-{i}" for i, c in enumerate(OUT_OF_RANGE)])
def test_out_of_range_argument_is_exit_2_with_file_line_field(scenario_file, field, body):
    text = HEAD + '[[step]]\nactor = "client"\n' + body + "\n"
    line = 1 + max(i for i, ln in enumerate(text.splitlines()) if ln.startswith(f"{field} ="))
    path = scenario_file(text)
    err = one_line_exit_2(cli("run", path), f"{path}:{line}: ")
    assert f"field '{field}'" in err


def test_manual_step_out_of_range_is_refused_before_the_lab_and_the_lab_goes_on():
    with pytest.raises(ArgError) as exc:
        complete_args("setsockopt", {"fd": "c", "option": "SO_LINGER", "value": [1, 1 << 40]}, 4000)
    assert exc.value.field == "value"
    batches: list = []
    session = Session(load("seed-rst"), lambda events, generation: batches.extend(events))
    session.start()
    try:
        session.run_manual("client", "socket", {"as": "c"})
        done = session.run_manual("client", "setsockopt", {"fd": "c", "option": "SO_LINGER", "value": [1, 1 << 40]})
        assert not done.ok and done.outcome == REFUSED
        refused = session.results[done.step]
        assert refused.ret is None and "value" in refused.result["message"]
        done = session.run_manual("client", "setsockopt", {"fd": "c", "option": "SO_LINGER", "value": [1, 0]})
        assert done.ok and session.results[done.step].ret == 0  # the actor survived the bad step
    finally:
        session.close()


# -- scenario files: unreadable, unbounded, hostile shapes ------------------------------------
def _bad_files(tmp_path) -> list[tuple[str, str]]:
    p = tmp_path
    cases = {
        "deep-arrays": 'title = "t"\nx = ' + "[" * 1000 + "]" * 1000 + "\n",
        "deep-tables": 'title = "t"\nx = ' + "{a = " * 1000 + "1" + "}" * 1000 + "\n",
        "packets-int": HEAD + "[[expect]]\nstep = 1\npackets = 5\n",
        "packets-str": HEAD + '[[expect]]\nstep = 1\npackets = "client R."\n',
        "missing-call": 'title = "t"\n[[step]]\nactor = "client"\nas = "c"\n',
        "call-list": 'title = "t"\n[[step]]\nactor = "client"\ncall = ["socket"]\n',
        "option-table": HEAD + '[[step]]\nactor = "client"\ncall = "setsockopt"\nfd = "c"\noption = {a = 1}\nvalue = 1\n',
        "too-many-actors": 'title = "t"\n'
        + "".join(f'[[step]]\nactor = "a{i}"\ncall = "socket"\nas = "s"\n' for i in range(MAX_ACTORS + 1)),
        "not-utf8": None,
        "huge": 'title = "t"\n#' + "x" * MAX_BYTES + "\n",
    }
    out = []
    for name, text in cases.items():
        f = p / f"{name}.toml"
        if text is None:
            f.write_bytes(b'title = "\xff\xfe"\n')
        else:
            f.write_text(text)
        out.append((name, str(f)))
    fifo = p / "fifo.toml"
    os.mkfifo(fifo)  # no writer: opening or reading it must not block
    out += [("fifo", str(fifo)), ("dev-zero", "/dev/zero"), ("directory", str(p))]
    return out


def test_bad_scenario_files_are_one_line_exit_2(tmp_path):
    for name, path in _bad_files(tmp_path):
        proc = cli("run", path, timeout=30)
        err = one_line_exit_2(proc, path)
        assert "unknown call None" not in err, (name, err)
        if name == "packets-str":
            assert "'c'" not in err and "must be a list" in err
        if name == "missing-call":
            assert "'call': required" in err


@pytest.mark.skipif(not IS_ROOT, reason="needs root to switch to uid 65534")
def test_unreadable_file_as_nobody_is_exit_2(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "s.toml").write_text(HEAD)
    os.chmod(tmp_path, 0o755)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": "/tmp"}
    cmd = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", sys.executable, "-m", "tuiexplore"]
    proc = subprocess.run([*cmd, "run", str(private / "s.toml")], capture_output=True, text=True, timeout=60, env=env, cwd="/")
    one_line_exit_2(proc, str(private / "s.toml"))


def test_bad_file_opened_with_o_shows_the_error_and_the_app_goes_on(tmp_path):
    import asyncio

    from textual.widgets import Input, Static

    async def body():
        app = make_app(load("clean-close"))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: idle(app))
            for name, path in _bad_files(tmp_path):
                await pilot.press("o")
                await until(pilot, lambda: isinstance(app.screen, ScenarioPicker))
                box = app.screen.query_one("#path", Input)
                box.value = path
                box.focus()
                await pilot.press("enter")
                await pilot.pause(0.1)
                assert isinstance(app.screen, ScenarioPicker), name  # still open, showing why
                shown = str(app.screen.query_one("#error", Static).render())
                assert shown.startswith(path) and "\n" not in shown and not CONTROL & set(shown), (name, shown)
                await pilot.press("escape")
            assert app.is_running and app.explorer.scenario.name == "clean-close"
            await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 1 and idle(app))

    asyncio.run(body())


def test_output_paths_are_checked_before_the_lab_starts(tmp_path):
    t0 = time.monotonic()
    one_line_exit_2(cli("run", "seed-rst", "--pcap", "/nonexistent/dir/x.pcap"), "/nonexistent/dir/x.pcap")
    (tmp_path / "file").write_text("")
    one_line_exit_2(cli("run", "seed-rst", "--export", str(tmp_path / "file" / "bundle")), "--export")
    assert time.monotonic() - t0 < 20  # a whole seed-rst run is never reached
    assert not (tmp_path / "file" / "bundle").exists()


@pytest.mark.parametrize("port", ["99999", "-1", "0", "http"])
def test_serve_port_out_of_range_is_exit_2(port):
    proc = cli("serve", "--port", port, timeout=30)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--port" in proc.stderr


# -- untrusted text in every sink ------------------------------------------------------------
HOSTILE = r"""title = "a \u001b]2;pwned\u0007 \u001b[2J [b]word[/b] [link=http://x]b[/link] <svg>&amp; `x` | \u009b31m"
summary = "s \u001b[31m red <b>&</b> *em* \u202e"

[[step]]
actor = "client"
call = "socket"
as = "c"
say = "\u001b[2J narration [red]x[/red]"

[[step]]
actor = "client"
call = "close"
fd = "c"
"""


def test_hostile_text_never_reaches_a_sink_raw(scenario_file, tmp_path):
    path = scenario_file(HOSTILE, "hostile.toml")
    text = cli("run", path)
    assert text.returncode == 0, text.stderr
    assert not CONTROL & set(text.stdout), text.stdout[:400]
    assert "\\x1b]2;pwned\\x07" in text.stdout  # shown, escaped
    js = cli("run", path, "--json")
    assert js.returncode == 0 and not CONTROL & set(js.stdout) and js.stdout.isascii()
    [json.loads(ln) for ln in js.stdout.splitlines()]
    bundle = tmp_path / "bundle"
    assert cli("run", path, "--export", str(bundle)).returncode == 0
    md = (bundle / "transcript.md").read_text()
    assert not CONTROL & set(md) and "<svg>" not in md and "[link=" not in md.replace("\\[link=", "")
    svg = (bundle / "screen.svg").read_text()
    ET.fromstring(svg)  # well-formed XML
    assert not CONTROL & set(svg)
    cmp = cli("compare", path, "clean-close", "--text")
    assert cmp.returncode == 0 and not CONTROL & set(cmp.stdout + cmp.stderr)
    key = scenario_file('title = "t"\n"k\\u001b]2;x\\u0007" = 1\n', "key.toml")
    assert "\\x1b]2;x\\x07" in one_line_exit_2(cli("run", key), key)


def test_hostile_text_in_the_explorer_and_compare_is_text_not_markup(scenario_file):
    import asyncio

    from textual.widgets import Static

    scn = load(scenario_file(HOSTILE, "hostile.toml"))

    async def explorer():
        app = make_app(scn)
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: idle(app))
            await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 1 and idle(app))
            status = str(app.screen.query_one("#status", Static).render())
            assert not CONTROL & set(status) and "[b]word[/b]" in status and "\\x1b[2J" in status

    async def compare():
        names = (f"hostile: {scn.title}", "other: [b]bold[/b]")
        app = CompareApp([], names)
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.pause(0.2)
            summary = str(app.query_one("#summary", Static).render())
            assert "[link=http://x]b[/link]" in summary and "[b]bold[/b]" in summary
            assert not CONTROL & set(summary)
            assert "[b]bold[/b]" in app.export_screenshot()  # the border title too: literal, not bold

    asyncio.run(explorer())
    asyncio.run(compare())


# -- a closed pipe ---------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["--text", "--json"])
def test_closed_stdout_ends_the_run_at_once_quietly_and_stops_the_lab(fmt):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuiexplore", "run", "seed-rst", fmt], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    proc.stdout.readline()
    lab = psutil.Process(proc.pid).children(recursive=True)
    assert lab, "the lab should be running while the first line is read"
    proc.stdout.close()  # like `| head -1`
    t0 = time.monotonic()
    rc = proc.wait(timeout=30)
    assert time.monotonic() - t0 < 10
    err = proc.stderr.read().decode()
    assert rc == 141 and err == "", (rc, err)
    gone, alive = psutil.wait_procs(lab, timeout=10)
    assert not alive, alive


# -- signals to the explorer -----------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_signal_to_the_explorer_restores_the_terminal_and_stops_the_lab(sig):
    pid, master = pty.fork()
    if pid == 0:  # the child: the explorer on a real pseudo-terminal
        os.environ.update(PYTHONPATH=str(ROOT), TERM="xterm-256color", COLUMNS="120", LINES="40")
        os.execv(sys.executable, [sys.executable, "-m", "tuiexplore", "clean-close"])
    termios.tcsetwinsize(master, (40, 120))
    out = b""

    def read_until(done, timeout: float) -> None:
        nonlocal out
        end = time.monotonic() + timeout
        while not done() and time.monotonic() < end:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    out += os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    return

    def lab_up() -> bool:  # the agent and its two actors
        return b"\x1b[?1049h" in out and len(psutil.Process(pid).children(recursive=True)) >= 3

    read_until(lab_up, 60)
    assert b"\x1b[?1049h" in out and b"\x1b[?1000h" in out  # alternate screen, mouse tracking on
    lab = psutil.Process(pid).children(recursive=True)
    read_until(lambda: False, 1)
    os.kill(pid, sig)
    mark = len(out)
    read_until(lambda: b"\x1b[?1049l" in out[mark:], 30)
    _, status = os.waitpid(pid, 0)
    after = out[mark:]
    assert os.waitstatus_to_exitcode(status) == 128 + sig
    assert b"\x1b[?1049l" in after and b"\x1b[?1000l" in after  # left the alternate screen, mouse off
    attrs = termios.tcgetattr(master)
    assert attrs[3] & termios.ICANON and attrs[3] & termios.ECHO  # raw mode undone
    os.close(master)
    _, alive = psutil.wait_procs(lab, timeout=10)
    assert not alive, alive


def test_a_tuiexplore_folder_in_the_working_directory_is_not_imported_by_the_lab(tmp_path):
    # `python -m` puts the working directory first on sys.path: run from inside another checkout
    # (an older version, or any folder named tuiexplore), the agent and actors would import that
    # code and speak another protocol. They start with -P and import only the app's own package.
    decoy = tmp_path / "tuiexplore"
    (decoy / "lab").mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise SystemExit('the decoy tuiexplore was imported')\n")
    (decoy / "lab" / "__init__.py").write_text("")
    # The app itself as its console script starts it (no working directory on sys.path).
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "tuiexplore", "run", "connect-refused"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "decoy" not in proc.stderr + proc.stdout
