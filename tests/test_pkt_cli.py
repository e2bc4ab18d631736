"""``tuiexplore run FILE.pkt``: the reader from the command line, as a user meets it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data" / "pkt"


def tx(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tuiexplore", "run", *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_dry_run_lists_each_line_with_what_it_is_and_the_lab_settings() -> None:
    r = tx(str(DATA / "close_unread.pkt"), "--dry-run")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "   21  syscall close          +0 close(4) = 0" in lines
    assert "   22  expect R.              +0 > R. 1:1(0) ack 11" in lines
    assert any(line.startswith("    7  sysctl net.ipv4.tcp_timestamps=0") for line in lines)
    assert lines[-1].endswith("13 events: 6 syscalls, 3 injected, 3 expected, 23 sysctls")


def test_a_bad_line_is_one_message_with_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pkt"
    bad.write_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 < S 0:10(0) win 100\n")
    r = tx(str(bad), "--dry-run")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == f"tuiexplore: {bad}:2:14: inconsistent TCP sequence numbers and payload size\n"


def test_macros_come_from_the_command_line() -> None:
    assert tx(str(DATA / "client_tfo.pkt"), "--dry-run").returncode == 2
    r = tx(str(DATA / "client_tfo.pkt"), "--dry-run", "-D", "COOKIE=a1b2c3d4")
    assert r.returncode == 0, r.stderr


def test_a_backtick_is_refused_by_line_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "created-by-the-script"
    script = tmp_path / "evil.pkt"
    script.write_text(f"`./defaults.sh`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 `touch {marker}`\n")
    dry = tx(str(script), "--dry-run")
    assert dry.returncode == 2
    assert dry.stdout.splitlines()[-1].startswith(f"{script}:3: refused `touch {marker}`: ")
    assert tx(str(script)).returncode == 2
    assert not marker.exists()


def test_a_fifo_or_a_directory_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.pkt"
    os.mkfifo(fifo)
    (tmp_path / "dir.pkt").mkdir()
    for path in (fifo, tmp_path / "dir.pkt", tmp_path / "missing.pkt"):
        r = tx(str(path), "--dry-run")
        assert r.returncode == 2 and len(r.stderr.splitlines()) == 1, r.stderr
        assert r.stderr.startswith(f"tuiexplore: {path}: ")
        assert r.stderr.rstrip().endswith(("not a regular file", "No such file or directory")), r.stderr


def test_without_dry_run_the_script_runs_against_the_kernel() -> None:
    r = tx(str(DATA / "close_unread.pkt"), "--tolerance-usecs=14000")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "# every line held (exit 0)"


def test_options_a_script_run_does_not_take_yet_are_refused_in_one_line() -> None:
    r = tx(str(DATA / "close_unread.pkt"), "--kernel", "6.1", "--pcap", "x.pcap")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == f"tuiexplore: {DATA / 'close_unread.pkt'}: --pcap not supported with a .pkt script yet\n"


def test_the_explorer_refuses_a_script_it_cannot_run_in_one_line(tmp_path: Path) -> None:
    marker = tmp_path / "made-by-the-script"
    script = tmp_path / "evil.pkt"
    script.write_text(f"`touch {marker}`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n")
    r = subprocess.run([sys.executable, "-m", "tuiexplore", str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith(f"tuiexplore: {script}:1: refused `touch {marker}`: ") and len(r.stderr.splitlines()) == 1
    assert not marker.exists()
