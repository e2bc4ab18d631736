"""Predicting what the kernel will put on the wire for a closing call, from the socket's real state.

This follows the kernel's code path (net/ipv4/tcp.c ``__tcp_close()``, ``tcp_disconnect()``,
``tcp_shutdown()``; net/ipv4/af_inet.c ``inet_shutdown()`` / ``__inet_stream_connect()``) branch by
branch, as shared/notes/kernel.md documents it. It is not a table of known scenarios: the inputs
are what TCP_INFO, SIOCINQ, SIOCOUTQNSD and getsockopt report just before the call.

Branch ids (fixed, documented in the README):

===================  ===========================================================================
``listen_stop``      a listener closes: each child still in the accept queue is reset
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

BRANCHES: dict[str, str] = {
    "listen_stop": "listener closed: un-accepted children are reset (inet_csk_listen_stop)",
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
}

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
class SocketView:
    """What the kernel reports about one socket just before the call (see actor.describe)."""

    state: str
    inq: int = 0  # SIOCINQ: unread bytes (excluding a FIN)
    unsent: int = 0  # SIOCOUTQNSD: written but never sent
    linger: tuple[int, int] = (0, 0)
    linger2: int = 0  # getsockopt(TCP_LINGER2): -1 when negative
    accept_queue: int = 0
    # Pre-6.18 kernels count a FIN-carrying skb whose data was read but whose EOF was not yet
    # read as unread (its length minus the FIN); tracked from the capture by the agent.
    fin_skb_pending: bool = False
    peer_acks_fin: bool = True  # a live peer on loopback ACKs our FIN at once


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
    """``rule`` is what the running kernel's own source says ("copied_seq" or "skb_len"), when
    it was found; otherwise the version decides (stable trees may carry the 6.18 backport)."""
    if s.inq > 0:
        return True, f"{s.inq} byte{'s' if s.inq != 1 else ''} unread in the receive queue"
    old_rule = rule == "skb_len" if rule else version < (6, 18, 0)
    if s.fin_skb_pending and old_rule:
        return True, (
            "the peer's FIN arrived in a segment with data; that data was read but EOF was not, and "
            "kernels before 6.18 count the segment as unread"
        )
    return False, ""


def predict_close(
    s: SocketView, version: tuple[int, int, int], exiting: bool = False, unread_rule: str | None = None
) -> Prediction:
    """__tcp_close(): close() of the last reference, or the process exiting."""
    path = ["shutdown_mask"]
    if s.state == "LISTEN":
        n = s.accept_queue
        if n:
            return Prediction(
                "RST",
                "listen_stop",
                rst_reason("TCP_STATE", version),
                ("Tcp.OutRsts",),
                f"listener closed with {n} un-accepted connection{'s' if n != 1 else ''}: each is reset",
                (*path, "listen_stop"),
            )
        return Prediction("none", "listen_stop", None, (), "listener closed with an empty accept queue", (*path, "listen_stop"))
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
        outcome, text = "FIN", f"{s.state} -> {nxt}: FIN"
        if s.unsent:
            outcome, text = "none", f"{s.state} -> {nxt}: FIN queued behind {s.unsent} unsent bytes (peer window closed)"
        wait = bool(s.linger[0] and s.linger[1] > 0 and not exiting)
        if wait:
            text += f"; close() waits up to {s.linger[1]} s for the FIN to be ACKed (SO_LINGER)"
        acked = not s.unsent and s.peer_acks_fin and nxt == "FIN_WAIT1"
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


def _disconnect(s: SocketView, version: tuple[int, int, int]) -> tuple[str, str | None, str]:
    """tcp_disconnect(): which RST, if any, it sends from this state."""
    if s.state == "LISTEN":
        n = s.accept_queue
        return (
            ("RST" if n else "none"),
            (rst_reason("TCP_STATE", version) if n else None),
            f"listener stopped, {n} child(ren) reset",
        )
    if s.state in NEED_RESET:
        return "RST", rst_reason("TCP_STATE", version), f"{s.state} needs a reset"
    if s.state in ("CLOSING", "LAST_ACK") and s.unsent:
        return "RST", rst_reason("TCP_DISCONNECT_WITH_DATA", version), f"{s.state} with {s.unsent} unsent bytes"
    if s.state == "SYN_SENT":
        return "none", None, "SYN_SENT: attempt abandoned without a packet"
    return "none", None, f"{s.state}: nothing to reset"


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
        if s.unsent:
            return Prediction(
                "none",
                "shutdown_fin",
                None,
                (),
                f"{s.state} -> {nxt}: FIN queued behind {s.unsent} unsent bytes",
                ("shutdown_fin",),
            )
        return Prediction("FIN", "shutdown_fin", None, (), f"{s.state} -> {nxt}: FIN", ("shutdown_fin",))
    return Prediction("none", "shutdown_none", None, (), f"{s.state}: no FIN to send", ("shutdown_none",))
