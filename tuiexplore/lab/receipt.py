"""Predicting what the kernel does with a segment that arrives, from the receiving socket's state.

It follows the receive path of net/ipv4 (v6.12/6.18) branch by branch, never a table of cases:
``tcp_v4_rcv()`` finds a full socket, a TIME_WAIT mini-socket or none (``tcp_v4_send_reset()``
with no socket); a full socket's segment goes through ``tcp_validate_incoming()`` (the sequence
check, an RST exactly at RCV.NXT or a challenge ACK, RFC 5961), ``tcp_reset()``, ``tcp_ack()``'s
checks of the ACK number (lab/receipt_ack.py), the ACK's effect on our FIN,
``tcp_rcv_state_process()``'s data-after-close reset and ``tcp_fin()``; a TIME_WAIT one through
``tcp_timewait_state_process()``. The inputs are the segment as it will be sent (``Arrival``)
and what the kernel and the relay's view say of the receiver (``Receiver``).
Branch ids: lab/receipt_branches.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuiexplore.lab import receipt_handshake as handshake
from tuiexplore.lab import receipt_timewait
from tuiexplore.lab.predict import Prediction, rst_reason
from tuiexplore.lab.receipt_ack import refused
from tuiexplore.lab.receipt_answer import ACK, FIN, RST, SYN, Answer, where_in_window
from tuiexplore.lab.receive_rules import UNKNOWN, ReceiveRules
from tuiexplore.lab.seqnum import MOD, after, before

PSH = 0x08
# tcp_fin()'s switch: the state a FIN in sequence moves a socket to.
FIN_STATE = {
    "SYN_RECV": "CLOSE_WAIT",
    "ESTABLISHED": "CLOSE_WAIT",
    "CLOSE_WAIT": "CLOSE_WAIT",
    "CLOSING": "CLOSING",
    "LAST_ACK": "LAST_ACK",
    "FIN_WAIT1": "CLOSING",
    "FIN_WAIT2": "TIME_WAIT",
}
# tcp_reset(): the error the application is given, by the state the RST finds.
RESET_ERRNO = {"SYN_SENT": "ECONNREFUSED", "CLOSE_WAIT": "EPIPE"}
# tcp_reset_check(): after the peer's FIN, an RST at RCV.NXT - 1 is accepted too.
AFTER_PEER_FIN = ("CLOSE_WAIT", "LAST_ACK", "CLOSING")
TIMEWAIT_SUBSTATES = ("TIME_WAIT", "FIN_WAIT2")


@dataclass(frozen=True)
class Arrival:
    """The segment, absolute sequence numbers, exactly as it will be put on the wire."""

    flags: int
    seq: int
    ack: int = 0
    length: int = 0  # payload bytes
    tsval: int | None = None  # its TCP timestamp, when it carries one
    win: int | None = None  # the window it offers, scaled (the sender's wscale), when known

    @property
    def end(self) -> int:
        """TCP_SKB_CB(skb)->end_seq: SYN and FIN take a sequence number each."""
        return (self.seq + self.length + bool(self.flags & SYN) + bool(self.flags & FIN)) % MOD

    def has(self, bit: int) -> bool:
        return bool(self.flags & bit)


@dataclass(frozen=True)
class Receiver:
    """The socket the segment will reach, just before it does."""

    state: str | None  # None: no socket has these ends; TIME_WAIT/FIN_WAIT2 with ``timewait``
    rcv_nxt: int = 0  # the end of what it has received in order
    rcv_wnd: int = 65535  # its last advertised window, scaled
    snd_nxt: int = 0  # the end of what it has sent, its FIN included (write_seq once all is sent)
    closed: bool = False  # no fd holds it any more (close()d: RCV_SHUTDOWN, SOCK_DEAD)
    timewait: bool = False  # a TIME_WAIT mini-socket (substate TIME_WAIT or FIN_WAIT2)
    listener: bool = False  # a listener on its port (a SYN into TIME_WAIT may reopen)
    ts_recent: int | None = None  # the peer's last timestamp it took (tw_ts_recent), when known
    unsent: int = 0  # bytes written and not yet sent (write_seq - snd_nxt, a queued FIN not counted)
    fin_queued: bool = False  # close() or shutdown() queued a FIN it has not sent (held by the window)
    linger2: int = 0
    rfc1337: int = 0  # net.ipv4.tcp_rfc1337
    challenge_limit: int = 1 << 31  # net.ipv4.tcp_challenge_ack_limit (INT_MAX from 6.0: no limit)
    oow_recent: bool = False  # it answered an out-of-window segment within tcp_invalid_ratelimit
    version: tuple[int, int, int] = (6, 18, 0)
    # What the version does not tell: read from this kernel's source or a probe (rules_probe.py).
    rules: ReceiveRules = UNKNOWN
    snd_una: int | None = None  # the oldest byte it has sent and not had ACKed (None: not known)
    max_window: int = 65535  # the largest window the peer offered it, scaled
    bytes_acked: int = 0  # tcp_snd_una_update()'s sum: SND.UNA's every advance through tcp_ack()
    retransmits: int = 0  # icsk_retransmits: in SYN_SENT, how often its SYN went again
    accept_full: bool = False  # its listener's accept queue is full (sk_acceptq_is_full())


@dataclass(frozen=True)
class Receipt(Prediction):
    """A prediction for a received segment: ``outcome`` is what the receiver sends back
    ("RST", "ACK", "SYN-ACK", "SYN", "none"), ``state`` the state it is left in ("" when none), ``errno``
    what its application's next read() or write() then gets ("" when nothing changes)."""

    state: str = ""
    errno: str = ""


def said(call: str, sent: str, state: str, text: str) -> str:
    """A receipt verdict's explanation begins with what was sent back and the state left."""
    return f"{call} -> {sent}, {state}: {text}"


def state_said(explanation: str) -> str:
    """The state a receipt verdict's explanation (``said``) names, "" if it names none."""
    head = explanation.split(": ", 1)[0]
    return head.rsplit(", ", 1)[1] if " -> " in head and ", " in head else ""


def predict_arrival(r: Receiver, a: Arrival) -> Receipt:
    if r.state is None or r.state == "CLOSE":  # no connection matches: a listener on the port, else none
        return _listen(r, a) if r.listener else _no_socket(r, a)
    if r.timewait:
        return _answered(r, receipt_timewait.timewait(r, a))
    if r.state == "LISTEN":
        return _listen(r, a)
    if r.state == "SYN_SENT":
        return _answered(r, handshake.syn_sent(r, a))
    if r.state == "SYN_RECV":  # a request socket (the lab makes no Fast Open child)
        return _answered(r, handshake.request(r, a))
    return _established_path(r, a)


def _answered(r: Receiver, h: Answer) -> Receipt:
    reason = rst_reason(h.reset, r.version, passive=True) if h.reset else None
    return _receipt(
        r, h.outcome, h.branch, h.state, h.text, ["lookup", h.where], reason=reason, counters=h.counters, errno=h.errno
    )


def _receipt(
    r: Receiver,
    outcome: str,
    branch: str,
    state: str,
    text: str,
    path: list[str],
    *,
    reason: str | None = None,
    counters: tuple[str, ...] = (),
    errno: str = "",
) -> Receipt:
    return Receipt(outcome, branch, reason, counters, text, (*path, branch), state, errno)


def _no_socket(r: Receiver, a: Arrival) -> Receipt:
    """tcp_v4_rcv()'s no_tcp_socket: tcp_v4_send_reset(NULL, skb, NO_SOCKET), which never answers an RST."""
    path = ["lookup"]
    if a.has(RST):
        return _receipt(r, "none", "rcv_no_socket", "", "no socket has these ends, and an RST is never answered", path)
    how = "seq = its ACK number" if a.has(ACK) else "ACK of everything it carried"
    return _receipt(
        r,
        "RST",
        "rcv_no_socket",
        "",
        f"no socket has these ends (closed and gone): tcp_v4_send_reset() answers with RST ({how})",
        path,
        reason=rst_reason("NO_SOCKET", r.version, passive=True),
        counters=("Tcp.OutRsts",),
    )


def _listen(r: Receiver, a: Arrival) -> Receipt:
    """The listener takes it: a SYN, or a segment no connection matched (its ends are left with none)."""
    path = ["lookup", "rcv_state_process"]
    if a.has(ACK):  # tcp_rcv_state_process() returns TCP_FLAGS: tcp_v4_do_rcv() resets
        left = "LISTEN" if r.state == "LISTEN" else ""
        what = "an ACK to a listener" if left else "no connection has these ends, so the port's listener takes it: an ACK"
        return _receipt(
            r, "RST", "rcv_listen", left, f"{what}: RST", path,
            reason=rst_reason("TCP_FLAGS", r.version, passive=True), counters=("Tcp.OutRsts",),
        )  # fmt: skip
    if a.has(SYN) and not a.has(RST | FIN):
        return _receipt(r, "SYN-ACK", "rcv_listen", "LISTEN", "a SYN to a listener: a new connection, SYN-ACK", path)
    return _receipt(r, "none", "rcv_listen", "LISTEN" if r.state == "LISTEN" else "", "dropped by the listener (no SYN)", path)


def _established_path(r: Receiver, a: Arrival) -> Receipt:
    """tcp_rcv_established()/tcp_rcv_state_process() for a synchronized full socket."""
    path = ["lookup", "rcv_state_process"]
    s = r.state or ""
    if not a.has(ACK | RST | SYN):
        return _receipt(r, "none", "rcv_no_ack", s, "a segment with no ACK, RST or SYN flag is dropped (TCP_FLAGS)", path)
    path.append("validate")
    reset_check = a.seq == (r.rcv_nxt - 1) % MOD and s in AFTER_PEER_FIN
    # tcp_sequence(): rcv_wup is RCV.NXT once the last ACK went out (every step settles first).
    in_window = not before(a.end, r.rcv_nxt) and not after(a.seq, (r.rcv_nxt + r.rcv_wnd) % MOD)
    if not in_window:
        if a.has(RST):
            if reset_check:
                return _reset(r, path, "an RST at RCV.NXT - 1 after the peer's FIN (tcp_reset_check)")
            return _receipt(r, "none", "rcv_rst_ignored", s, f"an RST outside the window ({_where(r, a)}) is dropped", path)
        if a.has(SYN):
            return _challenge(r, path, "a SYN outside the window", "rcv_syn_challenge")
        if r.oow_recent and a.seq == a.end:  # tcp_oow_rate_limited(): data segments are always answered
            return _limited(r, path, "TcpExt.TCPACKSkippedSeq")
        return _receipt(
            r, "ACK", "rcv_out_of_window", s,
            f"outside the receive window ({_where(r, a)}): tcp_send_dupack() says what it expects", path,
        )  # fmt: skip
    if a.has(RST):
        if a.seq == r.rcv_nxt or reset_check:
            return _reset(r, path, "an RST at exactly RCV.NXT")
        return _challenge(r, path, f"an RST in the window but not at RCV.NXT ({_where(r, a)})", "rcv_rst_challenge")
    if a.has(SYN):
        return _challenge(r, path, "a SYN on a synchronized connection", "rcv_syn_challenge")
    path.append("ack")
    bad = refused(s, a.ack, r.snd_una, r.snd_nxt, r.max_window, r.bytes_acked, r.rules)
    if bad and bad.challenged:
        return _challenge(r, path, bad.why, bad.branch)
    if bad:
        return _receipt(r, "none", bad.branch, s, bad.why, path)
    state, said = _acked(r, a)
    if r.closed and s == "FIN_WAIT1" and state == "FIN_WAIT2" and r.linger2 < 0:
        return _receipt(
            r, "RST", "rcv_data_after_close", "CLOSE",
            "our FIN is ACKed, and the orphan may not wait in FIN_WAIT2 (TCP_LINGER2 < 0): tcp_done(), RST", path,
            reason=rst_reason("TCP_ABORT_ON_DATA", r.version, passive=True),
            counters=("TcpExt.TCPAbortOnData", "Tcp.OutRsts"),
        )  # fmt: skip
    new_data = a.end != a.seq and after((a.end - a.has(FIN)) % MOD, r.rcv_nxt)
    peer_fin = state in AFTER_PEER_FIN  # RCV_SHUTDOWN: the peer's FIN is in
    if state in ("TIME_WAIT", "CLOSE"):  # tcp_ack() ended it: nothing more is read from this segment
        return _receipt(r, "none", "rcv_ack", state, said, path)
    path.append("data")
    if peer_fin and not before(a.seq, r.rcv_nxt) and a.end != a.seq:
        return _receipt(r, "none", "rcv_ack", state, _join(said, "anything past the peer's FIN is ignored"), path)
    if new_data and (peer_fin or (r.closed and state in ("FIN_WAIT1", "FIN_WAIT2"))):
        n = f"{a.length} new byte{'s' if a.length != 1 else ''}"
        return _receipt(
            r, "RST", "rcv_data_after_close", "CLOSE",
            _join(said, f"{n} after our close(): nobody can read them (RFC 1122): tcp_reset() and RST"), path,
            reason=rst_reason("TCP_ABORT_ON_DATA", r.version, passive=True),
            counters=("TcpExt.TCPAbortOnData", "Tcp.OutRsts"),
        )  # fmt: skip
    if a.seq == r.rcv_nxt and a.end != a.seq and r.rcv_wnd == 0 and not (bare_fin(a) and r.rules.bare_fin):
        return _zero_window(r, a, state, path)
    if after(a.seq, r.rcv_nxt) and a.end != a.seq:
        return _receipt(
            r, "ACK", "rcv_data", state, _join(said, "out of order (a hole before it): queued, a duplicate ACK at once"), path
        )
    if a.has(FIN) and after(a.end, r.rcv_nxt):
        nxt = FIN_STATE.get(state, state)
        if state == "FIN_WAIT1" and nxt == "CLOSING":
            text = "a FIN that does not ACK ours: crossing FINs, FIN_WAIT1 -> CLOSING, ACKed"
        else:
            text = f"the peer's FIN: {state} -> {nxt}, ACKed"
        new = (a.end - 1 - r.rcv_nxt) % MOD if after((a.end - 1) % MOD, r.rcv_nxt) else 0
        data = f"{new} new byte{'s' if new != 1 else ''}, then " if new else "old data, then " if a.length else ""
        return _receipt(r, "ACK", "rcv_fin", nxt, _join(said, data + text), path)
    if a.length and after(a.end, r.rcv_nxt):
        return _receipt(r, "ACK", "rcv_data", state, _join(said, f"{a.length} bytes queued for read(), ACKed"), path)
    if a.end != a.seq:  # all of it already received: tcp_data_queue() sends a duplicate ACK at once
        return _receipt(r, "ACK", "rcv_data", state, _join(said, "already received (a retransmission): a duplicate ACK"), path)
    sends = _window_opened(r, a, state)
    if sends:
        return _receipt(r, sends[0], "rcv_ack", state, _join(said, sends[1]), path)
    return _receipt(r, "none", "rcv_ack", state, said or f"a bare ACK: nothing to answer in {state}", path)


def bare_fin(a: Arrival) -> bool:
    """!skb->len && (tcp_flags & TCPHDR_FIN): a FIN with no data."""
    return a.has(FIN) and not a.length


def _zero_window(r: Receiver, a: Arrival, state: str, path: list[str]) -> Receipt:
    """tcp_data_queue(): in order, but tcp_receive_window() is 0: the segment is dropped
    (TCPZeroWindowDrop) and out_of_window's quick ACK repeats RCV.NXT."""
    what = "a bare FIN" if bare_fin(a) else f"{a.length} byte{'s' if a.length != 1 else ''}"
    if bare_fin(a):
        what += (
            " (this kernel has no bare-FIN exception there)" if r.rules.bare_fin is False
            else " (whether this kernel lets a bare FIN through is not known: no source, no probe; assumed not)"
        )  # fmt: skip
    return _receipt(
        r, "ACK", "rcv_zero_window", state,
        f"{what} into a zero receive window: dropped, a duplicate ACK of RCV.NXT, {state} stays", path,
        counters=("TcpExt.TCPZeroWindowDrop",),
    )  # fmt: skip


def _window_opened(r: Receiver, a: Arrival, state: str) -> tuple[str, str] | None:
    """tcp_ack() takes the window the ACK offers, then tcp_data_snd_check() sends what waited
    for it (tcp_write_xmit(): as much as the window allows; the FIN goes with the last byte):
    ("FIN", why) when all of it and the FIN fit, ("ACK", why) for data alone (the outcome of
    any segment without SYN, FIN or RST); None when nothing waits or the window stays shut."""
    if not (r.unsent or r.fin_queued) or a.win is None or state in ("TIME_WAIT", "CLOSE"):
        return None
    room = (a.ack + a.win - r.snd_nxt) % MOD if after((a.ack + a.win) % MOD, r.snd_nxt) else 0
    if room <= 0:
        return None
    data = f"{r.unsent} queued byte{'s' if r.unsent != 1 else ''}" if r.unsent else ""
    if room >= r.unsent and r.fin_queued:
        what = f"{data} and the FIN" if data else "the FIN"
        return "FIN", f"the ACK opens the window ({room} bytes): tcp_data_snd_check() sends {what} that waited for it"
    if not r.unsent:
        return None
    sent = min(room, r.unsent)
    return "ACK", f"the ACK opens the window ({room} bytes): tcp_data_snd_check() sends {sent} of the {data} that waited"


def _acked(r: Receiver, a: Arrival) -> tuple[str, str]:
    """tcp_ack() then tcp_rcv_state_process()'s step 5: does it ACK our FIN?"""
    s = r.state or ""
    all_acked = a.has(ACK) and a.ack == r.snd_nxt and not r.fin_queued  # a FIN not yet sent is not ACKed
    if s == "FIN_WAIT1" and all_acked:
        return "FIN_WAIT2", "our FIN is ACKed: FIN_WAIT1 -> FIN_WAIT2"
    if s == "CLOSING" and all_acked:
        return "TIME_WAIT", "our FIN is ACKed: CLOSING -> TIME_WAIT"
    if s == "LAST_ACK" and all_acked:
        return "CLOSE", "our FIN is ACKed: LAST_ACK -> CLOSE (the socket is freed)"
    return s, ""


def _reset(r: Receiver, path: list[str], why: str) -> Receipt:
    """tcp_reset(): the error by state, tcp_done(): CLOSE; nothing is sent back."""
    s = r.state or ""
    err = RESET_ERRNO.get(s, "ECONNRESET")
    lost = "" if r.closed else f"; its next read() or write() fails with {err} (data already queued is still read first)"
    counters = ("Tcp.EstabResets",) if s in ("ESTABLISHED", "CLOSE_WAIT") else ()
    return _receipt(
        r, "none", "rcv_rst_exact", "CLOSE", f"{why}: tcp_reset(), {s} -> CLOSE{lost}", path, counters=counters, errno=err
    )


def _challenge(r: Receiver, path: list[str], why: str, branch: str) -> Receipt:
    """tcp_send_challenge_ack(): the per-socket rate limit, then the namespace's quota."""
    syn = branch == "rcv_syn_challenge"
    if r.oow_recent:
        return _limited(r, [*path, branch], "TcpExt.TCPACKSkippedChallenge")
    if r.challenge_limit <= 0:
        return _receipt(r, "none", branch, r.state or "", f"{why}: the challenge ACK quota (tcp_challenge_ack_limit) is 0", path)
    counters = ("TcpExt.TCPChallengeACK",) + (("TcpExt.TCPSYNChallenge",) if syn else ())
    return _receipt(
        r, "ACK", branch, r.state or "",
        f"{why}: a challenge ACK carrying the right number; the connection lives on", path,
        counters=counters,
    )  # fmt: skip


def _limited(r: Receiver, path: list[str], counter: str) -> Receipt:
    return _receipt(
        r, "none", "rcv_oow_limited", r.state or "",
        "it answered an out-of-window segment less than tcp_invalid_ratelimit (500 ms) ago: this one gets no answer",
        path, counters=(counter,),
    )  # fmt: skip


def _where(r: Receiver, a: Arrival) -> str:
    return where_in_window(a.seq, r.rcv_nxt)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
