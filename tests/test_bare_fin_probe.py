"""Whether a kernel takes a bare FIN into a zero receive window (tuiexplore/bare_fin_probe.py):
read from tcp_data_queue() in the kernel's own source, else asked of the running kernel with the
probe script's scripted peer (rules_probe.py), cached per release; never from a version number."""

import asyncio
import dataclasses
import platform
from pathlib import Path

import pytest
from test_tui import idle, until

from tuiexplore import bare_fin_probe, rules_probe, runner
from tuiexplore.kernel import receipt_source
from tuiexplore.kernel.excerpt import bundled
from tuiexplore.kernel.receipt_source import TCP_INPUT
from tuiexplore.lab.receive_rules import ReceiveRules
from tuiexplore.packetdrill.client import RunOptions, ScriptRun
from tuiexplore.packetdrill.events import LineEvent
from tuiexplore.scenarios.scenario import load
from tuiexplore.timeline import PacketEvent, VerdictEvent
from tuiexplore.tui.app import make_app
from tuiexplore.tui.messages import KernelSourceFound

EXCEPTION = (
    "\t\t\tif (!skb->len &&\n",
    "\t\t\t    (TCP_SKB_CB(skb)->tcp_flags & TCPHDR_FIN))\n",
    "\t\t\t\tgoto queue_and_out;\n",
)


def data_queue(with_exception: bool) -> str:
    """tcp_data_queue() as Debian's 6.12.118 has it (bundled), or with the exception cut out as
    in 6.1's, where any in-order segment into a zero window is dropped."""
    lines = [ln + "\n" for ln in receipt_source.bundled("tcp_data_queue").lines]
    text = "".join(lines)
    assert "".join(EXCEPTION) in text
    return text if with_exception else text.replace("".join(EXCEPTION), "")


def test_the_source_says_whether_the_zero_window_branch_lets_a_bare_fin_through(tmp_path):
    assert bare_fin_probe.from_source(data_queue(True)) is True
    assert bare_fin_probe.from_source(data_queue(False)) is False
    assert bare_fin_probe.from_source("static void tcp_fin(struct sock *sk)\n{\n}\n") is None
    tree = tmp_path / "net" / "ipv4"
    tree.mkdir(parents=True)
    (tmp_path / TCP_INPUT).write_text(data_queue(False))
    assert rules_probe.from_tree(str(tmp_path)).bare_fin is False


def ack(n: int) -> PacketEvent:
    return PacketEvent(0.1, "local", "peer", 8080, 4000, ".", 1, n, 0, 0, 17)


ACKS = ReceiveRules(ack_unsent_challenge=True, ack_old_bytes_acked=True)  # known: only the bare-FIN probe runs


def refuse(path: str) -> list:
    raise AssertionError("probed again: the cache was not used")


@pytest.mark.parametrize(
    "events,taken",
    [
        ([ack(60001), ack(60002)], True),
        ([ack(60001), ack(60001)], False),
        ([], None),  # the run did not get that far: not cached, not guessed
    ],
)
def test_the_ack_after_the_fin_decides_and_is_cached(tmp_path, events, taken):
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    assert rules_probe.probe("bare-fin-test-1", lambda path: events, ACKS, env).bare_fin is taken
    if taken is not None:
        assert rules_probe.probe("bare-fin-test-1", refuse, ACKS, env).bare_fin is taken
    assert (tmp_path / "tuiexplore" / "receive-rules-v1-bare-fin-test-1.json").exists() == (taken is not None)


def test_a_guest_without_its_own_tree_is_probed_not_read_from_this_hosts_tree(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "net" / "ipv4").mkdir(parents=True)
    (tmp_path / TCP_INPUT).write_text(data_queue(True))
    monkeypatch.setattr(receipt_source, "candidates", lambda *a, **k: [receipt_source.Found(str(tmp_path), "test")])
    assert rules_probe.rules_of("bare-fin-test-2", lambda path: [ack(60001)]).bare_fin is True  # the host: its tree
    assert rules_probe.rules_of("bare-fin-test-2", lambda path: [ack(60001)], guest=True).bare_fin is False  # probed


def probed(name: str) -> list:
    """The events of a probe script's run on this machine's kernel, each injected line's counters too."""
    script = ScriptRun(RunOptions(rules_probe.probe_path(name), tolerance_usecs=rules_probe.PROBE_USECS, counted=True))
    try:
        return list(script.events())
    finally:
        script.close()


def test_the_running_kernel_is_probed_with_the_scripted_peer(tmp_path):
    """This machine's kernel, asked with the probe script: the answer is the ACK it really sent,
    and its own counter agrees (TCPZeroWindowDrop moves at the FIN's line only when dropped)."""
    events = probed(bare_fin_probe.PROBE)
    fin = [e for e in events if isinstance(e, LineEvent) and e.kind == "inject" and "< F." in e.source]
    assert len(fin) == 1 and fin[0].counters, events
    dropped = fin[0].counters.get("TcpExt.TCPZeroWindowDrop", 0) == 1
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    assert rules_probe.probe(platform.release(), lambda path: events, ACKS, env).bare_fin is (not dropped)


def test_the_lab_carries_the_rule_to_the_relays_receipt_predictor(tmp_path, monkeypatch):
    """The same bare FIN through the relay: predicted with the rule the probe found, the verdict
    holds; predicted with the other rule, the kernel is seen to do otherwise."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    rules = rules_probe.for_kernel(None)
    taken = rules.bare_fin
    assert taken is not None
    scn = load(str(Path(__file__).parent / "data" / "zero_window_fin_relay.toml"))
    for rule, agree in ((taken, True), (not taken, False)):
        result = runner.run(scn, tracer=False, rules=dataclasses.replace(rules, bare_fin=rule))
        fin = [e for e in result.events if isinstance(e, VerdictEvent) and e.call == "inject"]
        assert len(fin) == 1, result.events
        assert fin[0].branch == ("rcv_fin" if rule else "rcv_zero_window"), fin[0].explanation
        assert fin[0].agree is agree, fin[0].explanation
        assert ("TcpExt.TCPZeroWindowDrop" in fin[0].counters) is not taken, fin[0].counters


def test_the_explorer_carries_the_rule_to_a_running_relay_lab(tmp_path, monkeypatch):
    """The scenario explorer: the rule its source worker found (KernelSourceFound) reaches the
    lab already running, so the bare FIN's verdict there holds as under `run`."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    rules = rules_probe.for_kernel(None)
    taken = rules.bare_fin
    assert taken is not None
    scn = load(str(Path(__file__).parent / "data" / "zero_window_fin_relay.toml"))

    async def body() -> VerdictEvent:
        app = make_app(scn, tracer=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.explorer.info is not None)
            app.explorer.post_message(KernelSourceFound(bundled(), [], rules))
            for _ in scn.steps:
                await pilot.press("n")
            await until(pilot, lambda: app.explorer.cursor == len(scn.steps) and idle(app))
            return next(e for e in app.explorer.events if isinstance(e, VerdictEvent) and e.call == "inject")

    fin = asyncio.run(body())
    assert fin.branch == ("rcv_fin" if taken else "rcv_zero_window"), fin.explanation
    assert fin.agree, fin.explanation
