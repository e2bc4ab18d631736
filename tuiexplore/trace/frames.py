"""Which captured frames are the traced programs' own, and whose: matched by their endpoints.

Outside a lab, ``lo`` carries every local connection of the machine, so a frame is kept only
when one of its ends is a socket of a traced program. A connect()'s SYN leaves before the
program's socket reports its port, so while a connect() is under way unmatched frames wait
(HOLD_S) to be matched once the call has returned and the endpoint is known.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable

from tuiexplore.lab.capture import Capture, CaptureError, Frame, RelativeSeq
from tuiexplore.timeline import PacketEvent
from tuiexplore.trace.sockets import SockInfo, resolve

HOLD_S = 1.0
WILDCARDS = ("0.0.0.0", "::")
NEW_FD = ("socket", "accept", "accept4", "dup", "dup2", "dup3", "fcntl")
LEARN_FROM = (*NEW_FD, "bind", "listen", "connect")


def _norm(ip: str) -> str:
    return ip.removeprefix("::ffff:")  # a dual-stack socket reports IPv4 peers as mapped


class FrameMatcher:
    def __init__(self, capture: Capture | None = None) -> None:
        self.capture = capture  # None: no packets (--no-capture, or it could not start)
        self.endpoints: dict[tuple[str, int], str] = {}  # local (ip, port) -> actor
        self.conns: set[tuple[int, int]] = set()  # (lport, rport) of traced connections
        self.frames: list[Frame] = []  # ours, in order
        self._held: list[Frame] = []
        self._relseq = RelativeSeq()

    def start(self) -> str | None:
        """Start capturing; why not, in one line, when it cannot."""
        if self.capture is None:
            return None
        try:
            self.capture.start()
        except CaptureError as exc:
            self.capture = None
            return f"no packets: {exc}"
        return None

    def collect(self) -> list[Frame]:
        """The frames captured since the last look."""
        new: list[Frame] = []
        while self.capture is not None:
            try:
                item = self.capture.frames.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Frame):  # lo withholds no frame: nothing else is queued here
                new.append(item)
        return new

    def mark(self) -> int:
        """See ``Capture.mark``: taken when a closing call returns."""
        return self.capture.mark() if self.capture is not None else 0

    def caught_up(self, mark: int) -> bool:
        """The frames queued for the capture at ``mark`` have been read (``collect`` gets them)."""
        return self.capture is None or self.capture.read_up_to(mark)

    def stop(self) -> None:
        if self.capture is not None:
            self.capture.stop()
            self.capture = None

    def learn(self, actor: str, s: SockInfo) -> None:
        if s.kind != "tcp" or not s.lport:
            return
        self.endpoints[(_norm(s.laddr), s.lport)] = actor
        if s.rport:
            self.conns.add((s.lport, s.rport))

    def learn_fds(self, actor: str, pid: int, fds: list[int | None]) -> list[SockInfo]:
        found = [resolve(pid, fd) for fd in fds if isinstance(fd, int) and fd >= 0]
        for s in found:
            if s is not None:
                self.learn(actor, s)
        return [s for s in found if s is not None]

    def learn_call(self, actor: str, pid: int, call: str, ret: int, fd: int | None) -> bool:
        """The endpoints a call that returned created (its new fd) or settled (the fd it acted on:
        bind, connect, ...); whether it was such a call."""
        if call not in LEARN_FROM:
            return False
        self.learn_fds(actor, pid, [ret if call in NEW_FD else None, fd])
        return True

    def owner(self, ip: str, port: int) -> str | None:
        ip = _norm(ip)
        if (ip, port) in self.endpoints:
            return self.endpoints[(ip, port)]
        return next((self.endpoints[(w, port)] for w in WILDCARDS if (w, port) in self.endpoints), None)

    def take(
        self, new: list[Frame], step_of: Callable[[Frame], int | None], rel: float, connecting: bool = False
    ) -> list[PacketEvent]:
        """Frames now known to be ours, as packet events in the step ``step_of`` gives. While a
        connect() is under way, a frame with an unknown end waits (up to HOLD_S: it may be its
        SYN, sent before the program's socket reports its port), and so does every frame after
        it: the stream stays in wire order. Otherwise a frame with no end of ours is another
        program's, on the host's lo: dropped at once, so that it holds nothing back."""
        pending, self._held = self._held + new, []
        out = []
        now = time.time()
        for f in pending:
            src, dst = self.owner(f.saddr, f.sport), self.owner(f.daddr, f.dport)
            if connecting and (self._held or None in (src, dst)):
                if now - f.ts < HOLD_S:
                    self._held.append(f)
                continue
            if src is None and dst is None:
                continue
            self.frames.append(f)
            seq, ack = self._relseq(f)
            out.append(f.event(max(0.0, f.ts - rel), src or "?", dst or "?", seq, ack, step_of(f), len(self.frames)))
        return out
