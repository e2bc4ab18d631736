"""Where the lab's sockets live, and what the agent reads from there: the wire it was asked for.

``Loopback`` is the seed's lab: one namespace, the capture on ``lo``. ``RelayWire`` puts the
actor named ``server`` in a namespace and every other actor in a second one, each with a
veth pair whose other end is in a third namespace, the relay's, where a bridge (bridge.py)
forwards frames between the two ends and the relay sees each one, or, once the lab controls a
side, delivers that side's frames itself: the sockets then talk through the agent.
Both give the agent the same things: the capture, the actor factory, the namespaces' counters,
socket states and timers (summed and merged: the two sides of one lab, as on loopback).
"""

from __future__ import annotations

import queue
import socket
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

from tuiexplore.lab import capture, counters, procnet
from tuiexplore.lab.actors import ActorFactory, Post, ScriptedActor
from tuiexplore.lab.capture import NET_DEV, SOL_PACKET, Capture, Frame, attach_drop_outgoing, enlarge, lo_frames
from tuiexplore.lab.namespace import lo_up
from tuiexplore.relay import peer
from tuiexplore.relay.bridge import RELAY_MARK, Switch, sent_by_switch
from tuiexplore.relay.capture import RelayCapture
from tuiexplore.relay.control import Rule
from tuiexplore.relay.link import LinkError, configure, mac, make_veth, neighbour
from tuiexplore.relay.netns import NetNs
from tuiexplore.relay.relay import CLIENT, PACKET_VNET_HDR, SERVER, SIDES, Relay, other

WIRES = ("loopback", "relay")
DEVICE = "te-wire"  # in each side's namespace
ENDS = {SERVER: "te-s", CLIENT: "te-c"}  # the pairs' other ends, in the relay's namespace
# Their interface indexes: each end's differs from its peer's, so that the kernel handles their
# carrier at once, not within the second (link.make_veth).
INDEXES = {SERVER: (12, 22), CLIENT: (13, 23)}  # (DEVICE in the side's namespace, its end in the relay's)
ADDRS = {SERVER: "10.47.0.1", CLIENT: "10.47.0.2"}  # a private /24 of the lab's own
NETMASK = "255.255.255.0"
ETH_P_ALL = 0x0003
# The namespace's own tables, read by the thread that is in it (not the process's first thread).
_COUNTERS = ("/proc/thread-self/net/snmp", "/proc/thread-self/net/netstat")


class Loopback:
    wire = "loopback"
    factory: ActorFactory | None = None

    def __init__(self, on_frame: Callable[[], None]) -> None:
        self.capture = Capture(on_frame=on_frame)

    def counters(self) -> dict[str, int]:
        return counters.read()

    def states(self, keys: Iterable[procnet.Key]) -> dict[procnet.Key, str]:
        return procnet.lookup_states(keys)

    def timers(self, keys: Iterable[procnet.Key]) -> list[procnet.Timer]:
        return procnet.lookup_timers(keys)

    def control(self, actor: str, call: str, args: dict[str, Any], frames: list[Frame]) -> tuple[bool, Any]:
        return False, f'{call} needs the relay\'s wire ([lab] wire = "relay", or --wire relay)'

    def notes(self, frames: list[Frame]) -> list[str]:
        return []

    def arriving(self, actor: str, call: str, args: dict[str, Any], frames: list[Frame]) -> list[Frame]:
        return []

    def sysctl(self, addr: str, name: str) -> int | None:
        return _sysctl(name)

    def counters_of(self, addr: str) -> dict[str, int]:
        return counters.read()

    def undelivered(self) -> set[int]:
        return set()

    def close(self) -> None:
        pass


def side_of(actor: str) -> str:
    """The actor named "server" is on the server's side; every other actor on the client's.
    Every connect() goes to the server's side (its address), where the lab's listeners are."""
    return SERVER if actor == SERVER else CLIENT


class RelayWire:
    wire = "relay"

    def __init__(self, on_frame: Callable[[], None], port: int) -> None:
        """Called in the lab's namespace, where the three namespaces are made (the server's, the
        client's, the relay's). Raises LinkError or NetnsError (one line each) when the kernel
        gives no more namespaces or no veth."""
        self.port = port
        self.since = 0  # frames before this number are behind the scripted peer's last step
        self.ends = [0, 0]  # the packet count at the end of the last two steps
        self.ns = {SERVER: NetNs.new(), CLIENT: NetNs.new()}
        self.wire_ns = NetNs.new()  # the relay's: the pairs' other ends, no address, no IP traffic
        self._dev: BinaryIO | None = None  # the relay namespace's NET_DEV: what arrived at its ends
        self.switch: Switch | None = None
        why = ""  # why there is no switch
        socks: list[socket.socket] = []
        try:
            hw = {}
            for side, ns in self.ns.items():
                with ns.inside():
                    lo_up()
                    make_veth(DEVICE, ENDS[side], self.wire_ns.fd, *INDEXES[side])
                    configure(DEVICE, ADDRS[side], NETMASK)
                    hw[side] = mac(DEVICE)
            for side, ns in self.ns.items():
                with ns.inside():
                    neighbour(DEVICE, ADDRS[other(side)], hw[other(side)])
            with self.wire_ns.inside():
                # Made before the ends are up: every frame counted in at an end from then on is
                # queued for the relay (the barrier's count starts there).
                socks.append(_packet_socket())
                try:
                    self.switch = Switch(ENDS, hw, self.wire_ns.fd)
                except LinkError as exc:  # every frame is then the relay's copy
                    why = f"relay: {exc}; every segment is the relay's copy, which a receiver accounts at the copy's size"
                (sent_by_switch if self.switch is not None else attach_drop_outgoing)(socks[0])
                self._dev = open(NET_DEV, "rb")  # noqa: SIM115 - read at every barrier, closed in close()
                self._base = self._arrived()
                for side in SIDES:
                    configure(ENDS[side])
                if self.switch is not None:
                    self.switch.wait_forwarding()
                socks += [_writer(ENDS[side]) for side in SIDES]
        except Exception:
            for sock in socks:
                sock.close()
            self.close()
            raise
        tap = self.switch.tap if self.switch is not None else _arrived_at
        writes = dict(zip(SIDES, socks[1:], strict=True))
        self.relay = Relay(socks[0], writes, tap, lambda: self._arrived() - self._base, on_frame)
        self.capture = RelayCapture(self.relay, Capture(on_frame, frames=self.relay.frames), self.ns[SERVER])
        if why:
            self.capture.notes.append(why)

    def factory(self, name: str, post: Post) -> ScriptedActor:
        side = side_of(name)
        # A child process starts in its parent thread's namespace and keeps it.
        with self.ns[side].inside():
            return ScriptedActor(name, post, env={"TUIEXPLORE_LAB_ADDR": ADDRS[side], "TUIEXPLORE_LAB_SERVER": ADDRS[SERVER]})

    def control(self, actor: str, call: str, args: dict[str, Any], frames: list[Frame]) -> tuple[bool | None, Any]:
        """A wire call for the actor's direction: (True, the step's result), (False, why not), or
        (None, what to say if it never comes) for an ``expect`` still waiting for its segment."""
        side, controls = side_of(actor), self.relay.controls
        if call == "inject":
            try:
                raw = peer.inject(ADDRS[side], args, frames, set(controls.undelivered), self.port)
            except peer.PeerError as exc:
                return False, str(exc)
            self.since = len(frames)
            self.relay.inject(other(side), raw)
            return True, {}
        if call == "expect":
            # The first segment since the previous step began (or the peer's last step, if later).
            since = max(self.since, self.ends[0])
            said, seen = peer.expect(ADDRS[side], actor, args, frames, since, self.port, controls.injected)
            if said is None:
                return None, f"expected {actor} {args['flags']}, saw none within {max(0, args['timeout_ms'])} ms"
            self.since = seen
            return (False, said) if said else (True, {"packet": seen})
        if call != "release":
            if self.switch is not None:  # from now on the relay decides on this side's segments
                with self.wire_ns.inside():
                    self.switch.block(side)
            count = args.get("count") or (None if call == "hold" else 1)
            controls.add(side, Rule(call, args.get("flags") or "", count, args.get("ms") or 0))
            return True, {}
        n = args.get("packet")
        frame = frames[n - 1] if n is not None and 1 <= n <= len(frames) else None
        if n is not None and (frame is None or not controls.is_held(frame)):
            held = ", ".join(f"#{number(frames, h.frame)}" for h in controls.held) or "none"
            return False, f"packet #{n} is not held (held now: {held})"
        if frame is None:
            controls.end_holds(side)
        went = self.relay.release(side, frame)
        return True, {"released": [number(frames, f) for f in went]}

    def arriving(self, actor: str, call: str, args: dict[str, Any], frames: list[Frame]) -> list[Frame]:
        """The segments a wire call is about to deliver to the other side: what an ``inject``
        would build, what a ``release`` would let through ([] for the other calls, or none)."""
        side, controls = side_of(actor), self.relay.controls
        if call == "inject":
            try:
                raw = peer.inject(ADDRS[side], args, frames, set(controls.undelivered), self.port)
            except peer.PeerError:
                return []
            frame = capture.decode(0.0, raw)
            return [frame] if frame is not None else []
        if call == "release":
            n = args.get("packet")
            return [h.frame for h in controls.held if h.to == other(side) and (n is None or number(frames, h.frame) == n)]
        return []

    def undelivered(self) -> set[int]:
        """id() of the frames dropped or still held: their receiver has not had them."""
        return set(self.relay.controls.undelivered)

    def sysctl(self, addr: str, name: str) -> int | None:
        """net.ipv4.NAME in the namespace of the side whose address is ``addr``."""
        with self.ns[_side_with(addr)].inside():
            return _sysctl(name)

    def counters_of(self, addr: str) -> dict[str, int]:
        """The counters of one side's kernel (``counters()`` sums both)."""
        with self.ns[_side_with(addr)].inside():
            return counters.read(_COUNTERS)

    def notes(self, frames: list[Frame]) -> list[str]:
        """What the relay did since the last step's end, and what it still holds (at each step's end)."""
        self.ends = [self.ends[1], len(frames)]
        out = []
        while True:
            try:
                frame, side, what = self.relay.controls.log.get_nowait()
            except queue.Empty:
                break
            out.append(f"relay: {what} #{number(frames, frame)} ({side} {frame.flags})")
        held = self.relay.controls.held
        if held:
            listed = ", ".join(f"#{number(frames, h.frame)} to the {h.to} ({h.frame.flags})" for h in held)
            out.append(f"relay: still held at the end of this step: {listed}; release delivers them")
        return out

    def counters(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for ns in self.ns.values():
            with ns.inside():
                for k, v in counters.read(_COUNTERS).items():
                    total[k] = total.get(k, 0) + v
        return total

    # Socket states and timers: sock_diag lookups made in each side's namespace (a netlink
    # socket answers for the namespace it is made in), with that side's address; a socket's
    # peer is on the other side, or on its own (a process connected to its own listener).
    def states(self, keys: Iterable[procnet.Key]) -> dict[procnet.Key, str]:
        merged: dict[procnet.Key, str] = {}
        for side, ns in self.ns.items():
            with ns.inside():
                merged.update(procnet.lookup_states(keys, ADDRS[side], (ADDRS[other(side)], ADDRS[side])))
        return merged

    def timers(self, keys: Iterable[procnet.Key]) -> list[procnet.Timer]:
        found: list[procnet.Timer] = []
        for side, ns in self.ns.items():
            with ns.inside():
                found += procnet.lookup_timers(keys, ADDRS[side], (ADDRS[other(side)], ADDRS[side]))
        return found

    def _arrived(self) -> int:
        """Frames the sides have put on the wire: counted in at the relay's ends."""
        return sum(lo_frames(self._dev, ENDS[side], received=True) for side in SIDES)

    def close(self) -> None:
        for ns in (*self.ns.values(), self.wire_ns):
            ns.close()
        if self._dev is not None:
            self._dev.close()
            self._dev = None


def _side_with(addr: str) -> str:
    return next((s for s, a in ADDRS.items() if a == addr), SERVER)


def _sysctl(name: str) -> int | None:
    """A sysctl of the calling thread's network namespace (/proc/sys/net is the opener's)."""
    try:
        with open(f"/proc/sys/net/ipv4/{name}") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def number(frames: list[Frame], frame: Frame) -> int | str:
    """A frame's number in the lab's packet list (the one the packet list shows), "?" before it
    has been drained into the list."""
    return next((i for i, f in enumerate(frames, 1) if f is frame), "?")


def _packet_socket() -> socket.socket:
    """Every frame of the relay's namespace, on any device (one socket: one order)."""
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        enlarge(sock)  # lo's capture, made alongside, says what the kernel gave if it gave less
    except OSError as exc:
        raise LinkError(f"cannot open a packet socket: {exc.strerror}") from exc
    return sock


def _writer(device: str) -> socket.socket:
    """A packet socket that writes frames on ``device`` and receives none (protocol 0); they
    carry the relay's mark, so the reading socket does not see them leave."""
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        sock.bind((device, 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, RELAY_MARK)
        sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    except OSError as exc:
        raise LinkError(f"cannot open a packet socket on {device}: {exc.strerror}") from exc
    return sock


def _arrived_at(device: str, data: bytes) -> tuple[str, bool] | None:
    """Without a switch: a frame that arrived at a side's end was sent by that side, and only the relay delivers it."""
    return next(((side, True) for side, end in ENDS.items() if end == device), None)


Wire = Loopback | RelayWire


def make(wire: str, on_frame: Callable[[], None], port: int) -> Wire:
    return RelayWire(on_frame, port) if wire == "relay" else Loopback(on_frame)
