"""Predictions for a segment the relay delivers (lab/receipt.py, lab/arrivals.py): the kernel's
receive path followed from the receiver's state, and the verdicts of real runs through the
relay, where the scripted peer's segments reach real sockets (packets, states, counters, the
errno the application saw, the RST reason as root)."""

import dataclasses
import json

import pytest
from conftest import step
from relay_world import deltas, of, relay
from test_unprivileged import as_nobody

from tuiexplore import runner
from tuiexplore.domain import SocketRow
from tuiexplore.lab.advice import advise
from tuiexplore.lab.predict import BRANCHES
from tuiexplore.lab.receipt import ACK, FIN, PSH, RST, SYN, Arrival, Receiver, predict_arrival
from tuiexplore.lab.receipt_branches import RECEIPT_BRANCHES
from tuiexplore.lab.receive_rules import ReceiveRules
from tuiexplore.scenarios.scenario import load
from tuiexplore.timeline import PacketEvent, StateEvent, StepEvent, VerdictEvent

N = 1000  # RCV.NXT of the receivers below
HI = step("client", "write", fd="c", data="hi")  # step 8: the server's RCV.NXT is 3 (relative)


def est(**kw) -> Receiver:
    return Receiver("ESTABLISHED", rcv_nxt=N, rcv_wnd=65536, snd_nxt=500, **kw)


@pytest.mark.parametrize(
    "receiver,arrival,outcome,branch,state",
    [
        (est(), Arrival(RST, N), "none", "rcv_rst_exact", "CLOSE"),
        (est(), Arrival(RST, N + 1), "ACK", "rcv_rst_challenge", "ESTABLISHED"),
        (est(), Arrival(RST, N + 70000), "none", "rcv_rst_ignored", "ESTABLISHED"),
        (est(), Arrival(RST, N - 1), "none", "rcv_rst_ignored", "ESTABLISHED"),
        (dataclasses.replace(est(), state="CLOSE_WAIT"), Arrival(RST, N - 1), "none", "rcv_rst_exact", "CLOSE"),
        (est(), Arrival(SYN, N + 5), "ACK", "rcv_syn_challenge", "ESTABLISHED"),
        (est(oow_recent=True), Arrival(RST, N + 1), "none", "rcv_oow_limited", "ESTABLISHED"),
        (est(challenge_limit=0), Arrival(RST, N + 1), "none", "rcv_rst_challenge", "ESTABLISHED"),
        (est(), Arrival(PSH, N, length=3), "none", "rcv_no_ack", "ESTABLISHED"),
        (est(), Arrival(PSH | ACK, N + 90000, 500, 3), "ACK", "rcv_out_of_window", "ESTABLISHED"),
        (est(), Arrival(PSH | ACK, N, 500, 3), "ACK", "rcv_data", "ESTABLISHED"),
        (est(), Arrival(FIN | ACK, N, 500), "ACK", "rcv_fin", "CLOSE_WAIT"),
        (dataclasses.replace(est(), state="FIN_WAIT1"), Arrival(FIN | ACK, N, 499), "ACK", "rcv_fin", "CLOSING"),
        (dataclasses.replace(est(), state="FIN_WAIT1"), Arrival(FIN | ACK, N, 500), "ACK", "rcv_fin", "TIME_WAIT"),
        (dataclasses.replace(est(), state="FIN_WAIT2"), Arrival(FIN | ACK, N, 500), "ACK", "rcv_fin", "TIME_WAIT"),
        (dataclasses.replace(est(), state="LAST_ACK"), Arrival(ACK, N, 500), "none", "rcv_ack", "CLOSE"),
        # An ACK that opens the window: what waited for it goes (tcp_data_snd_check()).
        (est(unsent=100), Arrival(ACK, N, 500, win=0), "none", "rcv_ack", "ESTABLISHED"),
        (est(unsent=5000), Arrival(ACK, N, 500, win=4096), "ACK", "rcv_ack", "ESTABLISHED"),
        (est(fin_queued=True), Arrival(ACK, N, 500, win=4096), "FIN", "rcv_ack", "ESTABLISHED"),
        (est(unsent=4096, fin_queued=True), Arrival(ACK, N, 500, win=4096), "FIN", "rcv_ack", "ESTABLISHED"),
        (
            dataclasses.replace(est(fin_queued=True), state="FIN_WAIT1"),
            Arrival(ACK, N, 500, win=4096),
            "FIN",
            "rcv_ack",
            "FIN_WAIT1",  # its FIN was not sent, so this ACK does not ACK it
        ),
        (
            dataclasses.replace(est(closed=True), state="FIN_WAIT1"),
            Arrival(PSH | ACK, N, 500, 4),
            "RST",
            "rcv_data_after_close",
            "CLOSE",
        ),
        (Receiver(None), Arrival(PSH | ACK, 7, 9, 3), "RST", "rcv_no_socket", ""),
        (Receiver(None), Arrival(RST, 7), "none", "rcv_no_socket", ""),
        (Receiver("TIME_WAIT", N, timewait=True), Arrival(PSH | ACK, N, 1, 4), "ACK", "tw_ack", "TIME_WAIT"),
        (Receiver("TIME_WAIT", N, timewait=True), Arrival(ACK, N, 1), "none", "tw_quiet", "TIME_WAIT"),
        (Receiver("TIME_WAIT", N, timewait=True), Arrival(RST, N), "none", "tw_kill", ""),
        (Receiver("TIME_WAIT", N, timewait=True, rfc1337=1), Arrival(RST, N), "none", "tw_quiet", "TIME_WAIT"),
        (Receiver("TIME_WAIT", N, timewait=True, listener=True), Arrival(SYN, N + 9), "SYN-ACK", "tw_syn", ""),
        (Receiver("TIME_WAIT", N, timewait=True), Arrival(SYN, N + 9), "ACK", "tw_ack", "TIME_WAIT"),
        (Receiver("TIME_WAIT", N, timewait=True, listener=True), Arrival(SYN, N - 9), "ACK", "tw_ack", "TIME_WAIT"),
        (
            Receiver("TIME_WAIT", N, timewait=True, listener=True, ts_recent=7),
            Arrival(SYN, N - 9, tsval=8),
            "SYN-ACK",
            "tw_syn",
            "",
        ),
        (
            Receiver("TIME_WAIT", N, timewait=True, listener=True, ts_recent=7),
            Arrival(SYN, N - 9, tsval=7),
            "ACK",
            "tw_ack",
            "TIME_WAIT",
        ),
        (Receiver("FIN_WAIT2", N, timewait=True), Arrival(PSH | ACK, N, 1, 4), "RST", "tw_rst", ""),
        (Receiver("FIN_WAIT2", N, timewait=True), Arrival(FIN | ACK, N, 1), "ACK", "tw_fin", "TIME_WAIT"),
    ],
)
def test_the_receive_path_by_state_and_segment(receiver, arrival, outcome, branch, state):
    p = predict_arrival(receiver, arrival)
    assert (p.outcome, p.branch, p.state) == (outcome, branch, state), p.text
    assert p.path[-1] == branch and branch in RECEIPT_BRANCHES


def fin(taken: bool) -> ReceiveRules:
    return ReceiveRules(bare_fin=taken)


def shut(**kw) -> Receiver:
    """A receiver whose buffer is full: it last advertised a zero window (tcp_receive_window() == 0)."""
    return Receiver("ESTABLISHED", rcv_nxt=N, rcv_wnd=0, snd_nxt=500, **kw)


@pytest.mark.parametrize(
    "receiver,arrival,branch,state",
    [
        # tcp_data_queue()'s zero-window branch: a bare FIN passes only where this kernel's
        # source (or probe) shows the exception; data never does; the version plays no part.
        (shut(rules=fin(True)), Arrival(FIN | ACK, N, 500), "rcv_fin", "CLOSE_WAIT"),
        (shut(rules=fin(True), version=(6, 1, 0)), Arrival(FIN | ACK, N, 500), "rcv_fin", "CLOSE_WAIT"),
        (shut(rules=fin(False)), Arrival(FIN | ACK, N, 500), "rcv_zero_window", "ESTABLISHED"),
        (shut(rules=fin(False), version=(6, 18, 0)), Arrival(FIN | ACK, N, 500), "rcv_zero_window", "ESTABLISHED"),
        (shut(rules=fin(True)), Arrival(FIN | PSH | ACK, N, 500, 10), "rcv_zero_window", "ESTABLISHED"),
        (shut(rules=fin(True)), Arrival(PSH | ACK, N, 500, 10), "rcv_zero_window", "ESTABLISHED"),
        (shut(), Arrival(FIN | ACK, N, 500), "rcv_zero_window", "ESTABLISHED"),
        # A bare ACK into the zero window is no data: tcp_ack() alone.
        (shut(rules=fin(False)), Arrival(ACK, N, 500), "rcv_ack", "ESTABLISHED"),
    ],
)
def test_a_segment_into_a_zero_window_follows_tcp_data_queue(receiver, arrival, branch, state):
    p = predict_arrival(receiver, arrival)
    assert (p.outcome, p.branch, p.state) == ("none" if branch == "rcv_ack" else "ACK", branch, state), p.text
    assert p.path[-1] == branch
    assert p.counters == (("TcpExt.TCPZeroWindowDrop",) if branch == "rcv_zero_window" else ())
    if branch == "rcv_zero_window" and arrival.length == 0:
        known = receiver.rules.bare_fin is not None
        assert ("not known" in p.text) != known, p.text


def test_rst_reasons_and_errnos_follow_the_kernel_version():
    old, new = dataclasses.replace(est(), version=(6, 9, 0)), est()
    assert predict_arrival(Receiver(None, version=(6, 9, 0)), Arrival(ACK, 1, 2)).reason is None
    assert predict_arrival(Receiver(None), Arrival(ACK, 1, 2)).reason == "NO_SOCKET"
    assert predict_arrival(old, Arrival(RST, N)).errno == predict_arrival(new, Arrival(RST, N)).errno == "ECONNRESET"
    assert predict_arrival(dataclasses.replace(est(), state="CLOSE_WAIT"), Arrival(RST, N)).errno == "EPIPE"
    closed = dataclasses.replace(est(closed=True), state="FIN_WAIT2")
    assert predict_arrival(closed, Arrival(PSH | ACK, N, 500, 4)).reason == "TCP_ABORT_ON_DATA"


def test_every_receipt_branch_is_registered_documented_and_advised():
    assert set(RECEIPT_BRANCHES) <= set(BRANCHES)
    for branch in RECEIPT_BRANCHES:
        assert advise(branch, "ACK", SocketRow("s", 3, "ESTABLISHED"), "inject"), branch


# -- real sockets through the relay --------------------------------------------------------------
def receipts(r: runner.RunResult) -> list[tuple[int, str, str, str, bool]]:
    return [
        (v.step, v.call, v.observed, v.branch, v.agree)
        for v in r.events
        if isinstance(v, VerdictEvent) and v.call in ("inject", "release")
    ]


def test_rst_in_window_predicts_the_challenge_ack_then_the_reset():
    r = runner.run(load("rst-in-window"))
    assert r.ok, r.failures
    assert receipts(r) == [(9, "inject", "ACK", "rcv_rst_challenge", True), (11, "inject", "none", "rcv_rst_exact", True)]
    assert deltas(r, 9).get("TcpExt.TCPChallengeACK") == 1 and deltas(r, 11).get("Tcp.EstabResets") == 1
    assert next(e for e in of(r, StepEvent, 12)).errno == "ECONNRESET"


def test_data_after_close_is_reset_by_the_fin_wait2_mini_socket():
    r = runner.run(load("data-after-close"))
    assert r.ok, r.failures
    assert receipts(r) == [(8, "inject", "RST", "tw_rst", True)]
    v = next(e for e in of(r, VerdictEvent, 8))
    assert v.rst_reason == ("TCP_TIMEWAIT_SOCKET" if r.info.tracepoints else None)  # the kernel's own word
    assert ("CLOSE_WAIT", "CLOSE") in [(e.old, e.new) for e in of(r, StateEvent, 8) if e.actor == "client"]
    assert next(e for e in of(r, StepEvent, 9)).errno == "EPIPE"  # tcp_reset() in CLOSE_WAIT


def test_timewait_acks_late_data_and_gives_way_to_a_new_syn():
    r = runner.run(load("timewait-segments"))
    assert r.ok, r.failures
    assert receipts(r) == [(11, "inject", "ACK", "tw_ack", True), (12, "inject", "SYN-ACK", "tw_syn", True)]
    assert [p.flags for p in of(r, PacketEvent, 11) if p.src == "server"] == ["."]


def test_the_rst_overtakes_the_response_and_the_late_response_meets_no_socket():
    r = runner.run(load("reset-loses-response"))
    assert r.ok, r.failures
    assert next(e for e in of(r, StepEvent, 11)).errno == "ECONNRESET"  # the response never arrived
    assert deltas(r, 10).get("TcpExt.TCPChallengeACK") == 1  # the server's RST was past RCV.NXT
    assert receipts(r) == [(12, "release", "RST", "rcv_no_socket", True)]
    v = next(e for e in of(r, VerdictEvent, 12))
    assert v.rst_reason == ("NO_SOCKET" if r.info.tracepoints else None)
    assert [p.flags for p in of(r, PacketEvent, 12) if p.src == "client"] == ["R"]


def test_a_second_challenge_within_the_rate_limit_is_not_sent():
    # __tcp_oow_rate_limited(): one answer to an invalid segment per tcp_invalid_ratelimit (500 ms).
    r = relay(step("client", "inject", flags="R", seq=5), step("client", "inject", flags="R", seq=6))
    assert r.ok, r.failures
    got = receipts(r)
    assert got == [(8, "inject", "ACK", "rcv_rst_challenge", True), (9, "inject", "none", "rcv_oow_limited", True)], got
    assert deltas(r, 9).get("TcpExt.TCPACKSkippedChallenge") == 1


_UNPRIVILEGED = """
import json
from tuiexplore import runner
from tuiexplore.scenarios.scenario import load
from tuiexplore.timeline import StepEvent, VerdictEvent
out = {}
for name in ("data-after-close", "timewait-segments", "reset-loses-response"):
    r = runner.run(load(name))
    out[name] = [r.info.mode, r.failures,
        [[v.step, v.observed, v.branch, v.agree, v.rst_reason] for v in r.events
         if isinstance(v, VerdictEvent) and v.call in ("inject", "release")],
        [e.errno for e in r.events if isinstance(e, StepEvent) and e.errno]]
print(json.dumps(out))
"""


def test_the_receipt_builtins_hold_unprivileged():
    proc = as_nobody("-c", _UNPRIVILEGED, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["data-after-close"] == ["userns", [], [[8, "RST", "tw_rst", True, None]], ["EPIPE"]]
    assert out["timewait-segments"][:3] == [
        "userns",
        [],
        [[11, "ACK", "tw_ack", True, None], [12, "SYN-ACK", "tw_syn", True, None]],
    ]
    assert out["reset-loses-response"] == ["userns", [], [[12, "RST", "rcv_no_socket", True, None]], ["ECONNRESET"]]


def test_the_prediction_is_there_before_the_inject_runs():
    from tuiexplore.session import Session

    s = Session(load("rst-in-window"), lambda events, generation: None)
    s.start()
    try:
        for _ in range(8):
            assert s.run_next().ok
        [before] = s.predict_next()  # step 9: the RST one past RCV.NXT
        assert (before.fd, before.outcome, before.branch) == ("conn", "ACK", "rcv_rst_challenge")
        assert "-> ESTABLISHED" in before.text
        s.run_next()
        s.run_next()
        [exact] = s.predict_next()  # step 11: at RCV.NXT
        assert (exact.outcome, exact.branch) == ("none", "rcv_rst_exact") and "-> CLOSE" in exact.text
    finally:
        s.close()


def test_a_prediction_the_kernel_did_not_follow_is_shown_not_hidden():
    from tuiexplore.lab.arrivals import Arrivals, Expected
    from tuiexplore.lab.attribution import Attribution
    from tuiexplore.relay.topology import Loopback

    arrivals = Arrivals(Loopback(lambda: None), Attribution(), lambda keys: {}, (6, 18, 0))
    p = predict_arrival(est(), Arrival(RST, N + 1))  # a challenge ACK, ESTABLISHED
    sock = SocketRow("conn", 4, "ESTABLISHED", lport=1, rport=2)
    v = arrivals.judge(0.0, 9, "inject", Expected(sock, "server", "10.47.0.1", p, {}), [], [])
    assert (v.predicted, v.observed, v.agree) == ("ACK", "none", False)  # nothing sent, the socket gone
    assert "PREDICTED ACK, ESTABLISHED" in v.explanation and "the kernel did otherwise" in v.explanation
    assert v.advice.startswith("the prediction did not hold")


def test_a_receipt_verdict_counts_the_receivers_kernel_only():
    # close-no-rst: the real client's kernel answers the server's ACK with a challenge ACK (the
    # relay drops it); that is the client's doing, not the server's answer to the FIN.
    r = runner.run(load("close-no-rst"))
    assert r.ok, r.failures
    v = next(e for e in of(r, VerdictEvent, 10))
    assert (v.call, v.observed, v.branch) == ("inject", "ACK", "rcv_fin")
    assert deltas(r, 10).get("TcpExt.TCPChallengeACK") == 1 and "TcpExt.TCPChallengeACK" not in v.counters
    assert v.counters.get("TcpExt.TCPDSACKOldSent") == 1  # the server's D-SACK for the old bytes


@pytest.mark.parametrize(
    "parts,branches",
    [
        ([step("client", "inject", flags="F.")], {"rcv_fin"}),
        ([step("client", "inject", flags="F."), step("client", "inject", flags="F.", seq=1)], {"rcv_fin", "rcv_data"}),
        ([step("client", "inject", flags="P.", seq=300000, data="x")], {"rcv_out_of_window"}),
        ([step("client", "inject", flags="R", seq=300000)], {"rcv_rst_ignored"}),
        ([step("client", "inject", flags="S", seq=5)], {"rcv_syn_challenge"}),
        ([step("client", "inject", flags="P", data="x")], {"rcv_no_ack"}),
        ([step("client", "inject", flags="P.", data="ab")], {"rcv_data"}),
        # The reset socket is unhashed: the port's listener takes the data (tcp_v4_rcv() finds it
        # when no connection matches) and answers its ACK with RST, kernel reason TCP_FLAGS (as root;
        # with no listener it would be NO_SOCKET, test_receipt_handshake.py).
        (
            [step("client", "inject", flags="R"), step("client", "inject", flags="P.", data="x")],
            {"rcv_rst_exact", "rcv_listen"},
        ),
        # The real client answers the server's ACK of a FIN it never sent; the server's duplicate
        # ACK to that old segment starts the rate limit: the challenge ACK then is not sent.
        ([step("client", "inject", flags="F."), step("client", "inject", flags="R", seq=9)], {"rcv_fin", "rcv_oow_limited"}),
        # The server's FIN is not ACKed (the relay drops the client's ACK): data to a FIN_WAIT1
        # orphan; a retransmitted FIN's ACK may come through first: the FIN_WAIT2 mini-socket's.
        (
            [step("client", "drop", flags="."), step("server", "close", fd="s"), step("client", "inject", flags="P.", data="zz")],
            {"rcv_data_after_close", "tw_rst"},
        ),
    ],
    ids=[
        "fin",
        "fin-again",
        "data-beyond-window",
        "rst-beyond-window",
        "syn",
        "no-ack",
        "data",
        "after-reset",
        "limited-after-an-old-ack",
        "data-to-orphan",
    ],
)
def test_the_prediction_holds_on_the_kernels_paths(parts, branches):
    r = relay(*parts)
    assert r.ok, r.failures
    got = receipts(r)
    assert got and all(v[4] for v in got), [e.explanation for e in r.events if isinstance(e, VerdictEvent)]
    assert (
        {v[3] for v in got} <= branches
        and len({v[3] for v in got}) == len(branches)
        or branches
        == {
            "rcv_data_after_close",
            "tw_rst",
        }
    ), got


@pytest.mark.parametrize(
    "flags,seq,branch",
    [
        ("FR", 4, "rcv_rst_challenge"),  # RST wins over FIN in tcp_validate_incoming()
        ("SF", None, "rcv_syn_challenge"),
        ("S.", 100000, "rcv_syn_challenge"),  # a SYN outside the window too
        ("R.", 1, "rcv_rst_ignored"),  # before RCV.NXT, not after the peer's FIN
        ("U.", 1, "rcv_out_of_window"),  # an old bare ACK: a duplicate ACK
        ("FP.", 4, "rcv_data"),  # a hole before it: queued out of order, ACKed at once
    ],
)
def test_odd_segments_follow_the_kernel_too(flags, seq, branch):
    args = {"flags": flags} if seq is None else {"flags": flags, "seq": seq}
    r = relay(HI, step("server", "read", fd="s"), step("client", "inject", **args))
    assert r.ok, r.failures
    [v] = [v for v in r.events if isinstance(v, VerdictEvent) and v.call == "inject"]
    assert (v.branch, v.agree) == (branch, True), v.explanation
