"""Per-segment control on the relay's wire (tuiexplore/relay/control.py), on real sockets: what
the kernel did when the relay held, released out of order, dropped, duplicated or delayed a
segment; and the one-line errors of a wire call that cannot be done."""

import pytest
from conftest import CONNECT, SERVER, cli, step, steps
from relay_world import RELAY, deltas, of, relay

from tuiexplore import runner
from tuiexplore.scenarios.scenario import ScenarioError, load, parse
from tuiexplore.timeline import NoteEvent, PacketEvent, StateEvent, StepEvent, VerdictEvent

NODELAY = step("client", "setsockopt", fd="c", option="TCP_NODELAY", value=1)  # two writes, two segments


def test_held_fin_crosses_the_servers_fin_closing():
    """crossing-fins: the client's FIN held, the server closes: the client goes FIN_WAIT1 ->
    CLOSING (seen by the kernel's state events); released, both ends reach TIME_WAIT."""
    r = runner.run(load("crossing-fins"))
    assert r.ok, r.failures
    client = [(e.old, e.new) for e in of(r, StateEvent, 9) if e.actor == "client"]
    assert ("FIN_WAIT1", "CLOSING") in client
    assert any("still held at the end of this step" in e.text for e in of(r, NoteEvent, 9))
    # Nothing from the client reached the server before the release: the server saw no FIN.
    server9 = [(e.old, e.new) for e in of(r, StateEvent, 9) if e.actor == "server"]
    assert ("ESTABLISHED", "CLOSE_WAIT") not in server9
    released = next(e for e in of(r, StepEvent, 10))
    assert released.result["released"], released.result
    final = {e.actor: e.new for e in r.events if isinstance(e, StateEvent)}
    assert final == {"client": "TIME_WAIT", "server": "TIME_WAIT"}
    assert not [e for e in of(r, NoteEvent, 10) if "still held" in e.text]


def test_dropped_fin_is_retransmitted():
    r = runner.run(load("lost-fin"))
    assert r.ok, r.failures
    assert any(e.text.startswith("relay: drop #") for e in of(r, NoteEvent, 8))
    fins = [p for p in r.events if isinstance(p, PacketEvent) and p.src == "client" and "F" in p.flags]
    assert len(fins) >= 2 and len({p.seq for p in fins}) == 1  # the same FIN, sent again
    assert deltas(r, 9).get("Tcp.RetransSegs", 0) >= 1
    assert ("ESTABLISHED", "CLOSE_WAIT") in [(e.old, e.new) for e in of(r, StateEvent, 9) if e.actor == "server"]
    read = next(e for e in of(r, StepEvent, 10))
    assert read.ret == 0  # EOF: the retransmitted FIN arrived


def test_release_out_of_order_is_a_reorder():
    """Two data segments held (and the client's retransmissions of them, which come while they
    are held: a hold without a count lasts until the direction's release of all); the second
    released first: the server ACKs the gap with a SACK of the second; then the rest: the
    server reads both, in order."""
    r = relay(
        NODELAY,
        step("client", "hold"),
        step("client", "write", fd="c", data="a"),
        step("client", "write", fd="c", data="b"),
        step("client", "release", packet=5),
        step("client", "release"),
        step("server", "read", fd="s"),
    )
    assert r.ok, r.failures
    data = [p for p in r.events if isinstance(p, PacketEvent) and p.len == 1]
    assert [(p.index, p.step) for p in data[:2]] == [(4, 10), (5, 11)]
    sack = [p for p in of(r, PacketEvent, 12) if p.src == "server"]
    assert sack and "sack" in sack[0].options and sack[0].ack == 1, sack  # still waiting for byte 1
    assert next(e for e in of(r, StepEvent, 12)).result == {"released": [5]}
    assert next(e for e in of(r, StepEvent, 13)).result["released"][0] == 4
    assert next(e for e in of(r, StepEvent, 14)).result["data"] == "ab"


def test_duplicated_segment_is_reported_by_dsack():
    r = relay(step("client", "duplicate", flags="P"), step("client", "write", fd="c", data="x"))
    assert r.ok, r.failures
    d = deltas(r, 9)
    assert d.get("TcpExt.TCPDSACKOldSent", 0) == 1 and d.get("TcpExt.TCPDSACKRecv", 0) == 1, d
    assert any(e.text.startswith("relay: duplicate #4") for e in of(r, NoteEvent, 9))


def test_delayed_segment_arrives_that_much_later():
    """Its retransmissions too (count=3): the first one (~200 ms, the minimum RTO) would
    otherwise arrive before it."""
    r = relay(
        step("client", "delay", ms=300, flags="P", count=3),
        step("client", "write", fd="c", data="x"),
        step("lab", "sleep", ms=500),
        step("server", "read", fd="s"),
    )
    assert r.ok, r.failures
    sent = next(p for p in r.events if isinstance(p, PacketEvent) and p.len == 1)
    acked = next(p for p in r.events if isinstance(p, PacketEvent) and p.src == "server" and p.ack == 2)
    assert acked.t - sent.t >= 0.3
    assert any(e.text.startswith("relay: delay 300 ms #4") for e in of(r, NoteEvent, 9))
    assert next(e for e in of(r, StepEvent, 11)).result["data"] == "x"


def test_release_of_a_packet_not_held_fails_in_one_line_and_the_lab_goes_on():
    r = relay(step("client", "release", packet=2), step("client", "write", fd="c", data="x"))
    assert r.failures[0] == "step 8: did not run as written (packet #2 is not held (held now: none))"
    assert len(r.failures) == 1 and r.done[-1].ok
    assert not [v for v in r.events if isinstance(v, VerdictEvent) and not v.agree]


def test_a_wire_call_needs_the_relay():
    text = steps(SERVER, CONNECT, step("client", "hold"))
    with pytest.raises(ScenarioError) as err:
        parse(text, "f.toml")
    assert str(err.value) == "f.toml:44: step 8: field 'call': hold needs the relay's wire ([lab] wire = \"relay\")"
    # A relay file run with --wire loopback: the step fails, said in one line.
    proc = cli("run", "crossing-fins", "--wire", "loopback")
    assert proc.returncode == 1
    assert "FAILED: step 7: did not run as written (hold needs the relay's wire" in proc.stdout


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ('flags = "X"', "field 'flags': must be tcpdump flag letters"),
        ("count = 0", "field 'count': must be from 1 to 1000"),
        ("packet = 0", "field 'packet': must be from 1 to 10000000"),
    ],
)
def test_a_bad_wire_argument_is_one_line(arg, message):
    call = "release" if arg.startswith("packet") else "hold"
    text = steps(SERVER, CONNECT, f'[[step]]\nactor = "client"\ncall = "{call}"\n{arg}\n') + RELAY
    with pytest.raises(ScenarioError) as err:
        parse(text, "f.toml")
    assert message in str(err.value) and str(err.value).startswith("f.toml:") and "\n" not in str(err.value)


def test_the_palette_offers_the_wire_calls_only_on_the_relay():
    from tuiexplore.session import FdModel
    from tuiexplore.tui.keys import palette_calls

    relay_titles = [t for t, _, _ in palette_calls("client", FdModel(), "relay") if t.startswith("relay: ")]
    assert "relay: hold FINs until release" in relay_titles and "relay: inject an RST (seq = RCV.NXT)" in relay_titles
    assert not [t for t, _, _ in palette_calls("client", FdModel()) if t.startswith("relay: ")]
    # Every entry is a call the lab takes: its arguments pass the same checks as a file's.
    from tuiexplore.lab.calls import check_args

    for _, call, args in palette_calls("client", FdModel(), "relay"):
        check_args(call, args)
