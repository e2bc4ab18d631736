"""Where packets come from: a live packet socket with a kernel filter, or a pcap or pcapng
(file or stdin).

Both yield ``(timestamp, ip_bytes)``. The live source is a SOCK_DGRAM AF_PACKET socket: the
kernel strips each interface's link header, so ``lo``, Ethernet and tunnels look alike and the
filter and the pcap written with ``-w`` are raw IP (LINKTYPE_RAW, which Wireshark reads).
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
from typing import BinaryIO

from tuiexplore.files import FileError, open_input, open_output
from tuiexplore.safetext import terminal
from tuiexplore.watch import bpf
from tuiexplore.watch.pcapng import PcapngError, PcapngReader

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
        self.received = 0
        self.spec = spec
        self.socks: list[socket.socket] = []
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
        try:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        except PermissionError:
            raise NotPermitted(
                "live capture needs root or CAP_NET_RAW; read a capture instead: "
                "sudo tcpdump -U -w - tcp | tuiexplore watch -r - (or: ssh HOST sudo tcpdump -U -w - tcp | tuiexplore watch -r -)"
            ) from None
        # The filter goes on before bind(): nothing unfiltered is queued in between.
        bpf.attach(s, self.program)
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, BUFFER)
        except OSError:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
            got = s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            self.notes.append(f"capture buffer {got // 1024} KiB (net.core.rmem_max caps it without root)")
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
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

    def packets(self) -> Iterator[tuple[float, bytes] | None]:
        """Packets as they come; None when idle for 0.1 s (so callers can age connections)."""
        fds: list[socket.socket | int] = [*self.socks, self._rd]
        buf, view = self._buf, memoryview(self._buf)
        while True:
            ready, _, _ = select.select(fds, [], [], 0.1)
            if self._rd in ready:
                return
            if not ready:
                yield None
                continue
            for s in ready:
                assert isinstance(s, socket.socket)  # the pipe (an int) ended the loop above
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
                    self.received += 1
                    yield ts, bytes(view[:n])

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

    def close(self) -> None:
        for s in self.socks:
            s.close()
        for fd in (self._rd, self._wr):
            os.close(fd)


def _link_offset(linktype: int, data: bytes) -> int | None:
    """Where the IP header starts for this link type, or None when the frame is not IP."""
    if linktype in (101, 228, 229, 12, 14):  # raw IP, IPv4, IPv6 (and BSD's raw numbers)
        return 0
    if linktype == 1:  # Ethernet, with up to two VLAN tags
        off, etype = 14, data[12:14]
        while etype in (b"\x81\x00", b"\x88\xa8") and len(data) >= off + 4:
            etype, off = data[off + 2 : off + 4], off + 4
        return off if etype in (b"\x08\x00", b"\x86\xdd") else None
    if linktype == 113:  # Linux cooked (tcpdump -i any, older)
        return 16 if data[14:16] in (b"\x08\x00", b"\x86\xdd") else None
    if linktype == 276:  # Linux cooked v2 (tcpdump -i any)
        return 20 if data[0:2] in (b"\x08\x00", b"\x86\xdd") else None
    if linktype == 0:  # BSD loopback: a 4-byte address family in host order
        return 4
    return None


LINKTYPES = (0, 1, 12, 14, 101, 113, 228, 229, 276)


class StoppableStream:
    """A pipe (stdin, ``tcpdump -U -w - |``) read so that stop() ends a read that waits for the
    next packet: ``q`` must end the program at once, not when the next packet arrives."""

    def __init__(self, f: BinaryIO) -> None:
        self._f, self._fd = f, f.fileno()
        self._stop_r, self._stop_w = os.pipe()

    def read(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            ready, _, _ = select.select([self._fd, self._stop_r], [], [])
            if self._stop_r in ready:
                return b""  # stopped: read as the end of the stream
            chunk = os.read(self._fd, n - len(out))
            if not chunk:
                break
            out += chunk
        return out

    def stop(self) -> None:
        os.write(self._stop_w, b"x")

    def close(self) -> None:
        for fd in (self._stop_r, self._stop_w):
            os.close(fd)
        if self._f is not sys.stdin.buffer:
            self._f.close()


def _stoppable(f: BinaryIO) -> BinaryIO | StoppableStream:
    """``f`` itself when a read cannot wait (a regular file, or no descriptor)."""
    try:
        return f if stat.S_ISREG(os.fstat(f.fileno()).st_mode) else StoppableStream(f)
    except (OSError, ValueError, io.UnsupportedOperation):
        return f


class PcapSource:
    """A pcap or pcapng file, or such a stream on stdin (``tcpdump -U -w -``, ``dumpcap -w -``) or
    a FIFO, read as it arrives."""

    def __init__(self, path: str, stream: BinaryIO | None = None) -> None:
        self.path = path
        self.notes: list[str] = []
        self.received = 0
        try:
            self._f = _stoppable(stream or (sys.stdin.buffer if path == "-" else open_input(path, stream_ok=True)))
        except FileError as exc:
            raise SourceError(str(exc)) from None
        head = self._read(24)
        name = self.name = "stdin" if path == "-" else terminal(path)
        if head is None:
            raise SourceError(f"{name}: not a pcap (empty or shorter than a pcap header)")
        self._ng: PcapngReader | None = None
        if head[:4] == b"\x0a\x0d\x0d\x0a":
            self._ng, self.kind = PcapngReader(self._f, head), "pcapng"
            return
        if head[:4] not in _MAGICS:
            raise SourceError(f"{name}: not a pcap file (magic {head[:4].hex()})")
        self._endian, self._unit = _MAGICS[head[:4]]
        snaplen, link = struct.unpack(self._endian + "II", head[16:24])
        self.linktype = link & 0xFFFF
        self.kind = f"pcap, link type {self.linktype}"
        if self.linktype not in LINKTYPES:
            raise SourceError(f"{name}: link type {self.linktype} is not supported (Ethernet, raw IP, Linux cooked, loopback)")
        # A record's length is checked before it is read: no record is longer than the file says
        # it keeps of a packet, nor than libpcap's own ceiling (a snaplen of 0 means that).
        self.max_record = min(snaplen or MAX_RECORD, MAX_RECORD)

    def _read(self, n: int) -> bytes | None:
        data = self._f.read(n)
        return data if data is not None and len(data) == n else None

    def packets(self) -> Iterator[tuple[float, bytes] | None]:
        if self._ng is not None:
            yield from self._pcapng(self._ng)
            return
        rec = struct.Struct(self._endian + "IIII")
        offset = 24
        while True:
            head = self._f.read(16)
            if not head:
                return
            if len(head) < 16:
                self.notes.append("the capture ended in the middle of a packet header")
                return
            sec, frac, incl, _orig = rec.unpack(head)
            if incl > self.max_record:
                self.notes.append(
                    f"{self.name}: record {self.received + 1} at byte {offset} claims {incl} bytes, more than the "
                    f"{self.max_record} a record of this file can hold: the capture is damaged; read up to there"
                )
                return
            data = self._read(incl)
            if data is None:
                self.notes.append("the capture ended in the middle of a packet")
                return
            offset += 16 + incl
            self.received += 1
            off = _link_offset(self.linktype, data)
            if off is not None:
                yield sec + frac * self._unit, data[off:]

    def _pcapng(self, ng: PcapngReader) -> Iterator[tuple[float, bytes]]:
        unusable: set[int] = set()
        try:
            for p in ng.packets():
                self.received += 1
                off = _link_offset(p.linktype, p.data) if p.linktype in LINKTYPES else None
                if off is not None:
                    yield p.ts, p.data[off:]
                elif p.linktype not in LINKTYPES and p.linktype not in unusable:
                    unusable.add(p.linktype)
                    self.notes.append(f"packets of link type {p.linktype} skipped (Ethernet, raw IP, Linux cooked, loopback)")
        except PcapngError as exc:
            self.notes.append(f"{exc}: the rest of the capture was not read")
        finally:
            self.notes += ng.notes

    @property
    def streaming(self) -> bool:
        """Read as it comes (a pipe, a FIFO): a read waits for the next packet."""
        return isinstance(self._f, StoppableStream)

    def drops(self) -> int:
        return 0

    def stop(self) -> None:
        if isinstance(self._f, StoppableStream):  # a file ends by itself
            self._f.stop()

    def close(self) -> None:
        if self._f is not sys.stdin.buffer:
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
