"""Predicting what the kernel will put on the wire for a closing call, from the socket's real state.

This follows the kernel's code path (net/ipv4/tcp.c ``__tcp_close()``, ``tcp_disconnect()``,
``tcp_shutdown()``; net/ipv4/af_inet.c ``inet_shutdown()`` / ``__inet_stream_connect()``) branch by
branch, as shared/notes/kernel.md documents it. It is not a table of known scenarios: the inputs
are what TCP_INFO, SIOCINQ, SIOCOUTQNSD and getsockopt report just before the call.

Branch ids (fixed, documented in docs/reference/branches.md, made from BRANCHES):

===================  ===========================================================================
``listen_stop``      a listener closes: tcp_disconnect() on each child still in the accept queue
``already_closed``   the socket is in CLOSE (reset, refused, never connected): nothing is sent
``data_was_unread``  unread data in the receive queue: RST (RFC 2525 §2.17), TCPAbortOnClose
``linger_zero``      SO_LINGER {1, 0}: tcp_disconnect(): RST in most states, TCPAbortOnData
``fin``              tcp_close_state() asks for a FIN: sent now, or queued behind unsent data
``no_fin``           no FIN to send (SYN_SENT, or our FIN was sent already): nothing new
``linger2_abort``    orphan in FIN_WAIT2 with TCP_LINGER2 < 0: RST, TCPAbortOnLinger
``linger2_orphan_ack`` FIN sent, the peer's ACK finds the orphan with TCP_LINGER2 < 0: RST, TCPAbortOnData
``shutdown_fin``     shutdown(SHUT_WR/RDWR) in a state that sends a FIN
``shutdown_none``    shutdown that sends nothing (SHUT_RD, FIN already sent, not connected)
``disconnect``       connect(AF_UNSPEC) or shutdown() of a connecting socket: tcp_disconnect()
===================  ===========================================================================
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass, field

from tuiexplore.lab.receipt_branches import RECEIPT_BRANCHES

BRANCHES: dict[str, str] = {
    "listen_stop": "listener closed: inet_csk_listen_stop() disconnects each un-accepted child",
    "already_closed": "socket already in CLOSE: nothing to send, unread data dropped silently",
    "data_was_unread": "unread data in the receive queue (RFC 2525 §2.17)",
    "linger_zero": "SO_LINGER on with timeout 0: tcp_disconnect()",
    "fin": "tcp_close_state() -> tcp_send_fin()",
    "no_fin": "no FIN to send in this state",
    "linger2_abort": "FIN_WAIT2 orphan with TCP_LINGER2 < 0",
    "linger2_orphan_ack": "FIN sent; the peer's ACK finds the orphan with TCP_LINGER2 < 0 and is answered with RST",
    "shutdown_fin": "shutdown(SHUT_WR): tcp_close_state() -> tcp_send_fin()",
    "shutdown_none": "shutdown() that sends nothing in this state",
    "disconnect": "tcp_disconnect(): RST if the state needs one",
    **RECEIPT_BRANCHES,  # a segment's receipt: lab/receipt.py
}

# Not a kernel branch: a close() that only drops one reference of a socket another fd still
# holds (a dup, a forked child), so __tcp_close() does not run (trace/closing.py).
STILL_REFERENCED = "still_referenced"

# tcp_need_reset(): the states in which tcp_disconnect() sends an RST.
NEED_RESET = {"ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT1", "FIN_WAIT2", "SYN_RECV"}
# tcp_close_state()'s new_state[] table: (next state, send a FIN?)
CLOSE_STATE = {
    "ESTABLISHED": ("FIN_WAIT1", True),
    "SYN_RECV": ("FIN_WAIT1", True),
    "CLOSE_WAIT": ("LAST_ACK", True),
    "SYN_SENT": ("CLOSE", False),
    "LISTEN": ("CLOSE", False),
    "TIME_WAIT": ("CLOSE", False),
    "CLOSE": ("CLOSE", False),
    "FIN_WAIT1": ("FIN_WAIT1", False),
    "FIN_WAIT2": ("FIN_WAIT2", False),
    "CLOSING": ("CLOSING", False),
    "LAST_ACK": ("LAST_ACK", False),
}


def kernel_version(release: str | None = None) -> tuple[int, int, int]:
    m = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", release or platform.release())
    return (int(m[1]), int(m[2]), int(m[3] or 0)) if m else (0, 0, 0)


@dataclass(frozen=True)
class Child:
    """One connection in a listener's accept queue, as the namespace's own socket table shows it."""

    rport: int  # the child's remote port (its local port is the listener's)
    state: str  # "CLOSE" once the peer reset it: tcp_reset() -> tcp_done() unhashes it, in the queue still


@dataclass(frozen=True)
class SocketView:
    """What the kernel reports about one socket just before the call (see actor.describe)."""

    state: str
    inq: int = 0  # SIOCINQ: unread bytes (excluding a FIN)
    unsent: int = 0  # SIOCOUTQNSD: written but never sent
    linger: tuple[int, int] = (0, 0)
    linger2: int = 0  # getsockopt(TCP_LINGER2): -1 when negative
    accept_queue: int = 0
    # Each child in the accept queue (None: not read, every child is taken to be alive).
    children: tuple[Child, ...] | None = None
    # The peer's usable window for our next byte: tcpi_snd_wnd (or the captured window) minus the
    # bytes in flight; None when neither is known.
    send_window: int | None = None
    lport: int = 0
    rport: int = 0
    peer_acks_fin: bool = True  # a live peer on loopback ACKs our FIN at once
    # tcp_cwnd_test()'s room: snd_cwnd minus the packets in flight; None when not read.
    cwnd_room: int | None = None
    mss: int = 0  # tcpi_snd_mss: whether the unsent bytes are one segment


@dataclass(frozen=True)
class Prediction:
    outcome: str  # "FIN" | "RST" | "none"
    branch: str
    reason: str | None  # the kernel's sk_rst_reason name, where this kernel has one
    counters: tuple[str, ...] = ()
    text: str = ""
    path: tuple[str, ...] = field(default_factory=tuple)  # branches passed, for the kernel panel


def rst_reason(name: str, version: tuple[int, int, int], passive: bool = False) -> str | None:
    """Close-path reasons exist from 6.12; 6.10/6.11 pass NOT_SPECIFIED; before 6.10 there is none.
    Passive resets (answering a segment) carry their drop reason from 6.10 on."""
    if version < (6, 10, 0):
        return None
    return name if passive or version >= (6, 12, 0) else "NOT_SPECIFIED"


def _unread(s: SocketView, version: tuple[int, int, int], rule: str | None) -> tuple[bool, str]:
    """__tcp_close()'s drain loop. ``rule`` is what the running kernel's own source says
    ("copied_seq" or "skb_len"), when it was found; otherwise the version decides (stable trees
    carry the 6.18 backport: Debian's 5.10.262, 6.1.176 and 6.12.118 do).

    Before 6.18 the loop sums each queued skb's length (minus a FIN); from 5f9238530970 ("tcp: fix
    __tcp_close() to only send RST when required") it asks whether an skb ends after copied_seq.
    For queues a socket peer can build both answers equal "SIOCINQ > 0": tcp_recvmsg() frees an skb
    as soon as its last byte is copied, and when that skb carries the FIN it jumps to found_fin_ok
    in the same call (copied_seq += 1, skb eaten), so a read that takes exactly the data of a
    FIN-carrying segment leaves nothing behind. Only a retransmission overlapping data already
    read (seq < copied_seq) could leave an skb the old sum counts, and no scripted peer sends one."""
    if s.inq <= 0:
        return False, ""
    n = f"{s.inq} byte{'s' if s.inq != 1 else ''}"
    if rule == "skb_len" if rule else version < (6, 18, 0):
        return True, f"{n} unread in the receive queue (this kernel sums the queued segments' lengths)"
    return True, f"{n} unread in the receive queue (a segment ends after copied_seq)"


def predict_close(
    s: SocketView, version: tuple[int, int, int], exiting: bool = False, unread_rule: str | None = None
) -> Prediction:
    """__tcp_close(): close() of the last reference, or the process exiting."""
    path = ["shutdown_mask"]
    if s.state == "LISTEN":
        out, reason, text = listen_stop(s, version)
        return Prediction(
            out,
            "listen_stop",
            reason,
            ("Tcp.OutRsts",) if out == "RST" else (),
            f"listener closed: {text}",
            (*path, "listen_stop"),
        )
    path.append("drain")
    unread, why = _unread(s, version, unread_rule)
    if s.state == "CLOSE":
        extra = f"; {why} is discarded silently" if unread else ""
        return Prediction(
            "none",
            "already_closed",
            None,
            (),
            f"socket already closed (reset or never connected){extra}",
            (*path, "already_closed"),
        )
    if unread:
        return Prediction(
            "RST",
            "data_was_unread",
            rst_reason("TCP_ABORT_ON_CLOSE", version),
            ("TcpExt.TCPAbortOnClose", "Tcp.OutRsts"),
            f"{why} (RFC 2525 §2.17)",
            (*path, "data_was_unread"),
        )
    if s.linger[0] and s.linger[1] == 0:
        out, reason, text = _disconnect(s, version)
        return Prediction(
            out,
            "linger_zero",
            reason,
            ("TcpExt.TCPAbortOnData",) + (("Tcp.OutRsts",) if out == "RST" else ()),
            f"SO_LINGER {{1, 0}}: {text}",
            (*path, "linger_zero"),
        )
    nxt, send_fin = CLOSE_STATE.get(s.state, (s.state, False))
    if send_fin:
        path.append("fin")
        outcome, text = _fin_now(s, nxt, version)
        wait = bool(s.linger[0] and s.linger[1] > 0 and not exiting)
        if wait:
            text += f"; close() waits up to {s.linger[1]} s for the FIN to be ACKed (SO_LINGER)"
        acked = outcome == "FIN" and s.peer_acks_fin and nxt == "FIN_WAIT1"
        if s.linger2 < 0 and acked:
            if wait:  # the ACK arrives while close() sleeps: the orphan check then sees FIN_WAIT2
                return _linger2(version, (*path, "linger2_abort"), text + "; it is ACKed while close() waits")
            # Without a wait the ACK is handled after sock_orphan(): tcp_rcv_state_process() finds a
            # dead FIN_WAIT1 socket with linger2 < 0, calls tcp_done() and returns non-zero, so
            # tcp_v4_do_rcv() answers the ACK with a reset.
            text += (
                "; the peer's ACK then reaches the orphan, which TCP_LINGER2 < 0 forbids to wait in "
                "FIN_WAIT2: tcp_rcv_state_process() kills it and the ACK is answered with RST"
            )
            return Prediction(
                "RST",
                "linger2_orphan_ack",
                rst_reason("TCP_ABORT_ON_DATA", version, passive=True),
                ("TcpExt.TCPAbortOnData", "Tcp.OutRsts"),
                text,
                (*path, "linger2_orphan_ack"),
            )
        return Prediction(outcome, "fin", None, (), text, tuple(path))
    if s.state == "FIN_WAIT2" and s.linger2 < 0:
        return _linger2(version, (*path, "no_fin", "linger2_abort"), "already in FIN_WAIT2 (our FIN was ACKed)")
    why_none = (
        "SYN_SENT -> CLOSE: the connection attempt is abandoned"
        if s.state == "SYN_SENT"
        # write_seq counts the FIN's sequence number, so SIOCOUTQNSD > 0 here means it is unsent.
        else f"{s.state}: our FIN is already queued, held until the peer's window lets it out"
        if s.unsent
        else f"{s.state}: our FIN was already sent"
    )
    return Prediction("none", "no_fin", None, (), why_none, (*path, "no_fin"))


def _linger2(version: tuple[int, int, int], path: tuple[str, ...], text: str) -> Prediction:
    return Prediction(
        "RST",
        "linger2_abort",
        rst_reason("TCP_ABORT_ON_LINGER", version),
        ("TcpExt.TCPAbortOnLinger", "Tcp.OutRsts"),
        f"{text}; TCP_LINGER2 < 0 resets it",
        path,
    )


def _fin_now(s: SocketView, nxt: str, version: tuple[int, int, int]) -> tuple[str, str]:
    """tcp_send_fin(): the FIN rides on the last unsent skb, else a FIN-only skb is queued; then
    tcp_write_xmit() sends the head of the unsent queue only if tcp_cwnd_test() finds room in the
    congestion window and tcp_snd_wnd_test() finds its end_seq within tcp_wnd_end() = snd_una +
    snd_wnd: with no usable byte of window the FIN waits for the window to open."""
    held = _cwnd_holds(s, version)
    if held:
        return "none", f"{s.state} -> {nxt}: FIN queued, {held}"
    if s.unsent and s.send_window is not None and s.send_window > s.unsent:
        # Held by TCP_CORK or Nagle, not by the window: tcp_send_fin() marks the last unsent skb and
        # pushes with TCP_NAGLE_OFF, and the window has room for the data and the FIN's sequence number.
        return "FIN", f"{s.state} -> {nxt}: FIN on the last of {s.unsent} unsent bytes, sent with them"
    if s.unsent:
        return "none", f"{s.state} -> {nxt}: FIN queued behind {s.unsent} unsent bytes (peer window closed)"
    if s.send_window is not None and s.send_window <= 0:
        return "none", (
            f"{s.state} -> {nxt}: FIN queued, but the peer's window is full (0 bytes usable, nothing unsent): "
            "tcp_write_xmit() holds the FIN-only skb (tcp_snd_wnd_test) until the peer's window opens"
        )
    return "FIN", f"{s.state} -> {nxt}: FIN"


# "tcp: remove dubious FIN exception from tcp_cwnd_test()" (net-next, April 2024): before it, a
# send head that carries the FIN in one segment passed the congestion window test.
FIN_EXEMPT_UNTIL = (6, 10, 0)


def _cwnd_holds(s: SocketView, version: tuple[int, int, int]) -> str:
    """Why tcp_cwnd_test() keeps the FIN back ("" when it does not): the congestion window has
    no room for the packets up to the FIN's (after a retransmission timeout it is one segment)."""
    needed = max(1, -(-s.unsent // s.mss)) if s.mss else 1  # the unsent bytes in MSS packets, the FIN on the last
    if s.cwnd_room is None or s.cwnd_room >= needed:
        return ""
    if version < FIN_EXEMPT_UNTIL and needed == 1:
        return ""  # the send head is the FIN's own one-segment skb: exempt from the congestion window
    what = f"behind {s.unsent} unsent bytes ({needed} packets)" if s.unsent else "alone"
    room = f"room for {s.cwnd_room} more packets in flight" if s.cwnd_room > 0 else "no room for another packet in flight"
    return (
        f"{what}, but the congestion window has {room}: tcp_write_xmit() holds it (tcp_cwnd_test) "
        "until ACKs or a retransmission make room"
    )


def listen_stop(s: SocketView, version: tuple[int, int, int]) -> tuple[str, str | None, str]:
    """inet_csk_listen_stop(): every child taken off the accept queue goes through
    inet_child_forget() -> tcp_disconnect(child), which sends what *that child's* state asks for."""
    children = s.children if s.children is not None else tuple(Child(0, "ESTABLISHED") for _ in range(s.accept_queue))
    if not children:
        return "none", None, "empty accept queue"
    outs = [(c, _disconnect_state(c.state, 0, version)) for c in children]
    reasons = [reason for _, (out, reason, _) in outs if out == "RST"]  # a reason is None before 6.10
    parts = [f"{c.state}: {why}" for c, (_, _, why) in outs]
    n = len(children)
    text = f"{n} un-accepted connection{'s' if n != 1 else ''}, tcp_disconnect() on each ({'; '.join(parts)})"
    return ("RST", reasons[0], text) if reasons else ("none", None, text)


def _disconnect(s: SocketView, version: tuple[int, int, int]) -> tuple[str, str | None, str]:
    """tcp_disconnect(): which RST, if any, it sends from this state."""
    if s.state == "LISTEN":
        out, reason, text = listen_stop(s, version)
        return out, reason, f"listener stopped: {text}"
    return _disconnect_state(s.state, s.unsent, version)


def _disconnect_state(state: str, unsent: int, version: tuple[int, int, int]) -> tuple[str, str | None, str]:
    if state in NEED_RESET:
        return "RST", rst_reason("TCP_STATE", version), f"{state} needs a reset"
    if state in ("CLOSING", "LAST_ACK") and unsent:
        return "RST", rst_reason("TCP_DISCONNECT_WITH_DATA", version), f"{state} with {unsent} unsent bytes"
    if state == "SYN_SENT":
        return "none", None, "SYN_SENT: attempt abandoned without a packet"
    if state == "CLOSE":
        return "none", None, "already reset by its peer, nothing to send"
    return "none", None, f"{state}: nothing to reset"


def predict_disconnect(s: SocketView, version: tuple[int, int, int]) -> Prediction:
    """connect(AF_UNSPEC): __inet_stream_connect() calls tcp_disconnect() directly."""
    out, reason, text = _disconnect(s, version)
    return Prediction(out, "disconnect", reason, ("Tcp.OutRsts",) if out == "RST" else (), text, ("disconnect",))


def predict_shutdown(s: SocketView, how: str, version: tuple[int, int, int]) -> Prediction:
    """inet_shutdown() then tcp_shutdown()."""
    rcv, snd = how in ("SHUT_RD", "SHUT_RDWR"), how in ("SHUT_WR", "SHUT_RDWR")
    if s.state == "CLOSE":
        return Prediction("none", "shutdown_none", None, (), "not connected: ENOTCONN", ("shutdown_none",))
    if s.state == "SYN_SENT" or (s.state == "LISTEN" and rcv):
        return predict_disconnect(s, version)
    if s.state == "LISTEN":
        return Prediction("none", "shutdown_none", None, (), "SHUT_WR on a listener does nothing", ("shutdown_none",))
    if not snd:
        return Prediction(
            "none", "shutdown_none", None, (), "SHUT_RD sends nothing; later data is still ACKed", ("shutdown_none",)
        )
    nxt, send_fin = CLOSE_STATE.get(s.state, (s.state, False))
    if send_fin and s.state in ("ESTABLISHED", "SYN_RECV", "CLOSE_WAIT"):
        outcome, text = _fin_now(s, nxt, version)
        return Prediction(outcome, "shutdown_fin", None, (), text, ("shutdown_fin",))
    return Prediction("none", "shutdown_none", None, (), f"{s.state}: no FIN to send", ("shutdown_none",))
