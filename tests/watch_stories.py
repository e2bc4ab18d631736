"""What ``watch -r`` makes of a capture, all of it: each connection's record, its story (the
events and the kept packets, every field) and the summary's counts, for a set of captures in
every shape the reader meets (pcap both byte orders and both resolutions, Ethernet, Linux
cooked, pcapng both byte orders, several interfaces, cut short, lying lengths, more than one
read's worth). tests/data/watch-stories.json holds the digests the reader before the batched one
gave (branch h-watchuser at 998d60d: main e4e2eb8's reader with watch's later reporting: words and
fields, owners by tgid, wire-only causes, a late RST's rst_by), made by this file run as a script:

    PYTHONPATH=OLD_CHECKOUT python tests/watch_stories.py > tests/data/watch-stories.json
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "scripts"))
from test_pcapng import big_endian  # noqa: E402

from tuiexplore.watch.command import record  # noqa: E402
from tuiexplore.watch.engine import Options, Watch  # noqa: E402

DATA = Path(__file__).parent / "data"
WORLD = (DATA / "watch-world.pcap").read_bytes()
MULTI = (DATA / "pcapng" / "multi.pcapng").read_bytes()


def _records(raw: bytes) -> list[tuple[int, int, bytes]]:
    out, at = [], 24
    while at < len(raw):
        sec, usec, incl, _ = struct.unpack_from("<IIII", raw, at)
        out.append((sec, usec, raw[at + 16 : at + 16 + incl]))
        at += 16 + incl
    return out


def _pcap(e: str, magic: int, frac: int, link: int, frames: list[tuple[int, int, bytes]]) -> bytes:
    out = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 65535, link)
    return out + b"".join(struct.pack(e + "IIII", s, f * frac, len(d), len(d)) + d for s, f, d in frames)


def _ethernet(frames: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """Each frame behind an Ethernet header, every other one also behind a VLAN tag; an ARP
    frame and a runt (shorter than an Ethernet header) in between: frames, but not IP."""
    out = []
    for i, (s, f, d) in enumerate(frames):
        kind = b"\x86\xdd" if d[0] >> 4 == 6 else b"\x08\x00"
        out.append((s, f, b"\x02" * 12 + (b"\x81\x00\x00\x05" if i % 2 else b"") + kind + d))
        if i % 7 == 3:
            out.append((s, f, b"\xff" * 12 + b"\x08\x06" + b"\x00" * 28))
        if i % 11 == 5:
            out.append((s, f, b"\x02" * 10))
    return out


def _synthetic() -> bytes:
    import tempfile

    from bench_watch import synth_pcap

    with tempfile.NamedTemporaryFile() as f:
        synth_pcap(f.name, 20_000)  # 1.5 MB: more than one read of the batched reader
        return Path(f.name).read_bytes()


def _first_block(raw: bytes) -> int:
    return struct.unpack_from("<I", raw, 4)[0]


VARIANTS: dict[str, Callable[[], bytes]] = {
    "world": lambda: WORLD,
    "world-big-endian": lambda: _pcap(">", 0xA1B2C3D4, 1, 101, _records(WORLD)),
    "world-nanoseconds": lambda: _pcap("<", 0xA1B23C4D, 1000, 101, _records(WORLD)),
    "world-ethernet-vlan": lambda: _pcap("<", 0xA1B2C3D4, 1, 1, _ethernet(_records(WORLD))),
    "world-cut-in-a-header": lambda: WORLD[: len(WORLD) - len(_records(WORLD)[-1][2]) - 9],
    "world-cut-in-a-packet": lambda: WORLD[:-7],
    "world-lying-caplen": lambda: WORLD + struct.pack("<IIII", 1, 0, 0xFFFFFFF0, 0xFFFFFFF0) + b"x" * 64,
    "world-caplen-over-snaplen": lambda: WORLD + struct.pack("<IIII", 1, 0, 65536, 65536) + b"x" * 64,
    "lo-ethernet": lambda: (DATA / "pcapng" / "lo.pcap").read_bytes(),
    "any-cooked": lambda: (DATA / "pcapng" / "any.pcap").read_bytes(),
    "world-pcapng": lambda: (DATA / "pcapng" / "watch-world.pcapng").read_bytes(),
    "multi-pcapng": lambda: MULTI,
    "multi-pcapng-big-endian": lambda: big_endian(MULTI),
    "multi-pcapng-cut": lambda: MULTI[:-30],
    "multi-pcapng-lying-block": lambda: MULTI[: _first_block(MULTI)] + struct.pack("<II", 6, 0xFFFFFFF0),
    "synthetic-20k": _synthetic,
}


# --count N stops part-way through what a read brought: the frames counted stop there too
COUNTED = {"world": (2,), "synthetic-20k": (3, 250)}


class Dribble(io.BytesIO):
    """A stream that hands over at most ``size`` bytes a read, as a slow pipe does."""

    def __init__(self, data: bytes, size: int) -> None:
        super().__init__(data)
        self.size = size

    def read(self, n: int | None = -1, /) -> bytes:
        return super().read(self.size if n is None or n < 0 else min(n, self.size))

    def read1(self, n: int = -1, /) -> bytes:
        return self.read(n)


def stories(path: Path, dribble: int = 0, count: int | None = None) -> dict:
    stream = Dribble(path.read_bytes(), dribble) if dribble else None
    w = Watch(Options(read="-" if dribble else str(path), stream=stream, count=count))  # type: ignore[arg-type]
    w.start()
    w.run()
    st = w.stats()
    w.close()
    conns = []
    for c in w.tracker.conns():
        ring = [[i, d, *(getattr(p, f.name) for f in fields(p) if f.name != "head"), p.head.hex()] for i, d, p in c.ring]
        conns.append({"record": record(c), "ring": ring, "events": [list(e) for e in c.events], "state": c.state()})
    notes = [n.replace(str(path), "FILE").replace("stdin", "FILE") for n in w.source.notes]
    return {"frames": st.received, "packets": st.packets, "connections": conns, "notes": notes}


def digest(story: dict) -> str:
    return hashlib.sha256(json.dumps(story, sort_keys=True).encode()).hexdigest()


def main() -> None:
    import tempfile

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in VARIANTS.items():
            path = Path(tmp) / name
            path.write_bytes(make())
            s = stories(path)
            for key, story in ((name, s), *((f"{name} --count {n}", stories(path, count=n)) for n in COUNTED.get(name, ()))):
                counts = {"frames": story["frames"], "packets": story["packets"], "connections": len(story["connections"])}
                out[key] = {**counts, "digest": digest(story)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
