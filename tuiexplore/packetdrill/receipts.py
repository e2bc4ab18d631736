"""Injected segments (``<`` lines) the kernel decides on: predicted from the live socket just
before the inject with the lab's receipt predictor (``lab/receipt.py``: the kernel's receive
path, branch by branch), judged as the lab judges a scripted peer's inject
(``lab/arrivals.receipt_verdict``): what the kernel sent back, and the state it left.

The receiver is read from the kernel: its state by a sock_diag lookup of the connection's ends
(none: a listener on the port, or no socket at all), whether a script fd still holds it, its
sysctls; RCV.NXT, the window and SND.NXT from the segments both ways so far, as the lab reads
them from its frames (``lab/arrivals.sequence``). A receiver the predictor does not follow
(a handshake under way: SYN_SENT, SYN_RECV) gets no prediction.

A segment's verdict waits for the script's next event that is not an expected ``>`` (or the
run's end, or a failure), so what the kernel answered at once is in; an ACK that the kernel may
delay (data or a FIN queued) and that had not come by then is said, not judged.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from dataclasses import dataclass

from tuiexplore.domain import SocketRow
from tuiexplore.lab import counters, sockdiag, sysctl
from tuiexplore.lab.arrivals import Expected, receipt_verdict, sequence
from tuiexplore.lab.calls import TCP_STATES
from tuiexplore.lab.capture import Frame
from tuiexplore.lab.predict import kernel_version
from tuiexplore.lab.receipt import Arrival, Receiver, predict_arrival, said
from tuiexplore.lab.tracepoints import TraceEvent
from tuiexplore.timeline import VerdictEvent

from .ippacket import Live
from .netdev import Addresses
from .run_packet import options_text
from .verdicts import row

FOLLOWED = ("ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT1", "FIN_WAIT2", "CLOSING", "LAST_ACK", "TIME_WAIT")
MAY_DELAY_ACK = ("rcv_data", "rcv_fin")  # queued data or a FIN: tcp_data_queue() may delay its ACK


def frame(t: float, live: Live) -> Frame:
    """A segment on the device as the lab's frames are (what ``sequence`` and the verdict read)."""
    return Frame(
        t, b"", live.src, live.dst, live.sport, live.dport, live.seq, live.ack, live.bits, live.win, live.payload,
        options_text(live.options),
    )  # fmt: skip


@dataclass
class Awaiting:
    """A prediction made before an inject, to judge once the kernel has answered."""

    step: int
    expected: Expected
    mark: int  # how many of the runner's seen segments came before the inject


class Receipts:
    def __init__(self, addrs: Addresses, fds: dict[int, int]) -> None:
        """``fds``: the script's fds, name -> live fd (syscalls.Syscalls.fds), read at each inject."""
        self.addrs, self.fds = addrs, fds
        self.frames: list[Frame] = []  # both ways, for RCV.NXT, the window and SND.NXT
        self.version = kernel_version()

    def saw(self, t: float, live: Live) -> None:
        self.frames.append(frame(t, live))

    def predict(self, live: Live) -> Expected | None:
        """For the segment about to be injected; None when its receiver is not one the predictor follows."""
        lport, rport = live.dport, live.sport
        states = self._states(lport, rport)
        state, listener = states.get((lport, rport)), states.get((lport, 0)) == "LISTEN"
        if state is None and listener:
            state = "LISTEN"  # tcp_v4_rcv(): no connection has these ends, the listener takes it
        elif state is not None and state not in FOLLOWED:
            return None
        fd = self._holder(rport)
        sock = (
            row(fd, self._name(fd), lport, rport, 0)
            if fd is not None
            else SocketRow("(no fd)", -1, state or "CLOSE", lport=lport, rport=rport)
        )
        seg = frame(0.0, live)
        limit_s = _sysctl("tcp_invalid_ratelimit", 500) / 1000
        view = sequence(sorted(self.frames, key=lambda f: f.ts), seg, set(), limit_s)
        receiver = Receiver(
            state=state,
            closed=fd is None,
            timewait=state == "TIME_WAIT" or (state == "FIN_WAIT2" and fd is None),
            listener=listener,
            linger2=sock.linger2,
            rfc1337=_sysctl("tcp_rfc1337", 0),
            challenge_limit=_sysctl("tcp_challenge_ack_limit", 1 << 31),
            oow_recent=view.last_oow is not None and time.monotonic() - view.last_oow < limit_s,
            version=self.version,
            rcv_nxt=view.rcv_nxt,
            rcv_wnd=view.rcv_wnd,
            snd_nxt=view.snd_nxt,
        )
        arrival = Arrival(live.bits, live.seq, live.ack, live.payload)
        return Expected(sock, "local", live.dst, predict_arrival(receiver, arrival), counters.read())

    def judge(self, t: float, a: Awaiting, sent: list[tuple[float, Live]], reason: str | None) -> VerdictEvent:
        """``sent``: what the kernel sent since the inject; ``reason``: the kernel's for its RST."""
        s, p = a.expected.sock, a.expected.receipt
        deltas = counters.delta(a.expected.before, counters.read())
        states = self._states(s.lport, s.rport)
        # A segment the listener took leaves the listener as it was (a SYN's request socket aside).
        now = states.get((s.lport, s.rport)) or (states.get((s.lport, 0)) if p.state == "LISTEN" else None)
        mine = [frame(when, live) for when, live in sent]
        resets = [TraceEvent(t, "tcp_send_reset", s.lport, s.rport, {"reason": reason})] if reason else []
        v = receipt_verdict(t, a.step, "inject", a.expected, mine, resets, deltas, now)
        if v.observed == "none" and p.outcome == "ACK" and p.branch in MAY_DELAY_ACK:
            state = now or "CLOSE"
            text = said("inject", "no ACK yet", state, p.text)
            text += " · the kernel may delay this ACK (delayed ACK), and none came before the script's next event: not judged"
            v = dataclasses.replace(v, agree=None, explanation=text)
        return v

    def _states(self, lport: int, rport: int) -> dict[tuple[int, int], str]:
        """The states of the connection with these ends and of a listener on the port, by lookup
        (one hash lookup each, where a dump would walk every socket: ~0.05 ms against ~3 ms)."""
        a = self.addrs
        anywhere = "::" if a.family == socket.AF_INET6 else "0.0.0.0"
        try:
            found = sockdiag.lookup([(a.local, lport, a.remote, rport), (a.local, lport, anywhere, 0)])
        except OSError:
            return {}
        return {(d.lport, d.rport): TCP_STATES.get(d.state, "") for d in found}

    def _holder(self, rport: int) -> int | None:
        """The live fd of the script's that holds the connection to ``rport``, if one still does."""
        for fd in self.fds.values():
            try:
                with socket.socket(fileno=os.dup(fd)) as s:
                    if s.type == socket.SOCK_STREAM and s.getpeername()[1] == rport:
                        return fd
            except (OSError, IndexError, TypeError):
                continue
        return None

    def _name(self, fd: int) -> str:
        return next((str(n) for n, live in self.fds.items() if live == fd), str(fd))


def _sysctl(name: str, default: int) -> int:
    try:
        return sysctl.read(name)
    except sysctl.SysctlError:
        return default
