"""One captured TCP segment, decoded with struct from the IP header on (IPv4 and IPv6).

Every source hands over the network-layer bytes (a live SOCK_DGRAM packet socket starts there;
pcap link headers are stripped by the reader), so one parser serves all. Parsing costs a few
microseconds; scapy's dissection (~100 us) is kept for the one packet a user selects.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from tuiexplore.lab.capture import tcpdump_flags

KEEP_BYTES = 128  # bytes of each packet kept in memory: the headers, a glimpse of payload
_IPV6_EXT = {0, 43, 60}  # hop-by-hop, routing, destination options: skipped to find TCP

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass(frozen=True, slots=True)
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
    if len(data) < 20:
        return None
    version = data[0] >> 4
    if version == 4:
        if data[9] != socket.IPPROTO_TCP or struct.unpack_from("!H", data, 6)[0] & 0x1FFF:
            return None
        ihl = (data[0] & 0x0F) * 4
        total = struct.unpack_from("!H", data, 2)[0]
        src, dst = socket.inet_ntop(socket.AF_INET, data[12:16]), socket.inet_ntop(socket.AF_INET, data[16:20])
        off, end = ihl, total
    elif version == 6:
        if len(data) < 40:
            return None
        nxt, off = data[6], 40
        while nxt in _IPV6_EXT and len(data) >= off + 8:
            nxt, off = data[off], off + (data[off + 1] + 1) * 8
        if nxt != socket.IPPROTO_TCP:
            return None
        src, dst = socket.inet_ntop(socket.AF_INET6, data[8:24]), socket.inet_ntop(socket.AF_INET6, data[24:40])
        end = 40 + struct.unpack_from("!H", data, 4)[0]
    else:
        return None
    if len(data) < off + 20:
        return None
    sport, dport, seq, ack, off_flags, win = struct.unpack_from("!HHIIHH", data, off)
    doff = (off_flags >> 12) * 4
    return Pkt(
        ts,
        _unmap(src),
        _unmap(dst),
        sport,
        dport,
        seq,
        ack,
        off_flags & 0xFF,
        win,
        max(0, end - off - doff),
        doff > 20,
        bytes(data[:KEEP_BYTES]),
    )


def _unmap(addr: str) -> str:
    """IPv4-mapped IPv6 (a dual-stack socket's view) as plain IPv4, so both views name one endpoint."""
    return addr[7:] if addr.startswith("::ffff:") and "." in addr else addr


def dissect(p: Pkt) -> str:
    """scapy's full dissection of the kept bytes, for the one packet a user selects."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6

    layer = IPv6 if p.family == socket.AF_INET6 else IP
    return layer(p.head).show(dump=True) or ""  # typed Optional: None is show() without dump
