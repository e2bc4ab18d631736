"""Capturing the lab's loopback with a packet socket: every packet once, as tcpdump shows it.

Measured facts this relies on (shared/notes/capture.md):
- on ``lo`` a packet socket sees every frame twice (OUTGOING then HOST); PACKET_IGNORE_OUTGOING
  makes the kernel queue only one copy, which is what tcpdump shows;
- a 64 KiB receive buffer loses bursts; root may force 32 MiB with SO_RCVBUFFORCE.
The socket is read with the standard library (SO_TIMESTAMPNS gives each frame's kernel time):
scapy's sniffer cost ~0.2 s of imports at every lab start; scapy stays for what it does well,
the pcap writer and the dissection of the one packet a user selects.
"""

from __future__ import annotations

import ctypes
import io
import os
import queue
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from tuiexplore.tcpdump import tcp_options
from tuiexplore.timeline import PacketEvent

SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_IGNORE_OUTGOING = 23
SO_RCVBUFFORCE = 33
SO_ATTACH_FILTER = 26
CAPTURE_BUFFER = 32 * 1024 * 1024
ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35
FRAME_MAX = 262144  # lo's MTU is 64 KiB, and a GSO frame may be larger
ANCILLARY = socket.CMSG_SPACE(16)  # struct timespec
NET_DEV = "/proc/thread-self/net/dev"  # the calling thread's namespace: /proc/net is the first thread's

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
    relay: str = ""  # what the relay's wire did with it, if not just pass it on (PacketEvent.relay)

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
            self.relay,
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


@dataclass(frozen=True)
class Withheld:
    """A frame a wire that can hold segments saw but did not deliver when it saw it (held,
    dropped or delayed: tuiexplore/relay/): its receiver owes nothing for it yet."""

    frame: Frame

    @property
    def ts(self) -> float:
        return self.frame.ts


@dataclass(frozen=True)
class Delivered:
    """A withheld frame that the wire delivered at ``ts`` (released, or its delay over)."""

    frame: Frame
    ts: float


Captured = Frame | Withheld | Delivered  # what a capture's queue holds, in the order it happened


class FrameSource(Protocol):
    """What the lab reads its frames from: ``Capture`` on lo, or the relay's wire (relay/capture.py)."""

    frames: queue.SimpleQueue[Captured]
    notes: list[str]

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def drops(self) -> int: ...

    def caught_up(self) -> bool:
        """Every frame the wire has carried so far is in ``frames`` (a barrier, not a quiet period)."""
        ...

    def due(self) -> float | None:
        """Seconds until a frame the wire delays on purpose goes out (None: none is)."""
        ...


class CaptureError(RuntimeError):
    pass


class Capture:
    """A packet socket on ``lo`` read by a thread of its own into a queue of Frames; live once
    start() returns."""

    def __init__(self, on_frame: Callable[[], None] | None = None, frames: queue.SimpleQueue[Captured] | None = None) -> None:
        """``frames``: a queue shared with another source (the relay's), or None for one of its own."""
        self.frames: queue.SimpleQueue[Captured] = frames or queue.SimpleQueue()
        self.notes: list[str] = []
        self._on_frame = on_frame or (lambda: None)
        self._drops = 0
        self._handled = 0  # frames the sniffer has read and handed on (or discarded)
        self._received = 0
        self._lo_base = 0  # frames lo had carried when our socket opened (none of them ours)
        self._dev: BinaryIO | None = None
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._wake: tuple[int, int] = (-1, -1)  # a pipe: its write end stops the reader

    def start(self, timeout: float = 5.0) -> None:
        """Open the packet socket on lo and start reading it; raises CaptureError. (``timeout``:
        kept for callers; the socket is live once bound, so there is nothing to wait for.)"""
        try:
            # Protocol 0 receives nothing until bound to lo with ETH_P_ALL: no other interface's frame.
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except OSError as exc:
            raise CaptureError(f"cannot open a packet socket on lo: {exc.strerror}") from exc
        try:
            sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:  # kernels before 4.20: a classic BPF program drops the OUTGOING copy instead
            attach_drop_outgoing(sock)
        if note := enlarge(sock):
            self.notes.append(note)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)  # each frame's kernel receive time
        try:
            sock.bind(("lo", ETH_P_ALL))
        except OSError as exc:
            sock.close()
            raise CaptureError(f"cannot capture on lo: {exc.strerror}") from exc
        sock.setblocking(False)
        self._sock = sock
        # This thread's namespace (the one the socket is in), not the process's first thread's.
        self._dev = open(NET_DEV, "rb")  # noqa: SIM115 - read at every mark, closed in stop()
        self._lo_base = lo_frames(self._dev)
        self._wake = os.pipe()
        self._reader = threading.Thread(target=self._read, name="capture", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        """The reader thread: every frame decoded just enough (``decode``) and queued. Nothing
        slow here: a slow reader backs up the kernel queue."""
        sock, wake = self._sock, self._wake[0]
        assert sock is not None, "the reader runs only after start() opened the socket"
        while True:
            ready, _, _ = select.select([sock.fileno(), wake], [], [])
            if wake in ready:
                return
            while True:
                try:
                    data, anc, _, _ = sock.recvmsg(FRAME_MAX, ANCILLARY)
                except BlockingIOError:
                    break
                except OSError:
                    return
                frame = decode(kernel_time(anc), data)
                if frame is not None:
                    self._received += 1
                    self.frames.put(frame)
                    self._on_frame()
                self._handled += 1  # counted once queued, so that read_up_to() is exact

    def _count(self) -> None:
        if self._sock is not None:
            try:
                _, dropped = struct.unpack("II", self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
            except OSError:
                return
            self._drops += dropped  # the kernel resets its counters on every read

    def drops(self) -> int:
        """Frames the kernel dropped because we read too slowly (PACKET_STATISTICS, cumulative)."""
        self._count()
        return self._drops

    def mark(self) -> int:
        """How many frames lo has carried since our socket opened: each of them is queued for us
        (lo counts a frame when it hands it to the receive path, and a packet socket sees every
        frame there), so ``read_up_to`` this mark is a barrier for every frame sent so far,
        including one still in the kernel's backlog queue, not yet on our socket."""
        return lo_frames(self._dev) - self._lo_base

    def read_up_to(self, mark: int) -> bool:
        """Every frame lo had carried at ``mark`` has been read (or dropped, and counted)."""
        if self._handled >= mark:
            return True
        self._count()
        return self._handled + self._drops >= mark

    def caught_up(self) -> bool:
        """Every frame lo has carried so far has been read (``read_up_to(mark())``)."""
        return self.read_up_to(self.mark())

    def due(self) -> float | None:
        """Seconds until a frame this capture's wire delays goes out: lo delays none."""
        return None

    def stop(self) -> None:
        if self._dev is not None:
            self._dev.close()
            self._dev = None
        if self._reader is not None:
            os.write(self._wake[1], b"x")
            self._reader.join()
            self._reader = None
            for fd in self._wake:
                os.close(fd)
        if self._sock is not None:
            self._sock.close()


def enlarge(sock: socket.socket) -> str | None:
    """A packet socket's queue of CAPTURE_BUFFER bytes (past net.core.rmem_max as root): a frame
    is charged there at its buffer's truesize, often far more than its length. None, or a note
    saying what the kernel gave instead."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, CAPTURE_BUFFER)
        return None
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CAPTURE_BUFFER)
    got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    return (
        f"capture buffer {got // 1024} KiB (SO_RCVBUFFORCE needs root; net.core.rmem_max caps it): "
        "kernel drops, if any, are counted and shown"
    )


def kernel_time(ancillary: list[tuple[int, int, bytes]]) -> float:
    """A frame's kernel receive time (SO_TIMESTAMPNS on the socket), or now if it has none."""
    ts = next((_timespec(d) for lvl, kind, d in ancillary if lvl == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS), None)
    return time.time() if ts is None else ts


def _timespec(data: bytes) -> float:
    sec, nsec = struct.unpack("qq", data[:16])
    return sec + nsec / 1e9


def lo_frames(dev: BinaryIO | None = None, device: str = "lo", received: bool = False) -> int:
    """Frames sent on lo (or ``device``; or ``received`` on it: rx_packets, not tx_packets) in the
    calling thread's network namespace, from ``dev``, an open NET_DEV (read again from its
    start), or a fresh one."""
    if dev is None:
        with open(NET_DEV, "rb") as f:
            return lo_frames(f, device, received)
    dev.seek(0)
    for line in dev.read().splitlines():
        name, _, counts = line.partition(b":")
        if name.strip() == device.encode():
            return int(counts.split()[1 if received else 9])
    return 0


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
