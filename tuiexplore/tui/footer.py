"""The key footer, composed once per burst of binding changes."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # not exported; the footer's own keys


class KeysFooter(Footer):
    """Textual's Footer recomposes (a full mount and layout, ~20 ms here) once for every bindings
    change it hears of; at start-up mount, focus and the first keys' state come in a burst, which
    delayed the first frame with keys by four recomposes. This one composes after the burst, once,
    reading the bindings as they are by then; and when only keys' enabled states changed, it sets
    them on the keys it has."""

    _recompose_pending = False
    _composed: list[tuple[str, str, str, str, Any]] | None = None  # the keys shown, less whether each is enabled

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen:
            return
        if not self._recompose_pending:
            self._recompose_pending = True
            self.call_after_refresh(self._recompose_once)

    async def _recompose_once(self) -> None:
        self._recompose_pending = False  # a change heard from now on needs a compose of its own
        active = list(self.screen.active_bindings.values())
        shown = [(b.key, b.action, b.description, tip, b.group) for _, b, _, tip in active if b.show]
        if shown != self._composed:
            self._composed = shown
            await self.recompose()
            return
        # The same keys, some enabled or disabled since (a step under way, then done: every
        # step): each key's dimming is set in place, a few cells drawn again, not a recompose.
        enabled = {b.action: on for _, b, on, _ in reversed(active)}  # the first binding, as compose() reads it
        for key in self.query(FooterKey):
            off = not enabled.get(key.action, True)
            if off != key._disabled:
                key._disabled = off  # what its click reads (FooterKey.on_mouse_down)
                key.set_class(off, "-disabled")
