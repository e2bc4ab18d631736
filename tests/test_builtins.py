"""Every built-in scenario runs in a real lab and its expectations hold (the kernel decides)."""

import pytest

from tuiexplore import runner
from tuiexplore.scenarios.scenario import builtin_names, load
from tuiexplore.timeline import PacketEvent, StepEvent, VerdictEvent

EXPECTED = {
    "seed-rst",
    "read-then-close",
    "linger-zero",
    "clean-close",
    "half-close",
    "write-after-peer-close",
    "peer-reset-then-write",
    "listener-close-pending",
    "linger2-negative",
    "zero-window-close",
    "connect-refused",
    "exit-with-unread",
    "disconnect",
    "listener-close-reset-child",
    "fin-full-window",
    "sleep-after-exit",
    "exit-both-ends",
    "window-reopen-close",
}


def test_catalog_is_complete_and_documented():
    assert EXPECTED <= set(builtin_names())
    for name in builtin_names():
        s = load(name)
        assert s.title and len(s.summary) > 80, name
        assert any(e.verdict for e in s.expects), f"{name} has no verdict expectation"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_passes(name):
    result = runner.run(load(name))
    assert result.ok, result.failures
    assert result.drops == 0
    verdicts = [e for e in result.events if isinstance(e, VerdictEvent)]
    assert verdicts and all(v.agree for v in verdicts)


def _steps(result):
    return {e.step: e for e in result.events if isinstance(e, StepEvent)}


def test_errno_sequences_from_the_kernel():
    r = runner.run(load("peer-reset-then-write"))
    writes = [e for e in _steps(r).values() if e.call == "write"]
    assert [w.errno for w in writes] == ["ECONNRESET", "EPIPE"]
    r = runner.run(load("write-after-peer-close"))
    s = _steps(r)
    assert [e.errno for e in s.values() if e.call == "write"] == [None, "EPIPE"]
    bare = [p for p in r.events if isinstance(p, PacketEvent) and p.flags == "R"]
    assert bare and bare[0].src == "client"
    r = runner.run(load("connect-refused"))
    assert next(e for e in _steps(r).values() if e.call == "connect").errno == "ECONNREFUSED"


def test_zero_window_close_blocks_for_its_linger():
    r = runner.run(load("zero-window-close"))
    close = next(e for e in _steps(r).values() if e.call == "close")
    assert close.ret == 0 and 0.9 <= close.result["blocked_s"] <= 1.5
    fin = [p for p in r.events if isinstance(p, PacketEvent) and "F" in p.flags]
    assert fin and all(p.step > close.step for p in fin) and fin[0].len > 0
