"""The explorer over a packetdrill script (``tuiexplore FILE.pkt``), driven by keys with Pilot:
the script really runs against the kernel; ``n`` walks through it one line at a time."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from textual.widgets import DataTable, RichLog, Static

from tuiexplore.packetdrill.client import RunOptions
from tuiexplore.packetdrill.command import check
from tuiexplore.tui.kernel_view import KernelView
from tuiexplore.tui.pkt_app import PktApp

DATA = Path(__file__).parent / "data" / "pkt"


async def until(pilot, cond, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        await pilot.pause(0.05)


def app_for(path: Path) -> PktApp:
    # The kernel runner's tolerance on slow machines: the test machine is shared (see test_pkt_run).
    return PktApp(RunOptions(str(path), tolerance_usecs=14000), check(str(path), {}).script)


def detail(app: PktApp) -> str:
    assert app.query_one("#detail", RichLog).lines  # shown, not only kept
    return "\n".join(app.said)


def test_n_walks_the_script_line_by_line_with_what_the_kernel_did() -> None:
    asyncio.run(_walk())


async def _walk() -> None:
    app = app_for(DATA / "reread_fin.pkt")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.status_code is not None)
        assert set(app.marks.values()) == {"waiting"}  # nothing shown before n
        await pilot.press("n")
        assert app.marks[1] == "held" and app.marks[2] == "waiting"
        assert "line 6: 0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3" in detail(app)
        for _ in range(len(app.script.events) - 1):
            await pilot.press("n")
        assert set(app.marks.values()) == {"held"}
        text = detail(app)
        assert "  kernel sent   F. 1:1(0) ack 202 win " in text
        assert "  verdict: close() -> FIN, predicted FIN (held); branch fin" in text
        assert str(app.query_one("#status", Static).render()).startswith("every line held")
        table = app.query_one("#lines", DataTable)
        assert table.cursor_row == len(app.script.events) - 1


def test_a_failing_line_is_marked_in_place_with_packetdrills_message(tmp_path: Path) -> None:
    asyncio.run(_failing(tmp_path))


async def _failing(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pkt"
    wrong.write_text((DATA / "reread_fin.pkt").read_text().replace("+0 > F. 1:1(0) ack 202", "+0 > R. 1:1(0) ack 202"))
    app = app_for(wrong)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.status_code is not None)
        assert app.status_code == 1
        for _ in range(len(app.script.events)):
            await pilot.press("n")
        failed = [n for n, m in app.marks.items() if m == "failed"]
        source_line = app.script.events[failed[0] - 1].line
        assert failed == [15] and app.marks[16] == "waiting"  # the run stopped there
        assert f"{wrong}:{source_line}: error handling packet: expected R. 1:1(0) ack 202 got F. 1:1(0) ack 202" in detail(app)
        assert str(app.query_one("#status", Static).render()).startswith(f"{wrong}:{source_line}: error handling packet")


def test_the_kernel_panel_marks_the_branch_close_takes_as_n_reaches_it() -> None:
    asyncio.run(_kernel_panel())


async def _kernel_panel() -> None:
    app = app_for(DATA / "close_unread.pkt")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.status_code is not None)
        kernel = app.query_one(KernelView)
        close = next(n for n, ev in enumerate(app.script.events, 1) if ev.source.strip().startswith("+0 close(4)"))
        for _ in range(close - 1):
            await pilot.press("n")
        # The line before close(): close's predicted branch, marked as predicted, not yet taken.
        assert kernel.taken == [] and kernel.predicted[-1] == "data_was_unread"
        assert kernel.note.startswith("next: line 21 close() predicted RST [data_was_unread]")
        await pilot.press("n")  # the close line
        assert app.marks[close] == "held"
        assert kernel.excerpt.function == "tcp_close" and kernel.taken[-1] == "data_was_unread"
        assert kernel.note == "line 21: data_was_unread (RST)"
        marked = kernel.lines_of(["data_was_unread"])
        assert marked
        code = str(kernel._code.render())
        rows = {int(r.split()[0]): r for r in code.splitlines() if r.strip() and r.split()[0].isdigit()}
        assert all(rows[n].split()[1] == "▶" for n in marked), "every line of the branch is marked taken"
        assert any("TCPABORTONCLOSE" in rows[n] for n in marked)


def test_at_a_failing_line_the_panel_shows_the_branch_the_kernel_took_and_why(tmp_path: Path) -> None:
    asyncio.run(_wrong_expectation(tmp_path))


async def _wrong_expectation(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pkt"
    # The script says the kernel ACKs data sent to the socket it closed; the kernel resets it.
    wrong.write_text((DATA / "data_after_close.pkt").read_text().replace("+0 > R 1:1(0)", "+0 > . 2:2(0) ack 11"))
    app = app_for(wrong)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.status_code is not None)
        assert app.status_code == 1
        kernel = app.query_one(KernelView)
        for _ in range(len(app.script.events)):
            await pilot.press("n")
        assert [n for n, m in app.marks.items() if m == "failed"] == [len(app.script.events)]
        # The injected data's receipt: the function it was decided in, its branch marked taken.
        assert kernel.excerpt.function == "tcp_rcv_state_process" and kernel.taken[-1] == "rcv_data_after_close"
        assert kernel.note == "line 22: rcv_data_after_close (RST)"
        code = str(kernel._code.render())
        marked = [int(r.split()[0]) for r in code.splitlines() if len(r.split()) > 1 and r.split()[1] == "▶"]
        assert marked == sorted(kernel.lines_of(["rcv_data_after_close"]))
        ex = kernel.excerpt
        assert any("TCPABORTONDATA" in ex.lines[n - ex.first_line] for n in marked)
        status = str(app.query_one("#status", Static).render())
        assert status.startswith(f"{wrong}:23: error handling packet: expected . 2:2(0) ack 11 got R 1:1(0)")
        if os.geteuid() == 0:  # the kernel's own reason is read from a tracepoint: root only
            assert "reason TCP_ABORT_ON_DATA" in status
        assert "the injected segment took the kernel's rcv_data_after_close branch" in status
        assert "  verdict: segment -> RST, predicted RST (held); branch rcv_data_after_close" in detail(app)
