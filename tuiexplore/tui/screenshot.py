"""The explorer's picture of a finished run, for an export made outside the explorer."""

from __future__ import annotations

import asyncio

from tuiexplore.domain import LabInfo
from tuiexplore.files import write_file
from tuiexplore.kernel.excerpt import Excerpt
from tuiexplore.scenarios.scenario import Scenario
from tuiexplore.timeline import Event
from tuiexplore.tui.app import make_app
from tuiexplore.tui.replay import replay_factory


def replay_screenshot(
    path: str, scn: Scenario, info: LabInfo, events: list[Event], excerpt: Excerpt, size: tuple[int, int] = (160, 48)
) -> None:
    """Replay the run into the explorer, headless, and save what the screen shows."""

    async def shoot() -> None:
        app = make_app(scn, excerpt=excerpt, driver_factory=replay_factory(info, events))
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.3)
            write_file(path, app.export_screenshot().encode())

    asyncio.run(shoot())
