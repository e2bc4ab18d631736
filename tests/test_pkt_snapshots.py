"""The packetdrill explorer's screen at 80x24 and 160x48, stepped to the close line of
close_unread.pkt: the kernel panel shows tcp_close's data_was_unread branch taken.

The run is recorded (``close_unread.events.jsonl``: the agent's events for that script, as
``packetdrill.client.ScriptRun`` read them on Linux 6.18), so the screen does not depend on the
machine's timing; the bundled source is shown, not this machine's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tuiexplore.packetdrill.client import RunOptions
from tuiexplore.packetdrill.command import check
from tuiexplore.packetdrill.events import decode
from tuiexplore.timeline import Event
from tuiexplore.tui.kernel_view import KernelView
from tuiexplore.tui.pkt_app import PktApp

DATA = Path(__file__).parent / "data" / "pkt"


class Recorded:
    where = ""

    def __init__(self, opts: RunOptions) -> None:
        self.path = DATA / "close_unread.events.jsonl"

    def events(self) -> Iterator[Event]:
        for text in self.path.read_text().splitlines():
            yield decode(text)

    def close(self) -> None:
        pass


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_stepped_to_the_close_line(snap_compare, size):
    path = str(DATA / "close_unread.pkt")
    app = PktApp(RunOptions("close_unread.pkt"), check(path, {}).script, start=Recorded, find_source=False)

    async def stepped(pilot):
        while app.status_code is None:
            await pilot.pause(0.05)
        for _ in range(12):  # to close(4), line 21
            await pilot.press("n")
        kernel = app.query_one(KernelView)
        while not (kernel._wrapped_at and kernel.scroll_y > 0):  # wrapped, then scrolled to the branch
            await pilot.pause(0.05)
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=stepped)
