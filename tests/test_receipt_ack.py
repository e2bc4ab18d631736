"""tcp_ack()'s checks of the ACK number (lab/receipt_ack.py): an ACK of data never sent and one
older than the RFC 5961 5.2 bound are refused and the segment dropped; whether a challenge ACK
answers depends on the state (tcp_rcv_state_process() answers every refusal itself) and on the
kernel's code, read from its source or a probe, never its version. The two cases on real sockets
through the relay, their counters included."""

import dataclasses
from pathlib import Path

import pytest

from tuiexplore import rules_probe, runner
from tuiexplore.lab.arrivals import sequence
from tuiexplore.lab.capture import Frame
from tuiexplore.lab.receipt import ACK, FIN, PSH, SYN, Arrival, Receiver, predict_arrival
from tuiexplore.lab.receive_rules import ReceiveRules
from tuiexplore.scenarios.scenario import load
from tuiexplore.timeline import VerdictEvent

N = 1000  # RCV.NXT
NEW = ReceiveRules(ack_unsent_challenge=True, ack_old_bytes_acked=True)
OLD = ReceiveRules(ack_unsent_challenge=False, ack_old_bytes_acked=False)
UNKNOWN = ReceiveRules()
DATA = Path(__file__).parent / "data"


def peer(state: str = "ESTABLISHED", rules: ReceiveRules = NEW, **kw) -> Receiver:
    """SND.UNA = SND.NXT = 500 unless told: all it sent is ACKed."""
    base = {"rcv_nxt": N, "rcv_wnd": 65536, "snd_nxt": 500, "snd_una": 500, "max_window": 65536, "rules": rules}
    return Receiver(state, **{**base, **kw})


CHALLENGE = ("TcpExt.TCPChallengeACK",)


@pytest.mark.parametrize(
    "receiver,arrival,outcome,branch,state,counters",
    [
        # An ACK of data never sent: tcp_ack() of the kernel's own code decides in ESTABLISHED.
        (peer(), Arrival(ACK, N, 5000), "ACK", "rcv_ack_unsent", "ESTABLISHED", CHALLENGE),
        (peer(rules=OLD), Arrival(ACK, N, 5000), "none", "rcv_ack_unsent", "ESTABLISHED", ()),
        (peer(rules=UNKNOWN), Arrival(ACK, N, 5000), "none", "rcv_ack_unsent", "ESTABLISHED", ()),
        # ... its data and FIN are not taken (the segment is discarded after tcp_ack()).
        (peer(rules=OLD), Arrival(PSH | ACK, N, 5000, 3), "none", "rcv_ack_unsent", "ESTABLISHED", ()),
        (peer(), Arrival(FIN | ACK, N, 5000), "ACK", "rcv_ack_unsent", "ESTABLISHED", CHALLENGE),
        # ... outside ESTABLISHED tcp_rcv_state_process() sends the challenge ACK whatever tcp_ack() does.
        (peer("CLOSE_WAIT", OLD), Arrival(ACK, N, 5000), "ACK", "rcv_ack_unsent", "CLOSE_WAIT", CHALLENGE),
        (peer("FIN_WAIT1", UNKNOWN), Arrival(FIN | ACK, N, 5000), "ACK", "rcv_ack_unsent", "FIN_WAIT1", CHALLENGE),
        (peer("LAST_ACK", OLD), Arrival(ACK, N, 5000), "ACK", "rcv_ack_unsent", "LAST_ACK", CHALLENGE),
        # ... through tcp_send_challenge_ack()'s limits.
        (peer(oow_recent=True), Arrival(ACK, N, 5000), "none", "rcv_oow_limited", "ESTABLISHED",
         ("TcpExt.TCPACKSkippedChallenge",)),
        (peer(challenge_limit=0), Arrival(ACK, N, 5000), "none", "rcv_ack_unsent", "ESTABLISHED", ()),
        # A too-old ACK: a passive opener's bytes_acked is 0 after the handshake (its SND.UNA was
        # set from the handshake's ACK, not advanced by tcp_ack()), so one before SND.UNA is too old...
        (peer(bytes_acked=0), Arrival(ACK, N, 499), "ACK", "rcv_ack_too_old", "ESTABLISHED", CHALLENGE),
        # ... where the kernel bounds the window by bytes_acked; else (or not known) an old ACK, ignored.
        (peer(bytes_acked=0, rules=OLD), Arrival(ACK, N, 499), "none", "rcv_ack", "ESTABLISHED", ()),
        (peer(bytes_acked=0, rules=UNKNOWN), Arrival(ACK, N, 499), "none", "rcv_ack", "ESTABLISHED", ()),
        # An active opener's SYN counts 1 (its SYN-ACK went through tcp_ack()): the same ACK is old, not too old.
        (peer(bytes_acked=1), Arrival(ACK, N, 499), "none", "rcv_ack", "ESTABLISHED", ()),
        (peer(bytes_acked=1), Arrival(ACK, N, 498), "ACK", "rcv_ack_too_old", "ESTABLISHED", CHALLENGE),
        # 1000 bytes sent, 500 ACKed: 400 before SND.UNA is within min(max_window, 500).
        (peer(snd_nxt=1500, snd_una=1000, bytes_acked=500), Arrival(ACK, N, 600), "none", "rcv_ack", "ESTABLISHED", ()),
        (peer(snd_nxt=1500, snd_una=1000, bytes_acked=500), Arrival(ACK, N, 499), "ACK", "rcv_ack_too_old",
         "ESTABLISHED", CHALLENGE),
        # Older code: max_window alone.
        (peer(snd_nxt=90000, snd_una=90000, bytes_acked=0, rules=OLD), Arrival(ACK, N, 90000 - 70000), "ACK",
         "rcv_ack_too_old", "ESTABLISHED", CHALLENGE),
        # An old ACK within the bound: the segment goes on (its data is taken).
        (peer(bytes_acked=100), Arrival(PSH | ACK, N, 450, 3), "ACK", "rcv_data", "ESTABLISHED", ()),
        # A too-old ACK with data outside ESTABLISHED: dropped with a challenge ACK, not a reset for data.
        (peer("FIN_WAIT2", closed=True, bytes_acked=0), Arrival(PSH | ACK, N, 499, 3), "ACK", "rcv_ack_too_old",
         "FIN_WAIT2", CHALLENGE),
        # SND.UNA not known: no too-old check.
        (peer(snd_una=None, bytes_acked=0), Arrival(ACK, N, 499), "none", "rcv_ack", "ESTABLISHED", ()),
    ],
)  # fmt: skip
def test_tcp_ack_checks_the_ack_number(receiver, arrival, outcome, branch, state, counters):
    p = predict_arrival(receiver, arrival)
    assert (p.outcome, p.branch, p.state, p.counters) == (outcome, branch, state, counters), p.text
    assert p.path[-1] == branch


def test_an_unknown_rule_is_said_and_a_known_one_is_not():
    for rules, known in ((UNKNOWN, False), (OLD, True), (NEW, True)):
        unsent = predict_arrival(peer(rules=rules), Arrival(ACK, N, 5000))
        old = predict_arrival(peer(rules=rules, snd_nxt=90000, snd_una=90000), Arrival(ACK, N, 10))
        assert ("not known" in unsent.text) != known and ("not known" in old.text) != known, (unsent.text, old.text)


# -- real sockets through the relay ---------------------------------------------------------------
@pytest.fixture(scope="module")
def found(tmp_path_factory) -> ReceiveRules:
    """This kernel's rules, as `run` finds them (its source, else the probe; a fresh cache)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        rules = rules_probe.for_kernel(None)
    assert rules.ack_unsent_challenge is not None and rules.ack_old_bytes_acked is not None, rules
    return rules


def inject_verdict(name: str, rules: ReceiveRules) -> VerdictEvent:
    r = runner.run(load(str(DATA / name)), tracer=False, rules=rules)
    injects = [e for e in r.events if isinstance(e, VerdictEvent) and e.call == "inject"]
    assert injects, r.events
    return injects[-1]


def challenged(v: VerdictEvent) -> bool:
    return v.counters.get("TcpExt.TCPChallengeACK", 0) == 1


def test_an_ack_of_data_never_sent(found):
    """/var/tmp/hostile/ackunsent.toml: ack=5000 into the server, beyond its SND.NXT."""
    v = inject_verdict("ack_unsent_relay.toml", found)
    sent = "ACK" if found.ack_unsent_challenge else "none"
    assert (v.predicted, v.observed, v.branch, v.agree) == (sent, sent, "rcv_ack_unsent", True), v.explanation
    assert challenged(v) is bool(found.ack_unsent_challenge), v.counters
    flipped = dataclasses.replace(found, ack_unsent_challenge=not found.ack_unsent_challenge)
    other = inject_verdict("ack_unsent_relay.toml", flipped)
    assert (other.observed, other.agree) == (sent, False), other.explanation


def test_an_ack_before_snd_una_into_the_passive_opener(found):
    """/var/tmp/hostile/ackold.toml: ack=0 into the server, whose bytes_acked is 0."""
    v = inject_verdict("ack_too_old_relay.toml", found)
    if found.ack_old_bytes_acked:
        assert (v.predicted, v.observed, v.branch, v.agree) == ("ACK", "ACK", "rcv_ack_too_old", True), v.explanation
    else:
        assert (v.predicted, v.observed, v.branch, v.agree) == ("none", "none", "rcv_ack", True), v.explanation
    assert challenged(v) is bool(found.ack_old_bytes_acked), v.counters
    flipped = dataclasses.replace(found, ack_old_bytes_acked=not found.ack_old_bytes_acked)
    other = inject_verdict("ack_too_old_relay.toml", flipped)
    assert other.agree is False, other.explanation


def test_the_same_ack_into_the_active_opener_is_only_old(found):
    """Its SYN-ACK went through tcp_ack(): bytes_acked 1, so ack=0 is within the bound."""
    v = inject_verdict("ack_old_client_relay.toml", found)
    assert (v.predicted, v.observed, v.branch, v.agree) == ("none", "none", "rcv_ack", True), v.explanation
    assert not challenged(v), v.counters


def test_an_old_ack_within_bytes_acked_is_ignored(found):
    """/var/tmp/hostile/ackold2.toml: 1000 bytes sent, 500 ACKed, then ack=100."""
    v = inject_verdict("ack_old_within_relay.toml", found)
    assert (v.predicted, v.observed, v.branch, v.agree) == ("none", "none", "rcv_ack", True), v.explanation


def test_the_view_does_not_take_the_data_of_a_segment_whose_ack_was_refused():
    """The sender's data with an ACK past the receiver's SND.NXT is discarded whole: RCV.NXT stays
    (the receiver's answer, if any, would say so too; without one only the view can)."""
    peer_, me = ("10.0.0.2", 4000), ("10.0.0.1", 8080)

    def f(src, seq, ack, flags, length=0, options=""):
        dst = me if src == peer_ else peer_
        return Frame(0.0, b"", src[0], dst[0], src[1], dst[1], seq, ack, flags, 512, length, options)

    frames = [
        f(peer_, 100, 0, SYN, options="mss 1000,wscale 7"),
        f(me, 900, 101, SYN | ACK, options="mss 1000,wscale 7"),
        f(peer_, 101, 901, ACK),
        f(peer_, 101, 6000, PSH | ACK, 10),  # its ACK is past SND.NXT (901): refused
    ]
    nxt = f(peer_, 101, 901, PSH | ACK, 10)
    view = sequence(frames, nxt, set(), 0.5)
    assert (view.rcv_nxt, view.snd_nxt, view.snd_una, view.bytes_acked) == (101, 901, 901, 0)
    assert view.max_window == 512 << 7
    taken = sequence(frames[:3] + [f(peer_, 101, 901, PSH | ACK, 10)], nxt, set(), 0.5)
    assert taken.rcv_nxt == 111
