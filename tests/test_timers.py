"""Pending timers named after each step, and the ``wait`` step, on real sockets: every timer and
time left comes from the kernel (sock_diag), and a wait ends when the kernel's timer has run."""

from conftest import CONNECT, SERVER, run_text, step, steps
from relay_world import deltas, of, relay

from tuiexplore.timeline import NoteEvent, PacketEvent, StateEvent, StepEvent, TimersEvent


def _timers(r, n: int) -> list[dict]:
    got = of(r, TimersEvent, n)
    return got[-1].timers if got else []


def test_an_orphan_in_fin_wait2_then_time_wait_are_named_with_the_kernels_time_left():
    r = run_text(steps(SERVER, CONNECT, step("client", "close", fd="c"), step("server", "close", fd="s")))
    assert r.ok, r.failures
    (fw2,) = _timers(r, 8)
    assert (fw2["actor"], fw2["fd"], fw2["state"], fw2["kind"]) == ("client", "c", "FIN_WAIT2", "fin_wait2")
    assert 50_000 < fw2["due_ms"] <= 60_000  # tcp_fin_timeout's 60 s, read back from the kernel
    assert fw2["text"].startswith("FIN_WAIT2 timeout ends in ")
    (tw,) = _timers(r, 9)
    assert (tw["state"], tw["kind"]) == ("TIME_WAIT", "time_wait")
    assert 55_000 < tw["due_ms"] <= 60_000 and tw["text"].startswith("TIME_WAIT ends in ")
    assert not of(r, TimersEvent, 7)  # nothing pending, nothing said


def test_a_held_fin_is_named_as_the_fin_retransmission_and_a_wait_sees_it_sent_again():
    r = relay(step("client", "hold", flags="F"), step("client", "close", fd="c"), step("client", "wait"), step("client", "wait"))
    assert r.ok, r.failures
    (fin,) = [t for t in _timers(r, 9) if t["actor"] == "client"]
    assert (fin["state"], fin["kind"]) == ("FIN_WAIT1", "fin_retransmission")
    assert 0 < fin["due_ms"] <= 1000 and fin["text"].startswith("FIN retransmission due in ")
    waited = of(r, StepEvent, 10)[0]
    assert waited.ret == 0 and waited.result["timer"]["kind"] == "fin_retransmission"
    again = [p for p in of(r, PacketEvent, 10) if p.src == "client"]
    assert [p.flags for p in again][:1] == ["F."]  # the same FIN, sent by the timer
    assert deltas(r, 10).get("Tcp.RetransSegs", 0) >= 1
    assert any("fired after" in e.text for e in of(r, NoteEvent, 10))
    # The first timer was the tail loss probe's; the next is the RTO, which backs off when it fires.
    assert deltas(r, 10).get("TcpExt.TCPLossProbes") == 1
    (rto,) = [t for t in _timers(r, 10) if t["actor"] == "client"]
    (backed_off,) = [t for t in _timers(r, 11) if t["actor"] == "client"]
    assert deltas(r, 11).get("TcpExt.TCPTimeouts") == 1 and backed_off["due_ms"] > rto["due_ms"]


def test_a_wait_with_nothing_pending_returns_at_once_and_one_beyond_its_bound_fails_in_one_line():
    r = run_text(steps(SERVER, CONNECT, step("client", "wait")))
    assert r.ok, r.failures
    (ev,) = of(r, StepEvent, 8)
    assert ev.ret == 0 and ev.result == {"timer": None}
    (said,) = [e.text for e in of(r, NoteEvent, 8)]
    assert said == "wait: no timer is pending on any lab socket (any that was armed has fired): nothing to wait for"
    r = run_text(steps(SERVER, CONNECT, step("client", "close", fd="c"), step("client", "wait", max_ms=500)))
    (ev,) = of(r, StepEvent, 9)
    assert ev.result["failed"] and "beyond this wait's bound of 500 ms" in ev.result["message"]
    assert "FIN_WAIT2 timeout ends in" in ev.result["message"]
    assert not [e for e in of(r, StateEvent, 9)]  # nothing waited for, nothing happened
