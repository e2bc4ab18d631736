"""One scenario on two kernels: a timer's or a receipt's verdict is explained, on each side, from
that side's own source: the guest line's tree when it was fetched with it, else the bundled
excerpt (said as such), never the other side's tree nor this machine's.

The run is a recorded keepalive-abort (its verdicts decide in tcp_keepalive_timer()); the trees
are synthetic, each with the function at its own lines, so a side showing another's lines fails.
"""

import asyncio
from pathlib import Path

import pytest
from tui_fakes import INFO, recorded

from tuiexplore.kernel import receipt_source
from tuiexplore.kernel.excerpt import bundled
from tuiexplore.reports import compare
from tuiexplore.reports.sources import SideSource, branch_code, side_source
from tuiexplore.tui.compare_app import CompareApp
from tuiexplore.tui.kernel_view import KernelView

EVENTS = Path(__file__).parent / "data" / "keepalive-abort-events.jsonl"
KERNELS = ("guest A (its tree)", "guest B (fetched without its source)")
FN = "tcp_keepalive_timer"


def tree(root: Path, pad: int, tcp_c: bool = False) -> Path:
    """A kernel tree whose tcp_timer.c has tcp_keepalive_timer() from line ``pad + 1``."""
    (root / "net" / "ipv4").mkdir(parents=True)
    body = "\n".join(receipt_source.bundled(FN).lines)
    (root / "net" / "ipv4" / "tcp_timer.c").write_text("/* pad */\n" * pad + body + "\n")
    if tcp_c:
        (root / "net" / "ipv4" / "tcp.c").write_text("/* pad */\n" * pad + bundled().text() + "\n")
    return root


@pytest.fixture
def sides(tmp_path, monkeypatch):
    """Guest A with its own tree, guest B without one, and this machine's tree in
    $TUIEXPLORE_KERNEL_SRC: three sources of the function, each at other lines."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("TUIEXPLORE_KERNEL_SRC", str(tree(tmp_path / "host", 1000, tcp_c=True)))
    receipt_source.for_panel.cache_clear()  # another test's look at this machine's trees
    a = SideSource(bundled(), str(tree(tmp_path / "a", 2)))
    b = side_source(None, host=False)
    rows = compare.align(recorded(EVENTS), recorded(EVENTS))
    yield rows, (a, b)
    receipt_source.for_panel.cache_clear()  # this machine's "tree" here is gone for the next test


def spans(src: SideSource, path: tuple[str, ...]) -> tuple[int, int]:
    ex = src.deciding(path)
    lines = ex.branches["keepalive_abort"]
    return min(lines), max(lines)


def test_the_text_gives_each_side_its_own_timer_lines(sides, tmp_path):
    rows, (a, b) = sides
    at = compare.focus_row(rows)
    v = rows[at].left.verdict
    assert v.branch == "keepalive_abort"
    (alo, ahi), (blo, bhi) = spans(a, v.path), spans(b, v.path)
    host = receipt_source.excerpt(FN, str(tmp_path / "host")).branches["keepalive_abort"]
    assert len({alo, blo, min(host)}) == 3  # three sources, three places
    lines = compare.text(rows, ("a", "b"), width=300, sources=(a, b), kernels=KERNELS)
    row = next(ln for ln in lines if "[keepalive_abort " in ln and "|" in ln)
    left, right = row.split(" | ")
    assert f"-> RST [keepalive_abort tcp_timer.c {alo}-{ahi}]" in left
    assert f"-> RST [keepalive_abort tcp_timer.c {blo}-{bhi}]" in right
    tail = "\n".join(lines[lines.index(next(ln for ln in lines if ln.startswith("== "))) :])
    assert f"(tcp_keepalive_timer(), tree {tmp_path / 'a'} (--kernel-src): net/ipv4/tcp_timer.c 3-" in tail
    assert "(tcp_keepalive_timer(), bundled: " in tail  # guest B's lines are said to be the bundled ones
    left_code, right_code = tail.split(KERNELS[1])
    for code, src in ((left_code, a), (right_code, b)):
        for line in branch_code(src.deciding(v.path), v.path, v.branch):
            assert f"     {line}" in code
    assert str(tmp_path / "host") not in "\n".join(lines)  # neither guest is explained from this machine


def test_each_kernel_panel_shows_its_own_sides_timer_function(sides, tmp_path):
    rows, (a, b) = sides

    async def body() -> None:
        app = CompareApp(rows, ("keepalive-abort on A", "keepalive-abort on B"), sources=(a, b), kernels=KERNELS)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.2)
            left, right = (app.query_one(f"#{s}-kernel", KernelView) for s in ("left", "right"))
            assert left.excerpt.function == right.excerpt.function == FN
            assert left.excerpt.origin.startswith(f"tree {tmp_path / 'a'} ")
            assert right.excerpt.origin.startswith("bundled: ") and "(bundled)" in str(right.border_title)
            path = rows[app.focus].left.verdict.path
            for view, src in ((left, a), (right, b)):
                lo, hi = spans(src, path)
                assert view.taken == list(path) and min(view.lines_of(view.taken)) == lo
                assert max(view.lines_of(view.taken)) == hi
            assert left.lines_of(left.taken) != right.lines_of(right.taken)

    asyncio.run(body())


def test_a_guest_without_its_tree_never_reads_this_machines(sides, tmp_path):
    host_tree = str(tmp_path / "host")
    guest = side_source(None, host=False)
    assert guest.tcp_close.origin.startswith("bundled") and guest.deciding(("keepalive_abort",)).origin.startswith("bundled")
    here = side_source(None, host=True)  # a side on this machine: its own tree is looked for
    assert here.tcp_close.origin.startswith(f"tree {host_tree} ")
    assert here.deciding(("keepalive_abort",)).origin.startswith(f"tree {host_tree} ")


def test_the_verdict_dialog_and_the_export_read_the_runs_kernel_not_this_machine(sides, tmp_path):
    """One run, no comparison: the verdict text (the `v` dialog) and the export's transcript explain
    a guest's timer verdict from the guest line's tree, or the bundled excerpt when it has none,
    never from this machine's tree ($TUIEXPLORE_KERNEL_SRC here)."""
    from tuiexplore.reports import details, export
    from tuiexplore.safetext import markdown
    from tuiexplore.scenarios.scenario import load
    from tuiexplore.timeline import VerdictEvent

    events = recorded(EVENTS)
    v = next(e for e in events if isinstance(e, VerdictEvent) and e.branch == "keepalive_abort")
    for tree_given, host, origin in (
        (str(tmp_path / "a"), False, f"tree {tmp_path / 'a'} "),  # the guest line's own tree
        (None, False, "bundled: "),  # a guest line fetched without its source
        (None, True, f"tree {tmp_path / 'host'} "),  # this machine's kernel: its tree is looked for
    ):
        _, text = details.verdict_text(v, events, bundled(), tree_given, host)
        assert f"Source ({origin}" in text, text
        md = export.markdown(load("keepalive-abort"), INFO, events, bundled(), tree_given, host)
        assert f"Branch `keepalive_abort` in {markdown(origin)}" in md, md  # escaped as Markdown
