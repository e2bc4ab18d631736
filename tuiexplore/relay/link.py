"""The lab's wire devices (packetdrill's ``netdev.c``): a veth pair per side, one end in the
side's namespace with its address, the other in the relay's namespace with none.

veth rather than TUN: ``/dev/net/tun`` may be closed to an unprivileged user (mode 0600 on some
hosts), while a user namespace may always make veth pairs. A pair is made with one rtnetlink
message (no iproute2 needed); addresses, MTU, flags and a static neighbour with ioctls. Each
call is made from inside the namespace it configures (``NetNs.inside``).
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct

RTM_NEWLINK = 16
NLM_F_REQUEST, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL = 0x1, 0x4, 0x400, 0x200
NLMSG_ERROR = 2
IFLA_IFNAME, IFLA_LINKINFO, IFLA_NET_NS_FD = 3, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFF_UP, IFF_NOARP = 0x1, 0x80
SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
SIOCSIFADDR, SIOCSIFNETMASK, SIOCSIFMTU = 0x8916, 0x891C, 0x8922
SIOCGIFHWADDR = 0x8927
SIOCSARP = 0x8955
ATF_COM, ATF_PERM = 0x02, 0x04
ARPHRD_ETHER = 1
# veth's largest MTU: the MSS (65495) is then the one loopback announces, so a write is cut
# into the segments it is cut into on loopback.
MTU = 65535


class LinkError(RuntimeError):
    """A wire device could not be made or set up; the message says which and why, in one line."""


def attr(kind: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return struct.pack("HH", size, kind) + payload + b"\0" * (-size % 4)


def make_veth(name: str, peer: str, peer_ns_fd: int, index: int = 0, peer_index: int = 0) -> None:
    """A veth pair: ``name`` in the calling thread's namespace, ``peer`` in the other one, with
    these interface indexes (0: the namespace's next; the peer's is taken only with the other).

    Across two namespaces, give both, and different ones. Each fresh namespace numbers its
    devices from 1 (lo), so both ends would otherwise be 2; the kernel's link watch calls a
    device's carrier change urgent when its index differs from its link's (``linkwatch_urgent_event``:
    ``dev->ifindex != dev_get_iflink(dev)``), and handles every other change at most once a
    second, host-wide: with equal indexes an end came up to 1 s late, whenever any device on the
    host had changed within the second before (the relay lab's start took 1.1 s, not 0.15 s)."""
    ifinfo = struct.pack("BxHiII", socket.AF_UNSPEC, 0, index, 0, 0)
    peer_info = struct.pack("BxHiII", socket.AF_UNSPEC, 0, peer_index, 0, 0)
    peer_msg = peer_info + attr(IFLA_IFNAME, peer.encode() + b"\0") + attr(IFLA_NET_NS_FD, struct.pack("I", peer_ns_fd))
    info = attr(IFLA_INFO_KIND, b"veth") + attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_msg))
    body = ifinfo + attr(IFLA_IFNAME, name.encode() + b"\0") + attr(IFLA_LINKINFO, info)
    rtnl(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body, f"make the veth pair {name}/{peer}", "a kernel without veth?")


def rtnl(kind: int, flags: int, body: bytes, what: str, hint: str = "") -> None:
    """One rtnetlink request, answered by the kernel's ack; LinkError "cannot WHAT: why (HINT)"."""
    msg = struct.pack("IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, 1, 0) + body
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as nl:
            nl.sendto(msg, (0, 0))
            reply = nl.recv(65536)
    except OSError as exc:
        raise LinkError(f"cannot {what}: {exc.strerror}") from exc
    err = -struct.unpack_from("i", reply, 16)[0] if struct.unpack_from("H", reply, 4)[0] == NLMSG_ERROR else 0
    if err:
        raise LinkError(f"cannot {what}: {os.strerror(err)}" + (f" ({hint})" if hint else ""))


def _ifreq(name: str, payload: bytes = b"") -> bytes:
    return struct.pack("16s", name.encode()) + payload.ljust(24, b"\0")


def _sockaddr_in(addr: str) -> bytes:
    return struct.pack("H2s4s8x", socket.AF_INET, b"\0\0", socket.inet_aton(addr))


def mac(name: str) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        return fcntl.ioctl(s, SIOCGIFHWADDR, _ifreq(name))[18:24]


def configure(name: str, addr: str | None = None, netmask: str = "255.255.255.0") -> None:
    """MTU, IPv6 off (nothing but the lab's own segments on the wire), the address if any, up.
    Without an address (the relay's ends) the namespace's IP stack drops what arrives."""
    try:
        with open(f"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "w") as f:
            f.write("1")
    except OSError:
        pass  # a kernel without IPv6 sends none
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            fcntl.ioctl(s, SIOCSIFMTU, _ifreq(name, struct.pack("i", MTU)))
            if addr is not None:
                fcntl.ioctl(s, SIOCSIFADDR, _ifreq(name, _sockaddr_in(addr)))
                fcntl.ioctl(s, SIOCSIFNETMASK, _ifreq(name, _sockaddr_in(netmask)))
            flags = struct.unpack_from("H", fcntl.ioctl(s, SIOCGIFFLAGS, _ifreq(name)), 16)[0]
            fcntl.ioctl(s, SIOCSIFFLAGS, _ifreq(name, struct.pack("H", flags | IFF_UP)))
    except OSError as exc:
        raise LinkError(f"cannot set up the device {name}: {exc.strerror}") from exc


def neighbour(name: str, addr: str, hw: bytes) -> None:
    """A permanent ARP entry: no ARP request or reply ever crosses the wire, or times out."""
    req = _sockaddr_in(addr) + struct.pack("H14s", ARPHRD_ETHER, hw) + struct.pack("i", ATF_PERM | ATF_COM)
    req += _sockaddr_in("0.0.0.0") + struct.pack("16s", name.encode())
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            fcntl.ioctl(s, SIOCSARP, req)
    except OSError as exc:
        raise LinkError(f"cannot add the neighbour {addr} on {name}: {exc.strerror}") from exc
