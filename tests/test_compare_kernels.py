"""One scenario on two kernels: each side's own tcp_close, its verdict's branch marked in it.

The timelines are recorded runs of the built-in window-reopen-close on Debian's 5.10.262 and
6.12.118 guests (``tuiexplore run window-reopen-close --json --kernel 5.10``), where the two
kernel lines decide differently; the tcp_close excerpts are those kernels' own, unmodified (from
``kernels get``), so the test needs neither a guest nor the kernels' source packages.
"""

import asyncio
import json
from pathlib import Path

import pytest
from tui_fakes import recorded

from tuiexplore.kernel.excerpt import Excerpt, locate
from tuiexplore.reports import compare
from tuiexplore.reports.sources import SideSource, branch_code
from tuiexplore.scenarios.scenario import load
from tuiexplore.timeline import VerdictEvent
from tuiexplore.tui.compare_app import CompareApp
from tuiexplore.tui.kernel_view import KernelView

DATA = Path(__file__).parent / "data"
KERNELS = (
    "guest Linux 5.10.262 (5.10.0-46-cloud-amd64, QEMU TCG)",
    "guest Linux 6.12.118 (6.12.118+deb13-cloud-amd64, QEMU TCG)",
)


def excerpt(version: str) -> Excerpt:
    meta = json.loads((DATA / f"tcp_close-{version}.json").read_text())
    lines = (DATA / f"tcp_close-{version}.c").read_text().splitlines()
    first = meta["first_line"]
    origin = f"tests/data: {meta['release']}, {meta['file']} {first}-{meta['last_line']}"
    return Excerpt(lines, first, meta["version"], origin, branches=locate(lines, first))


def runs() -> tuple[list, tuple[SideSource, SideSource]]:
    """Two guests whose lines were fetched without their trees: the tcp.c excerpts are theirs."""
    left = recorded(DATA / "window-reopen-close-5.10.jsonl")
    right = recorded(DATA / "window-reopen-close-6.12.jsonl")
    return compare.align(left, right), (SideSource(excerpt("5.10.262")), SideSource(excerpt("6.12.118")))


def verdict(rows, i, side) -> VerdictEvent:
    return getattr(rows[i], side).verdict


def test_the_recorded_runs_are_the_built_in_and_decide_differently():
    rows, _ = runs()
    calls = [(r.left.step.actor, r.left.step.call) for r in rows]
    assert calls == [(s.actor, s.call) for s in load("window-reopen-close").steps]
    at = compare.focus_row(rows)
    assert (verdict(rows, at, "left").observed, verdict(rows, at, "right").observed) == ("none", "RST")
    assert compare.first_divergence(rows) is not None


def test_text_names_each_sides_kernel_and_its_own_branch_code():
    rows, sources = runs()
    lines = compare.text(rows, ("a", "b"), width=300, sources=sources, kernels=KERNELS)
    assert lines[1].startswith(f"   kernel: {KERNELS[0]}") and lines[1].endswith(f"kernel: {KERNELS[1]}")
    tail = lines[lines.index(next(ln for ln in lines if ln.startswith("== the two sides decide differently"))) :]
    at = compare.focus_row(rows)
    for side, src in zip(("left", "right"), sources, strict=True):
        v = verdict(rows, at, side)
        code = branch_code(src.tcp_close, v.path, v.branch)
        assert code and all(f"     {c}" in tail for c in code)  # that kernel's own lines, numbered as in its file
    # 5.10: FIN_WAIT1, the FIN still queued; 6.12: FIN_WAIT2 with TCP_LINGER2 = -1 -> the linger2 reset
    assert any("linger2" in ln and "<" in ln for ln in tail)
    assert any("tcp_close_state(sk)" in ln for ln in tail)


def test_kernel_panels_mark_each_sides_own_branch_and_follow_v():
    rows, sources = runs()

    async def scenario() -> None:
        app = CompareApp(rows, ("window-reopen-close on 5.10", "window-reopen-close on 6.12"), sources=sources, kernels=KERNELS)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.2)
            left, right = (app.query_one(f"#{s}-kernel", KernelView) for s in ("left", "right"))
            at = app.focus
            for view, side, ex in ((left, "left", sources[0].tcp_close), (right, "right", sources[1].tcp_close)):
                v = verdict(rows, at, side)
                assert view.excerpt is ex and view.taken == list(v.path)
                assert view.lines_of(view.taken) and view.lines_of(view.taken) <= set(range(ex.first_line, ex.last_line + 1))
            assert "linger2_abort" in right.taken and "linger2_abort" not in left.taken
            assert "5.10.262" in str(left.border_title) and "6.12.118" in str(right.border_title)
            await pilot.press("v")  # the next verdict: the server's close (5.10 RST unread, 6.12 already reset)
            await pilot.pause(0.1)
            assert app.focus > at
            assert left.taken[-1] == "data_was_unread" and right.taken[-1] == "already_closed"
            await pilot.press("v")  # wraps to the first verdict
            await pilot.pause(0.1)
            assert app.focus == compare.verdict_rows(rows)[0]
            await pilot.press("k")
            await pilot.pause(0.1)
            assert not left.display and not right.display

    asyncio.run(scenario())


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_compare_screen_with_both_kernels(snap_compare, size):
    rows, sources = runs()
    app = CompareApp(rows, ("window-reopen-close on 5.10", "window-reopen-close on 6.12"), sources=sources, kernels=KERNELS)
    assert snap_compare(app, terminal_size=size)
