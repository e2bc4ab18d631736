"""The relay: the one place where a frame crosses from one side of the lab to the other
(packetdrill's ``run_packet.c``). It reads every frame once, in the order the kernel sent them
on, and hands it to the lab as a captured ``Frame``. A side's frame is either forwarded by the
kernel's own switch (bridge.py: the sender's buffer, as on lo) or blocked there, once the lab
controls that side's segments: the relay then writes it on itself, or holds, drops, delays or
duplicates it. Nothing arrives that the relay has not seen, so it is also the lab's capture
(``lab.capture.FrameSource``).

Its barrier is exact, as lo's is (``Capture.mark``): the kernel counts each frame a side puts
on its veth (the relay's end's rx_packets) before the relay's packet socket can see it leave
the switch, and the relay counts a frame once it has been dealt with (queued for the lab, and
forwarded, or written on, held, dropped or delayed). When the two counts meet, every frame the
sides sent has been handed on. A frame written on has been through its receiver's stack (the
write runs the softirq), so what it made that receiver send is counted too; one the switch
forwarded goes through it in the softirq that forwarded it, as a frame on lo does, and an
answer still to come is the lab's to wait for (``lab/acks.py``), as on lo.
"""

from __future__ import annotations

import os
import queue
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from tuiexplore.lab.capture import (
    ANCILLARY,
    PACKET_STATISTICS,
    SO_TIMESTAMPNS,
    SOL_PACKET,
    Captured,
    Delivered,
    Frame,
    Withheld,
    decode,
    kernel_time,
)
from tuiexplore.relay.control import DELAY, DROP, DUPLICATE, HOLD, Controls, Held
from tuiexplore.timeline import DROPPED, DUPLICATED, HELD, INJECTED

SERVER, CLIENT = "server", "client"
SIDES = (SERVER, CLIENT)
# Every frame the relay reads or writes starts with a virtio_net_hdr (PACKET_VNET_HDR): what the
# sender left to offloads (a checksum to finish, a GSO segment), so that a copy arrives as the
# original would have, with the sides' checksum offload on, as lo's is. A frame of the relay's
# own making (the scripted peer's) carries its checksums and asks for nothing.
VNET_LEN = 10
NO_OFFLOAD = bytes(VNET_LEN)
PACKET_VNET_HDR = 15
_MAX_FRAME = VNET_LEN + 14 + 65535  # the header, Ethernet's, and the devices' MTU
MARKS = {HOLD: HELD, DROP: DROPPED, DUPLICATE: DUPLICATED}  # a frame's relay mark (PacketEvent.relay)


def other(side: str) -> str:
    return CLIENT if side == SERVER else SERVER


Tap = Callable[[str, bytes], tuple[str, bool] | None]


class Relay:
    def __init__(
        self,
        read: socket.socket,
        writes: dict[str, socket.socket],
        tap: Tap,
        arrived: Callable[[], int],
        on_frame: Callable[[], None] | None = None,
    ) -> None:
        """``read``: a packet socket that sees every frame leave the switch (or arrive at an end,
        without one); ``tap(device, frame)``: the side that sent it and whether the switch
        blocked it (the relay delivers it), None for a frame that is not the sides';
        ``writes``: side -> a packet socket on the relay's end of that side's pair, which
        receives nothing; ``arrived``: the frames the kernel has counted in at those ends since
        ``read`` was bound (each of them is queued on it)."""
        self.read, self.writes, self._tap = read, writes, tap
        self.read.setblocking(False)
        # The kernel's time of each frame, not the relay's: merged by time with the tracepoints,
        # a frame the switch forwarded comes before what it made its receiver do.
        self.read.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.frames: queue.SimpleQueue[Captured] = queue.SimpleQueue()
        self.notes: list[str] = []
        self._on_frame = on_frame or (lambda: None)
        self._arrived = arrived
        self._handled = 0  # frames read and dealt with
        self._drops = 0
        self.controls = Controls()
        self._due: list[tuple[float, Held]] = []  # delayed segments, by when they go (this thread's)
        self._wake_r, self._wake_w = os.pipe()
        self._stop = False
        self._thread: threading.Thread | None = None

    # -- the capture's interface -------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="relay", daemon=True)
        self._thread.start()

    def drops(self) -> int:
        """Frames the kernel dropped from the relay's queue, unread (PACKET_STATISTICS, cumulative)."""
        try:
            _, dropped = struct.unpack("II", self.read.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
        except OSError:
            return self._drops
        self._drops += dropped  # the kernel resets its counters on every read
        return self._drops

    def caught_up(self) -> bool:
        arrived = self._arrived()  # a frame dropped unread is counted, as lo's capture counts it
        return self._handled >= arrived or self._handled + self.drops() >= arrived

    def due(self) -> float | None:
        first = self._due[:1]  # the relay's thread changes the list: one look at its head
        return max(0.0, first[0][0] - time.time()) if first else None

    def stop(self) -> None:
        self._stop = True
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        for sock in (self.read, *self.writes.values()):
            sock.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- the loop ----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop:
            timeout = max(0.0, self._due[0][0] - time.time()) if self._due else None
            ready, _, _ = select.select([self.read.fileno(), self._wake_r], [], [], timeout)
            while self._due and self._due[0][0] <= time.time():
                _, late = self._due[0]
                self.frames.put(Delivered(late.frame, time.time()))  # before its answer can be read
                self.send(late.to, late.data)
                self._due.pop(0)
            if self._wake_r in ready:
                os.read(self._wake_r, 512)
            if self.read.fileno() not in ready:
                continue
            try:
                data, anc, _, addr = self.read.recvmsg(_MAX_FRAME, ANCILLARY)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:  # the device went away: the lab is closing
                return
            seen = self._tap(addr[0], data[VNET_LEN:])
            if seen is None:
                continue
            side, blocked = seen
            if blocked:
                self._pass(side, data, kernel_time(anc))
            else:  # the kernel delivered it: the lab only records it
                frame = decode(kernel_time(anc), data[VNET_LEN:])
                if frame is not None:
                    self.frames.put(frame)
                self._handled += 1
                self._on_frame()

    def _pass(self, side: str, data: bytes, ts: float) -> None:
        """``data``: the frame as read, its virtio_net_hdr first, which is how it is written on."""
        frame = decode(ts, data[VNET_LEN:])
        to = other(side)
        if frame is None:  # not TCP: nothing the lab shows or controls
            self.send(to, data)
            self._handled += 1
            return
        rule = self.controls.decide(side, frame)
        if rule is not None:  # marked before anything keeps it: the controls know a frame by identity
            frame = replace(frame, relay=MARKS[rule.action] if rule.action != DELAY else f"delayed {rule.ms} ms")
        # Queued before it is written on: what it makes its receiver send comes after it.
        self.frames.put(frame if rule is None or rule.action == DUPLICATE else Withheld(frame))
        if rule is None:
            self.send(to, data)
        elif rule.action == DROP:
            self.controls.dropped(frame)
        elif rule.action == HOLD:
            self.controls.hold(Held(frame, to, data))
        elif rule.action == DUPLICATE:
            self.send(to, data)
            self.send(to, data)
        elif rule.action == DELAY:
            self._due.append((time.time() + rule.ms / 1000, Held(frame, to, data)))
            self._due.sort(key=lambda d: d[0])
        if rule is not None:
            self.controls.log.put((frame, side, rule.action if rule.action != DELAY else f"delay {rule.ms} ms"))
        self._handled += 1
        self._on_frame()

    def release(self, side: str, frame: Frame | None) -> list[Frame]:
        """Deliver the segments held from ``side`` (all, in the order they were held, or one)."""
        out = self.controls.take(other(side), frame)
        for h in out:
            self.frames.put(Delivered(h.frame, time.time()))
            self.send(h.to, h.data)
        return [h.frame for h in out]

    def inject(self, side: str, data: bytes) -> None:
        """A frame of the lab's own making, into ``side``: seen (captured) like any other."""
        decoded = decode(time.time(), data)
        assert decoded is not None, "the scripted peer builds TCP segments (segment.py)"
        frame = replace(decoded, relay=INJECTED)
        self.controls.injected.add(id(frame))
        self.frames.put(frame)
        self.controls.log.put((frame, other(side), "inject"))
        self.send(side, NO_OFFLOAD + data)
        self._on_frame()

    def send(self, side: str, data: bytes) -> None:
        """Write one frame (its virtio_net_hdr first) to a side's wire: it arrives there as from
        the network."""
        try:
            self.writes[side].send(data)
        except OSError:
            pass  # the lab is closing, or a frame the device does not take (it never arrives)
