"""The scripted peer on the relay's wire (tuiexplore/relay/peer.py, segment.py): segments
injected as one side, with every default from the relay's view, and the next segment a real
socket sends checked. What the kernel did is asserted: its state events, counters, replies."""

from conftest import SERVER, run_text, step, steps
from relay_world import RELAY, deltas, of, relay

from tuiexplore.timeline import PacketEvent, StateEvent, StepEvent

HI = step("client", "write", fd="c", data="hi")  # step 8: the client's RCV.NXT at the server is 3


def test_rst_with_rcv_nxt_by_default_resets_the_connection():
    r = relay(HI, step("client", "inject", flags="R"), step("server", "expect", flags=".", timeout_ms=300))
    rst = next(p for p in of(r, PacketEvent, 9) if p.flags == "R")
    assert (rst.src, rst.seq) == ("client", 3)  # exactly RCV.NXT, from what the relay delivered
    assert ("ESTABLISHED", "CLOSE") in [(e.old, e.new) for e in of(r, StateEvent, 9) if e.actor == "server"]
    assert deltas(r, 9).get("Tcp.EstabResets") == 1
    assert not [p for p in of(r, PacketEvent, 9) if p.src == "server"]  # a reset socket says nothing
    assert r.failures == ["step 10: did not run as written (expected server ., saw none within 300 ms)"]


def test_rst_off_by_one_gets_a_challenge_ack_and_no_reset():
    r = relay(
        HI,
        step("client", "inject", flags="R", seq=4),
        step("server", "expect", flags=".", seq=1, ack=3),
        step("server", "read", fd="s"),
        step("server", "write", fd="s", data="ok"),
    )
    assert r.ok, r.failures
    assert deltas(r, 9).get("TcpExt.TCPChallengeACK") == 1 and "Tcp.EstabResets" not in deltas(r, 9)
    assert not [e for e in r.events if isinstance(e, StateEvent) and e.new == "CLOSE"]
    assert next(e for e in of(r, StepEvent, 10)).result == {"packet": 7}
    assert next(e for e in of(r, StepEvent, 12)).ret == 2  # still a connection


def test_expect_says_what_differed():
    r = relay(HI, step("client", "inject", flags="R", seq=4), step("server", "expect", flags="R.", ack=9))
    assert r.failures == [
        "step 10: did not run as written (expected server R. (flags R., ack 9), saw #7 server . seq 1 ack 3 len 0)"
    ]


def test_injected_data_is_taken_by_the_receiver_as_the_peers():
    r = relay(
        HI,
        step("client", "inject", flags="P.", data="xy"),
        step("server", "expect", flags=".", ack=5),
        step("server", "read", fd="s"),
    )
    assert r.ok, r.failures
    assert next(e for e in of(r, StepEvent, 11)).result["data"] == "hixy"


def test_inject_with_no_connection_fails_in_one_line():
    r = run_text(steps(SERVER, step("client", "inject", flags="R")) + RELAY)
    assert r.failures == ["step 5: did not run as written (no connection on the lab port has been seen through the relay yet)"]


def test_expect_looks_from_the_previous_step_on():
    """The server's ACK of "hi" (step 8) is what an expect right after it sees; after a step in
    which the server sent nothing, there is nothing to see (-1: look once, no wait)."""
    r = relay(
        HI,
        step("server", "expect", flags=".", ack=3),
        step("server", "read", fd="s"),
        step("server", "expect", flags="R", timeout_ms=-1),
    )
    assert r.failures == ["step 11: did not run as written (expected server R, saw none within 0 ms)"]
    assert next(e for e in of(r, StepEvent, 9)).result == {"packet": 5}
