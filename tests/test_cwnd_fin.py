"""A FIN the congestion window holds back: tcp_write_xmit() sends the head of the unsent queue
only when tcp_cwnd_test() finds room for another packet in flight. From 6.10 a FIN has no
exception there ("tcp: remove dubious FIN exception from tcp_cwnd_test()"); before, a FIN in a
one-segment head went out regardless. After a retransmission timeout the window is one segment,
and that segment is in flight: close() then queues the FIN and sends nothing."""

from __future__ import annotations

from conftest import CONNECT, SERVER, run_text, step, steps

from tuiexplore.lab.predict import FIN_EXEMPT_UNTIL, SocketView, kernel_version, predict_close, predict_shutdown
from tuiexplore.timeline import VerdictEvent

V618, V61 = (6, 18, 0), (6, 1, 0)


def test_a_full_congestion_window_holds_the_fin_from_6_10():
    full = SocketView("ESTABLISHED", cwnd_room=0, mss=1000)
    held = predict_close(full, V618)
    assert (held.outcome, held.branch) == ("none", "fin")
    assert "tcp_cwnd_test" in held.text and "FIN_WAIT1" in held.text
    assert predict_shutdown(full, "SHUT_WR", V618).outcome == "none"
    assert predict_close(full, V61).outcome == "FIN"  # the FIN's own segment was exempt
    assert predict_close(SocketView("ESTABLISHED", cwnd_room=1, mss=1000), V618).outcome == "FIN"
    assert predict_close(SocketView("ESTABLISHED", mss=1000), V618).outcome == "FIN"  # not read: as before


def test_unsent_bytes_need_a_packet_each_before_the_fins():
    three = SocketView("ESTABLISHED", unsent=2500, send_window=65535, cwnd_room=2, mss=1000)
    assert predict_close(three, V618).outcome == "none"
    assert predict_close(three, V61).outcome == "none"  # its head is not the FIN's: no exception
    assert "2500 unsent bytes (3 packets)" in predict_close(three, V618).text
    one = SocketView("ESTABLISHED", unsent=500, send_window=65535, cwnd_room=0, mss=1000)
    assert predict_close(one, V61).outcome == "FIN"  # the FIN rides on a one-segment head
    assert predict_close(one, V618).outcome == "none"
    assert predict_close(SocketView("ESTABLISHED", unsent=2500, send_window=65535, cwnd_room=3, mss=1000), V618).outcome == "FIN"


RELAY = '[lab]\nwire = "relay"\n'


def _verdicts(waits: int) -> list[VerdictEvent]:
    held_acks = step("client", "hold", flags=".")  # the server's data is never ACKed
    write, close = step("server", "write", fd="s", size=10), step("server", "close", fd="s")
    text = steps(RELAY, SERVER, CONNECT, held_acks, write, *[step("server", "wait")] * waits, close)
    result = run_text(text, f"cwnd-{waits}")
    assert result.ok, result.failures
    return [e for e in result.events if isinstance(e, VerdictEvent)]


def test_after_a_retransmission_timeout_the_fin_waits_for_room():
    """Two timers (the tail loss probe, then the RTO that shrinks the window to one segment),
    then close(): from 6.10 it sends nothing, as predicted; before, the FIN went regardless."""
    *waits, close = _verdicts(2)
    assert [w.branch for w in waits] == ["retransmit", "retransmit"], [w.explanation for w in waits]
    held = kernel_version() >= FIN_EXEMPT_UNTIL
    want = "none" if held else "FIN"
    assert (close.call, close.predicted, close.observed, close.agree) == ("close", want, want, True), close.explanation
    assert ("tcp_cwnd_test" in close.explanation) is held


def test_before_any_timer_the_fin_goes_at_once():
    [close] = _verdicts(0)
    assert (close.predicted, close.observed, close.agree) == ("FIN", "FIN", True), close.explanation
