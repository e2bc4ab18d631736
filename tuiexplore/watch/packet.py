"""One captured TCP segment, decoded with struct from the IP header on (IPv4 and IPv6).

Every source hands over the network-layer bytes (a live SOCK_DGRAM packet socket starts there;
pcap link headers are stripped by the reader), so one parser serves all. Parsing costs about a
microsecond: one unpack for the IP header, one for TCP's, addresses named from a cache; scapy's
dissection (~100 us) is kept for the one packet a user selects.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from tuiexplore.lab.capture import tcpdump_flags

KEEP_BYTES = 128  # bytes of each packet kept in memory: the headers, a glimpse of payload
_IPV6_EXT = {0, 43, 60}  # hop-by-hop, routing, destination options: skipped to find TCP
_V4 = struct.Struct("!BxHxxHxBxx4s4s").unpack_from  # version+IHL, total length, fragment, protocol, addresses
_V6 = struct.Struct("!4xHBx16s16s").unpack_from  # payload length, next header, addresses
_TCP = struct.Struct("!HHIIHH").unpack_from  # ports, seq, ack, data offset+flags, window
_NAMES: dict[bytes, str] = {}  # an address's bytes -> its text: a box talks to few addresses
MAX_NAMES = 1 << 16

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs 0.5 us more, a packet
class Pkt:
    ts: float
    src: str
    dst: str
    sport: int
    dport: int
    seq: int
    ack: int
    bits: int
    win: int
    length: int  # TCP payload bytes
    options: bool  # TCP options present: reply resets never carry any
    head: bytes  # the first KEEP_BYTES of the IP packet, for the detail pane

    @property
    def flags(self) -> str:
        return tcpdump_flags(self.bits)

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ":" in self.src else socket.AF_INET

    def src_ep(self) -> str:
        return endpoint(self.src, self.sport)

    def dst_ep(self) -> str:
        return endpoint(self.dst, self.dport)


def endpoint(addr: str, port: int) -> str:
    """ip:port as the JSON output and tcpdump's users write it ([v6]:port for IPv6)."""
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def parse_endpoint(text: str) -> tuple[str, int] | None:
    """The tracepoints' "ip:port" / "[v6]:port" back to (address, port)."""
    addr, _, port = text.rpartition(":")
    if not port.isdigit():
        return None
    return _unmap(addr.strip("[]")), int(port)


def parse_ip(ts: float, data: bytes) -> Pkt | None:
    """A TCP segment from an IPv4 or IPv6 packet, or None (other protocols, fragments, truncated)."""
    n = len(data)
    if n < 20:
        return None
    version = data[0] >> 4
    if version == 4:
        vihl, end, frag, proto, src, dst = _V4(data)
        if proto != socket.IPPROTO_TCP or frag & 0x1FFF:
            return None
        off = (vihl & 0x0F) * 4
    elif version == 6:
        if n < 40:
            return None
        size, nxt, src, dst = _V6(data)
        off = 40
        while nxt in _IPV6_EXT and n >= off + 8:
            nxt, off = data[off], off + (data[off + 1] + 1) * 8
        if nxt != socket.IPPROTO_TCP:
            return None
        end = 40 + size
    else:
        return None
    if n < off + 20:
        return None
    sport, dport, seq, ack, off_flags, win = _TCP(data, off)
    doff = (off_flags >> 12) * 4
    length = end - off - doff
    return Pkt(
        ts,
        _NAMES.get(src) or _name(src),
        _NAMES.get(dst) or _name(dst),
        sport,
        dport,
        seq,
        ack,
        off_flags & 0xFF,
        win,
        length if length > 0 else 0,
        doff > 20,
        data[:KEEP_BYTES],
    )


def _name(raw: bytes) -> str:
    """An address's text, kept for the next packet (the cache is emptied when full: bounded memory)."""
    if len(_NAMES) >= MAX_NAMES:
        _NAMES.clear()
    name = _NAMES[raw] = _unmap(socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw))
    return name


def _unmap(addr: str) -> str:
    """IPv4-mapped IPv6 (a dual-stack socket's view) as plain IPv4, so both views name one endpoint."""
    return addr[7:] if addr.startswith("::ffff:") and "." in addr else addr


def dissect(p: Pkt) -> str:
    """scapy's full dissection of the kept bytes, for the one packet a user selects."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    layer = IPv6 if p.family == socket.AF_INET6 else IP
    return layer(p.head).show(dump=True) or ""  # typed Optional: None is show() without dump
