"""The timer built-ins on real sockets, as root and unprivileged: what the kernel did when a
keepalive, a TCP_USER_TIMEOUT and an orphan's FIN_WAIT2 timer ran out (packets, states,
counters, the errno the application saw), each timer run by the lab's ``wait`` step."""

import json
import os

import pytest
from test_unprivileged import as_nobody

from tuiexplore import runner
from tuiexplore.scenarios.scenario import load

NAMES = ("keepalive-abort", "user-timeout-abort", "fin-wait2-timeout")


def _events(name: str, nobody: bool) -> list[dict]:
    if not nobody:
        r = runner.run(load(name))
        assert r.ok, r.failures
        return [e.to_dict() for e in r.events]
    proc = as_nobody("-m", "tuiexplore", "run", name, "--json", timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _at(events: list[dict], n: int, kind: str) -> list[dict]:
    return [e for e in events if e["type"] == kind and e.get("step") == n]


def _sent(events: list[dict], n: int) -> list[tuple]:
    return [(p["from"], p["flags"], p["seq"], p["len"]) for p in _at(events, n, "packet")]


def _deltas(events: list[dict], n: int) -> dict:
    return next((c["deltas"] for c in _at(events, n, "counters")), {})


def _states(events: list[dict], n: int, actor: str) -> list[tuple]:
    return [(s["old"], s["new"]) for s in _at(events, n, "state") if s["actor"] == actor]


def _verdicts(events: list[dict]) -> dict[int, tuple]:
    """The wait steps' verdicts: the timer's effect, predicted from the kernel's code, observed."""
    return {
        v["step"]: (v["actor"], v["branch"], v["predicted"], v["observed"], v["agree"])
        for v in events
        if v["type"] == "verdict" and v["call"] == "wait"
    }


def _keepalive(ev: list[dict]) -> None:
    probe, abort = ("client", "keepalive_probe", "none", "none", True), ("client", "keepalive_abort", "RST", "RST", True)
    assert _verdicts(ev) == {9: probe, 10: probe, 11: abort}
    reasons = [v["rst_reason"] for v in ev if v["type"] == "verdict" and v["step"] == 11]
    assert reasons in (["TCP_KEEPALIVE_TIMEOUT"], [None])  # the tracepoint's, as root; none unprivileged
    for n in (9, 10):  # a probe: an ACK one byte behind snd_una (seq 0), answered by the server, held
        assert ("client", ".", 0, 0) in _sent(ev, n) and _deltas(ev, n).get("TcpExt.TCPKeepAlive") == 1
        timer = _at(ev, n, "step")[0]["result"]["timer"]
        assert timer["kind"] == "keepalive" and timer["actor"] == "client"
    assert [p[:2] for p in _sent(ev, 11)] == [("client", "R.")]
    assert ("ESTABLISHED", "CLOSE") in _states(ev, 11, "client") and ("ESTABLISHED", "CLOSE") in _states(ev, 11, "server")
    assert _deltas(ev, 11).get("TcpExt.TCPAbortOnTimeout") == 1 and _deltas(ev, 11).get("Tcp.OutRsts") == 1
    assert _at(ev, 12, "step")[0]["errno"] == "ETIMEDOUT"


def _user_timeout(ev: list[dict]) -> None:
    again = ("client", "retransmit", "none", "none", True)
    assert _verdicts(ev) == {10: again, 11: again, 12: again, 13: ("client", "write_timeout", "none", "none", True)}
    for n in (10, 11, 12):  # the same 5 bytes again each time the timer runs
        assert _sent(ev, n) == [("client", "P.", 1, 5)]
        assert _deltas(ev, n).get("Tcp.RetransSegs") == 1
    assert _sent(ev, 13) == []  # tcp_write_err(): the socket closes, nothing is sent
    assert ("ESTABLISHED", "CLOSE") in _states(ev, 13, "client") and _deltas(ev, 13).get("TcpExt.TCPAbortOnTimeout") == 1
    assert _at(ev, 14, "step")[0]["errno"] == "ETIMEDOUT"


def _fin_wait2(ev: list[dict]) -> None:
    assert _verdicts(ev) == {8: ("client", "timewait_end", "none", "none", True)}
    (timer,) = _at(ev, 7, "timers")[0]["timers"]
    assert (timer["state"], timer["kind"]) == ("FIN_WAIT2", "fin_wait2") and 1000 < timer["due_ms"] <= 2000
    assert _sent(ev, 8) == [] and ("FIN_WAIT2", "CLOSE") in _states(ev, 8, "client")
    assert _at(ev, 8, "timers")[0]["timers"] == []
    assert [p[:2] for p in _sent(ev, 9)] == [("server", "F."), ("client", "R")]  # no socket: a bare RST
    assert _deltas(ev, 9).get("Tcp.OutRsts") == 1


CHECKS = {"keepalive-abort": _keepalive, "user-timeout-abort": _user_timeout, "fin-wait2-timeout": _fin_wait2}


@pytest.mark.parametrize("name", NAMES)
def test_the_timer_builtin_as_root(name):
    events = _events(name, nobody=False)
    CHECKS[name](events)
    if name == "keepalive-abort" and os.geteuid() == 0:  # the kernel's own reason, from its tracepoint
        assert [v["rst_reason"] for v in events if v["type"] == "verdict" and v["step"] == 11] == ["TCP_KEEPALIVE_TIMEOUT"]


@pytest.mark.parametrize("name", NAMES)
def test_the_timer_builtin_unprivileged(name):
    CHECKS[name](_events(name, nobody=True))
