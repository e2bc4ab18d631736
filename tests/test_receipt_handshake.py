"""A segment that reaches a connection still in its handshake (lab/receipt_handshake.py), and one
that no connection matches while the port has a listener: the predictions branch by branch, and
real handshakes through the relay, a held SYN, SYN-ACK or handshake ACK released."""

from __future__ import annotations

import pytest
from conftest import SERVER, run_text, step, steps

from tuiexplore.lab.receipt import ACK, RST, SYN, Arrival, Receiver, predict_arrival
from tuiexplore.timeline import StateEvent, VerdictEvent

ISN, PEER = 5000, 9000  # our SYN's sequence number, the peer's


def sent(**kw) -> Receiver:
    """An active opener whose SYN (ISN) is out: SND.NXT = ISN + 1."""
    return Receiver("SYN_SENT", rcv_nxt=0, snd_nxt=ISN + 1, **kw)


def request(**kw) -> Receiver:
    """A listener's request socket: the peer's SYN (PEER) taken, our SYN-ACK (ISN) sent."""
    return Receiver("SYN_RECV", rcv_nxt=PEER + 1, rcv_wnd=65535, snd_nxt=ISN + 1, **kw)


@pytest.mark.parametrize(
    "receiver,arrival,outcome,branch,state",
    [
        (sent(), Arrival(SYN | ACK, PEER, ISN + 1), "ACK", "rcv_syn_sent", "ESTABLISHED"),
        (sent(), Arrival(SYN | ACK, PEER, ISN + 7), "RST", "rcv_syn_sent", "SYN_SENT"),
        (sent(), Arrival(ACK, PEER, ISN), "RST", "rcv_syn_sent", "SYN_SENT"),  # !after(ack, snd_una)
        (sent(), Arrival(RST | ACK, 0, ISN + 1), "none", "rcv_syn_sent", "CLOSE"),  # refused
        # An RST is never answered, but before any retransmission the SYN goes again at once.
        (sent(), Arrival(RST | ACK, 0, ISN + 2), "SYN", "rcv_syn_sent", "SYN_SENT"),
        (sent(retransmits=1), Arrival(RST | ACK, 0, ISN + 2), "none", "rcv_syn_sent", "SYN_SENT"),
        (sent(), Arrival(RST, 0), "none", "rcv_syn_sent", "SYN_SENT"),
        (sent(), Arrival(ACK, PEER, ISN + 1), "none", "rcv_syn_sent", "SYN_SENT"),  # no SYN: TCP_FLAGS
        (sent(), Arrival(SYN, PEER), "SYN-ACK", "rcv_syn_sent", "SYN_RECV"),  # simultaneous open
        (request(), Arrival(ACK, PEER + 1, ISN + 1), "none", "rcv_syn_recv", "ESTABLISHED"),
        (request(), Arrival(ACK, PEER + 1, ISN + 1, length=5), "ACK", "rcv_syn_recv", "ESTABLISHED"),
        (request(accept_full=True), Arrival(ACK, PEER + 1, ISN + 1), "none", "rcv_syn_recv", "SYN_RECV"),
        (request(), Arrival(SYN, PEER), "SYN-ACK", "rcv_syn_recv", "SYN_RECV"),  # the SYN again
        (request(oow_recent=True), Arrival(SYN, PEER), "none", "rcv_syn_recv", "SYN_RECV"),
        (request(), Arrival(ACK, PEER + 1, ISN + 3), "RST", "rcv_syn_recv", "SYN_RECV"),  # the listener's
        (request(), Arrival(ACK, PEER + 200000, ISN + 1), "ACK", "rcv_syn_recv", "SYN_RECV"),  # out of window
        (request(), Arrival(RST | ACK, PEER + 1, ISN + 1), "none", "rcv_syn_recv", ""),  # embryonic reset
        (request(), Arrival(RST | ACK, PEER + 1, ISN + 9), "none", "rcv_syn_recv", ""),  # an RST's ACK is not checked
        (request(), Arrival(RST, PEER + 5), "ACK", "rcv_syn_recv", "SYN_RECV"),  # not at RCV.NXT: challenge ACK
        (request(), Arrival(SYN, PEER + 10), "RST", "rcv_syn_recv", ""),
        (request(), Arrival(0x08, PEER + 1, length=3), "none", "rcv_syn_recv", "SYN_RECV"),  # no ACK
        (Receiver(None, listener=True), Arrival(ACK, PEER, ISN), "RST", "rcv_listen", ""),
        (Receiver("CLOSE", listener=True), Arrival(SYN, PEER), "SYN-ACK", "rcv_listen", "LISTEN"),
        (Receiver(None), Arrival(ACK, PEER, ISN), "RST", "rcv_no_socket", ""),
    ],
)
def test_the_handshakes_paths(receiver, arrival, outcome, branch, state):
    p = predict_arrival(receiver, arrival)
    assert (p.outcome, p.branch, p.state) == (outcome, branch, state), p.text


def test_a_refused_connect_gets_econnrefused():
    assert predict_arrival(sent(), Arrival(RST | ACK, 0, ISN + 1)).errno == "ECONNREFUSED"


RELAY = '[lab]\nwire = "relay"\n'
CONNECT = step("client", "socket", as_="c"), step("client", "connect", fd="c", nonblocking=True)


def _released(hold: str, *after: str) -> VerdictEvent:
    """The client's connect() with one handshake segment held by its sender's side, then released."""
    side = "server" if hold == "S." else "client"
    text = steps(RELAY, SERVER, step(side, "hold", flags=hold), *CONNECT, step(side, "release"), *after)
    result = run_text(text, f"release-{hold}")
    assert result.ok, result.failures
    return next(e for e in result.events if isinstance(e, VerdictEvent) and e.call == "release")


@pytest.mark.parametrize(
    "hold,branch,outcome,state",
    [
        ("S", "rcv_listen", "SYN-ACK", "SYN_RECV"),  # the listener's request socket, then the client's ACK
        ("S.", "rcv_syn_sent", "ACK", "ESTABLISHED"),  # tcp_finish_connect()
        (".", "rcv_syn_recv", "none", "ESTABLISHED"),  # the request socket becomes the child
    ],
)
def test_a_held_handshake_segment_released(hold, branch, outcome, state):
    v = _released(hold)
    assert (v.branch, v.predicted, v.observed, v.agree) == (branch, outcome, outcome, True), v.explanation
    assert f"release -> {outcome}, {state}" in v.explanation


def test_the_syn_ack_to_a_closed_client_meets_no_socket():
    """The client gives up (close() in SYN_SENT) before the SYN-ACK is released: nothing on its
    port, no listener there either: tcp_v4_send_reset() with no socket (kernel reason NO_SOCKET)."""
    text = steps(RELAY, SERVER, step("server", "hold", flags="S."), *CONNECT, step("client", "close", fd="c"))
    result = run_text(text + step("server", "release"), "release-late")
    assert result.ok, result.failures
    v = next(e for e in result.events if isinstance(e, VerdictEvent) and e.call == "release")
    assert (v.branch, v.predicted, v.observed, v.agree) == ("rcv_no_socket", "RST", "RST", True), v.explanation


@pytest.mark.parametrize(
    "flags,ack,wait,predicted,state",
    [
        ("R.", None, False, "none", "CLOSE"),  # ACKs the SYN: refused
        ("R.", 5, False, "SYN", "SYN_SENT"),  # dropped; the SYN's timer re-armed for TCP_TIMEOUT_MIN
        ("R.", 5, True, "none", "SYN_SENT"),  # dropped; the SYN went again already: no re-arming
        ("S.", 5, False, "RST", "SYN_SENT"),  # a wrong ACK: reset_and_undo
        # A simultaneous open; the server's listener resets the client's SYN-ACK within the step.
        ("S", None, False, "SYN-ACK", "SYN_RECV"),
    ],
)
def test_a_segment_injected_into_a_handshake_whose_syn_ack_is_held(flags, ack, wait, predicted, state):
    """The relay holds the server's SYN-ACK; the peer injects as the server (its seq one past its
    held SYN, its ack the client's SYN's end unless given): tcp_rcv_synsent_state_process()."""
    waited = step("client", "wait") if wait else ""
    inject = step("server", "inject", flags=flags) if ack is None else step("server", "inject", flags=flags, ack=ack)
    text = steps(RELAY, SERVER, step("server", "hold", flags="S."), *CONNECT, waited, inject)
    result = run_text(text, f"inject-{flags}-{ack}-{wait}")
    assert result.ok, result.failures
    v = next(e for e in result.events if isinstance(e, VerdictEvent) and e.call == "inject")
    assert (v.branch, v.predicted, v.observed, v.agree) == ("rcv_syn_sent", predicted, predicted, True), v.explanation
    assert f"inject -> {predicted}, {state}" in v.explanation


def test_a_connect_whose_syn_ack_is_held_stays_in_syn_sent():
    """getpeername() fails in SYN_SENT (inet_getname()): the socket is still known by the port
    it dialled, so the kernel's table is not read as the client having gone to CLOSE and back."""
    result = run_text(steps(RELAY, SERVER, step("server", "hold", flags="S."), *CONNECT), "held-syn-ack")
    assert result.ok, result.failures
    client = [(e.old, e.new) for e in result.events if isinstance(e, StateEvent) and e.actor == "client"]
    assert client == [("CLOSE", "SYN_SENT")]
