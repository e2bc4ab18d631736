"""Where packets come from: a live packet socket with a kernel filter, or a pcap or pcapng
(file or stdin).

Both yield batches of ``(timestamp, ip_bytes)`` (pcapread.Batch). The live source is a
SOCK_DGRAM AF_PACKET socket (read through its receive ring, ring.py, where the kernel gives one):
the kernel strips each interface's link header, so ``lo``, Ethernet and tunnels look alike and
the filter and the pcap written with ``-w`` are raw IP (LINKTYPE_RAW, which Wireshark reads).
"""

from __future__ import annotations

import io
import os
import select
import socket
import stat
import struct
import sys
from collections.abc import Iterator
from typing import BinaryIO, cast

from tuiexplore.files import FileError, open_input, open_output
from tuiexplore.safetext import terminal
from tuiexplore.watch import bpf
from tuiexplore.watch.pcapng import PcapngError, PcapngReader
from tuiexplore.watch.pcapread import LINKTYPES, Batch, Buffer, PcapRecords, Readable, link_offset
from tuiexplore.watch.ring import BLOCK, BLOCKS, Ring

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_RCVBUFFORCE = 33
SO_TIMESTAMPNS = 35
BUFFER = 32 * 1024 * 1024
MAX_RECORD = 256 * 1024  # libpcap's MAXIMUM_SNAPLEN: the most any pcap record may carry
_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}


class SourceError(RuntimeError):
    """The source cannot be used: one line for the user."""


class NotPermitted(SourceError):
    pass


class LiveSource:
    def __init__(self, ifaces: list[str], spec: bpf.Spec) -> None:
        self.notes: list[str] = []
        self.dropped = 0
        self.spec = spec
        self.socks: list[socket.socket] = []
        self.rings: list[Ring | None] = []  # each socket's receive ring, None where the kernel refused one
        names = dict((name, idx) for idx, name in socket.if_nameindex())
        for name in ifaces:
            if name not in names:
                raise SourceError(f"no interface {name!r} (have: {', '.join(sorted(names))})")
        spec.lo_ifindex = names.get("lo")
        self.program = bpf.build(spec)
        wanted: list[str | None] = [*ifaces] or [None]  # None: one socket that hears every interface
        for iface in wanted:
            self.socks.append(self._open(iface))
        self._rd, self._wr = os.pipe()
        self._buf = bytearray(bpf.SNAPLEN)

    def _open(self, iface: str | None) -> socket.socket:
        s = self._socket()
        try:
            self.rings.append(Ring(s))
            return self._bind(s, iface)
        except OSError as exc:
            s.close()  # a ring half made would keep the packets recvmsg waits for: a new socket
            self.rings.append(None)
            self.notes.append(f"no receive ring ({exc.strerror}): packets are read with one recvmsg each")
        s = self._socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, BUFFER)
        except OSError:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
            got = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            self.notes.append(f"capture buffer {got // 1024} KiB (net.core.rmem_max caps it without root)")
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        return self._bind(s, iface)

    def _socket(self) -> socket.socket:
        try:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        except PermissionError:
            raise NotPermitted(
                "live capture needs root or CAP_NET_RAW; read a capture instead: "
                "sudo tcpdump -U -w - tcp | tuiexplore watch -r - (or: ssh HOST sudo tcpdump -U -w - tcp | tuiexplore watch -r -)"
            ) from None
        # The filter goes on before bind(): nothing unfiltered is queued in between.
        bpf.attach(s, self.program)
        return s

    def _bind(self, s: socket.socket, iface: str | None) -> socket.socket:
        if iface:  # unbound, a packet socket hears every interface (its protocol came with socket())
            try:
                s.bind((iface, ETH_P_ALL))
            except OSError as exc:
                s.close()
                raise SourceError(f"cannot capture on {iface}: {exc.strerror}") from None
        s.setblocking(False)
        return s

    def refilter(self, spec: bpf.Spec) -> None:
        spec.lo_ifindex = self.spec.lo_ifindex
        self.spec, self.program = spec, bpf.build(spec)
        for s in self.socks:
            bpf.attach(s, self.program)

    def batches(self) -> Iterator[Batch | None]:
        """Packets as they come, those queued at each wake-up together; None when idle for 0.1 s
        (so callers can age connections)."""
        fds: list[socket.socket | int] = [*self.socks, self._rd]
        buf, view = self._buf, memoryview(self._buf)
        while True:
            ready, _, _ = select.select(fds, [], [], 0.1)
            if self._rd in ready:
                return
            if not ready:
                yield None
                continue
            out: Batch = []
            for s, ring in zip(self.socks, self.rings, strict=True):
                if s not in ready:
                    continue
                if ring is not None:
                    ring.drain(out)
                    continue
                for _ in range(256):  # drain a batch per select: one syscall per packet, not two
                    try:
                        n, anc, _flags, _addr = s.recvmsg_into([buf], 64)
                    except BlockingIOError:
                        break
                    ts = 0.0
                    for level, kind, data in anc:
                        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                            sec, nsec = struct.unpack("qq", data[:16])
                            ts = sec + nsec * 1e-9
                    out.append((ts, bytes(view[:n])))
            yield out

    def drops(self) -> int:
        """Packets the kernel dropped because we read too slowly (PACKET_STATISTICS, cumulative)."""
        for s in self.socks:
            try:
                _, dropped = struct.unpack("II", s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
                self.dropped += dropped  # the kernel resets the counters on every read
            except OSError:
                pass
        return self.dropped

    def stop(self) -> None:
        os.write(self._wr, b"x")

    def reading(self) -> str:
        """How packets reach us, for the user: the ring or a system call each."""
        if all(r is not None for r in self.rings):
            return f"read through a {BLOCK * BLOCKS >> 20} MiB TPACKET_V3 ring" + (" an interface" if len(self.rings) > 1 else "")
        return "read with recvmsg" if not any(self.rings) else "read through a TPACKET_V3 ring and with recvmsg"

    def close(self) -> None:
        for ring in self.rings:
            if ring is not None:
                ring.close()
        for s in self.socks:
            s.close()
        for fd in (self._rd, self._wr):
            os.close(fd)


class StoppableStream:
    """A pipe (stdin, ``tcpdump -U -w - |``) read so that stop() ends a read that waits for the
    next packet: ``q`` must end the program at once, not when the next packet arrives."""

    def __init__(self, f: BinaryIO) -> None:
        self._f, self._fd = f, f.fileno()
        self._stop_r, self._stop_w = os.pipe()

    def read1(self, n: int) -> bytes:
        """What has arrived, up to ``n`` bytes, once there is some; b"" at the end or when stopped."""
        ready, _, _ = select.select([self._fd, self._stop_r], [], [])
        if self._stop_r in ready:
            return b""  # stopped: read as the end of the stream
        return os.read(self._fd, n)

    def stop(self) -> None:
        os.write(self._stop_w, b"x")

    def close(self) -> None:
        for fd in (self._stop_r, self._stop_w):
            os.close(fd)
        if self._f is not sys.stdin.buffer:
            self._f.close()


def _pipe(f: BinaryIO) -> StoppableStream | None:
    """None when a read of ``f`` cannot wait (a regular file, or no descriptor)."""
    try:
        return None if stat.S_ISREG(os.fstat(f.fileno()).st_mode) else StoppableStream(f)
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


class PcapSource:
    """A pcap or pcapng file, or such a stream on stdin (``tcpdump -U -w -``, ``dumpcap -w -``) or
    a FIFO, read as it arrives."""

    def __init__(self, path: str, stream: BinaryIO | None = None) -> None:
        self.path = path
        self.notes: list[str] = []
        try:
            self._f = stream or (sys.stdin.buffer if path == "-" else open_input(path, stream_ok=True))
        except FileError as exc:
            raise SourceError(str(exc)) from None
        self._pipe = _pipe(self._f)
        # open() and sys.stdin.buffer give buffered files, which have read1 (typing's BinaryIO does not say so)
        self._buf = Buffer(self._pipe or cast(Readable, self._f))
        name = self.name = "stdin" if path == "-" else terminal(path)
        if not self._buf.fill(24):
            raise SourceError(f"{name}: not a pcap (empty or shorter than a pcap header)")
        head = self._buf.data[:24]
        self._ng: PcapngReader | None = None
        if head[:4] == b"\x0a\x0d\x0d\x0a":
            self._ng, self.kind = PcapngReader(self._buf), "pcapng"
            return
        if head[:4] not in _MAGICS:
            raise SourceError(f"{name}: not a pcap file (magic {head[:4].hex()})")
        endian, unit = _MAGICS[head[:4]]
        snaplen, link = struct.unpack(endian + "II", head[16:24])
        self.linktype = link & 0xFFFF
        self.kind = f"pcap, link type {self.linktype}"
        if self.linktype not in LINKTYPES:
            raise SourceError(f"{name}: link type {self.linktype} is not supported (Ethernet, raw IP, Linux cooked, loopback)")
        self._buf.pos = 24
        # no record is longer than the file says it keeps of a packet, nor than libpcap's own
        # ceiling (a snaplen of 0 means that)
        self._records = PcapRecords(self._buf, name, endian, unit, self.linktype, min(snaplen or MAX_RECORD, MAX_RECORD))

    def batches(self) -> Iterator[Batch]:
        if self._ng is not None:
            yield from self._pcapng(self._ng)
            return
        try:
            yield from self._records.batches()
        finally:
            self.notes += self._records.notes

    def _pcapng(self, ng: PcapngReader) -> Iterator[Batch]:
        unusable: set[int] = set()
        try:
            for packets in ng.batches():
                out: Batch = []
                for p in packets:
                    off = link_offset(p.linktype, p.data) if p.linktype in LINKTYPES else None
                    out.append((p.ts, None if off is None else p.data[off:]))
                    if p.linktype not in LINKTYPES and p.linktype not in unusable:
                        unusable.add(p.linktype)
                        self.notes.append(f"packets of link type {p.linktype} skipped (Ethernet, raw IP, Linux cooked, loopback)")
                yield out
        except PcapngError as exc:
            self.notes.append(f"{exc}: the rest of the capture was not read")
        finally:
            self.notes += ng.notes

    @property
    def streaming(self) -> bool:
        """Read as it comes (a pipe, a FIFO): a read waits for the next packet."""
        return self._pipe is not None

    def drops(self) -> int:
        return 0

    def stop(self) -> None:
        if self._pipe is not None:  # a file ends by itself
            self._pipe.stop()

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
        elif self._f is not sys.stdin.buffer:
            self._f.close()


class PcapWriter:
    """``-w FILE``: every captured packet in full, raw IP, microsecond pcap. A failed write is
    kept in ``error`` (one line naming the file) and ends the writing, not the watch."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.error = ""
        try:
            self._f = open_output(path)
        except FileError as exc:
            raise SourceError(str(exc)) from None
        self._rec = struct.Struct("=IIII")
        self._put(struct.pack("=IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, bpf.SNAPLEN, bpf.LINKTYPE_RAW))

    def _put(self, *chunks: bytes) -> None:
        if self.error:
            return
        try:
            for chunk in chunks:
                self._f.write(chunk)
        except OSError as exc:
            self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        self.error = f"{terminal(self.path)}: cannot write there ({exc.strerror}); the pcap stops at that packet"

    def write(self, ts: float, data: bytes) -> None:
        sec = int(ts)
        self._put(self._rec.pack(sec, int((ts - sec) * 1e6), len(data), len(data)), data)

    def flush(self) -> None:
        if not self.error:
            try:
                self._f.flush()
            except OSError as exc:
                self._failed(exc)

    def close(self) -> None:
        self.flush()
        try:
            self._f.close()
        except OSError:
            pass  # what was buffered is already said lost by flush()
