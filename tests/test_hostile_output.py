"""Hostile environments for what the CLI prints (issue 19): a full disk on stdout, a non-UTF-8
locale, a terminal one column wide, tcp.c text with escapes in it, numbers that are not numbers,
a guest kernel that is no kernel; and the TUI's actor titles."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, cli
from test_hardening import CONTROL
from test_hostile_files import HANG_GUARD, one_line

from tuiexplore.reports import compare
from tuiexplore.timeline import from_wire

DATA = ROOT / "tests" / "data"
FULL = "tuiexplore: cannot write stdout: No space left on device"


@pytest.mark.parametrize("args", [("run", "seed-rst"), ("run", "seed-rst", "--json"), ("kernel",), ("list",)])
def test_a_full_stdout_is_one_line_naming_stdout(args):
    proc = _cli_to(args, "/dev/full")
    assert one_line(proc, 1) == FULL


def _cli_to(args, path: str):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(path, "w") as out:
        cmd = [sys.executable, "-m", "tuiexplore", *args]
        return subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, text=True, env=env, timeout=HANG_GUARD)


def test_a_pcap_to_a_full_disk_is_one_line_naming_it():
    proc = cli("run", "seed-rst", "--pcap", "/dev/full", timeout=HANG_GUARD)
    assert one_line(proc, 1) == "tuiexplore: /dev/full: cannot write there (No space left on device)"


def test_watch_json_to_a_full_stdout_is_one_line():
    proc = _cli_to(("watch", "-r", str(DATA / "watch-world.pcap"), "--json"), "/dev/full")
    assert one_line(proc, 1) == FULL


C_LOCALE = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}


@pytest.mark.parametrize("args", [("kernel", "--table"), ("run", "seed-rst"), ("list",)])
def test_a_c_locale_gets_ascii_fallbacks_not_an_encoding_error(args):
    proc = cli(*args, env=C_LOCALE, timeout=HANG_GUARD)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    proc.stdout.encode("ascii")  # nothing but ASCII reached the terminal
    if args[0] == "kernel":
        assert any(line.split()[1:2] == [">"] for line in proc.stdout.splitlines()), proc.stdout[:2000]  # ▶ marks
    if args[0] == "run":
        assert "# seed-rst: every step ran" in proc.stdout


def test_the_ascii_fallback_keeps_what_it_cannot_show_visible():
    from tuiexplore import stdio

    text = "▶ · — é 𝄞 \udcff"
    assert text.encode("ascii", stdio.HANDLER) == b"> . -- e \\U0001d11e \\xff"


def _rows():
    events = [from_wire(json.loads(line)) for line in (DATA / "seed-rst-events.jsonl").read_text().splitlines()]
    return compare.align(events, events)


@pytest.mark.parametrize("width", [-3, 0, 1, 5, 9, 10, 39])
def test_compare_text_at_any_width_is_laid_out_at_its_minimum(width):
    lines = compare.text(_rows(), ("a: A", "b: B"), width)
    assert lines == compare.text(_rows(), ("a: A", "b: B"), 40)  # the narrowest layout
    assert all(line.count(" | ") <= 1 for line in lines)


def test_compare_text_at_a_huge_width_is_laid_out_at_its_maximum():
    lines = compare.text(_rows(), ("a: A", "b: B"), 99_999_999_999)  # $COLUMNS is the user's to set
    assert lines == compare.text(_rows(), ("a: A", "b: B"), 1000) and max(map(len, lines)) <= 1000


def test_compare_text_with_columns_1_from_the_cli():
    proc = cli("compare", "seed-rst", "clean-close", "--text", env={**os.environ, "COLUMNS": "1"}, timeout=HANG_GUARD * 2)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1].startswith(">> first divergence on the wire")


ESCAPES = "\x1b]0;pwned\x07 \x1b[2J \u202e \x9b31m"


def test_kernel_prints_a_trees_escapes_visibly(tmp_path):
    tree = tmp_path / f"tree{ESCAPES[:6]}"
    (tree / "net/ipv4").mkdir(parents=True)
    (tree / "net/ipv4/tcp.c").write_text(f"void tcp_close(struct sock *sk, long timeout)\n{{\n\t/* {ESCAPES} */\n}}\n")
    (tree / "Makefile").write_text(f"VERSION = 6{ESCAPES}\nPATCHLEVEL = 1\n")
    proc = cli("kernel", "--kernel-src", str(tree), "--table", timeout=HANG_GUARD)
    assert proc.returncode == 0, proc.stderr
    assert not (CONTROL | {"\u202e"}) & set(proc.stdout.replace("\n", "")), proc.stdout
    assert "\\x1b]0;pwned\\x07 \\x1b[2J \\u202e \\x9b31m" in proc.stdout


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "1e999", "NaN", "", "1s"])
def test_watch_duration_takes_only_finite_positive_seconds(value):
    proc = cli("watch", "-r", str(DATA / "watch-world.pcap"), "--json", f"--duration={value}", timeout=HANG_GUARD)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"argument --duration: not a finite positive number of seconds: '{value}'" in proc.stderr


@pytest.mark.parametrize("arg,value", [("--count", "0"), ("--count", "-2"), ("--pid", "0"), ("--pid", "-1")])
def test_watch_counts_and_pids_are_positive(arg, value):
    proc = cli("watch", "-r", str(DATA / "watch-world.pcap"), "--json", arg, value, timeout=HANG_GUARD)
    assert proc.returncode == 2 and f"argument {arg}: not a positive whole number: '{value}'" in proc.stderr, proc.stderr


def test_a_guest_kernel_that_is_no_kernel_says_what_qemu_said(tmp_path):
    fake = tmp_path / "not-a-kernel"
    fake.write_text("hello\n")
    proc = cli("run", "seed-rst", "--kernel", str(fake), timeout=HANG_GUARD)
    err = one_line(proc, 1)
    assert "invalid kernel header" in err and "virtio_loop" not in err, err


def test_a_sigpipe_from_another_pipe_is_not_a_closed_stdout():
    """A guest's QEMU that exits at once (no kernel) breaks the agent's pipe: the write to it
    raises SIGPIPE, which is not stdout's, so the command must say why the lab stopped instead
    of exiting 141 in silence."""
    import signal

    from tuiexplore import pipes

    old = signal.signal(signal.SIGPIPE, pipes.on_sigpipe)
    try:
        os.kill(os.getpid(), signal.SIGPIPE)  # the handler runs here, in the main thread
    finally:
        signal.signal(signal.SIGPIPE, old)


def test_actor_titles_are_the_names_as_given():
    from tuiexplore.scenarios.scenario import parse
    from tuiexplore.tui.app import make_app
    from tuiexplore.tui.widgets import ActorLog

    steps = "".join(f'[[step]]\nactor = "{a}"\ncall = "socket"\nas = "s"\n\n' for a in ("srv", "SRV", "Srv", "s.r-v_1"))
    scn = parse(f'title = "t"\n\n{steps}', "t.toml", "t")

    async def body():
        app = make_app(scn)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.3)
            titles = sorted(str(log.border_title) for log in app.query(ActorLog) if log.id != "output")
            assert titles == sorted(["srv", "SRV", "Srv", "s.r-v_1"]), titles

    asyncio.run(body())
