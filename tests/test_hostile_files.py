"""Hostile paths and file contents (issue 19): FIFOs and devices where a file is expected, kernel
sources that are not what they claim, caches of another version, pcaps that lie about their
records. Each case ends in one line, never a hang or a traceback, and reads a bounded amount.

The subprocess timeouts here are hang guards (each case takes a second or two), not timing goals."""

from __future__ import annotations

import io
import json
import os
import resource
import struct
import sys
import tarfile
import threading
from pathlib import Path

import pytest
from conftest import ROOT, cli
from test_hardening import CONTROL, one_line_exit_2

from tuiexplore.kernel import excerpt, source
from tuiexplore.kernel.source import Found, discover

DATA = ROOT / "tests" / "data"
TCP_C = (DATA / "tcp_close-6.12.118.c").read_text()
MAKEFILE = "VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 118\n"
HANG_GUARD = 90
TCP_C_MAX, MAKEFILE_MAX = 4 * 1024 * 1024, 1024 * 1024  # the limits the README states


def one_line(proc, status: int) -> str:
    err = proc.stderr.strip()
    assert proc.returncode == status, (proc.returncode, proc.stderr[-2000:])
    assert "\n" not in err and "Traceback" not in err and not CONTROL & set(err), err
    return err


class Reader(threading.Thread):
    """Reads a FIFO to its end, as `cat fifo > file` would."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.data = path, b""
        self.start()

    def run(self) -> None:
        with open(self.path, "rb") as f:
            self.data = f.read()


# -- outputs: --pcap, --export, -w -----------------------------------------------------------
def test_pcap_to_a_fifo_nobody_reads_is_refused_before_the_run(tmp_path):
    fifo = tmp_path / "out.pcap"
    os.mkfifo(fifo)
    err = one_line_exit_2(cli("run", "seed-rst", "--pcap", str(fifo), timeout=HANG_GUARD), str(fifo))
    assert "no process reads this FIFO" in err


def test_pcap_to_a_fifo_with_a_reader_gets_the_whole_capture(tmp_path):
    fifo = tmp_path / "out.pcap"
    os.mkfifo(fifo)
    reader = Reader(fifo)
    proc = cli("run", "seed-rst", "--pcap", str(fifo), timeout=HANG_GUARD)
    assert proc.returncode == 0, proc.stderr[-2000:]
    reader.join(HANG_GUARD)
    assert not reader.is_alive(), "the reader never saw the end of the pcap"
    assert reader.data[:4] == b"\xd4\xc3\xb2\xa1" and len(reader.data) > 24 + 6 * 16, len(reader.data)


def test_export_over_a_fifo_is_refused_before_the_run(tmp_path):
    for name in ("transcript.md", "screen.svg", "diagram.svg"):
        bundle = tmp_path / name.replace(".", "-")
        bundle.mkdir()
        os.mkfifo(bundle / name)
        err = one_line_exit_2(cli("run", "seed-rst", "--export", str(bundle), timeout=HANG_GUARD), str(bundle / name))
        assert "FIFO" in err, err


def test_pcap_output_to_a_block_device_or_directory_is_refused(tmp_path):
    for path in (str(tmp_path), "/dev/loop0" if os.path.exists("/dev/loop0") else str(tmp_path)):
        one_line_exit_2(cli("run", "seed-rst", "--pcap", path, timeout=HANG_GUARD), path)


# -- kernel sources ---------------------------------------------------------------------------
def _tree(tmp_path: Path, makefile: str | None = MAKEFILE, tcp: str = TCP_C) -> Path:
    tree = tmp_path / "tree"
    (tree / "net/ipv4").mkdir(parents=True)
    (tree / "net/ipv4/tcp.c").write_text(tcp)
    if makefile is not None:
        (tree / "Makefile").write_text(makefile)
    return tree


def test_kernel_tree_whose_makefile_or_tcp_c_is_a_fifo_is_one_line(tmp_path):
    tree = _tree(tmp_path, makefile=None)
    os.mkfifo(tree / "Makefile")
    err = one_line_exit_2(cli("kernel", "--kernel-src", str(tree), timeout=HANG_GUARD), f"{tree}/Makefile: a FIFO")
    os.unlink(tree / "Makefile")
    os.unlink(tree / "net/ipv4/tcp.c")
    os.mkfifo(tree / "net/ipv4/tcp.c")
    err = one_line_exit_2(cli("kernel", "--kernel-src", str(tree), timeout=HANG_GUARD), f"{tree}/net/ipv4/tcp.c: a FIFO")
    assert "not a regular file" in err


KINDS = (tarfile.DIRTYPE, tarfile.FIFOTYPE, tarfile.SYMTYPE, tarfile.CHRTYPE)


def _tarball(path: Path, members: dict[str, bytes]) -> Path:
    """A linux-*.tar.gz; a member given as one of KINDS is of that type, with no data."""
    with tarfile.open(path, "w:gz") as tar:
        for rel, data in members.items():
            info = tarfile.TarInfo(f"linux-6.12.118/{rel}")
            if data not in KINDS:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.type = data
                if data == tarfile.SYMTYPE:
                    info.linkname = "elsewhere.c"
                tar.addfile(info)
    return path


@pytest.mark.parametrize(
    "member,kind,said",
    [
        ("net/ipv4/tcp.c", tarfile.DIRTYPE, "a directory"),
        ("net/ipv4/tcp.c", tarfile.FIFOTYPE, "a FIFO"),
        ("net/ipv4/tcp.c", tarfile.SYMTYPE, "a symbolic link"),
        ("net/ipv4/tcp.c", tarfile.CHRTYPE, "a link or a device"),
        ("Makefile", tarfile.DIRTYPE, "a directory"),
        ("Makefile", tarfile.FIFOTYPE, "a FIFO"),
    ],
)
def test_tarball_member_that_is_not_a_file_is_one_line(tmp_path, member, kind, said):
    members = {"Makefile": MAKEFILE.encode(), "net/ipv4/tcp.c": TCP_C.encode(), member: kind}
    tarball = _tarball(tmp_path / "linux-6.12.118.tar.gz", members)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    err = one_line_exit_2(cli("kernel", "--kernel-src", str(tarball), env=env, timeout=HANG_GUARD), str(tarball))
    assert f"linux-6.12.118/{member} is {said}, not a regular file" in err, err


def test_sources_over_the_size_limit_are_refused_before_they_are_read(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    big = TCP_C + "\n" + "/* padding */\n" * (TCP_C_MAX // 14)
    tarball = _tarball(tmp_path / "linux-big.tar.gz", {"Makefile": MAKEFILE.encode(), "net/ipv4/tcp.c": big.encode()})
    reads: list[int] = []
    real = tarfile.ExFileObject.read

    def counted(self, size=-1):  # noqa: ANN001, ANN202
        reads.append(size)
        return real(self, size)

    monkeypatch.setattr(tarfile.ExFileObject, "read", counted)
    with pytest.raises(source.SourceError, match=f"net/ipv4/tcp.c: larger than {TCP_C_MAX} bytes"):
        discover(str(tarball))
    assert all(0 <= n <= MAKEFILE_MAX + 1 for n in reads), reads  # the Makefile only: tcp.c's header said enough
    tree = _tree(tmp_path, tcp=big)
    with pytest.raises(source.SourceError, match=f"tcp.c: larger than {TCP_C_MAX} bytes"):
        discover(str(tree))
    (tree / "Makefile").write_text("#" * (MAKEFILE_MAX + 1))
    (tree / "net/ipv4/tcp.c").write_text(TCP_C)
    with pytest.raises(source.SourceError, match=f"Makefile: larger than {MAKEFILE_MAX} bytes"):
        discover(str(tree))


BAD_CACHES = [
    "[1, 2]",
    "not json {",
    json.dumps({"lines": None, "first_line": 1}),
    json.dumps({"lines": ["a", 3], "first_line": 1, "version": "", "licence": "", "hint": "", "table": 7, "table_first_line": 0}),
    json.dumps({"lines": ["void tcp_close(void) {", "}"], "first_line": "1", "version": 6, "licence": "", "table": []}),
    json.dumps({"format": 2, "lines": ["x"], "first_line": -5, "version": "", "licence": "", "hint": "", "table": [],
                "table_first_line": 0}),
    "\0" * 100,
]  # fmt: skip


@pytest.mark.parametrize("content", BAD_CACHES, ids=range(len(BAD_CACHES)))
def test_a_cache_of_another_version_or_damaged_is_ignored_and_rebuilt(tmp_path, content):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    tree = _tree(tmp_path)
    good = discover(str(tree), env)
    cached = source._cache_file(str(tree), env)
    cached.write_text(content)
    again = source.load(Found(str(tree), "--kernel-src"), env)
    assert again is not None and (again.lines, again.first_line, again.version) == (good.lines, good.first_line, good.version)
    assert again.branches == good.branches
    assert json.loads(cached.read_text())["lines"] == good.lines  # rebuilt


def test_a_cache_path_that_is_a_fifo_or_directory_is_not_read(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    tree = _tree(tmp_path)
    cached = source._cache_file(str(tree), env)
    cached.parent.mkdir(parents=True)
    os.mkfifo(cached)
    assert source.load(Found(str(tree), "--kernel-src"), env).version == "6.12.118"
    os.unlink(cached)
    cached.mkdir()
    assert source.load(Found(str(tree), "--kernel-src"), env).version == "6.12.118"


# -- the tcp.c scanner ------------------------------------------------------------------------
def _lines_run(text: str) -> int:
    """Python lines executed in the scanner's module while extracting from ``text``: a measure
    of its work that does not depend on the machine's speed or load."""
    count = 0
    code_file = excerpt.__file__

    def tracer(frame, event, arg):  # noqa: ANN001, ANN202, ARG001
        nonlocal count
        if frame.f_code.co_filename != code_file:
            return None
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        excerpt.extract(text, "", "")
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize(
    "unit",
    ["void tcp_close(void) {\n", "void tcp_close(\n", "{\n", "}{\n", "tcp_close(void) { /*\n*/ {\n"],
    ids=["open-definitions", "open-parameters", "open-braces", "braces", "comments"],
)
def test_the_scanner_does_work_linear_in_its_input(unit):
    small, large = _lines_run(unit * 500), _lines_run(unit * 2000)
    assert large <= 4 * small + 100, (small, large)  # quadratic would be 16 times


HOSTILE_AT_THE_LIMIT = {
    "open definitions": ("void tcp_close(void) {\n", None),
    "open parameter lists": ("void tcp_close(int a,\n", None),
    "many words": ("a b c d e f g h i j k l m n o p q r s t u v w x y z tcp_close\n", None),
    "an open comment": ("/*", None),
    "open strings": ('"', None),
    "open char literals": ("'", None),
    "opening braces": ("{", None),
    "closing braces": ("}", None),
}


@pytest.mark.parametrize("name", HOSTILE_AT_THE_LIMIT)
def test_hostile_tcp_c_at_the_size_limit_is_scanned(name):
    """At TCP_C_MAX a quadratic scan would run for hours; linear, this is a fraction of a second."""
    unit, want = HOSTILE_AT_THE_LIMIT[name]
    assert excerpt.extract(unit * (TCP_C_MAX // len(unit)), "", "") is want


def test_a_huge_tcp_close_body_is_found_and_its_branches_located():
    head = "void tcp_close(struct sock *sk, long timeout)\n{\n"
    body = "sk_shutdown " * (TCP_C_MAX // 13) + "\n"  # one line of many sk_shutdown, no SHUTDOWN_MASK
    ex = excerpt.extract(head + body + "\tWRITE_ONCE(sk->sk_shutdown, SHUTDOWN_MASK);\n}\n", "", "")
    assert (ex.first_line, ex.last_line) == (1, 5) and ex.branches["shutdown_mask"] == [4]


# -- pcaps that lie ---------------------------------------------------------------------------
def _limited_memory() -> None:
    limit = 2 << 30  # below the 4 GiB a trusted caplen would ask for
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@pytest.mark.parametrize("snaplen,caplen", [(65535, 0xFFFFFFF0), (262144, 262145), (100, 101), (0, 300000)])
def test_a_pcap_record_longer_than_the_file_allows_is_one_note(tmp_path, snaplen, caplen):
    world = (DATA / "watch-world.pcap").read_bytes()
    head = world[:16] + struct.pack("<II", snaplen, struct.unpack("<I", world[20:24])[0])
    bad = struct.pack("<IIII", 1, 0, caplen, caplen) + b"x" * 64
    path = tmp_path / "lying.pcap"
    path.write_bytes(head + world[24:] + bad)
    proc = cli("watch", "-r", str(path), "--json", timeout=HANG_GUARD, preexec_fn=_limited_memory)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    summary = records[-1]
    notes = [r["text"] for r in records if r["type"] == "note" and r["level"] == "warn"]
    assert summary["frames"] == 40 and summary["connections"] == 6, summary  # all read before the bad record
    limit = min(snaplen or 262144, 262144)
    assert notes == [f"{path}: record 41 at byte {len(world)} claims {caplen} bytes, more than the {limit} a record of "
                     "this file can hold: the capture is damaged; read up to there"], notes  # fmt: skip


def test_watch_reads_a_fifo_as_a_stream_and_refuses_devices_and_directories(tmp_path):
    fifo = tmp_path / "in.pcap"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "wb") as f:
            f.write((DATA / "watch-world.pcap").read_bytes())

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    proc = cli("watch", "-r", str(fifo), "--json", timeout=HANG_GUARD)
    writer.join(HANG_GUARD)
    assert proc.returncode == 0 and json.loads(proc.stdout.splitlines()[-1])["connections"] == 6, proc.stderr
    for path, said in (("/dev/zero", "a character device"), (str(tmp_path), "a directory")):
        err = one_line(cli("watch", "-r", path, "--json", timeout=HANG_GUARD), 2)
        assert err == f"tuiexplore: {path}: {said}, not a regular file", err


def test_watch_w_to_a_fifo_nobody_reads_or_a_full_disk_is_one_line(tmp_path):
    fifo = tmp_path / "out.pcap"
    os.mkfifo(fifo)
    world = str(DATA / "watch-world.pcap")
    err = one_line(cli("watch", "-r", world, "--json", "-w", str(fifo), timeout=HANG_GUARD), 2)
    assert err == f"tuiexplore: {fifo}: cannot write there (no process reads this FIFO: start its reader first)"
    proc = cli("watch", "-r", world, "--json", "-w", "/dev/full", timeout=HANG_GUARD)
    err = one_line(proc, 1)
    assert err == "tuiexplore: /dev/full: cannot write there (No space left on device); the pcap stops at that packet"
    assert json.loads(proc.stdout.splitlines()[-1])["connections"] == 6  # the watch itself went on


def test_a_tarball_header_record_is_bounded_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    tarball = tmp_path / "linux-pax.tar.gz"
    with tarfile.open(tarball, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("linux-6.12.118/README")
        info.pax_headers = {"comment": "x" * (16 << 20)}  # tarfile would hold all of it in memory
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(source.SourceError, match=r"cannot read it \(a \d+-byte header record, more than 1048576\)"):
        discover(str(tarball))


@pytest.mark.parametrize(
    "args",
    [("run", "seed-rst", "--pcap", ""), ("run", "seed-rst", "--export", ""), ("kernel", "--kernel-src", ""),
     ("watch", "--json", "-r", ""), ("watch", "--json", "-r", str(DATA / "watch-world.pcap"), "-w", "")],
)  # fmt: skip
def test_an_empty_path_is_refused_not_ignored(args):
    one_line_exit_2(cli(*args, timeout=HANG_GUARD), f"{args[-2]}: an empty path")
