"""A packet socket's receive ring (PACKET_RX_RING, TPACKET_V3), mapped into our memory.

The kernel writes packets into blocks of the ring and hands a block over when it is full or
``RETIRE_MS`` after its first packet; we read every packet of the block from the mapping (no
system call a packet) and hand the block back. A full ring is counted as drops, as a full
socket buffer is (PACKET_STATISTICS). Linux's packet_mmap.rst describes the layout.
"""

from __future__ import annotations

import mmap
import socket
import struct

SOL_PACKET = 263
PACKET_RX_RING = 5
PACKET_VERSION = 10
TPACKET_V3 = 2
TP_STATUS_KERNEL, TP_STATUS_USER = 0, 1
BLOCK = 1 << 18  # a block holds any packet lo can carry (64 KiB) whole
# A block is handed over when full or RETIRE_MS after it was opened, full or not: 64 blocks keep
# the packets of a reader stalled for 3.2 s at any rate up to the one that fills them (16 MiB:
# about 2 s of 50k small packets a second). 16 blocks of 20 ms dropped packets at 22k a second
# with the reader starved by other work for a third of a second. The kernel maps the whole ring
# into us at mmap(): 16 MiB resident a socket, the capture's memory.
BLOCKS = 64
FRAME = 1 << 11  # only sizes the kernel's frame count; TPACKET_V3 packs packets of any length
RETIRE_MS = 50  # a block with packets is handed over at most this late: the screen follows
_REQ = struct.Struct("7I")  # struct tpacket_req3
_BLOCK_HDR = struct.Struct("III")  # tpacket_hdr_v1: block_status, num_pkts, offset_to_first_pkt (at 8)
_PKT_HDR = struct.Struct("IIIIIIHH")  # tpacket3_hdr: next_offset, sec, nsec, snaplen, len, status, mac, net
_STATUS = struct.Struct("I")


class Ring:
    """Raises OSError where the kernel refuses a ring (the caller reads with recvmsg instead)."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, _REQ.pack(BLOCK, BLOCKS, FRAME, BLOCK // FRAME * BLOCKS, RETIRE_MS, 0, 0))
        self.map = mmap.mmap(sock.fileno(), BLOCK * BLOCKS, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self.next = 0  # the block the kernel hands over next

    def drain(self, out: list[tuple[float, bytes | None]]) -> None:
        """The packets of the next block handed over, if any, appended to ``out``; the block goes
        back. One block a call: a batch stays small (in the CPU's cache; the view's lock held
        briefly) even when a stalled reader finds the whole ring full."""
        m, base = self.map, self.next * BLOCK
        status, count, at = _BLOCK_HDR.unpack_from(m, base + 8)
        if not status & TP_STATUS_USER:
            return
        at += base
        pkt_hdr = _PKT_HDR.unpack_from
        for _ in range(count):
            step, sec, nsec, snaplen, _len, _status, _mac, net = pkt_hdr(m, at)
            out.append((sec + nsec * 1e-9, m[at + net : at + net + snaplen]))
            at += step
        _STATUS.pack_into(m, base + 8, TP_STATUS_KERNEL)
        self.next = (self.next + 1) % BLOCKS

    def close(self) -> None:
        self.map.close()
