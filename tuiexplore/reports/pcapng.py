"""The lab's capture as pcapng, each frame the relay's wire did something to carrying its mark
as the packet's comment (``opt_comment`` of its Enhanced Packet Block): "relay: held #5",
"relay: #4 released <11>", "relay: dropped", ... as the packet list shows them (relaymarks.py).
Classic pcap has no room for them; Wireshark shows the comments, tcpdump reads the packets.

Made from the classic pcap the lab sends (frame N of it is packet #N of the timeline) and the
timeline, so the frames and their times are the lab's own, byte for byte.
"""

from __future__ import annotations

import struct

from tuiexplore.files import write_file
from tuiexplore.reports import relaymarks
from tuiexplore.timeline import Event, PacketEvent

SHB, IDB, EPB = 0x0A0D0D0A, 1, 6
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_END, OPT_COMMENT, SHB_USERAPPL = 0, 1, 4
PCAP_MAGIC = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">"}  # microsecond timestamps


def write(paths: list[str], pcap: bytes, events: list[Event]) -> None:
    """Each capture file from the same frames (Lab.pcap()): pcapng with the marks for a
    ``.pcapng`` name, else the classic pcap as the lab sent it (a FileError names the path)."""
    for path in paths:
        write_file(path, marked(pcap, events) if path.endswith(".pcapng") else pcap)


def comments(events: list[Event]) -> dict[int, str]:
    """Packet number -> its comment, for the packets the relay marked."""
    released = relaymarks.releases(events)
    out = {}
    for e in events:
        if isinstance(e, PacketEvent) and (text := relaymarks.mark(e, released)):
            out[e.index] = f"relay: {text}"
    return out


def marked(pcap: bytes, events: list[Event]) -> bytes:
    """The classic pcap's frames as pcapng, with the relay's marks from ``events`` as comments."""
    order = PCAP_MAGIC.get(pcap[:4])
    if order is None or len(pcap) < 24:
        raise ValueError("not a classic pcap with microsecond timestamps")
    snaplen, linktype = struct.unpack_from(order + "II", pcap, 16)
    said = comments(events)
    out = [_block(SHB, struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + _options([(SHB_USERAPPL, "tuiexplore")]))]
    out.append(_block(IDB, struct.pack("<HHI", linktype, 0, snaplen) + _options([])))
    at, n = 24, 0
    while at + 16 <= len(pcap):
        sec, usec, caplen, wirelen = struct.unpack_from(order + "IIII", pcap, at)
        data = pcap[at + 16 : at + 16 + caplen]
        at += 16 + caplen
        n += 1
        ts = sec * 1_000_000 + usec  # if_tsresol left at its default, microseconds
        head = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(data), wirelen)
        note = [(OPT_COMMENT, said[n])] if n in said else []
        out.append(_block(EPB, head + _pad(data) + _options(note)))
    return b"".join(out)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _options(options: list[tuple[int, str]]) -> bytes:
    """The options, then opt_endofopt; none at all when there are none (the format allows it)."""
    if not options:
        return b""
    body = b"".join(struct.pack("<HH", code, len(v := text.encode())) + _pad(v) for code, text in options)
    return body + struct.pack("<HH", OPT_END, 0)


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)
