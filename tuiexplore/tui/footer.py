"""The key footer, composed once per burst of binding changes."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeysFooter(Footer):
    """Textual's Footer recomposes (a full mount and layout, ~20 ms here) once for every bindings
    change it hears of; at start-up mount, focus and the first keys' state come in a burst, which
    delayed the first frame with keys by four recomposes. This one composes after the burst, once,
    reading the bindings as they are by then."""

    _recompose_pending = False

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if not self._recompose_pending:
            self._recompose_pending = True
            self.call_after_refresh(self._recompose_once)

    async def _recompose_once(self) -> None:
        self._recompose_pending = False  # a change heard from now on needs a compose of its own
        await self.recompose()
