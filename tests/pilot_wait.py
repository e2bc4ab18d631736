"""Waiting in a Pilot test for a condition the app reaches by itself (a lab step, a worker, a
capture read in a thread): poll it between frames, and fail loudly, naming it, when it never comes
(a silent give-up would test a half-drawn screen)."""

from __future__ import annotations

import time
from collections.abc import Callable


async def until(pilot, cond: Callable[[], object], timeout: float = 40.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what or 'the lab'}"
        await pilot.pause(0.05)
