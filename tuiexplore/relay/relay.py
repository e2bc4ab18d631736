"""The relay: the one place where a frame crosses from one side of the lab to the other
(packetdrill's ``run_packet.c``). It reads every frame once, in the order the two devices give
them, hands it to the lab as a captured ``Frame`` and writes it on. Nothing arrives that the
relay has not written, so it is also the lab's capture (``lab.capture.FrameSource``).

Its barrier is exact, as lo's is (``Capture.mark``): the kernel counts each frame a side puts
on its veth (the relay's end's rx_packets) before the relay's packet socket can see it, and the
relay counts a frame once it has been dealt with (queued for the lab, and written on, held,
dropped or delayed). When the two counts meet, every frame the sides sent has been handed on,
and a frame written on has been through its receiver's stack (the write runs the softirq), so
what it made that receiver send is counted too.
"""

from __future__ import annotations

import os
import queue
import select
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from tuiexplore.lab.capture import Captured, Delivered, Frame, Withheld, decode
from tuiexplore.relay.control import DELAY, DROP, DUPLICATE, HOLD, Controls, Held
from tuiexplore.timeline import DROPPED, DUPLICATED, HELD, INJECTED

SERVER, CLIENT = "server", "client"
SIDES = (SERVER, CLIENT)
_MAX_FRAME = 14 + 65535  # Ethernet header and the devices' MTU
MARKS = {HOLD: HELD, DROP: DROPPED, DUPLICATE: DUPLICATED}  # a frame's relay mark (PacketEvent.relay)


def other(side: str) -> str:
    return CLIENT if side == SERVER else SERVER


class Relay:
    def __init__(self, fds: dict[str, int], arrived: Callable[[], int], on_frame: Callable[[], None] | None = None) -> None:
        """``fds``: side -> a packet socket on the relay's end of that side's veth pair;
        ``arrived``: the frames the kernel has counted in at those ends since the sockets were
        bound (each of them is queued on one of the sockets)."""
        self.fds = fds
        self.frames: queue.SimpleQueue[Captured] = queue.SimpleQueue()
        self.notes: list[str] = []
        self._on_frame = on_frame or (lambda: None)
        self._arrived = arrived
        self._handled = 0  # frames read from a device and dealt with
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
        return 0  # the relay reads every frame itself: nothing is delivered that it did not see

    def caught_up(self) -> bool:
        return self._handled >= self._arrived()

    def due(self) -> float | None:
        first = self._due[:1]  # the relay's thread changes the list: one look at its head
        return max(0.0, first[0][0] - time.time()) if first else None

    def stop(self) -> None:
        self._stop = True
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        for fd in (*self.fds.values(), self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = {}

    # -- the loop ----------------------------------------------------------------------------
    def _run(self) -> None:
        by_fd = {fd: side for side, fd in self.fds.items()}
        while not self._stop:
            timeout = max(0.0, self._due[0][0] - time.time()) if self._due else None
            ready, _, _ = select.select([*by_fd, self._wake_r], [], [], timeout)
            while self._due and self._due[0][0] <= time.time():
                _, late = self._due[0]
                self.frames.put(Delivered(late.frame, time.time()))  # before its answer can be read
                self.send(late.to, late.data)
                self._due.pop(0)
            for fd in ready:
                if fd == self._wake_r:
                    os.read(fd, 512)
                    continue
                try:
                    data = os.read(fd, _MAX_FRAME)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:  # the device went away: the lab is closing
                    return
                self._pass(by_fd[fd], data)

    def _pass(self, side: str, data: bytes) -> None:
        frame = decode(time.time(), data)
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
        self.send(side, data)
        self._on_frame()

    def send(self, side: str, data: bytes) -> None:
        """Write one frame to a side's wire: it arrives there as from the network."""
        try:
            os.write(self.fds[side], data)
        except OSError:
            pass  # the lab is closing, or a frame the device does not take (it never arrives)
