"""The Internet checksum (RFC 1071), for the segments the lab builds itself (the relay's scripted
peer, a packetdrill script's injected packets)."""

from __future__ import annotations

import struct


def internet_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
