"""`tuiexplore step --auto` at the kernel's pace: a closing call is predicted once nothing is
under way and judged once its own frames are read, with no quiet period; every packet still
lands in the step of the call that sent it."""

import json
import time

from conftest import build_c, cli

from tuiexplore.lab.capture import Frame
from tuiexplore.trace.frames import FrameMatcher
from tuiexplore.trace.sockets import SockInfo


def test_a_network_heavy_program_is_judged_call_by_call(tmp_path):
    exe = build_c("cycles.c", tmp_path / "cycles")
    # In a lab: on the host's lo, other local traffic can hold the wire's frames back (FrameMatcher.take
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


def test_other_programs_traffic_on_lo_holds_none_of_ours_back():
    # Outside a lab, lo carries the host's own connections too. A frame with no end of the
    # traced programs' must not hold theirs back: it used to wait HOLD_S (1 s) like a connect()'s
    # SYN, and every frame after it with it, so a busy host's lo could leave a FIN out of its
    # close()'s verdict.
    matcher = FrameMatcher()
    matcher.learn("client", SockInfo(1, "AF_INET", "tcp", "127.0.0.1", 40000, "127.0.0.1", 5000, "ESTABLISHED"))
    now = time.time()
    foreign = Frame(now, b"", "127.0.0.1", "127.0.0.1", 33000, 33001, 1, 1, 0x10, 64, 0)
    fin = Frame(now, b"", "127.0.0.1", "127.0.0.1", 40000, 5000, 1, 1, 0x11, 64, 0)
    got = matcher.take([foreign, fin], lambda f: 7, now)
    assert [(p.sport, p.flags, p.step) for p in got] == [(40000, "F.", 7)]
    # While a connect() is under way an unknown frame may be its SYN: it waits, and so does what follows.
    syn = Frame(now, b"", "127.0.0.1", "127.0.0.1", 40001, 5000, 9, 0, 0x02, 64, 0)
    assert matcher.take([syn, fin], lambda f: 8, now, connecting=True) == []
    matcher.learn("client", SockInfo(2, "AF_INET", "tcp", "127.0.0.1", 40001, "127.0.0.1", 5000, "SYN_SENT"))
    assert [p.sport for p in matcher.take([], lambda f: 8, now)] == [40001, 40000]
