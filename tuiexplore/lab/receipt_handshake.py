"""A segment that reaches a connection still in its handshake (what a relay ``release`` of a held
SYN, SYN-ACK or handshake ACK delivers): ``tcp_rcv_synsent_state_process()`` for the active
opener in SYN_SENT, ``tcp_check_req()`` for a listener's request socket in SYN_RECV (a request
socket is no full socket: sock_diag lists it as SYN_RECV), and a listener found when no
connection matches. Net/ipv4 of v6.12/6.18; PAWS aside (the relay delivers the kernels' own
timestamps). A leaf: lab/receipt.py turns each ``Answer`` into its ``Receipt``.
"""

from __future__ import annotations

from collections.abc import Callable

from tuiexplore.lab.receipt_answer import ACK, FIN, RST, SYN, Answer, Receiving, Segment
from tuiexplore.lab.seqnum import MOD, after


def _answers(branch: str, where: str) -> Callable[..., Answer]:
    def answer(
        outcome: str, state: str, text: str, reset: str | None = None, counters: tuple[str, ...] = (), errno: str = ""
    ) -> Answer:
        return Answer(outcome, branch, state, text, where, reset, counters, errno)

    return answer


def syn_sent(r: Receiving, a: Segment) -> Answer:
    """tcp_rcv_synsent_state_process(): the ACK must be exactly SND.NXT (our SYN's end)."""

    answer = _answers("rcv_syn_sent", "synsent")
    if a.has(ACK):
        if a.ack != r.snd_nxt:  # !after(ack, snd_una) || after(ack, snd_nxt): reset_and_undo
            # "Previous FIN/ACK or RST/ACK might be ignored": before any retransmission the SYN's
            # timer is re-armed for TCP_TIMEOUT_MIN (2 jiffies), so the SYN goes again at once.
            again = r.retransmits == 0
            soon = ": no SYN was sent again yet, so its timer is re-armed for TCP_TIMEOUT_MIN and the SYN goes again at once"
            if a.has(RST):
                return answer(
                    "SYN" if again else "none", "SYN_SENT",
                    "an RST whose ACK is not our SYN's: dropped (an RST is never answered)" + (soon if again else ""),
                )  # fmt: skip
            wrong = f"its ACK {a.ack} is not our SYN's end {r.snd_nxt}: reset_and_undo, RST (seq = its ACK)"
            return answer(
                "RST", "SYN_SENT", wrong + (soon if again else ""),
                reset="TCP_INVALID_ACK_SEQUENCE", counters=("Tcp.OutRsts",),
            )  # fmt: skip
        if a.has(RST):
            return answer(
                "none", "CLOSE", "an RST that ACKs our SYN: the connection is refused: tcp_reset(), SYN_SENT -> CLOSE",
                errno="ECONNREFUSED",
            )  # fmt: skip
        if not a.has(SYN):
            return answer("none", "SYN_SENT", "an ACK without SYN or RST: dropped (TCP_FLAGS)")
        return answer("ACK", "ESTABLISHED", "the SYN-ACK: tcp_finish_connect(), SYN_SENT -> ESTABLISHED, it is ACKed")
    if a.has(RST):
        return answer("none", "SYN_SENT", "an RST without ACK: dropped (RFC 793: it cannot be for our SYN)")
    if a.has(SYN):
        return answer("SYN-ACK", "SYN_RECV", "a SYN without ACK: a simultaneous open, SYN_SENT -> SYN_RECV, SYN-ACK")
    return answer("none", "SYN_SENT", "neither SYN nor RST: dropped")


def request(r: Receiving, a: Segment) -> Answer:
    """tcp_check_req(): the listener's request socket meets the segment."""

    answer = _answers("rcv_syn_recv", "check_req")
    flags = {bit for bit in (FIN, SYN, RST, ACK) if a.has(bit)}
    if a.seq == (r.rcv_nxt - 1) % MOD and flags == {SYN}:  # the peer's own SYN again
        if r.oow_recent:
            return answer("none", "SYN_RECV", "the SYN again, within tcp_invalid_ratelimit of the last answer: not answered")
        return answer("SYN-ACK", "SYN_RECV", "the SYN again (a retransmission): the SYN-ACK is sent again")
    if a.has(ACK) and not a.has(RST) and a.ack != r.snd_nxt:  # the listener takes it, and answers an ACK with RST
        return answer(
            "RST", "SYN_RECV", f"its ACK {a.ack} is not our SYN-ACK's end {r.snd_nxt}: the listener answers with RST",
            reset="TCP_FLAGS", counters=("Tcp.OutRsts",),
        )  # fmt: skip
    if not _in_window(a, r.rcv_nxt, (r.rcv_nxt + r.rcv_wnd) % MOD):
        if a.has(RST) or r.oow_recent:
            return answer("none", "SYN_RECV", "outside the request's window: not answered (an RST, or rate-limited)")
        return answer("ACK", "SYN_RECV", "outside the request's window: an ACK says what it expects")
    if a.has(RST) and a.seq != r.rcv_nxt:  # 6.12.118's tcp_reqsk_send_challenge_ack() (a stable fix)
        if r.oow_recent:
            return answer("none", "SYN_RECV", "an RST in the window but not at RCV.NXT, rate-limited: not answered")
        return answer("ACK", "SYN_RECV", "an RST in the window but not at RCV.NXT: a challenge ACK (RFC 5961)")
    if a.has(RST):
        return answer("none", "", "an RST at RCV.NXT: the request is dropped (embryonic_reset)", counters=("Tcp.AttemptFails",))
    if a.has(SYN) and a.seq != (r.rcv_nxt - 1) % MOD:  # a SYN at the peer's own ISN is taken as not one
        return answer(
            "RST", "", "a new SYN in the window: embryonic_reset, RST, the request is dropped",
            reset="INVALID_SYN", counters=("Tcp.AttemptFails", "Tcp.OutRsts"),
        )  # fmt: skip
    if not a.has(ACK):
        return answer("none", "SYN_RECV", "no ACK: dropped")
    if r.accept_full:
        return answer(
            "none", "SYN_RECV", "the handshake's ACK, but the accept queue is full: dropped (the SYN-ACK comes again)",
            counters=("TcpExt.ListenOverflows",),
        )  # fmt: skip
    data = " (its data queued, to be ACKed)" if a.end != a.seq else ""
    return answer(
        "ACK" if data else "none", "ESTABLISHED",
        f"the handshake's ACK: a full socket, ESTABLISHED, waits in the accept queue{data}",
    )  # fmt: skip


def _in_window(a: Segment, start: int, end: int) -> bool:
    """tcp_in_window(): starts at RCV.NXT, or overlaps the window, or is empty at its end."""
    if a.seq == start:
        return True
    if after(a.end, start) and after(end, a.seq):
        return True
    return a.seq == end and a.seq == a.end
