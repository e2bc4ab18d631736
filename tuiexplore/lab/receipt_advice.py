"""The advice line of a received segment's verdict (lab/advice.py's, for lab/receipt.py's
branches): what the application, or the network, should know from what the kernel did."""

from __future__ import annotations

from collections.abc import Callable

from tuiexplore.domain import SocketRow

Advice = Callable[[str, SocketRow, str], str]


def _line(text: str) -> Advice:
    return lambda outcome, s, call: text


RECEIPT_ADVICE: dict[str, Advice] = {
    "rcv_no_socket": _line(
        "the segment reached a connection this host has forgotten (closed, reset, or never made): a late "
        "retransmission or a peer that missed the close; the RST tells it so"
    ),
    "rcv_syn_sent": _line(
        "the handshake's answer: a SYN-ACK that ACKs our SYN completes connect(); an RST that ACKs it is "
        "connection refused (ECONNREFUSED); any other ACK is not for this attempt and gets an RST"
    ),
    "rcv_syn_recv": _line(
        "a connection in the listener's SYN queue: the handshake's ACK makes it a full socket that accept() "
        "returns; a repeated SYN gets the SYN-ACK again; a wrong ACK gets an RST"
    ),
    "rcv_listen": _line("a listener answers only SYNs: anything else is a stray segment of an old connection"),
    "rcv_no_ack": _line("a segment without ACK, RST or SYN is never valid on a connection: the kernel drops it"),
    "rcv_out_of_window": _line(
        "outside the window: a delayed duplicate or a wrong guess; the duplicate ACK tells the sender where the "
        "receiver is, nothing for the application to do"
    ),
    "rcv_rst_ignored": _line("an RST outside the window cannot be the peer's: ignored, the connection goes on"),
    "rcv_rst_exact": lambda outcome, s, call: (
        "the reset was accepted: the application's next read() or write() fails (ECONNRESET, EPIPE after the "
        "peer's FIN); data queued before the RST is still read first, data in flight is lost"
    ),
    "rcv_rst_challenge": _line(
        "RFC 5961: an RST not exactly at RCV.NXT is answered with a challenge ACK; a real peer answers that "
        "with an RST at the right number, a blind attacker cannot"
    ),
    "rcv_syn_challenge": _line(
        "a SYN on a live connection gets a challenge ACK (RFC 5961 §4.2): a peer that restarted answers it "
        "with an RST, which ends the old connection"
    ),
    "rcv_oow_limited": _line(
        "answers to invalid segments are rate-limited per socket (net.ipv4.tcp_invalid_ratelimit) so that two "
        "hosts cannot ping-pong them"
    ),
    "rcv_ack_too_old": _line(
        "an ACK older than anything the peer may still ACK (RFC 5961 §5.2, blind data injection): the segment "
        "is dropped, its data too; a challenge ACK tells a real peer where the connection is"
    ),
    "rcv_ack_unsent": _line(
        "an ACK of data this side never sent: a forged or confused peer; the segment is dropped, its data too "
        "(a challenge ACK says what was sent, where the kernel sends one)"
    ),
    "rcv_ack": _line("an ACK: the state moves as the peer acknowledges our FIN; nothing to answer"),
    "rcv_data": _line("data in sequence: queued for read() and ACKed"),
    "rcv_data_after_close": _line(
        "data reached a socket its application has closed: nobody can read it, so the kernel resets "
        "(RFC 1122); the sender should not write after the peer's close (read the FIN, stop writing)"
    ),
    "rcv_zero_window": _line(
        "the receiver's buffer is full (window 0): the application is not reading; the segment is dropped and "
        "the sender must wait for a window update (zero-window probes) and send it again"
    ),
    "rcv_fin": _line("the peer's FIN: read() returns 0 (EOF) once the data before it is read; then close()"),
    "tw_ack": _line("TIME_WAIT does its job: a late segment of the old connection is ACKed, not taken for a new one"),
    "tw_quiet": _line("TIME_WAIT ignores a bare ACK or an RST it does not accept"),
    "tw_kill": _line("TIME_WAIT assassination (RFC 1337): an RST ended TIME_WAIT early; net.ipv4.tcp_rfc1337 = 1 keeps it"),
    "tw_syn": _line("a new connection on the same ends: TIME_WAIT gives way to a SYN whose sequence is later"),
    "tw_rst": _line("data after our close() reached the FIN_WAIT2 mini-socket: RST; the peer wrote after we closed"),
    "tw_fin": _line("the peer's FIN ends FIN_WAIT2: TIME_WAIT for 60 s, as a clean close does"),
}
