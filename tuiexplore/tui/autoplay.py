"""Autoplay (``a``, ``serve --demo``): the explorer's next step after a pause, until the scenario
is done. An object the explorer screen owns, not a part of it: it keeps the on/off state, the
pause and the one timer, and plays a step through the screen's own ``action_next``, so a played
step is a pressed ``n``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from textual.app import App
from textual.timer import Timer

from tuiexplore.domain import LabInfo
from tuiexplore.scenarios.scenario import Scenario


class Player(Protocol):
    """What autoplay needs of the screen it plays."""

    scenario: Scenario
    cursor: int
    pending: int
    info: LabInfo | None

    @property
    def app(self) -> App: ...

    def action_next(self) -> None: ...
    def restart(self) -> None: ...
    def update_status(self) -> None: ...
    def notify(self, message: str, *, timeout: float) -> None: ...
    def set_timer(self, delay: float, callback: Callable[[], None]) -> Timer: ...


HOLD_S = 4.0  # with ``once``: the last screen stays this long (a recording ends on it)


class Autoplay:
    def __init__(self, screen: Player, on: bool, pause_s: float, once: bool = False) -> None:
        self.screen = screen
        self.on, self.pause_s, self.once = on, pause_s, once
        self._timer: Timer | None = None

    @property
    def every_s(self) -> float | None:
        """The pause while playing (the status line shows it), else None."""
        return self.pause_s if self.on else None

    def schedule(self) -> None:
        """After each step and each change: the next step in ``pause_s``, once the lab is idle."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        s = self.screen
        if not (self.on and s.pending == 0 and s.info is not None):
            return
        if s.cursor < len(s.scenario.steps):
            self._timer = s.set_timer(self.pause_s, s.action_next)
        else:
            self.on = False
            if self.once:  # ``demo --once``: the app quits on its own, after the last screen was seen
                s.notify(f"the demo is done; quitting in {HOLD_S:g} s", timeout=HOLD_S)
                s.set_timer(HOLD_S, s.app.exit)
            else:
                s.notify("autoplay: the scenario is done (r restarts, a plays again)", timeout=6)
            s.update_status()

    def toggle(self) -> None:
        self.on = not self.on
        if self.on and self.screen.cursor >= len(self.screen.scenario.steps):
            self.screen.restart()
        self.screen.update_status()
        self.schedule()

    def pace(self, delta: float) -> None:
        self.pause_s = max(0.5, min(30.0, self.pause_s + delta))
        self.screen.update_status()
        self.schedule()
