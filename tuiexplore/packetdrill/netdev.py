"""The script's device (packetdrill's ``netdev.c``): a TUN device in the run's own namespace.

TUN, as packetdrill's local mode: the kernel hands each IP packet it routes to the remote
address to the device's file descriptor inside the sending call (``tun_net_xmit`` queues it
there), so when a syscall returns, what it sent is already readable (``sync``); and what is written to the
descriptor arrives as from the network. No link layer: no ARP, no neighbour entries. The
device offloads checksums and TSO "to be like a typical ethernet device", as packetdrill's
(its set_device_offload_flags()): the kernel hands it a send of several MSS as one segment,
which is what a script (and one written from the lab's loopback, which offloads too) expects;
without it the kernel would cut that send in MSS pieces before the device. A reader
packet socket on the device gives what the kernel sent with the kernel's own time stamp of
its sending (``dev_queue_xmit_nit`` runs in the same call), so a late reader thread on a busy
machine never makes a packet late; the TUN queue itself is only emptied.
"""

from __future__ import annotations

import fcntl
import os
import queue
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass

TUNSETIFF, TUNSETOFFLOAD = 0x400454CA, 0x400454D0
TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN = 0x01, 0x02, 0x04, 0x08
# A TSO send is one IP packet of up to 64 KiB (GSO's legacy maximum) plus headers.
FRAME_MAX = 131072
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
SIOCGIFFLAGS, SIOCSIFFLAGS, SIOCSIFADDR, SIOCSIFNETMASK, SIOCSIFMTU = 0x8913, 0x8914, 0x8916, 0x891C, 0x8922
IFF_UP = 0x1
ETH_P_ALL, PACKET_OUTGOING, SO_TIMESTAMPNS = 0x0003, 4, 35
NAME = "tun0"
# packetdrill's default --mtu for IPv4, and the kernel runner's --mtu=1520 for IPv6: the MSS is
# 1460 over both, as the scripts expect.
MTU: dict[int, int] = {socket.AF_INET: 1500, socket.AF_INET6: 1520}


@dataclass(frozen=True)
class Addresses:
    family: int
    local: str
    remote: str
    prefix: int

    @property
    def netmask(self) -> str:
        return socket.inet_ntoa(struct.pack("!I", (0xFFFFFFFF << (32 - self.prefix)) & 0xFFFFFFFF))


# The kernel selftests' runner's addresses (its ksft_runner.sh), so a TFO cookie it passes with
# -D TFO_COOKIE (the kernel's cookie for these two addresses and defaults.sh's key) is the one
# this kernel expects. A /8 (a /16) puts the remote on the device's own route: no gateway.
IPV4 = Addresses(socket.AF_INET, "192.168.0.1", "192.0.2.1", 8)
IPV6 = Addresses(socket.AF_INET6, "fd3d:a0b:17d6::1", "fd3d:fa7b:d17d::1", 16)


class NetdevError(RuntimeError):
    """The device could not be made: one line, what and why."""


@dataclass(frozen=True)
class Sniffed:
    t: float  # when the kernel sent it, on the device's clock (``Netdev.clock``)
    data: bytes  # the IP packet


def _ifreq(payload: bytes = b"") -> bytes:
    return struct.pack("16s", NAME.encode()) + payload.ljust(24, b"\0")


def _sockaddr_in(addr: str) -> bytes:
    return struct.pack("H2s4s8x", socket.AF_INET, b"\0\0", socket.inet_aton(addr))


class Netdev:
    """Made in the calling thread's namespace; ``start`` begins reading what the kernel sends."""

    def __init__(self, addrs: Addresses, mtu: int | None = None) -> None:
        self.addrs = addrs
        self.mtu = mtu if mtu is not None else MTU[addrs.family]  # the script's --mtu, as packetdrill's
        try:
            self.fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise NetdevError(f"cannot open /dev/net/tun: {exc.strerror} (a packetdrill run needs a TUN device)") from None
        try:
            fcntl.ioctl(self.fd, TUNSETIFF, struct.pack("16sH22x", NAME.encode(), IFF_TUN | IFF_NO_PI))
            fcntl.ioctl(self.fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)
            self._configure()
        except OSError as exc:
            os.close(self.fd)
            raise NetdevError(f"cannot set up the TUN device {NAME}: {exc.strerror}") from None
        os.set_blocking(self.fd, False)
        try:
            self.tap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
            self.tap.bind((NAME, ETH_P_ALL))
            self.tap.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            self.tap.setblocking(False)
        except OSError as exc:
            os.close(self.fd)
            raise NetdevError(f"cannot watch the TUN device {NAME}: {exc.strerror}") from None
        self.packets: queue.SimpleQueue[Sniffed] = queue.SimpleQueue()
        self._stop_r, self._stop_w = os.pipe()
        self._lock = threading.Lock()  # one reader at a time: the packets stay in the device's order
        self._offset = _realtime_offset()
        self._thread: threading.Thread | None = None

    def _configure(self) -> None:
        a = self.addrs
        if a.family == socket.AF_INET6:
            # No duplicate address detection: the address is usable at once, not tentative for a second.
            with open(f"/proc/sys/net/ipv6/conf/{NAME}/accept_dad", "w") as f:
                f.write("0")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            fcntl.ioctl(s, SIOCSIFMTU, _ifreq(struct.pack("i", self.mtu)))
            flags = struct.unpack_from("H", fcntl.ioctl(s, SIOCGIFFLAGS, _ifreq()), 16)[0]
            fcntl.ioctl(s, SIOCSIFFLAGS, _ifreq(struct.pack("H", flags | IFF_UP)))
            if a.family == socket.AF_INET:
                fcntl.ioctl(s, SIOCSIFADDR, _ifreq(_sockaddr_in(a.local)))
                fcntl.ioctl(s, SIOCSIFNETMASK, _ifreq(_sockaddr_in(a.netmask)))
        if a.family == socket.AF_INET6:
            index = socket.if_nametoindex(NAME)
            req = socket.inet_pton(socket.AF_INET6, a.local) + struct.pack("Ii", a.prefix, index)
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s6:
                fcntl.ioctl(s6, SIOCSIFADDR, req)
            until_usable(a.local)

    def clock(self) -> float:
        """Now, on the clock of the packets' time stamps (CLOCK_REALTIME, moved by a fixed offset
        to about time.monotonic()). A packet a call sent is stamped before a ``clock()`` read
        after the call returned: the same clock, so that order holds to the nanosecond, as no
        conversion from one clock to another can (on a TCG guest, reading two clocks in turn
        took longer than close() took to return after its RST, and the RST was judged not the
        call's)."""
        return time.time() - self._offset

    def start(self) -> None:
        self._thread = threading.Thread(target=self._read, name="netdev", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.tap.fileno(), self.fd, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            if not self.sync():
                return

    def sync(self) -> bool:
        """Take every packet the device holds now (False: the device is gone). A syscall's own
        packets were queued before it returned: a sync after it has them all."""
        with self._lock:
            while True:  # the device's own queue: emptied, or it would fill and drop
                try:
                    os.read(self.fd, FRAME_MAX)
                except BlockingIOError:
                    break
                except OSError:
                    return False
            while True:
                try:
                    data, anc, _, addr = self.tap.recvmsg(FRAME_MAX, 64)
                except BlockingIOError:
                    return True
                except OSError:
                    return False
                if addr[2] != PACKET_OUTGOING:
                    continue
                stamp = next((struct.unpack("qq", d[:16]) for lvl, kind, d in anc if kind == SO_TIMESTAMPNS), None)
                t = stamp[0] + stamp[1] / 1e9 - self._offset if stamp else self.clock()
                self.packets.put(Sniffed(t, data))

    def write(self, packet: bytes) -> None:
        """One IP packet, arriving as from the remote host."""
        os.write(self.fd, packet)

    def close(self) -> None:
        os.write(self._stop_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.tap.close()
        for fd in (self.fd, self._stop_r, self._stop_w):
            os.close(fd)


def _realtime_offset() -> float:
    """time.time() minus time.monotonic(), from the narrowest of a few bracketed reads."""
    best = (float("inf"), 0.0)
    for _ in range(5):
        before = time.monotonic()
        real = time.time()
        after = time.monotonic()
        best = min(best, (after - before, real - (before + after) / 2))
    return best[1]


IFA_F_TENTATIVE = 0x40
USABLE_WAIT = 2.0  # seconds


def until_usable(addr: str, table: str = "/proc/thread-self/net/if_inet6", wait: float = USABLE_WAIT) -> None:
    """An IPv6 address is tentative until addrconf's work runs, even with DAD off; bind() to it
    fails with EADDRNOTAVAIL until then (seen on a busy machine): wait for the flag to clear."""
    want = socket.inet_pton(socket.AF_INET6, addr).hex()
    end = time.monotonic() + wait
    while time.monotonic() < end:
        with open(table) as f:
            rows = [line.split() for line in f]
        if any(r[0] == want and not int(r[4], 16) & IFA_F_TENTATIVE for r in rows if len(r) >= 6):
            return
        time.sleep(0.001)
    raise OSError(0, f"the address {addr} stayed tentative for {wait:g} s")
