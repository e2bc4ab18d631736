"""Kernel-dependent expectations ([[expect]] kernel = ...), and a guest lab's processes."""

import os
import subprocess

import psutil
import pytest

from tuiexplore.domain import ActorInventory
from tuiexplore.lab.names import process_names
from tuiexplore.runner import RunResult, check
from tuiexplore.scenarios import selector
from tuiexplore.scenarios.scenario import ScenarioError, load, parse

BODY = """title = "t"
[[step]]
actor = "server"
call = "socket"
as = "l"
[[expect]]
step = 1
packets = ["server S"]
"""


def test_selectors_pick_kernel_lines():
    assert selector.parse(">=6.10").selects((6, 12, 118))
    assert not selector.parse(">=6.10").selects((6, 1, 176))
    assert selector.parse("<6.10").selects((5, 10, 262))
    assert selector.parse("==6.1").selects((6, 1, 176)) and not selector.parse("==6.1").selects((6, 12, 0))
    assert selector.parse(">=5.10.200").selects((5, 10, 262)) and not selector.parse(">=5.10.200").selects((5, 10, 1))
    assert selector.parse("6.10") is None and selector.parse(">=six") is None and selector.parse(6) is None


def test_an_expectation_is_checked_only_on_the_kernels_it_selects():
    scn = parse(BODY + 'kernel = "<3.0"\n', "k.toml", "k")
    assert check(scn, RunResult(scn)) == []  # no S packet was seen, but this kernel is not selected
    plain = parse(BODY, "p.toml", "p")  # no selector: checked everywhere, as before
    assert any("expected packets" in f for f in check(plain, RunResult(plain)))


def test_a_bad_selector_is_one_line():
    with pytest.raises(ScenarioError, match="field 'kernel': must be a version selector"):
        parse(BODY + 'kernel = "newer"\n', "b.toml", "b")


def test_zero_window_close_states_both_kernel_lines():
    by_step = {(e.step, str(e.kernel)) for e in load("zero-window-close").expects}
    assert {(12, ">=6.10"), (12, "<6.10"), (13, "<6.10")} <= by_step


def test_a_guest_labs_pids_are_not_looked_up_on_the_host():
    inv = {"client": ActorInventory(pid=os.getpid())}
    assert process_names(inv, guest=True) == {os.getpid(): "guest process"}
    assert process_names(inv)[os.getpid()] == psutil.Process().name()


def test_a_process_gone_is_named_so():
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert process_names({"client": ActorInventory(pid=dead.pid)}) == {dead.pid: "(gone)"}


def test_each_side_of_a_kernel_comparison_names_its_own_tcp_c(tmp_path):
    from tuiexplore.reports import compare
    from tuiexplore.reports.sources import side_source
    from tuiexplore.timeline import StepEvent, VerdictEvent

    src = side_source(None, host=True)
    here = src.tcp_close
    events = [
        StepEvent(0.1, 1, "client", "close", {"fd": "sock"}, 0, None, {}),
        VerdictEvent(
            0.2,
            1,
            "client",
            "sock",
            "close",
            "RST",
            "RST",
            "data_was_unread",
            None,
            {},
            True,
            path=("shutdown_mask", "drain", "data_was_unread"),
        ),
    ]
    rows = compare.align(events, events)
    lines = compare.text(rows, ("a", "b"), width=400, sources=(src, src))
    assert f"branch lines: {here.origin}" in lines[1]
    lo, hi = min(here.branches["data_was_unread"]), max(here.branches["data_was_unread"])
    assert any(f"-> RST [data_was_unread tcp.c {lo}-{hi}]" in ln for ln in lines)
