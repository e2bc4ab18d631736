"""Building one TCP segment as the remote end would send it (IPv4, checksums computed), and the
connection as the relay has seen it: ISNs, what each side has delivered, windows, timestamps.

The scripted peer (``peer.py``) takes every default from here, so an injected RST carries
exactly the receiver's RCV.NXT: the end of what the relay delivered to it (RFC 5961 §3.2; one
off and Linux answers with a challenge ACK instead of resetting).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field
from typing import Any

from tuiexplore.checksum import internet_checksum
from tuiexplore.lab.capture import Frame

SYN, FIN, ACK = 0x02, 0x01, 0x10
_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, ".": 0x10, "U": 0x20, "E": 0x40, "W": 0x80}
MOD = 1 << 32


def flag_bits(letters: str) -> int:
    bits = 0
    for c in letters:
        bits |= _BITS[c]
    return bits


def after(a: int, b: int) -> bool:
    """Sequence number ``a`` is later than ``b`` (mod 2^32)."""
    return 0 < (a - b) % MOD < MOD // 2


@dataclass
class Direction:
    """One direction of the connection, from the frames the relay delivered."""

    isn: int | None = None
    nxt: int | None = None  # the end of what was delivered (the receiver's RCV.NXT)
    win: int = 0
    ts_val: int | None = None
    l2: bytes = b""  # its Ethernet addresses (destination, source)
    addrs: tuple[str, str, int, int] = ("", "", 0, 0)  # (saddr, daddr, sport, dport)


@dataclass
class Connection:
    ends: dict[tuple[str, int], Direction] = field(default_factory=dict)  # (saddr, sport) -> direction

    @classmethod
    def last(cls, frames: list[Frame], undelivered: set[int], port: int) -> Connection | None:
        """The lab port's most recent connection (from its last SYN), or None."""
        start = next((i for i in range(len(frames) - 1, -1, -1) if _is_syn(frames[i], port)), None)
        if start is None:
            return None
        syn = frames[start]
        key = {(syn.saddr, syn.sport), (syn.daddr, syn.dport)}
        conn = cls()
        for f in frames[start:]:
            if {(f.saddr, f.sport), (f.daddr, f.dport)} != key:
                continue
            d = conn.ends.setdefault((f.saddr, f.sport), Direction())
            d.l2, d.addrs, d.win = f.raw[:12], (f.saddr, f.daddr, f.sport, f.dport), f.win
            if f.flag_bits & SYN:
                d.isn = f.seq
            ts = _ts_val(f)
            d.ts_val = ts if ts is not None else d.ts_val
            if id(f) in undelivered:  # dropped, or still held: the receiver has not had it
                continue
            size = f.payload_len + bool(f.flag_bits & SYN) + bool(f.flag_bits & FIN)
            end = (f.seq + size) % MOD
            # Only what occupies sequence space moves RCV.NXT: not an RST or a bare ACK (an
            # injected RST with a wrong seq must not become the next one's default).
            if size and (d.nxt is None or after(end, d.nxt)):
                d.nxt = end
        return conn

    def of(self, addr: str) -> tuple[Direction, Direction] | None:
        """(the direction ``addr`` sends, the one it receives), once both have been seen."""
        mine = next((d for (a, _), d in self.ends.items() if a == addr), None)
        theirs = next((d for (a, _), d in self.ends.items() if a != addr), None)
        return (mine, theirs) if mine and theirs else None


def _is_syn(f: Frame, port: int) -> bool:
    return f.flag_bits & (SYN | ACK) == SYN and f.dport == port


def _ts_val(f: Frame) -> int | None:
    marker = "TS val "
    if marker not in f.options:
        return None
    return int(f.options.split(marker, 1)[1].split()[0])


def build(l2: bytes, addrs: tuple[str, str, int, int], seq: int, ack: int, bits: int, win: int, payload: bytes, ts: Any) -> bytes:
    """An Ethernet frame with one IPv4/TCP segment from ``addrs`` (saddr, daddr, sport, dport),
    both checksums right; ``ts``: (TS val, TS ecr) or None for no options."""
    saddr, daddr, sport, dport = addrs
    opts = struct.pack("!BBBBII", 1, 1, 8, 10, ts[0] % MOD, ts[1] % MOD) if ts else b""
    doff = (20 + len(opts)) // 4
    src, dst = socket.inet_aton(saddr), socket.inet_aton(daddr)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq % MOD, ack % MOD, doff << 4, bits, win & 0xFFFF, 0, 0) + opts + payload
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", internet_checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, socket.IPPROTO_TCP, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", internet_checksum(ip)) + ip[12:]
    return l2 + b"\x08\x00" + ip + tcp
