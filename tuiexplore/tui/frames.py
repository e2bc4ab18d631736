"""A screen's next frame as soon as something on it changed, one frame interval after the last.

Textual composes a screen's frame on a paused interval timer that it resumes when a widget
changes. Textual 8.2's timer, resumed after a pause, skips to the interval boundary after the
next one, so the frame after any other came one to two intervals later (8.3 to 16.7 ms at 120
fps): the key's own frame ("working" on the status line) held the packet row's back by 12 ms on
average. This timer keeps the cap, at most one frame an interval, and nothing else: a change
after a quiet interval is drawn at once, one sooner when the interval since the last frame ends.
"""

from __future__ import annotations

from asyncio import sleep

from textual import _time
from textual.screen import UPDATE_PERIOD, Screen
from textual.timer import EventTargetGone, Timer


class FrameTimer(Timer):
    """An interval timer that ticks when resumed, no sooner than one interval after its last tick."""

    async def _run(self) -> None:
        last = _time.get_time() - self._interval
        while True:
            await self._active.wait()
            early = last + self._interval - _time.get_time()
            if early > 0:
                await sleep(early)
                continue  # paused meanwhile? then it waits for the resume again
            last = _time.get_time()
            try:
                await self._tick(next_timer=last, count=0)
            except EventTargetGone:
                break


# A step is a burst of three or four frames a few ms apart (the key's "working", the packet
# row's, the step's end): at twice the app's rate (240 fps unless TEXTUAL_FPS says otherwise)
# the row's frame does not wait behind the key's, which came ~5 ms before the row.
FRAME_S = UPDATE_PERIOD / 2


class PromptFrames(Screen):
    """A Screen whose frames are paced by FrameTimer, at most one every FRAME_S."""

    _frame_timer: FrameTimer | None = None

    @property
    def _update_timer(self) -> Timer:
        if self._frame_timer is None:
            timer = FrameTimer(self, FRAME_S, name="screen_update", callback=self._on_timer_update, pause=True)
            timer._start()
            self._timers.add(timer)  # stopped with the screen, as set_interval's are
            self._frame_timer = timer
        return self._frame_timer
