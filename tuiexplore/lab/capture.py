"""Capturing the lab's loopback with scapy: every packet once, as tcpdump shows it.

Measured facts this relies on (shared/notes/capture.md):
- on ``lo`` a packet socket sees every frame twice (OUTGOING then HOST); PACKET_IGNORE_OUTGOING
  makes the kernel queue only one copy, which is what tcpdump shows;
- scapy's default 64 KiB receive buffer loses bursts; root may force 32 MiB with SO_RCVBUFFORCE;
- the sniffer opens its socket on its own thread and reports failures only in ``.exception``, so
  start-up waits for ``started_callback`` and then checks it.
Only the scapy modules needed are imported (``scapy.all`` costs half a second).
"""

from __future__ import annotations

import ctypes
import io
import queue
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tuiexplore.tcpdump import tcp_options
from tuiexplore.timeline import PacketEvent

SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_IGNORE_OUTGOING = 23
SO_RCVBUFFORCE = 33
SO_ATTACH_FILTER = 26
CAPTURE_BUFFER = 32 * 1024 * 1024

# tcpdump's order of flag letters (print-tcp.c, tcp_flag_values).
_FLAG_LETTERS = ((0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"), (0x10, "."), (0x20, "U"), (0x40, "E"), (0x80, "W"))


def tcpdump_flags(bits: int) -> str:
    return "".join(letter for bit, letter in _FLAG_LETTERS if bits & bit) or "none"


@dataclass(frozen=True)
class Frame:
    """One captured TCP segment, decoded just enough for the timeline (full dissection on demand)."""

    ts: float
    raw: bytes
    saddr: str
    daddr: str
    sport: int
    dport: int
    seq: int
    ack: int
    flag_bits: int
    win: int
    payload_len: int
    options: str = ""  # tcpdump's words, e.g. "mss 65495,sackOK,TS val 1 ecr 0,nop,wscale 7"

    @property
    def flags(self) -> str:
        return tcpdump_flags(self.flag_bits)

    def event(self, t: float, src: str, dst: str, seq: int, ack: int, step: int | None, index: int) -> PacketEvent:
        """This segment on the timeline, as whoever attributed it (lab or tracer) names its ends."""
        return PacketEvent(
            t,
            src,
            dst,
            self.sport,
            self.dport,
            self.flags,
            seq,
            ack,
            self.payload_len,
            self.win,
            step,
            index,
            self.raw,
            self.options,
        )


# IPv6 extension headers that may sit between the fixed header and TCP (RFC 8200 §4.1): each
# starts with (next header, length in 8-octet units beyond the first 8).
_IPV6_EXTENSIONS = (0, 43, 60)


def _ip_header(ip: bytes) -> tuple[str, str, bytes, int] | None:
    """(source, destination, the TCP segment, its length from the IP header) of an IPv4 or IPv6
    packet carrying TCP; None for anything else."""
    if len(ip) >= 20 and ip[0] >> 4 == 4 and ip[9] == socket.IPPROTO_TCP:
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        return socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20]), ip[ihl:], total - ihl
    if len(ip) < 40 or ip[0] >> 4 != 6:
        return None
    nxt, at, size = ip[6], 40, struct.unpack_from("!H", ip, 4)[0]
    while nxt in _IPV6_EXTENSIONS and len(ip) >= at + 8:
        ext = 8 + ip[at + 1] * 8
        nxt, at, size = ip[at], at + ext, size - ext
    if nxt != socket.IPPROTO_TCP:
        return None
    return socket.inet_ntop(socket.AF_INET6, ip[8:24]), socket.inet_ntop(socket.AF_INET6, ip[24:40]), ip[at:], size


def decode(ts: float, raw: bytes, l2_len: int = 14) -> Frame | None:
    """IPv4 or IPv6 TCP header fields with struct: 0.2 us instead of scapy's 100 us per packet."""
    header = _ip_header(raw[l2_len:])
    if header is None:
        return None
    saddr, daddr, tcp, segment = header
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack, off_flags, win = struct.unpack_from("!HHIIHH", tcp)
    doff = (off_flags >> 12) * 4
    return Frame(
        ts=ts,
        raw=raw,
        saddr=saddr,
        daddr=daddr,
        sport=sport,
        dport=dport,
        seq=seq,
        ack=ack,
        flag_bits=off_flags & 0xFF,
        win=win,
        payload_len=max(0, segment - doff),
        options=tcp_options(tcp[20:doff]),
    )


class RelativeSeq:
    """tcpdump's relative sequence numbers: each direction counts from its own ISN."""

    def __init__(self) -> None:
        self._isn: dict[tuple[str, int, str, int], int] = {}

    def __call__(self, f: Frame) -> tuple[int, int]:
        fwd = (f.saddr, f.sport, f.daddr, f.dport)
        rev = (f.daddr, f.dport, f.saddr, f.sport)
        if f.flag_bits & 0x02:  # a SYN starts a new connection on this 4-tuple
            self._isn[fwd] = f.seq
        isn = self._isn.setdefault(fwd, f.seq)
        seq = (f.seq - isn) & 0xFFFFFFFF
        ack = 0
        if f.flag_bits & 0x10:
            ack = (f.ack - self._isn.get(rev, f.ack)) & 0xFFFFFFFF
        return seq, ack


def attach_drop_outgoing(sock: socket.socket) -> None:
    """cBPF equivalent of libpcap's "inbound": drop frames whose pkttype is PACKET_OUTGOING (4)."""
    skf_ad_pkttype = 0xFFFFF000 + 4  # SKF_AD_OFF + SKF_AD_PKTTYPE
    prog = [(0x20, 0, 0, skf_ad_pkttype), (0x15, 0, 1, 4), (0x06, 0, 0, 0), (0x06, 0, 0, 0x40000)]
    insns = b"".join(struct.pack("HBBI", *i) for i in prog)
    buf = ctypes.create_string_buffer(insns)
    fprog = struct.pack("HL", len(prog), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


class CaptureError(RuntimeError):
    pass


class Capture:
    """A live scapy sniffer on ``lo`` feeding a queue of Frames; start() returns once it is live."""

    def __init__(self, on_frame: Callable[[], None] | None = None, frames: queue.SimpleQueue[Frame] | None = None) -> None:
        """``frames``: a queue shared with another source (the relay's), or None for one of its own."""
        self.frames: queue.SimpleQueue[Frame] = frames or queue.SimpleQueue()
        self.notes: list[str] = []
        self._on_frame = on_frame or (lambda: None)
        self._drops = 0
        self._delivered = 0  # frames the kernel queued on our socket (PACKET_STATISTICS, summed)
        self._handled = 0  # frames the sniffer has read and handed on (or discarded)
        self._received = 0
        self._sock = None
        self._sniffer = None

    def start(self, timeout: float = 5.0) -> None:
        from scapy.arch.linux import L2ListenSocket  # noqa: I001 - l2 must be imported first
        from scapy.config import conf
        from scapy.layers import l2  # noqa: F401 - without it the socket warns it cannot guess lo's type
        from scapy.sendrecv import AsyncSniffer

        try:
            sock = L2ListenSocket(iface="lo")
        except OSError as exc:
            raise CaptureError(f"cannot open a packet socket on lo: {exc.strerror}") from exc
        # The timeline needs a few header fields (struct, 0.2 us); scapy's dissection (~100 us a
        # packet) is kept for the one packet a user selects, so the socket hands over raw bytes.
        sock.LL = conf.raw_layer
        raw = sock.ins
        read = sock.recv_raw

        def recv_raw(x: int = 65535):  # noqa: ANN202 - scapy's own signature
            # Every read is counted, as handled once its frame is queued, so pending() is exact.
            cls, data, ts = read(x)
            if not (cls and data):  # scapy drops it: no prn call
                self._handled += 1
            return cls, data, ts

        sock.recv_raw = recv_raw
        try:
            raw.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:  # kernels before 4.20: a classic BPF program drops the OUTGOING copy instead
            attach_drop_outgoing(raw)
        try:
            raw.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, CAPTURE_BUFFER)
        except OSError:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CAPTURE_BUFFER)
            got = raw.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            self.notes.append(
                f"capture buffer {got // 1024} KiB (SO_RCVBUFFORCE needs root; net.core.rmem_max caps it): "
                "kernel drops, if any, are counted and shown"
            )
        self._sock = sock
        started = threading.Event()
        self._sniffer = AsyncSniffer(opened_socket=sock, prn=self._enqueue, store=False, started_callback=started.set)
        self._sniffer.start()
        if not started.wait(timeout):
            exc = getattr(self._sniffer, "exception", None)
            raise CaptureError(f"the capture did not start within {timeout:.0f} s: {exc or 'no reason given'}")
        if getattr(self._sniffer, "exception", None):
            raise CaptureError(f"the capture failed: {self._sniffer.exception}")

    def _enqueue(self, pkt) -> None:  # noqa: ANN001 - scapy Packet
        # Keep prn to an enqueue: a slow prn delays stop() and backs up the kernel queue.
        frame = decode(float(pkt.time), bytes(pkt))
        if frame is not None:
            self._received += 1
            self.frames.put(frame)
            self._on_frame()
        self._handled += 1

    def _count(self) -> None:
        if self._sock is not None:
            try:
                packets, dropped = struct.unpack("II", self._sock.ins.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
            except OSError:
                return
            # The kernel resets the counters on every read; its tp_packets includes the drops.
            self._drops += dropped
            self._delivered += packets - dropped

    def drops(self) -> int:
        """Frames the kernel dropped because we read too slowly (PACKET_STATISTICS, cumulative)."""
        self._count()
        return self._drops

    def pending(self) -> int:
        """Frames already on our socket's queue (or being read) that are not yet in ``frames``.

        A quiet wire is not proof that every frame has been read: on a loaded machine (or a slow
        guest) the sniffer thread may not run for longer than any quiet period, and the last
        segment of a step (the RST a close() sent before it returned) would land in no step.
        """
        self._count()
        return max(0, self._delivered - self._handled)

    def mark(self) -> int:
        """How many frames the kernel has queued for us so far. A call's own frames are queued
        before it returns, so a mark taken at its return, with ``read_up_to``, is a barrier for
        them that other traffic on the interface (outside a lab) cannot hold up for long."""
        self._count()
        return self._delivered

    def read_up_to(self, mark: int) -> bool:
        """Every frame the kernel had queued at ``mark`` has been read and put in ``frames``."""
        return self._handled >= mark

    def stop(self) -> None:
        if self._sniffer is not None:
            try:
                self._sniffer.stop(join=True)
            except Exception:  # noqa: BLE001 - scapy raises a bare Scapy_Exception if the thread died
                pass
            self._sniffer = None


def pcap_bytes(frames: list[Frame]) -> bytes:
    """A pcap of the lab's frames (Ethernet framing, as on lo) that tcpdump -r and Wireshark read."""
    from scapy.utils import PcapWriter

    buf = io.BytesIO()
    with PcapWriter(buf, linktype=1, sync=False) as w:
        w.write_header(None)  # write_packet() alone leaves the file headerless (and empty runs need one)
        for f in frames:
            sec = int(f.ts)
            w.write_packet(f.raw, sec=sec, usec=int((f.ts - sec) * 1e6))
        w.flush()
        return buf.getvalue()  # before the writer's exit closes the buffer
