"""The relay's marks in the exported capture: ``--pcap FILE.pcapng`` and the export bundle's
capture.pcapng hold the lab's frames with each marked frame's mark (held, released, dropped,
duplicated, delayed, injected) as its pcapng comment; read back by the project's own pcapng
reader (watch/pcapng.py), by tcpdump and by tshark, and checked against the packet events."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from tuiexplore import runner
from tuiexplore.reports import pcapng, relaymarks
from tuiexplore.scenarios.scenario import load, parse
from tuiexplore.timeline import PacketEvent
from tuiexplore.watch.pcapng import EPB, PcapngReader
from tuiexplore.watch.pcapread import Buffer


def read_back(path: Path) -> tuple[list, list[str]]:
    """(packets, the comment of each, "" for none) as the project's pcapng reader sees them."""
    data = path.read_bytes()
    assert data[:4] == b"\x0a\x0d\x0d\x0a"  # a section header block: pcapng, whatever the name says
    packets = [p for batch in PcapngReader(Buffer(io.BytesIO(data))).batches() for p in batch]
    said = []
    reader = PcapngReader(Buffer(io.BytesIO(data)))
    for block in reader.blocks():
        if block is not None and block[0] == EPB:
            body = block[1]
            caplen = int.from_bytes(body[12:16], "little")
            options = dict(reader._options(body[20 + caplen + (-caplen % 4) :]))
            said.append(options.get(1, b"").decode())
    return packets, said


def classic(path: Path) -> list[tuple[float, bytes]]:
    """(time, bytes) of each record of a classic pcap."""
    data, at, out = path.read_bytes(), 24, []
    while at < len(data):
        sec, usec, caplen = (int.from_bytes(data[at + k : at + k + 4], "little") for k in (0, 4, 8))
        out.append((sec + usec / 1e6, data[at + 16 : at + 16 + caplen]))
        at += 16 + caplen
    return out


def marks_of(events: list) -> list[str]:
    """What the packet list says of each packet, in its order ("" for none)."""
    released = relaymarks.releases(events)
    return [relaymarks.mark(e, released) for e in events if isinstance(e, PacketEvent)]


# Every mark at least once: duplicate, delay, a hold released (step 13), drop, inject, a hold kept.
MARKS = """
title = "every relay mark"
[lab]
wire = "relay"
[[step]]
actor = "server"
call = "socket"
as = "listener"
[[step]]
actor = "server"
call = "bind"
fd = "listener"
[[step]]
actor = "server"
call = "listen"
fd = "listener"
[[step]]
actor = "client"
call = "socket"
as = "sock"
[[step]]
actor = "client"
call = "connect"
fd = "sock"
[[step]]
actor = "server"
call = "accept"
fd = "listener"
as = "conn"
[[step]]
actor = "client"
call = "duplicate"
flags = "P"
[[step]]
actor = "client"
call = "write"
fd = "sock"
data = "one"
[[step]]
actor = "client"
call = "delay"
ms = 50
flags = "P"
[[step]]
actor = "client"
call = "write"
fd = "sock"
data = "two"
[[step]]
actor = "client"
call = "hold"
count = 1
[[step]]
actor = "client"
call = "write"
fd = "sock"
data = "three"
[[step]]
actor = "client"
call = "release"
[[step]]
actor = "server"
call = "drop"
flags = "P"
[[step]]
actor = "server"
call = "write"
fd = "conn"
data = "lost"
[[step]]
actor = "client"
call = "inject"
flags = "."
[[step]]
actor = "client"
call = "hold"
[[step]]
actor = "client"
call = "write"
fd = "sock"
data = "kept"
"""


def test_every_mark_is_the_comment_of_its_frame(tmp_path):
    ng, pcap = tmp_path / "marks.pcapng", tmp_path / "marks.pcap"
    r = runner.run(parse(MARKS, "marks.toml"), pcap=[str(ng), str(pcap)])
    packets, said = read_back(ng)
    frames = classic(pcap)
    assert [p.data for p in packets] == [f[1] for f in frames] and len(packets) == r.frames
    assert [round(p.ts, 6) for p in packets] == [round(f[0], 6) for f in frames]
    marks = marks_of(r.events)[: len(packets)]  # the lab's end may capture a retransmission after the file
    assert said == [f"relay: {m}" if m else "" for m in marks]
    shown = {m.split(" ")[0] if not m.startswith("#") else "released" for m in marks if m}
    assert shown == {"duplicated", "delayed", "held", "released", "dropped", "injected"}, marks
    assert any(m.endswith(" released <13>") for m in marks) and any(m.startswith("held #") for m in marks)


def test_a_classic_pcap_stays_classic_and_the_bundle_has_both(tmp_path):
    from tuiexplore.cli import main

    bundle = tmp_path / "bundle"
    assert main(["run", "lost-fin", "--pcap", str(tmp_path / "x.pcap"), "--export", str(bundle)]) == 0
    assert (tmp_path / "x.pcap").read_bytes()[:4] == b"\xd4\xc3\xb2\xa1"
    assert (bundle / "capture.pcap").read_bytes() == (tmp_path / "x.pcap").read_bytes()
    packets, said = read_back(bundle / "capture.pcapng")
    assert [p.data for p in packets] == [f[1] for f in classic(bundle / "capture.pcap")]
    assert said.count("relay: dropped") == 2  # the client's FIN and its tail loss probe
    if shutil.which("tcpdump"):
        lines = [
            subprocess.run(["tcpdump", "-nn", "-r", str(bundle / name)], capture_output=True, text=True, check=True).stdout
            for name in ("capture.pcap", "capture.pcapng")
        ]
        assert lines[0] == lines[1] and lines[0].count("Flags [F.]") >= 3
    if shutil.which("tshark"):
        out = subprocess.run(
            ["tshark", "-r", str(bundle / "capture.pcapng"), "-T", "fields", "-e", "frame.comment"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.splitlines() == said


def test_without_a_relay_the_pcapng_has_the_frames_and_no_comment(tmp_path):
    ng = tmp_path / "seed.pcapng"
    r = runner.run(load("seed-rst"), pcap=[str(ng)])
    packets, said = read_back(ng)
    assert len(packets) == r.frames > 0 and set(said) == {""}


def test_not_a_classic_pcap_is_refused():
    with pytest.raises(ValueError, match="not a classic pcap"):
        pcapng.marked(b"\x0a\x0d\x0d\x0a" + bytes(40), [])


def test_the_explorers_export_writes_the_marks_too(tmp_path, monkeypatch):
    """ctrl+e in the explorer on a real lab: the bundle's capture.pcapng carries the marks its
    packet list shows, from the same frames as capture.pcap."""
    import asyncio

    from pilot_wait import until
    from test_tui import idle

    from tuiexplore.tui.app import make_app

    monkeypatch.chdir(tmp_path)

    async def body():
        app = make_app(load("lost-fin"))
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.explorer.info is not None)
            for _ in range(9):  # up to the sleep in which the FIN is retransmitted
                await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == 9 and idle(app), 60, "step 9")
            await pilot.press("ctrl+e")
            await until(pilot, lambda: list(tmp_path.glob("*/capture.pcapng")) and idle(app), 30, "the capture files")
            [bundle] = tmp_path.iterdir()
            packets, said = read_back(bundle / "capture.pcapng")
            assert [p.data for p in packets] == [f[1] for f in classic(bundle / "capture.pcap")]
            shown = marks_of(app.explorer.events)[: len(packets)]
            assert said == [f"relay: {m}" if m else "" for m in shown] and said.count("relay: dropped") == 2

    asyncio.run(body())
