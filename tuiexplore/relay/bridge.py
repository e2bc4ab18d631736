"""The relay namespace's switch: a bridge that hands a side's frames to the other side itself,
the sender's own buffers, until the lab controls that side's segments; from then on it sends
them to a sink, where the relay takes them and decides (copy, hold, drop, delay, duplicate).

Why not copy every frame: a frame the relay writes arrives as a new buffer (a packet socket's),
which the receiving socket accounts at that buffer's truesize: 4352 bytes for a 2048-byte
segment, where loopback's receiver is charged the sender's 2880. The receiver's TCP scales its
window by that ratio (``tcp_measure_rcv_mss()`` sets ``scaling_ratio``; ``tcp_win_from_space()``),
so copied segments made it announce 2048 where loopback announces 4096, and a scenario on a small
receive buffer took another path through the relay. Forwarded by the bridge, the receiver gets
the sender's own buffer, as on ``lo``.

Every frame a side sends leaves the bridge exactly once, on the other side's end (forwarded: the
kernel delivered it) or on the sink (blocked: the relay must deliver it); the relay reads those
transmissions (``tap``), so it knows for every frame which happened, whenever the switch flips.
A side, once controlled, stays blocked: switching back could let a later frame overtake one the
relay still has to copy.
"""

from __future__ import annotations

import ctypes
import errno
import select
import socket
import struct
import threading
import time

from tuiexplore.relay.link import (
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    NLMSG_ERROR,
    RTM_NEWLINK,
    LinkError,
    attr,
    configure,
    make_veth,
    rtnl,
)

BRIDGE = "te-br"
SINK, SINK_PEER = "te-k", "te-kp"  # a veth pair inside the relay's namespace: what reaches te-k is dropped
AF_BRIDGE = 7
RTM_DELLINK, RTM_GETLINK, RTM_SETLINK, RTM_NEWNEIGH = 17, 18, 19, 28
NLM_F_DUMP, NLMSG_DONE = 0x300, 3
RTMGRP_LINK = 0x1  # the link announcements' multicast group (RTNLGRP_LINK)
IFLA_BRPORT_STATE, BR_STATE_FORWARDING = 1, 3
NLM_F_REPLACE = 0x100
IFLA_IFNAME, IFLA_MASTER, IFLA_PROTINFO, IFLA_LINKINFO, IFLA_INFO_KIND = 3, 10, 12, 18, 1
NLA_F_NESTED = 0x8000
IFLA_BRPORT_LEARNING, IFLA_BRPORT_UNICAST_FLOOD = 8, 9
NDA_LLADDR = 2
SO_ATTACH_FILTER = 26
NUD_NOARP, NTF_MASTER = 0x40, 0x04  # a "static" fdb entry, on the bridge the port belongs to


def _remove(device: str) -> None:
    try:
        rtnl(RTM_DELLINK, 0, _ifinfo(socket.AF_UNSPEC, 0) + attr(IFLA_IFNAME, device.encode() + b"\0"), f"remove {device}")
    except LinkError:
        pass  # never made


def _port_states() -> dict[int, int]:
    """ifindex -> bridge port state (IFLA_BRPORT_STATE) of every bridge port in this namespace."""
    request = struct.pack("IHHII", 32, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + _ifinfo(AF_BRIDGE, 0)
    states: dict[int, int] = {}
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as nl:
        nl.sendto(request, (0, 0))
        while True:
            data, at = nl.recv(65536), 0
            while at + 16 <= len(data):
                size, kind = struct.unpack_from("IH", data, at)
                if kind in (NLMSG_DONE, NLMSG_ERROR):
                    return states
                index = struct.unpack_from("i", data, at + 20)[0]
                for attr_kind, value in _attrs(data[at + 32 : at + size]):
                    if attr_kind & 0x3FFF == IFLA_PROTINFO:
                        for port_kind, port_value in _attrs(value):
                            if port_kind & 0x3FFF == IFLA_BRPORT_STATE:
                                states[index] = port_value[0]
                at += (size + 3) & ~3


def _drain(sock: socket.socket) -> None:
    """Read what is queued (only that something came matters: the states are dumped again)."""
    try:
        while sock.recv(65536, socket.MSG_DONTWAIT):
            pass
    except BlockingIOError:
        pass
    except OSError as exc:  # ENOBUFS: announcements were lost; the dump that follows sees their states
        if exc.errno != errno.ENOBUFS:
            raise


def _attrs(data: bytes) -> list[tuple[int, bytes]]:
    out, at = [], 0
    while at + 4 <= len(data):
        size, kind = struct.unpack_from("HH", data, at)
        if size < 4:
            break
        out.append((kind, data[at + 4 : at + size]))
        at += (size + 3) & ~3
    return out


def _ifinfo(family: int, index: int) -> bytes:
    return struct.pack("BxHiII", family, 0, index, 0, 0)


class Switch:
    """The bridge in the relay's namespace. Made and changed from inside that namespace."""

    def __init__(self, ends: dict[str, str], hw: dict[str, bytes], wire_ns_fd: int) -> None:
        """``ends``: side -> its pair's end in this namespace; ``hw``: side -> that side's MAC.
        Raises LinkError when the kernel has no bridge (the relay then copies every frame)."""
        self.ends, self.hw = ends, hw
        self.blocked: set[str] = set()
        self._lock = threading.Lock()
        body = _ifinfo(socket.AF_UNSPEC, 0) + attr(IFLA_IFNAME, BRIDGE.encode() + b"\0")
        body += attr(IFLA_LINKINFO, attr(IFLA_INFO_KIND, b"bridge"))
        rtnl(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body, f"make the bridge {BRIDGE}", "a kernel without bridging?")
        try:
            self._build(wire_ns_fd)
        except (LinkError, OSError) as exc:
            _remove(BRIDGE)  # a switch half made must not forward what the relay copies
            _remove(SINK)
            if isinstance(exc, LinkError):
                raise
            raise LinkError(f"cannot set up the bridge {BRIDGE}: {exc.strerror}") from exc

    def _build(self, wire_ns_fd: int) -> None:
        make_veth(SINK, SINK_PEER, wire_ns_fd)
        for dev in (BRIDGE, SINK, SINK_PEER):
            configure(dev)
        master = socket.if_nametoindex(BRIDGE)
        for port in (*self.ends.values(), SINK):
            index = socket.if_nametoindex(port)
            enslave = _ifinfo(socket.AF_UNSPEC, index) + attr(IFLA_MASTER, struct.pack("I", master))
            rtnl(RTM_SETLINK, 0, enslave, f"put {port} on {BRIDGE}")
            # No learning (a frame's source must not move a side's entry off the sink) and no
            # flooding (a frame goes where the side's entry says, or nowhere).
            flags = attr(IFLA_BRPORT_LEARNING, b"\0") + attr(IFLA_BRPORT_UNICAST_FLOOD, b"\0")
            rtnl(RTM_SETLINK, 0, _ifinfo(AF_BRIDGE, index) + attr(IFLA_PROTINFO | NLA_F_NESTED, flags), f"set up the port {port}")
        for side, end in self.ends.items():
            self._route(side, end)

    def wait_forwarding(self, timeout: float = 2.0) -> None:
        """Until every port forwards. A port comes up when its veth's carrier does, which the
        bridge learns from the kernel's link watch, a moment later: a frame before that is
        dropped, unseen by the relay, and the lab's barrier would wait for it forever. The
        kernel announces each port's new state (RTM_NEWLINK on RTNLGRP_LINK): looked at again
        on each announcement, not on a clock."""
        ports = {socket.if_nametoindex(p) for p in (*self.ends.values(), SINK)}
        deadline = time.monotonic() + timeout
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as news:
            news.bind((0, RTMGRP_LINK))  # before the first look: a change after it is heard
            while (states := _port_states()) and any(states.get(i) != BR_STATE_FORWARDING for i in ports):
                if not select.select([news], [], [], max(0.0, deadline - time.monotonic()))[0]:
                    raise LinkError(f"the bridge {BRIDGE}'s ports did not start forwarding within {timeout:g} s: {states}")
                _drain(news)

    def _route(self, side: str, port: str) -> None:
        """Frames to ``side`` (to its MAC) leave the bridge on ``port``."""
        ndmsg = struct.pack("BxxxiHBB", AF_BRIDGE, socket.if_nametoindex(port), NUD_NOARP, NTF_MASTER, 0)
        entry = ndmsg + attr(NDA_LLADDR, self.hw[side])
        rtnl(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, entry, f"route the frames to the {side} to {port}")

    def block(self, side: str) -> None:
        """``side``'s frames go to the sink from now on, for the lab's life."""
        with self._lock:
            if side not in self.blocked:
                self._route(next(s for s in self.hw if s != side), SINK)
                self.blocked.add(side)

    def tap(self, device: str, data: bytes) -> tuple[str, bool] | None:
        """A frame seen leaving ``device``: (the side that sent it, blocked?), or None if it is
        none of the sides' frames (nothing else should cross; it is not counted)."""
        src = data[6:12]
        sender = next((side for side, mac in self.hw.items() if mac == src), None)
        if sender is None:
            return None
        if device == SINK:  # a multicast frame (a side's IGMP report) is flooded there too: seen on the other end
            return (sender, True) if not data[0] & 1 else None
        return (sender, False) if device != self.ends[sender] and device in self.ends.values() else None


RELAY_MARK = 0x7465  # on the frames the relay writes itself (SO_MARK): not the switch's


def sent_by_switch(sock: socket.socket) -> None:
    """cBPF: keep the frames leaving a device (pkttype PACKET_OUTGOING) that the relay did not
    write (mark): with the switch, what arrives at an end is seen once, as it leaves."""
    prog = [
        (0x20, 0, 0, 0xFFFFF000 + 4),  # ld SKF_AD_PKTTYPE
        (0x15, 0, 3, 4),  # PACKET_OUTGOING, or drop
        (0x20, 0, 0, 0xFFFFF000 + 20),  # ld SKF_AD_MARK
        (0x15, 1, 0, RELAY_MARK),  # the relay's own: drop
        (0x06, 0, 0, 0x40000),
        (0x06, 0, 0, 0),
    ]
    insns = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in prog))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, struct.pack("HL", len(prog), ctypes.addressof(insns)))
