"""The screen's frame timer (tui/frames.py): a change is drawn one frame interval after the last
frame at the latest, at once after a quiet interval, and never two frames within one interval.
A fake clock: what is checked is when the timer ticks, not how fast this machine is."""

from __future__ import annotations

import asyncio

import pytest
from pilot_wait import until
from textual import _time
from textual.app import App, ComposeResult
from textual.widgets import Static

from tuiexplore.tui import frames
from tuiexplore.tui.frames import FRAME_S, FrameTimer, PromptFrames

INTERVAL = 1 / 120


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(_time, "get_time", lambda: now[0])

    async def sleep(seconds: float) -> None:
        now[0] += seconds
        await asyncio.sleep(0)

    monkeypatch.setattr(frames, "sleep", sleep)
    return now


def test_a_change_is_drawn_one_interval_after_the_last_frame_at_the_latest(clock: list[float]) -> None:
    asyncio.run(frames_for_changes(clock))


async def frames_for_changes(clock: list[float]) -> None:
    ticks: list[float] = []
    ticked = asyncio.Event()

    def frame() -> None:
        timer.pause()  # as the screen's own frame does
        ticks.append(clock[0])
        ticked.set()

    async def change_at(delay: float) -> float:
        """The time of the frame for a change made ``delay`` after the last frame."""
        ticked.clear()
        clock[0] += delay
        timer.resume()
        await asyncio.wait_for(ticked.wait(), 5)
        return ticks[-1] - (ticks[-2] if len(ticks) > 1 else start)

    async with App().run_test() as pilot:
        timer = FrameTimer(pilot.app, INTERVAL, callback=frame, pause=True)
        timer._start()
        start = clock[0]
        try:
            assert await change_at(0.5) == pytest.approx(0.5)  # the first change: drawn at once
            assert await change_at(0.001) == pytest.approx(INTERVAL)  # the rest of the interval, no more
            assert await change_at(0.0081) == pytest.approx(INTERVAL)
            assert await change_at(0.2) == pytest.approx(0.2)  # after a quiet interval: at once
            assert await change_at(0.009) == pytest.approx(0.009)
            assert await change_at(0) == pytest.approx(INTERVAL)  # never two frames in one interval
        finally:
            timer.stop()
    assert len(ticks) == 6


class Board(PromptFrames):
    def compose(self) -> ComposeResult:
        yield Static("one")


class Shown(App):
    """Counts the frames composed (headless, the driver drops them)."""

    def __init__(self) -> None:
        super().__init__()
        self.drawn: list[str] = []

    def get_default_screen(self) -> Board:
        return Board()

    def _display(self, screen, renderable) -> None:  # noqa: ANN001
        if renderable is not None:
            self.drawn.append(str(screen.query_one(Static).render()))
        super()._display(screen, renderable)


def test_a_screen_with_prompt_frames_draws_its_changes_on_the_frame_timer() -> None:
    async def run() -> None:
        app = Shown()
        async with app.run_test() as pilot:
            timer = app.screen._update_timer
            assert isinstance(timer, FrameTimer) and timer._interval == FRAME_S
            await until(pilot, lambda: app.drawn, 10, "the first frame")
            app.screen.query_one(Static).update("two")
            await until(pilot, lambda: app.drawn[-1] == "two", 10, "the frame with the change")

    asyncio.run(run())
