"""`tuiexplore step --auto` at the kernel's pace: a closing call is predicted once nothing is
under way and judged once its own frames are read, with no quiet period; every packet still
lands in the step of the call that sent it."""

import json

from conftest import build_c, cli


def test_a_network_heavy_program_is_judged_call_by_call(tmp_path):
    exe = build_c("cycles.c", tmp_path / "cycles")
    # In a lab: on the host's lo, other local traffic can hold the wire's frames back (Wire.take
    # keeps every frame after one it cannot place yet, while a connect() is under way).
    proc = cli("step", "--auto", "--lab", "--json", "--", exe, "5")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    calls = {e["step"]: e["call"] for e in events if e["type"] == "stop"}
    verdicts = [e for e in events if e["type"] == "verdict"]
    assert len(verdicts) == 11 and all(v["agree"] for v in verdicts)  # two closes a connection, then the listener
    assert [v["observed"] for v in verdicts] == ["FIN"] * 10 + ["none"]
    packets = [e for e in events if e["type"] == "packet"]
    # The handshake in its connect, the data in its write, each FIN in the close that sent it.
    assert {calls[p["step"]] for p in packets if p["flags"] in ("S", "S.")} == {"connect"}
    assert {calls[p["step"]] for p in packets if "P" in p["flags"]} == {"write"}
    assert {calls[p["step"]] for p in packets if "F" in p["flags"]} == {"close"}
    assert len([p for p in packets if "F" in p["flags"]]) == 10
