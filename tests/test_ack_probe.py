"""tcp_ack()'s two rules that kernels of one line have differently (tuiexplore/ack_probe.py):
read from tcp_ack() in the kernel's own source, else from what the running kernel does with the
probe script (rules_probe.py runs it, with the bare-FIN probe, and caches the answers in one
file per release); never from a version number."""

import platform
import re

import pytest
from test_bare_fin_probe import probed

from tuiexplore import ack_probe, rules_probe
from tuiexplore.lab.receive_rules import ReceiveRules
from tuiexplore.packetdrill.events import LineEvent
from tuiexplore.timeline import PacketEvent

NEW_OLD = """\
	if (before(ack, prior_snd_una)) {
		u32 max_window;

		/* do not accept ACK for bytes we never sent. */
		max_window = min_t(u64, tp->max_window, tp->bytes_acked);
		/* RFC 5961 5.2 [Blind Data Injection Attack].[Mitigation] */
		if (before(ack, prior_snd_una - max_window)) {
			if (!(flag & FLAG_NO_CHALLENGE_ACK))
				tcp_send_challenge_ack(sk, false);
			return -SKB_DROP_REASON_TCP_TOO_OLD_ACK;
		}
		goto old_ack;
	}
"""
OLD_OLD = """\
	if (before(ack, prior_snd_una)) {
		/* RFC 5961 5.2 [Blind Data Injection Attack].[Mitigation] */
		if (before(ack, prior_snd_una - tp->max_window)) {
			if (!(flag & FLAG_NO_CHALLENGE_ACK))
				tcp_send_challenge_ack(sk);
			return -SKB_DROP_REASON_TCP_TOO_OLD_ACK;
		}
		goto old_ack;
	}
"""
NEW_UNSENT = """\
	if (after(ack, tp->snd_nxt)) {
		if (!(flag & FLAG_NO_CHALLENGE_ACK))
			tcp_send_challenge_ack(sk, false);
		return -SKB_DROP_REASON_TCP_ACK_UNSENT_DATA;
	}
"""
OLD_UNSENT = """\
	if (after(ack, tp->snd_nxt))
		return -SKB_DROP_REASON_TCP_ACK_UNSENT_DATA;
"""
OLDER_UNSENT = """\
	if (after(ack, tp->snd_nxt))
		goto invalid_ack;
"""


def tcp_ack(old: str, unsent: str) -> str:
    """tcp_ack() with the two checks as a kernel has them, between tcp_input.c's neighbours."""
    return (
        "static void tcp_in_ack_event(struct sock *sk, int flag)\n{\n}\n\n"
        "/* This routine deals with incoming acks, but not outgoing ones. */\n"
        "static int tcp_ack(struct sock *sk, const struct sk_buff *skb, int flag)\n{\n"
        "\tu32 prior_snd_una = tp->snd_una;\n\tu32 ack = TCP_SKB_CB(skb)->ack_seq;\n\n"
        f"{old}\n{unsent}\n\tif (after(ack, prior_snd_una)) {{\n\t\tflag |= FLAG_SND_UNA_ADVANCED;\n\t}}\n"
        "\treturn 1;\n\nold_ack:\n\treturn 0;\n}\n\n"
        "static bool tcp_parse_fastopen_option(int len)\n{\n\treturn false;\n}\n"
    )


@pytest.mark.parametrize(
    "old,unsent,bytes_acked,challenge",
    [
        (NEW_OLD, NEW_UNSENT, True, True),  # 6.18
        (NEW_OLD, OLD_UNSENT, True, False),  # a stable tree with the first fix only
        (OLD_OLD, OLD_UNSENT, False, False),  # 6.1 as released
        (OLD_OLD, OLDER_UNSENT, False, False),  # before drop reasons
    ],
)
def test_the_source_says_both_rules(old, unsent, bytes_acked, challenge):
    got = ack_probe.from_source(tcp_ack(old, unsent))
    assert got == {"ack_unsent_challenge": challenge, "ack_old_bytes_acked": bytes_acked}
    assert rules_probe.from_source(tcp_ack(old, unsent)).ack_unsent_challenge is challenge


def test_a_source_without_the_checks_says_nothing():
    assert ack_probe.from_source("static void tcp_fin(struct sock *sk)\n{\n}\n") == {
        "ack_unsent_challenge": None,
        "ack_old_bytes_acked": None,
    }


def pkt(src: str, ack: int, flags: str = ".", length: int = 0) -> PacketEvent:
    return PacketEvent(0.1, src, "peer" if src == "local" else "local", 4000, 8080, flags, 1, ack, length, 257)


def probe_run(unsent_answered: bool, old_answered: bool, done: bool = True) -> list:
    """The events of a probe run: the handshake's ACK, the two refused ACKs, the marker's data."""
    events = [pkt("peer", 1), pkt("peer", 5000)]
    events += [pkt("local", 1)] if unsent_answered else []
    events += [pkt("peer", 0)] + ([pkt("local", 1)] if old_answered else [])
    events += [pkt("peer", 1, "P.", 1)] + ([pkt("local", 2)] if done else [])
    return events


@pytest.mark.parametrize("unsent,old", [(True, True), (False, True), (True, False), (False, False)])
def test_the_probes_answers_are_what_the_kernel_sent_after_each_ack(unsent, old):
    assert ack_probe.seen(probe_run(unsent, old)) == {"ack_unsent_challenge": unsent, "ack_old_bytes_acked": old}


def test_a_run_that_did_not_get_to_the_end_answers_nothing_and_is_not_cached(tmp_path):
    assert ack_probe.seen(probe_run(True, True, done=False)) == {"ack_unsent_challenge": None, "ack_old_bytes_acked": None}
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    known = ReceiveRules(bare_fin=True)
    assert rules_probe.probe("ack-test-0", lambda path: probe_run(True, True, done=False), known, env) == known
    assert not list(tmp_path.rglob("*.json"))


def test_one_file_per_release_holds_every_probed_rule(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    ran: list[str] = []

    def run(path: str) -> list:
        ran.append(path.rsplit("/", 1)[1])
        fin = [PacketEvent(0.1, "local", "peer", 8080, 4000, ".", 1, 60001, 0, 0)]
        return fin if path.endswith("zero_window_fin.pkt") else probe_run(False, True)

    want = ReceiveRules(bare_fin=False, ack_unsent_challenge=False, ack_old_bytes_acked=True)
    assert rules_probe.probe("ack-test-1", run, env=env) == want
    assert ran == ["zero_window_fin.pkt", "ack_rules.pkt"]

    def refuse(path: str) -> list:
        raise AssertionError("probed again: the cache was not used")

    assert rules_probe.probe("ack-test-1", refuse, env=env) == want
    assert [p.name for p in tmp_path.rglob("*.json")] == ["receive-rules-v1-ack-test-1.json"]
    # What the source says is not asked of a probe.
    ran.clear()
    known = ReceiveRules(ack_unsent_challenge=True, ack_old_bytes_acked=True)
    assert rules_probe.probe("ack-test-2", run, known, env) == ReceiveRules(False, True, True)
    assert ran == ["zero_window_fin.pkt"]


def test_the_running_kernel_is_probed_and_its_counters_agree(tmp_path):
    """This machine's kernel, asked with the probe script: each refused ACK's line moves
    TCPChallengeACK exactly when the probe says the kernel answered it."""
    events = probed(ack_probe.PROBE)
    injects = [(re.search(r"\back (\d+)", e.source), e) for e in events if isinstance(e, LineEvent) and e.kind == "inject"]
    lines = {m[1]: e for m, e in injects if m}
    got = ack_probe.seen(events)
    assert None not in got.values(), events
    for ack, rule in (("5000", "ack_unsent_challenge"), ("0", "ack_old_bytes_acked")):
        assert (lines[ack].counters.get("TcpExt.TCPChallengeACK", 0) == 1) is got[rule], (ack, lines[ack].counters)
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    assert rules_probe.probe(platform.release(), lambda path: events, ReceiveRules(bare_fin=True), env) == ReceiveRules(
        True, got["ack_unsent_challenge"], got["ack_old_bytes_acked"]
    )
