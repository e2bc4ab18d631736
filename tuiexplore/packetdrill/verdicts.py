"""Closing calls in a script (close, shutdown, connect(AF_UNSPEC)): the usual prediction from the
socket's real state just before the call, and the verdict from what the device saw it send.

The predictor is the lab's (``lab.predict``: the kernel's own code path, branch by branch); the
inputs are read here from the live fd, as the lab's actor reads them.
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct

from tuiexplore.domain import SocketRow
from tuiexplore.lab import counters, sockdiag
from tuiexplore.lab.advice import advise
from tuiexplore.lab.calls import SIOCINQ, SIOCOUTQ, SIOCOUTQNSD, TCP_LINGER2, TCP_STATES
from tuiexplore.lab.kernel_inputs import usable_window
from tuiexplore.lab.predict import (
    BRANCHES,
    Child,
    Prediction,
    SocketView,
    kernel_version,
    predict_close,
    predict_disconnect,
    predict_shutdown,
)
from tuiexplore.timeline import VerdictEvent

from .ippacket import Live
from .tcpinfo import fields

_libc = ctypes.CDLL(None, use_errno=True)
_SHUT = {0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}


def _getsockopt(fd: int, level: int, opt: int, size: int) -> bytes:
    buf = ctypes.create_string_buffer(size)
    n = ctypes.c_uint32(size)
    if _libc.getsockopt(fd, level, opt, buf, ctypes.byref(n)) != 0:
        return b""
    return buf.raw[: n.value]


def _ioctl(fd: int, req: int) -> int:
    v = ctypes.c_int(0)
    return v.value if _libc.ioctl(fd, req, ctypes.byref(v)) == 0 else 0


def tcp_info(fd: int) -> dict[str, int]:
    return fields(_getsockopt(fd, 6, 11, 232))


def row(fd: int, name: str, lport: int, rport: int, read: int) -> SocketRow:
    """The socket as the predictor needs it. ``read``: what reads on it returned so far. SIOCINQ
    answers 0 in SYN_RECV (tcp_inq()), yet a Fast Open child there holds its SYN's data: then
    the unread bytes are tcpi_bytes_received (the SYN's payload, tcp_fastopen_add_skb()) minus
    what was read."""
    info = tcp_info(fd)
    linger = _getsockopt(fd, 1, 13, 8)
    l2 = _getsockopt(fd, 6, TCP_LINGER2, 4)
    state = TCP_STATES.get(info.get("tcpi_state", 7), "CLOSE")
    return SocketRow(
        name,
        fd,
        state,
        struct.unpack("ii", linger) if len(linger) == 8 else (0, 0),
        struct.unpack("i", l2)[0] if len(l2) == 4 else 0,
        lport=lport,
        rport=rport,
        inq=max(0, info.get("tcpi_bytes_received", 0) - read)
        if state == "SYN_RECV"
        else _ioctl(fd, SIOCINQ)
        if state != "LISTEN"
        else 0,
        outq=_ioctl(fd, SIOCOUTQ) if state != "LISTEN" else 0,
        unsent=_ioctl(fd, SIOCOUTQNSD) if state != "LISTEN" else 0,
        accept_queue=info.get("tcpi_unacked", 0) if state == "LISTEN" else 0,
        snd_wnd=info.get("tcpi_snd_wnd"),
        snd_mss=info.get("tcpi_snd_mss", 0),
        cwnd_room=_cwnd_room(info) if state != "LISTEN" else None,
    )


def _cwnd_room(info: dict[str, int]) -> int | None:
    """tcp_cwnd_test()'s room: snd_cwnd minus tcp_packets_in_flight() (lab/tcpinfo.py's)."""
    if "tcpi_snd_cwnd" not in info:
        return None
    flight = info["tcpi_unacked"] - info["tcpi_sacked"] - info["tcpi_lost"] + info["tcpi_retrans"]
    return info["tcpi_snd_cwnd"] - flight


def children(listener: SocketRow, open_fds: list[int]) -> tuple[Child, ...] | None:
    """A listener's un-accepted children, as this namespace's socket table has them. A Fast Open
    child is a full socket already in SYN_RECV (the lab's ``kernel_inputs`` meets only ESTABLISHED
    and CLOSE_WAIT ones); a plain SYN_RECV entry may be a request socket, outside the queue, so
    those count last, up to the queue's length (sk_ack_backlog)."""
    accepted = {_peer_port(fd) for fd in open_fds}
    try:
        table = sockdiag.dump((socket.AF_INET, socket.AF_INET6))
    except OSError:
        return None
    rank = {"ESTABLISHED": 0, "CLOSE_WAIT": 0, "SYN_RECV": 1}
    found = sorted(
        (rank[st], d.rport, st)
        for d in table
        if d.lport == listener.lport and d.rport and d.rport not in accepted and (st := TCP_STATES.get(d.state, "")) in rank
    )
    kids = [Child(rport, st) for _, rport, st in found][: listener.accept_queue]
    return (*kids, *(Child(0, "CLOSE") for _ in range(listener.accept_queue - len(kids))))


def _peer_port(fd: int) -> int:
    try:
        with socket.socket(fileno=os.dup(fd)) as s:
            return int(s.getpeername()[1])
    except (OSError, IndexError, TypeError):
        return 0


class Closing:
    """One closing call: predicted before it runs, judged once it has returned."""

    def __init__(
        self, call: str, how: int | None, sock: SocketRow, unread_rule: str | None, kids: tuple[Child, ...] | None = None
    ) -> None:
        self.call, self.sock = call, sock
        # The peer's usable window, as the lab gives it: whether unsent data (and a FIN behind
        # it) is held by the window or by TCP_CORK/Nagle decides whether close() sends the FIN.
        window = usable_window(sock, ()) if sock.rport else None
        view = SocketView(
            sock.state, sock.inq, sock.unsent, sock.linger, sock.linger2, sock.accept_queue, kids,
            send_window=window, lport=sock.lport, rport=sock.rport, peer_acks_fin=False,
            cwnd_room=sock.cwnd_room, mss=sock.snd_mss,
        )  # fmt: skip
        version = kernel_version()
        if call == "shutdown":
            self.pred: Prediction = predict_shutdown(view, _SHUT.get(how or 0, "SHUT_WR"), version)
        elif call == "connect":
            self.pred = predict_disconnect(view, version)
        else:
            self.pred = predict_close(view, version, unread_rule=unread_rule)
        self.before = counters.read()

    def judge(self, t: float, step: int, sent: list[Live], reason: str | None = None) -> VerdictEvent:
        """``reason``: the kernel's own for the RST it sent (tcp_send_reset), when read."""
        bits = [p.bits for p in sent]
        observed = "RST" if any(b & 0x04 for b in bits) else "FIN" if any(b & 0x01 for b in bits) else "none"
        deltas = counters.delta(self.before, counters.read())
        want = self.pred.reason
        agree = observed == self.pred.outcome and (reason is None or want is None or reason == want)
        text = f"{self.call}() -> {observed}: {self.pred.text}"
        if "drain" in self.pred.path and self.sock.inq == 0 and self.pred.branch != "already_closed":
            # the question a teardown script is usually about: why not RST?
            text += " · nothing unread in the receive queue, so __tcp_close() did not reset"
        if reason:
            text += f" · kernel reason {reason}"
        if not agree:
            with_reason = f" with reason {want}" if want and reason and want != reason else ""
            text += f" · PREDICTED {self.pred.outcome}{with_reason} ({BRANCHES[self.pred.branch]}) - the kernel did otherwise"
        return VerdictEvent(
            t, step, "local", self.sock.name, self.call, self.pred.outcome, observed, self.pred.branch, reason,
            deltas, agree, text, tuple(self.pred.path), self._advice(agree),
        )  # fmt: skip

    def _advice(self, held: bool) -> str:
        return advise(self.pred.branch, self.pred.outcome, self.sock, self.call, held=held)
