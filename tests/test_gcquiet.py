"""The garbage collector's full passes kept off the explorer's steps while it runs (tui/gcquiet.py),
and put back as they were when it ends."""

from __future__ import annotations

import asyncio
import gc

from pilot_wait import until
from tui_fakes import FakeDriver

from tuiexplore.scenarios.scenario import load
from tuiexplore.tui import gcquiet
from tuiexplore.tui.app import make_app


def test_an_app_freezes_its_start_up_while_it_runs_and_puts_the_collector_back() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0

    async def run() -> None:
        app = make_app(load("seed-rst"), driver_factory=FakeDriver)
        async with app.run_test() as pilot:
            await until(pilot, lambda: gc.get_freeze_count() > 0, 10, "the start-up frozen")
            assert gc.get_threshold() == (*before[:2], gcquiet.FULL_EVERY)
            garbage = []
            garbage.append(garbage)  # a young cycle is still collected
            del garbage
            assert gc.collect(0) >= 1

    asyncio.run(run())
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before


def test_overlapping_apps_restore_the_settings_when_the_last_one_ends() -> None:
    before = gc.get_threshold()
    gcquiet.start()
    gcquiet.start()
    gcquiet.stop()
    assert gc.get_threshold()[2] == gcquiet.FULL_EVERY and gc.get_freeze_count() > 0
    gcquiet.stop()
    gcquiet.stop()  # one stop too many changes nothing
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
