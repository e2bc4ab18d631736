"""watch -r on pcapng, the format Wireshark, dumpcap and tshark write by default (issue 23):
files made by the real tools (tests/data/pcapng/make.sh) give the same connections as the same
captures in pcap, from a file and from stdin, with several interfaces of different link types,
in either byte order, unknown blocks skipped, and a lying block length one note, no traceback."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"
NG = DATA / "pcapng"


def watch_read(path: str, stdin: bytes | None = None) -> tuple[list[tuple], list[str], int]:
    proc = subprocess.run(
        [sys.executable, "-P", "-m", "tuiexplore", "watch", "-r", path, "--json"],
        input=stdin,
        capture_output=True,
        timeout=60,
    )
    lines = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    conns = sorted(
        (d["client"], d["server"], d["end"], d["cause"], d["summary"], d["rst_by"], json.dumps(d["bytes"]), d["packets"])
        for d in lines
        if d["type"] == "connection"
    )
    notes = [d["text"] for d in lines if d["type"] == "note"]
    assert "Traceback" not in proc.stderr.decode(), proc.stderr.decode()
    return conns, notes, proc.returncode


def test_a_tshark_pcapng_gives_the_connections_of_the_same_pcap():
    ng, notes, rc = watch_read(str(NG / "watch-world.pcapng"))
    pcap, _, _ = watch_read(str(DATA / "watch-world.pcap"))
    assert rc == 0 and len(ng) == 6 and ng == pcap
    assert notes[0].endswith("(pcapng)")


def test_two_interfaces_of_two_link_types_from_a_file_and_from_stdin():
    want = sorted(watch_read(str(NG / "lo.pcap"))[0] + watch_read(str(NG / "any.pcap"))[0])
    assert len(want) == 6 and {c[3] for c in want} == {"fin", "data_was_unread", "refused"}
    assert watch_read(str(NG / "multi.pcapng"))[0] == want
    assert watch_read("-", stdin=(NG / "multi.pcapng").read_bytes())[0] == want


def blocks(raw: bytes) -> list[tuple[int, bytes]]:
    out, at = [], 0
    while at < len(raw):
        kind, length = struct.unpack_from("<II", raw, at)
        out.append((kind, raw[at + 8 : at + length - 4]))
        at += length
    return out


def block(kind: int, body: bytes, e: str) -> bytes:
    return struct.pack(e + "II", kind, len(body) + 12) + body + struct.pack(e + "I", len(body) + 12)


def swapped_options(raw: bytes) -> bytes:
    out, at = b"", 0
    while at + 4 <= len(raw):
        code, size = struct.unpack_from("<HH", raw, at)
        padded = size + (-size % 4)
        out += struct.pack(">HH", code, size) + raw[at + 4 : at + 4 + padded]
        at += 4 + padded
    return out


def big_endian(raw: bytes) -> bytes:
    """The same capture as a big-endian writer would have written it."""
    out = b""
    for kind, body in blocks(raw):
        if kind == 0x0A0D0D0A:
            major, minor, size = struct.unpack_from("<HHq", body, 4)
            body = b"\x1a\x2b\x3c\x4d" + struct.pack(">HHq", major, minor, size) + swapped_options(body[16:])
        elif kind == 1:
            body = struct.pack(">HHI", *struct.unpack_from("<HHI", body)) + swapped_options(body[8:])
        elif kind == 6:
            caplen = struct.unpack_from("<I", body, 12)[0]
            end = 20 + caplen + (-caplen % 4)
            body = struct.pack(">5I", *struct.unpack_from("<5I", body)) + body[20:end] + swapped_options(body[end:])
        out += block(kind, body, ">")
    return out


def test_big_endian_and_unknown_blocks(tmp_path):
    want = watch_read(str(NG / "multi.pcapng"))[0]
    be = tmp_path / "be.pcapng"
    be.write_bytes(big_endian((NG / "multi.pcapng").read_bytes()))
    assert watch_read(str(be))[0] == want
    raw = (NG / "multi.pcapng").read_bytes()
    first = struct.unpack_from("<I", raw, 4)[0]  # after the section header: a block nobody knows
    odd = tmp_path / "odd.pcapng"
    odd.write_bytes(raw[:first] + block(0x0BAD, b"\x00" * 8, "<") + raw[first:])
    assert watch_read(str(odd))[0] == want


def test_a_block_that_lies_about_its_length_is_one_note(tmp_path):
    raw = (NG / "multi.pcapng").read_bytes()
    first = struct.unpack_from("<I", raw, 4)[0]
    bad = tmp_path / "bad.pcapng"
    bad.write_bytes(raw[:first] + struct.pack("<II", 6, 0xFFFFFFF0) + raw[first + 8 :])
    conns, notes, rc = watch_read(str(bad))
    assert conns == [] and rc == 0
    assert any("claims 4294967280 bytes" in n and "the rest of the capture was not read" in n for n in notes), notes
