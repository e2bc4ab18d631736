"""watch's batched reader (issue 20 point 4) tells the stories main e4e2eb8's reader told, to the
last field: every connection's record, events and kept packets, and the frames and packets
counted, for captures in every shape (tests/watch_stories.py lists them: pcap both byte orders
and both resolutions, Ethernet with VLAN tags and non-IP frames, Linux cooked, pcapng both byte
orders and several interfaces, cut short, lying lengths, more than one read's worth), read from
a file and from a stream that hands over a few bytes at a time."""

from __future__ import annotations

import json

import pytest
from watch_stories import COUNTED, DATA, VARIANTS, digest, stories

GOLDEN = json.loads((DATA / "watch-stories.json").read_text())


def check(name: str, got: dict) -> None:
    want = GOLDEN[name]
    assert (got["frames"], got["packets"], len(got["connections"])) == (want["frames"], want["packets"], want["connections"])
    assert digest(got) == want["digest"], json.dumps(got, indent=1)[:3000]


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_capture_file_tells_the_stories_the_old_reader_told(name, tmp_path):
    path = tmp_path / name
    path.write_bytes(VARIANTS[name]())
    check(name, stories(path))


STREAMED = ["world-ethernet-vlan", "world-cut-in-a-packet", "world-lying-caplen", "multi-pcapng", "multi-pcapng-cut"]


@pytest.mark.parametrize("size", [1, 5, 61, 4093])
@pytest.mark.parametrize("name", STREAMED)
def test_a_stream_handing_over_a_few_bytes_a_read_tells_the_same_stories(name, size, tmp_path):
    path = tmp_path / name
    path.write_bytes(VARIANTS[name]())
    check(name, stories(path, dribble=size))


@pytest.mark.parametrize("name, n", [(name, n) for name, ns in COUNTED.items() for n in ns])
def test_count_stops_where_the_old_reader_stopped(name, n, tmp_path):
    path = tmp_path / name
    path.write_bytes(VARIANTS[name]())
    check(f"{name} --count {n}", stories(path, count=n))


def test_more_than_one_read_from_a_stream(tmp_path):
    path = tmp_path / "synthetic"
    path.write_bytes(VARIANTS["synthetic-20k"]())
    check("synthetic-20k", stories(path, dribble=65521))


def test_address_names_come_from_a_bounded_cache(monkeypatch):
    from test_watch import _v4, _v6

    from tuiexplore.watch import packet

    monkeypatch.setattr(packet, "MAX_NAMES", 4)
    monkeypatch.setattr(packet, "_NAMES", {})
    for _ in range(2):
        for i in range(10):
            p4 = packet.parse_ip(0.0, _v4(1000 + i, 80, src=f"10.0.0.{i}", dst="10.0.1.1"))
            p6 = packet.parse_ip(0.0, _v6(2000 + i, 80, src=f"2001:db8::{i + 1}", dst="::ffff:10.0.1.1"))
            assert p4 is not None and p6 is not None
            assert (p4.src, p4.dst, p6.src, p6.dst) == (f"10.0.0.{i}", "10.0.1.1", f"2001:db8::{i + 1}", "10.0.1.1")
            assert len(packet._NAMES) <= 4
