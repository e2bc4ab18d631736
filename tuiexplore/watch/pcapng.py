"""pcapng, the format Wireshark, dumpcap and tshark write by default: read as a stream (a file
or stdin), block by block, never trusting a length before it is bounded.

Read: section header blocks (each sets the byte order and starts a new list of interfaces),
interface description blocks (link type, snap length, ``if_tsresol``, ``if_tsoffset``), enhanced
and simple packet blocks and the obsolete packet block; every other block is skipped by its
length. Each packet is returned with its interface's link type, so one file may hold several.
Packets come in batches: all those the buffer holds, handed over before a read that may wait.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from tuiexplore.watch.pcapread import Buffer

SHB = 0x0A0D0D0A
IDB, OPB, SPB, EPB = 1, 2, 3, 6
BYTE_ORDER = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
MAX_BLOCK = 1 << 20  # no block of a capture we can use is larger (packets are cut at MAX_PACKET)
MAX_PACKET = 256 * 1024


class PcapngError(ValueError):
    """The stream is not pcapng as the format defines it: one line for the user."""


@dataclass
class Interface:
    linktype: int
    snaplen: int
    unit: float = 1e-6  # seconds per timestamp tick (if_tsresol)
    offset: int = 0  # seconds added to every timestamp (if_tsoffset)


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs four times as much a packet
class Packet:
    ts: float
    linktype: int
    data: bytes


class PcapngReader:
    """``buf``: the stream, from its first byte (the caller has looked at the magic in it)."""

    def __init__(self, buf: Buffer) -> None:
        self._buf = buf
        self.endian = "<"
        self.interfaces: list[Interface] = []
        self.notes: list[str] = []
        self._last_ts = 0.0

    def _read(self, n: int) -> bytes:
        return self._buf.take(n)

    def _u32(self, b: bytes, at: int = 0) -> int:
        return struct.unpack_from(self.endian + "I", b, at)[0]

    def blocks(self) -> Iterator[tuple[int, bytes] | None]:
        """(type, body) of each block, the byte order following each section header; None before
        a read that may wait for the input."""
        buf = self._buf
        while True:
            data, at = buf.data, buf.pos
            if len(data) - at >= 12 and data[at : at + 4] != b"\x0a\x0d\x0d\x0a":
                # the common case, read in place: a whole block (not a section header) in the buffer
                kind, length = struct.unpack_from(self.endian + "II", data, at)
                end = at + length
                if 12 <= length <= MAX_BLOCK and not length % 4 and end <= len(data):
                    if struct.unpack_from(self.endian + "I", data, end - 4)[0] != length:
                        raise PcapngError(f"a pcapng block of type {kind:#x}: its two lengths differ")
                    buf.pos = end
                    yield kind, data[at + 8 : end - 4]
                    continue
            if buf.available() < 8:
                yield None
            head = self._read(8)
            if not head:
                return
            if len(head) < 8:
                self.notes.append("the capture ended in the middle of a pcapng block header")
                return
            if head[:4] == b"\x0a\x0d\x0d\x0a":  # a section header: its own byte order follows
                magic = self._read(4)
                if magic not in BYTE_ORDER:
                    raise PcapngError(f"a pcapng section header with a bad byte-order magic ({magic.hex()})")
                self.endian, pre = BYTE_ORDER[magic], magic
            else:
                pre = b""
            kind, length = self._u32(head), self._u32(head, 4)
            if length < 12 + len(pre) or length % 4 or length > MAX_BLOCK:
                raise PcapngError(f"a pcapng block of type {kind:#x} claims {length} bytes (12 to {MAX_BLOCK}, a multiple of 4)")
            if buf.available() < length - 8 - len(pre):
                yield None
            rest = self._read(length - 8 - len(pre))
            if len(rest) < length - 8 - len(pre):
                self.notes.append("the capture ended in the middle of a pcapng block")
                return
            body = pre + rest[:-4]
            if self._u32(rest, len(rest) - 4) != length:
                raise PcapngError(f"a pcapng block of type {kind:#x}: its two lengths differ")
            yield kind, body

    def batches(self) -> Iterator[list[Packet]]:
        """The packets, a batch at a time; those read before a damaged block come first."""
        out: list[Packet] = []
        try:
            for block in self.blocks():
                if block is None:
                    if out:
                        yield out
                        out = []
                    continue
                kind, body = block
                if kind == SHB:
                    self.interfaces = []  # a new section: interface ids start again
                elif kind == IDB:
                    self.interfaces.append(self._interface(body))
                elif kind in (EPB, OPB, SPB):
                    out.append(self._packet(kind, body))
        except PcapngError:
            if out:
                yield out
            raise
        if out:
            yield out

    def _interface(self, body: bytes) -> Interface:
        if len(body) < 8:
            raise PcapngError("a pcapng interface description block shorter than 8 bytes")
        linktype, _, snaplen = struct.unpack_from(self.endian + "HHI", body)
        iface = Interface(linktype, snaplen)
        for code, value in self._options(body[8:]):
            if code == 9 and len(value) >= 1:  # if_tsresol: 10^-n, or 2^-n with the top bit set
                n = value[0] & 0x7F
                iface.unit = 2.0**-n if value[0] & 0x80 else 10.0**-n
            elif code == 14 and len(value) >= 8:  # if_tsoffset: seconds
                iface.offset = struct.unpack_from(self.endian + "q", value)[0]
        return iface

    def _options(self, raw: bytes) -> Iterator[tuple[int, bytes]]:
        at = 0
        while at + 4 <= len(raw):
            code, size = struct.unpack_from(self.endian + "HH", raw, at)
            if code == 0:  # opt_endofopt
                return
            yield code, raw[at + 4 : at + 4 + size]
            at += 4 + size + (-size % 4)

    def _packet(self, kind: int, body: bytes) -> Packet:
        if kind == SPB:  # interface 0, no timestamp: the previous packet's is the best guess
            if len(body) < 4 or not self.interfaces:
                raise PcapngError("a pcapng simple packet block before any interface")
            iface, ts = self.interfaces[0], self._last_ts
            size = min(self._u32(body), iface.snaplen or len(body) - 4, len(body) - 4)
            data = body[4 : 4 + size]
        else:
            if len(body) < 20:
                raise PcapngError("a pcapng packet block shorter than its fixed fields")
            if kind == EPB:
                iface_id, high, low, caplen = struct.unpack_from(self.endian + "IIII", body)
            else:  # the obsolete packet block: a 16-bit interface id and a drop count
                iface_id, _, high, low, caplen = struct.unpack_from(self.endian + "HHIII", body)
            if iface_id >= len(self.interfaces):
                raise PcapngError(f"a pcapng packet on interface {iface_id}, which no interface block described")
            if caplen > min(len(body) - 20, MAX_PACKET):
                raise PcapngError(f"a pcapng packet of {caplen} bytes in a block of {len(body) + 12}")
            iface = self.interfaces[iface_id]
            ts = iface.offset + ((high << 32) | low) * iface.unit
            data = body[20 : 20 + caplen]
        self._last_ts = ts
        return Packet(ts, iface.linktype, data)
