"""The relay's wire (tuiexplore/relay/): the same lab with the two ends in two namespaces and
every frame seen by the agent's relay. Every built-in gives the verdicts it gives on loopback,
by the same branches, as root and as an unprivileged user; the [lab] table and --wire are
checked like the rest of a file."""

import dataclasses
import json

import pytest
from conftest import cli
from test_unprivileged import as_nobody

from tuiexplore import runner
from tuiexplore.scenarios.scenario import ScenarioError, builtin_names, load, parse
from tuiexplore.timeline import CountersEvent, PacketEvent, VerdictEvent


def verdicts(result: runner.RunResult) -> list[tuple]:
    return [(v.step, v.actor, v.fd, v.predicted, v.observed, v.branch) for v in result.events if isinstance(v, VerdictEvent)]


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_gives_the_same_verdicts_through_the_relay(name):
    scn = load(name)
    if scn.wire == "relay":  # written for the relay (its wire calls): it passes there
        result = runner.run(scn)
        assert result.ok and result.info.wire == "relay", result.failures
        return
    loop = runner.run(scn)
    relay = runner.run(dataclasses.replace(scn, wire="relay"))
    assert (loop.info.wire, relay.info.wire) == ("loopback", "relay")
    assert relay.drops == 0 and relay.frames > 0
    # The same verdicts by the same branches, every expectation of the file met on both wires:
    # the receiver gets the sender's own segments (relay/bridge.py), so it sizes its window
    # as it does on loopback.
    assert loop.ok and relay.ok, (loop.failures, relay.failures)
    assert verdicts(relay) == verdicts(loop)


def test_the_relay_sees_every_segment_once_in_order_with_its_step():
    """Every segment the two namespaces' TCP sent (Tcp.OutSegs, summed over both) is one packet
    event, numbered in order, stamped with the step that sent it."""
    relay = runner.run(dataclasses.replace(load("clean-close"), wire="relay"))
    packets = [e for e in relay.events if isinstance(e, PacketEvent)]
    sent = sum(e.deltas.get("Tcp.OutSegs", 0) for e in relay.events if isinstance(e, CountersEvent))
    assert len(packets) == sent == relay.frames
    assert [p.index for p in packets] == list(range(1, len(packets) + 1))
    assert all(p.step is not None for p in packets)
    # The handshake is the connect() step's (6), the client's FIN the close()'s (10).
    assert [p.flags for p in packets if p.step == 6] == ["S", "S.", "."]
    assert ("client", "F.") in [(p.src, p.flags) for p in packets if p.step == 10]


def test_a_v1_file_runs_on_loopback_unchanged():
    v1 = [n for n in builtin_names() if "[lab]" not in load_text(n)]  # a v1 file has no [lab] table
    assert len(v1) >= 19 and all(load(n).wire == "loopback" for n in v1)


def test_the_lab_table_picks_the_wire(scenario_file):
    text = load_text("seed-rst") + '\n[lab]\nwire = "relay"\n'
    proc = cli("run", scenario_file(text), "--json")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["observed"] for e in events if e["type"] == "verdict"] == ["RST"]
    # --wire overrides the file: the same file on loopback.
    proc = cli("run", scenario_file(text), "--wire", "loopback", "--pcap", "/dev/null")
    assert proc.returncode == 0, proc.stderr


def load_text(name: str) -> str:
    from importlib import resources

    return (resources.files("tuiexplore.scenarios") / "catalog" / f"{name}.toml").read_text()


@pytest.mark.parametrize(
    ("lab", "line", "message"),
    [
        ('[lab]\nwire = "cable"\n', 2, "lab: field 'wire': must be one of loopback, relay, not 'cable'"),
        ("[lab]\nwire = 3\n", 2, "lab: field 'wire': must be one of loopback, relay, not '3'"),
        ('[lab]\nwire = "relay"\nspeed = 1\n', 3, "lab: field 'speed': unknown (expected one of: sysctls, wire)"),
        ('lab = "relay"\n', 1, "field 'lab': must be a table ([lab])"),
    ],
)
def test_a_bad_lab_table_is_one_line_naming_file_line_field(lab, line, message):
    text = 'title = "t"\n' + lab + '\n[[step]]\nactor = "server"\ncall = "socket"\nas = "l"\n'
    with pytest.raises(ScenarioError) as err:
        parse(text, "f.toml")
    assert str(err.value) == f"f.toml:{line + 1}: {message}"


def test_a_bad_wire_option_is_refused_by_the_command_line():
    proc = cli("run", "seed-rst", "--wire", "cable")
    assert proc.returncode == 2 and "invalid choice: 'cable'" in proc.stderr


_COMPARE = """
import dataclasses, json
from tuiexplore import runner
from tuiexplore.scenarios.scenario import load
from tuiexplore.timeline import VerdictEvent
out = {}
for name in ("seed-rst", "clean-close", "exit-both-ends", "linger-zero", "crossing-fins", "rst-in-window", "close-no-rst"):
    for wire in ("loopback", "relay") if name not in ("crossing-fins", "rst-in-window", "close-no-rst") else ("relay",):
        r = runner.run(dataclasses.replace(load(name), wire=wire))
        out[name + " " + wire] = [r.info.mode, r.info.wire, r.failures,
            [[v.step, v.predicted, v.observed, v.branch] for v in r.events if isinstance(v, VerdictEvent)]]
print(json.dumps(out))
"""


def test_the_relay_works_unprivileged_with_the_same_verdicts():
    proc = as_nobody("-c", _COMPARE, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    crossing = out["crossing-fins relay"]
    assert crossing[:3] == ["userns", "relay", []] and [v[2] for v in crossing[3]] == ["FIN", "FIN", "ACK"], crossing
    rst = out["rst-in-window relay"]  # the scripted peer's segments, unprivileged too
    receipt = [[9, "ACK", "ACK", "rcv_rst_challenge"], [11, "none", "none", "rcv_rst_exact"]]  # lab/receipt.py's
    assert rst[:3] == ["userns", "relay", []] and rst[3] == [*receipt, [13, "none", "none", "already_closed"]], rst
    no_rst = out["close-no-rst relay"]
    fin = [10, "ACK", "ACK", "rcv_fin"]
    assert no_rst[:3] == ["userns", "relay", []] and no_rst[3] == [fin, [11, "FIN", "FIN", "fin"]], no_rst
    for name in ("seed-rst", "clean-close", "exit-both-ends", "linger-zero"):
        loop, relay = out[f"{name} loopback"], out[f"{name} relay"]
        assert relay[:3] == ["userns", "relay", []], (name, relay)
        assert relay[3] == loop[3] and relay[3], name
