"""The scenario reference (docs/reference/scenario-format.md) against the reader and the lab: the
contract grew a [lab] table and wire calls, and every v1 file still reads as before; every wire
call the reference shows is accepted, and every error it lists is produced, in one line."""

import re
import tomllib
from pathlib import Path

import pytest
from conftest import CONNECT, ROOT, SERVER, cli, run_text, step, steps
from relay_world import RELAY
from test_contract import every_call_file

import tuiexplore.scenarios
from tuiexplore.lab.calls import CALLS, WIRE_CALLS
from tuiexplore.scenarios.scenario import builtin_names, load, parse
from tuiexplore.timeline import StepEvent

PAGE = (ROOT / "docs" / "reference" / "scenario-format.md").read_text()
WIRE = PAGE.split("## The lab table and the wire calls")[1]
CALLS_TABLE, ERRORS = WIRE.split("### Wire errors")
READING, RUNNING = ERRORS.split("Running (")


def rows(section: str) -> list[list[str]]:
    """A Markdown table's body rows, cell by cell."""
    lines = [ln for ln in section.splitlines() if ln.startswith("| ") and not ln.startswith("| ---")]
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines[1:]]


def code(cell: str) -> str:
    return re.fullmatch(r"`(.*)`", cell).group(1)


def v1_files() -> dict[str, str]:
    """The v1 files the project has: the built-ins without a [lab] table, and the contract test's
    file that makes every v1 call with every argument."""
    out = {name: builtin(name) for name in builtin_names()}
    out = {name: text for name, text in out.items() if "[lab]" not in text}
    return {**out, "every-call": every_call_file()}


def builtin(name: str) -> str:
    return (Path(tuiexplore.scenarios.__file__).parent / "catalog" / f"{name}.toml").read_text()


def test_every_v1_file_reads_as_it_did():
    """No [lab] table: the loopback lab, and exactly what the same file says with the default
    written out (the table changes nothing unless it asks for the relay)."""
    files = v1_files()
    assert len(files) > 10, sorted(files)
    for name, text in files.items():
        scn = parse(text, f"{name}.toml", name)
        assert scn.wire == "loopback", name
        explicit = parse(text + '\n[lab]\nwire = "loopback"\n', f"{name}.toml", name)
        assert (explicit.steps, explicit.expects, explicit.port) == (scn.steps, scn.expects, scn.port), name


def test_a_v1_built_in_runs_unchanged():
    """A v1 file's run: every step as written, every verdict held, no packet marked by a relay."""
    r = run_text(builtin("seed-rst"), "seed-rst")
    assert r.ok, r.failures
    assert all("relay" not in e.to_dict() for e in r.events)


def test_every_wire_call_is_documented_with_its_arguments_and_accepted():
    table = {code(r[0]): r for r in rows(CALLS_TABLE)}
    assert set(table) == set(WIRE_CALLS)
    for call, (_, arguments, _, example) in table.items():
        for arg in CALLS[call].args:
            assert f"`{arg.name}`" in arguments, (call, arg.name)
        fields = tomllib.loads(f"s = {code(example)}")["s"]
        assert fields["call"] == call
        text = steps(SERVER, CONNECT, step(fields.pop("actor"), fields.pop("call"), **fields)) + RELAY
        scn = parse(text, "s.toml", "s")
        assert scn.steps[-1].call == call and scn.wire == "relay"


# What makes each documented reading error: step 8 of a relay file (or the table itself).
READING_INPUTS = {
    "field 'lab': must be a table ([lab])": "lab = 3\n" + steps(SERVER, CONNECT),
    "lab: field 'wire': must be one of loopback, relay, not 'cable'": steps(SERVER) + '\n[lab]\nwire = "cable"\n',
    "lab: field 'wires': unknown (expected one of: sysctls, wire)": steps(SERVER) + '\n[lab]\nwires = "relay"\n',
    "step 8: field 'call': hold needs the relay's wire ([lab] wire = \"relay\")": steps(SERVER, CONNECT, step("client", "hold")),
    "step 8 (hold): field 'count': must be from 1 to 1000": steps(SERVER, CONNECT, step("client", "hold", count=0)) + RELAY,
    'step 8 (drop): field \'flags\': must be tcpdump flag letters, e.g. "F" or "R." (F S R P U E W .)': steps(
        SERVER, CONNECT, step("client", "drop", flags="X")
    )
    + RELAY,
    "step 8 (delay): field 'ms': required": steps(SERVER, CONNECT, step("client", "delay")) + RELAY,
    "step 8 (inject): field 'absolute': must be true or false": steps(
        SERVER, CONNECT, step("client", "inject", flags="R", absolute=1)
    )
    + RELAY,
}


def test_every_reading_error_is_listed_and_is_one_line(tmp_path):
    listed = [code(r[1]) for r in rows(READING)]
    assert sorted(listed) == sorted(READING_INPUTS)
    for i, (line, text) in enumerate(READING_INPUTS.items()):
        path = tmp_path / f"s{i}.toml"
        path.write_text(text)
        out = cli("run", str(path))
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert out.stderr.startswith(f"tuiexplore: {path}:") and out.stderr.strip().endswith(line), (line, out.stderr)


WRITE = step("client", "write", fd="c", data="x")
SERVER_WRITE = step("server", "write", fd="s", data="y")  # run after each error: the lab goes on
# What makes each documented running error (the steps after the listener), and the step that fails.
RUNNING_INPUTS = {
    "packet #2 is not held (held now: none)": ([CONNECT, step("client", "release", packet=2)], 8),
    "no connection on the lab port has been seen through the relay yet": ([step("client", "inject", flags="R")], 5),
    "70000 bytes of data do not fit in one segment: at most 65483 here": (
        [CONNECT, step("client", "inject", flags="P.", data="x" * 70000)],
        8,
    ),
    "expected server R. (flags R., ack 9), saw #5 server . seq 1 ack 2 len 0": (
        [CONNECT, WRITE, step("server", "expect", flags="R.", ack=9, timeout_ms=300)],
        9,
    ),
    "expected client R., saw none within 300 ms": ([CONNECT, step("client", "expect", flags="R.", timeout_ms=300)], 8),
}


@pytest.mark.parametrize("line", list(RUNNING_INPUTS))
def test_a_running_error_fails_its_step_in_one_line_and_the_lab_goes_on(line):
    parts, failing = RUNNING_INPUTS[line]
    r = run_text(steps(SERVER, *parts, SERVER_WRITE if CONNECT in parts else step("server", "socket", as_="x")) + RELAY)
    assert r.failures == [f"step {failing}: did not run as written ({line})"], r.failures
    last = [e for e in r.events if isinstance(e, StepEvent)][-1]
    assert last.step == failing + 1 and last.ret is not None and last.ret >= 0, last


def test_every_running_error_is_listed():
    listed = [code(r[1]) for r in rows(RUNNING.split("\n\nA kernel without")[0])]
    on_loopback = "hold needs the relay's wire ([lab] wire = \"relay\", or --wire relay)"
    assert sorted(listed) == sorted([*RUNNING_INPUTS, on_loopback])


def test_a_wire_call_on_loopback_fails_its_step_in_one_line(tmp_path):
    """--wire loopback on a file that holds: that step fails, the run goes on to its end."""
    path = tmp_path / "s.toml"
    path.write_text(steps(SERVER, CONNECT, step("client", "hold"), WRITE) + RELAY)
    out = cli("run", str(path), "--wire", "loopback")
    assert out.returncode == 1, out.stderr
    failed = [ln for ln in out.stdout.splitlines() if ln.startswith("FAILED")]
    line = "hold needs the relay's wire ([lab] wire = \"relay\", or --wire relay)"
    assert failed == [f"FAILED: step 8: did not run as written ({line})"]
    assert "[ 9] client   write(c, data='x') = 1" in out.stdout


def test_the_largest_injected_segment_is_built_and_sent():
    """The documented limit is the real one: 65483 bytes with the timestamps option go out."""
    r = run_text(steps(SERVER, CONNECT, step("client", "inject", flags="P.", data="x" * 65483)) + RELAY)
    assert r.ok, r.failures
    sent = [e for e in r.events if getattr(e, "relay", "") == "injected"]
    assert [p.len for p in sent] == [65483]


def test_the_page_is_the_one_the_manual_links():
    assert Path(ROOT / "mkdocs.yml").read_text().count("reference/scenario-format.md") == 1
    assert load("crossing-fins").wire == "relay"  # a built-in written against this page
