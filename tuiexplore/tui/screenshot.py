"""The explorer's picture of a finished run, for an export made outside the explorer."""

from __future__ import annotations

import asyncio

from tuiexplore.files import write_file
from tuiexplore.kernel.excerpt import Excerpt
from tuiexplore.runner import RunResult
from tuiexplore.tui.app import make_app
from tuiexplore.tui.replay import replay_factory


def replay_screenshot(path: str, run: RunResult, excerpt: Excerpt, size: tuple[int, int] = (160, 48)) -> None:
    """Replay the run into the explorer, headless, and save what the screen shows."""

    info = run.info
    assert info is not None, "a run's screenshot is taken only once its lab has started"

    async def shoot() -> None:
        replay = replay_factory(info, run.events, run.sockets, run.names)
        app = make_app(run.scenario, excerpt=excerpt, driver_factory=replay)
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.3)
            write_file(path, app.export_screenshot().encode())

    asyncio.run(shoot())
