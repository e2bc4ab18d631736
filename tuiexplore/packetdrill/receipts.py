"""Injected segments (``<`` lines) the kernel decides on: predicted from the live socket just
before the inject with the lab's receipt predictor (``lab/receipt.py``: the kernel's receive
path, branch by branch), judged as the lab judges a scripted peer's inject
(``lab/arrivals.receipt_verdict``): what the kernel sent back, and the state it left.

The receiver is read from the kernel: its state by a sock_diag lookup of the connection's ends
(none: a listener on the port, or no socket at all), whether a script fd still holds it, its
sysctls; RCV.NXT, the window and SND.NXT from the segments both ways so far, as the lab reads
them from its frames (``lab/arrivals.sequence``). A receiver the predictor does not follow
(a handshake under way: SYN_SENT, SYN_RECV) gets no prediction.

A segment's verdict is made at the script's next event that is not an expected ``>`` (or the
run's end, or a failure). Its answer is what the kernel sent while taking it; only an ACK the
kernel may delay (data or a FIN queued) is looked for until then, and one that had not come is
said, not judged. What waits to be sent (the write queue, a FIN held by a shut window), the
window the segment offers and the peer's last timestamp are inputs too (``_send_queue``).
"""

from __future__ import annotations

import dataclasses
import os
import re
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
from tuiexplore.lab.receive_rules import ReceiveRules
from tuiexplore.lab.tracepoints import TraceEvent
from tuiexplore.timeline import VerdictEvent

from .ippacket import Live
from .netdev import Addresses
from .run_packet import options_text
from .verdicts import row

_TSVAL = re.compile(r"\bTS val (\d+)")
_WSCALE = re.compile(r"\bwscale (\d+)")
MOD = 1 << 32
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
    written: float  # the device's clock once it took the segment: the kernel had answered by then


class Receipts:
    def __init__(self, addrs: Addresses, fds: dict[int, int], rules: ReceiveRules | None = None) -> None:
        """``fds``: the script's fds, name -> live fd (syscalls.Syscalls.fds), read at each inject;
        ``rules``: this kernel's rules where versions differ (rules_probe.py)."""
        self.addrs, self.fds, self.rules = addrs, fds, rules or ReceiveRules()
        self.frames: list[Frame] = []  # both ways, for RCV.NXT, the window and SND.NXT
        self.version = kernel_version()

    def saw(self, t: float, live: Live) -> None:
        self.frames.append(frame(t, live))

    def predict(self, live: Live) -> Expected | None:
        """For the segment about to be injected; None when its receiver is not one the predictor follows."""
        lport, rport = live.dport, live.sport
        found = self._lookup(lport, rport)
        states = {k: TCP_STATES.get(d.state, "") for k, d in found.items()}
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
        frames = sorted(self.frames, key=lambda f: f.ts)
        view = sequence(frames, seg, set(), limit_s)
        ts = live.ts()
        conn = found.get((lport, rport))
        unsent, fin_queued = _send_queue(frames, seg, state or "", conn.wqueue if conn else 0, view.snd_nxt)
        receiver = Receiver(
            state=state,
            closed=fd is None,
            timewait=state == "TIME_WAIT" or (state == "FIN_WAIT2" and fd is None),
            listener=listener,
            ts_recent=_ts_recent(frames, seg),
            linger2=sock.linger2,
            rfc1337=_sysctl("tcp_rfc1337", 0),
            challenge_limit=_sysctl("tcp_challenge_ack_limit", 1 << 31),
            oow_recent=view.last_oow is not None and time.monotonic() - view.last_oow < limit_s,
            version=self.version,
            rcv_nxt=view.rcv_nxt,
            rcv_wnd=view.rcv_wnd,
            snd_nxt=view.snd_nxt,
            unsent=unsent,
            fin_queued=fin_queued,
            rules=self.rules,
            snd_una=view.snd_una,
            max_window=view.max_window,
            bytes_acked=view.bytes_acked,
            retransmits=view.syn_retransmits,
        )
        win = live.win << _shift(frames, seg)
        arrival = Arrival(live.bits, live.seq, live.ack, live.payload, ts[0] if ts else None, win)
        return Expected(sock, "local", live.dst, predict_arrival(receiver, arrival), counters.read())

    def judge(self, t: float, a: Awaiting, sent: list[tuple[float, Live]], reason: str | None) -> VerdictEvent:
        """``sent``: what the kernel sent since the inject; ``reason``: the kernel's for its RST.
        The answer is what the kernel sent while it took the segment (a TUN write is received in
        the writing call); only an ACK it may delay is looked for later, up to the script's next
        event (a timer's segment meanwhile, a zero-window probe, is no answer)."""
        s, p = a.expected.sock, a.expected.receipt
        if p.branch not in MAY_DELAY_ACK:
            sent = [(when, live) for when, live in sent if when <= a.written]
        deltas = counters.delta(a.expected.before, counters.read())
        states = {k: TCP_STATES.get(d.state, "") for k, d in self._lookup(s.lport, s.rport).items()}
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

    def _lookup(self, lport: int, rport: int) -> dict[tuple[int, int], sockdiag.DiagSocket]:
        """The connection with these ends and a listener on the port, by lookup (one hash lookup
        each, where a dump would walk every socket: ~0.05 ms against ~3 ms)."""
        a = self.addrs
        anywhere = "::" if a.family == socket.AF_INET6 else "0.0.0.0"
        try:
            found = sockdiag.lookup([(a.local, lport, a.remote, rport), (a.local, lport, anywhere, 0)])
        except OSError:
            return {}
        return {(d.lport, d.rport): d for d in found}

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


def _send_queue(frames: list[Frame], seg: Frame, state: str, wqueue: int, snd_nxt: int) -> tuple[int, bool]:
    """(bytes written and not sent, whether a FIN waits too): sock_diag's wqueue is write_seq -
    snd_una (a queued FIN counted), snd_una the peer's last ACK, snd_nxt the end of what the
    receiver sent; the FIN waits when the state says it was queued and none was sent."""
    peer, mine = (seg.saddr, seg.sport), (seg.daddr, seg.dport)
    conn = [f for f in frames if {(f.saddr, f.sport), (f.daddr, f.dport)} == {peer, mine}]
    start = max((i for i, f in enumerate(conn) if f.flag_bits & 0x02), default=0)
    acks = [f.ack for f in conn[start:] if (f.saddr, f.sport) == peer and f.flag_bits & 0x10]
    if not acks or not wqueue:
        return 0, False
    queued = (acks[-1] + wqueue - snd_nxt) % MOD
    if queued >= MOD // 2:
        return 0, False
    fin_sent = any(f.flag_bits & 0x01 for f in conn[start:] if (f.saddr, f.sport) == mine)
    fin_queued = state in ("FIN_WAIT1", "CLOSING", "LAST_ACK") and not fin_sent and queued > 0
    return queued - fin_queued, fin_queued


def _shift(frames: list[Frame], seg: Frame) -> int:
    """The peer's window scale, when both SYNs of the connection offered one (RFC 7323)."""
    ends = {(seg.saddr, seg.sport), (seg.daddr, seg.dport)}
    syns = [f for f in frames if f.flag_bits & 0x02 and {(f.saddr, f.sport), (f.daddr, f.dport)} == ends]
    scales = {(f.saddr, f.sport): m[1] for f in syns if (m := _WSCALE.search(f.options))}
    return int(scales[(seg.saddr, seg.sport)]) if len(scales) == 2 else 0


def _ts_recent(frames: list[Frame], seg: Frame) -> int | None:
    """The TS val of the peer's last segment on these ends (what the receiver keeps as ts_recent)."""
    for f in reversed(frames):
        if (f.saddr, f.sport, f.dport) == (seg.saddr, seg.sport, seg.dport) and (m := _TSVAL.search(f.options)):
            return int(m[1])
    return None


def _sysctl(name: str, default: int) -> int:
    try:
        return sysctl.read(name)
    except sysctl.SysctlError:
        return default
