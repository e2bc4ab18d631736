"""Unusable scenario files: one line naming file, line and field; exit status 2; no traceback."""

import pytest
from conftest import cli

GOOD_HEAD = 'title = "t"\n\n[[step]]\nactor = "client"\ncall = "socket"\nas = "c"\n\n'

CASES = [
    ("unknown call", GOOD_HEAD + '[[step]]\nactor = "client"\ncall = "conect"\nfd = "c"\n', 10, "call", "unknown call 'conect'"),
    ("missing fd name", GOOD_HEAD + '[[step]]\nactor = "client"\ncall = "close"\nfd = "nope"\n', 11, "fd", "no fd named 'nope'"),
    (
        "wrong type",
        GOOD_HEAD + '[[step]]\nactor = "client"\ncall = "read"\nfd = "c"\nsize = "big"\n',
        12,
        "size",
        "must be an integer",
    ),
    ("toml syntax", 'title = "t"\n[[step]]\nactor = "client"\ncall = socket\n', 4, None, "TOML syntax error"),
    (
        "unknown field",
        GOOD_HEAD + '[[step]]\nactor = "client"\ncall = "read"\nfd = "c"\nbytes = 3\n',
        12,
        "bytes",
        "not an argument of read",
    ),
    ("fd of another actor", GOOD_HEAD + '[[step]]\nactor = "server"\ncall = "close"\nfd = "c"\n', 11, "fd", "no fd named 'c'"),
    ("missing title", '[[step]]\nactor = "a"\ncall = "socket"\nas = "x"\n', 1, "title", "required"),
    (
        "linger shape",
        GOOD_HEAD + '[[step]]\nactor = "client"\ncall = "setsockopt"\nfd = "c"\noption = "SO_LINGER"\nvalue = 1\n',
        13,
        "value",
        "[onoff, seconds]",
    ),
    ("verdict on non-closing step", GOOD_HEAD + '[[expect]]\nstep = 1\nverdict = "RST"\n', 10, "verdict", "not a closing call"),
    (
        "step after exit",
        GOOD_HEAD + '[[step]]\nactor = "client"\ncall = "exit"\n\n[[step]]\nactor = "client"\ncall = "socket"\nas = "d"\n',
        13,
        "actor",
        "already exited",
    ),
    (
        "bad expect packet",
        GOOD_HEAD + '[[expect]]\nstep = 1\npackets = ["mallory R."]\n',
        10,
        "packets",
        "<actor> <tcpdump flags>",
    ),
]


@pytest.mark.parametrize("label,text,line,field,words", CASES, ids=[c[0] for c in CASES])
def test_bad_file_one_line_exit_2(scenario_file, label, text, line, field, words):
    path = scenario_file(text)
    proc = cli("run", path)
    assert proc.returncode == 2, (label, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith(f"tuiexplore: {path}:{line}: "), err
    if field:
        assert f"'{field}'" in err
    assert words in err


def test_missing_file_and_unknown_builtin():
    proc = cli("run", "no-such-scenario")
    assert proc.returncode == 2 and "no such file or built-in" in proc.stderr and "seed-rst" in proc.stderr


def test_list_names_then_titles():
    proc = cli("list")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert any(ln.split()[0] == "seed-rst" for ln in lines)
    assert all(len(ln.split(None, 1)) == 2 for ln in lines)
