"""IP/TCP packets as bytes on the script's device (packetdrill's ``packet.c``, ``tcp_options.c``):
decoding what the kernel sent, and building what the scripted peer injects, IPv4 or IPv6, with
both checksums right. Options keep their order, ``nop`` padding included: the scripts check it.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from tuiexplore.checksum import internet_checksum

from .script import TcpOption

MOD = 1 << 32
_BITS = (("F", 0x01), ("S", 0x02), ("R", 0x04), ("P", 0x08), ("U", 0x20), ("E", 0x40), ("W", 0x80))
ACK_BIT = 0x10


def flag_bits(letters: str) -> int:
    bits = ACK_BIT if "." in letters else 0
    for letter, bit in _BITS:
        if letter in letters:
            bits |= bit
    return bits


def flag_text(bits: int) -> str:
    """packetdrill's spelling: the letters, then ``.`` for ACK (``F.``, ``S.``, ``P.``, ``R``)."""
    return "".join(letter for letter, bit in _BITS if bits & bit) + ("." if bits & ACK_BIT else "")


@dataclass(frozen=True)
class Live:
    """One TCP segment as it was on the device."""

    family: int
    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    bits: int
    win: int
    urg: int
    options: tuple[TcpOption, ...]
    payload: int

    @property
    def flags(self) -> str:
        return flag_text(self.bits)

    def ts(self) -> tuple[int, int] | None:
        o = next((o for o in self.options if o.kind == "TS"), None)
        return (o.val or 0, o.ecr or 0) if o else None


def decode(data: bytes) -> Live | None:
    """The TCP segment in an IP packet, or None (not TCP, or cut short)."""
    if len(data) < 20:
        return None
    version = data[0] >> 4
    if version == 4:
        ihl = (data[0] & 0x0F) * 4
        if data[9] != socket.IPPROTO_TCP:
            return None
        family, src, dst = socket.AF_INET, socket.inet_ntoa(data[12:16]), socket.inet_ntoa(data[16:20])
        total = struct.unpack_from("!H", data, 2)[0]
        tcp = data[ihl:total]
    elif version == 6 and len(data) >= 40:
        if data[6] != socket.IPPROTO_TCP:  # extension headers: none on what a TCP socket sends here
            return None
        family = socket.AF_INET6
        src, dst = socket.inet_ntop(family, data[8:24]), socket.inet_ntop(family, data[24:40])
        tcp = data[40 : 40 + struct.unpack_from("!H", data, 4)[0]]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack, off, bits, win, _, urg = struct.unpack_from("!HHIIBBHHH", tcp)
    doff = (off >> 4) * 4
    return Live(family, src, dst, sport, dport, seq, ack, bits, win, urg, parse_options(tcp[20:doff]), len(tcp) - doff)


def parse_options(raw: bytes) -> tuple[TcpOption, ...]:
    out: list[TcpOption] = []
    i = 0
    while i < len(raw):
        kind = raw[i]
        if kind == 0:
            out.append(TcpOption("eol"))
            break
        if kind == 1:
            out.append(TcpOption("nop"))
            i += 1
            continue
        if i + 1 >= len(raw) or raw[i + 1] < 2:
            break
        size = raw[i + 1]
        body = raw[i + 2 : i + size]
        i += size
        if kind == 2 and len(body) == 2:
            out.append(TcpOption("mss", value=struct.unpack("!H", body)[0]))
        elif kind == 3 and len(body) == 1:
            out.append(TcpOption("wscale", value=body[0]))
        elif kind == 4:
            out.append(TcpOption("sackOK"))
        elif kind == 5:
            blocks = tuple(struct.unpack_from("!II", body, j) for j in range(0, len(body) - 7, 8))
            out.append(TcpOption("sack", blocks=blocks))
        elif kind == 8 and len(body) == 8:
            val, ecr = struct.unpack("!II", body)
            out.append(TcpOption("TS", val=val, ecr=ecr))
        elif kind == 34:
            out.append(TcpOption("FO", cookie=body.hex()))
        elif kind == 254 and body[:2] == b"\xf9\x89":
            out.append(TcpOption("FOEXP", cookie=body[2:].hex()))
        else:
            out.append(TcpOption(f"kind{kind}", cookie=body.hex()))
    return tuple(out)


def option_bytes(options: tuple[TcpOption, ...]) -> bytes:
    out = b""
    for o in options:
        if o.kind == "nop":
            out += b"\x01"
        elif o.kind == "eol":
            out += b"\x00"
        elif o.kind == "mss":
            out += struct.pack("!BBH", 2, 4, o.value or 0)
        elif o.kind == "wscale":
            out += struct.pack("!BBB", 3, 3, o.value or 0)
        elif o.kind == "sackOK":
            out += b"\x04\x02"
        elif o.kind == "sack":
            out += struct.pack("!BB", 5, 2 + 8 * len(o.blocks)) + b"".join(
                struct.pack("!II", a % MOD, b % MOD) for a, b in o.blocks
            )
        elif o.kind == "TS":
            out += struct.pack("!BBII", 8, 10, (o.val or 0) % MOD, (o.ecr or 0) % MOD)
        elif o.kind in ("FO", "FOEXP"):
            cookie = bytes.fromhex(o.cookie or "")
            out += (
                struct.pack("!BB", 34, 2 + len(cookie)) + cookie
                if o.kind == "FO"
                else struct.pack("!BB", 254, 4 + len(cookie)) + b"\xf9\x89" + cookie
            )
        else:
            raise ValueError(f"the {o.kind} option cannot be injected")
    return out + b"\x00" * (-len(out) % 4)


def build(seg: Live) -> bytes:
    """The IP packet that carries ``seg`` (its payload zeros, as packetdrill's)."""
    opts = option_bytes(seg.options)
    head = struct.pack(
        "!HHIIBBHHH",
        seg.sport,
        seg.dport,
        seg.seq % MOD,
        seg.ack % MOD,
        (20 + len(opts)) // 4 << 4,
        seg.bits,
        seg.win,
        0,
        seg.urg,
    )
    tcp = head + opts + b"\0" * seg.payload
    src, dst = socket.inet_pton(seg.family, seg.src), socket.inet_pton(seg.family, seg.dst)
    if seg.family == socket.AF_INET:
        pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    else:
        pseudo = src + dst + struct.pack("!I3xB", len(tcp), socket.IPPROTO_TCP)
    tcp = tcp[:16] + struct.pack("!H", internet_checksum(pseudo + tcp)) + tcp[18:]
    if seg.family == socket.AF_INET:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, socket.IPPROTO_TCP, 0, src, dst)
        return ip[:10] + struct.pack("!H", internet_checksum(ip)) + ip[12:] + tcp
    return struct.pack("!IHBB16s16s", 6 << 28, len(tcp), socket.IPPROTO_TCP, 64, src, dst) + tcp
