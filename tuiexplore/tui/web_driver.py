"""The browser's terminal size, kept in order under ``tuiexplore serve``.

textual-serve starts a tab's explorer at the size the page asked for, and the page then sends
the size its terminal really has (it fits the terminal to the window as fonts load). Textual's
WebDriver posts the start size from the event loop through a coroutine it schedules, and each
later size straight from its input thread. A size the page sent while the explorer was still
starting (our start takes a second or more: imports, then the lab) is already waiting in the
pipe when that thread starts, so it reached the app first and the start size overtook it: the
tab kept the start size for good, drawn into a terminal of another size (an 80x24 explorer in a
160x48 page, or lines wider than the page, cut). Here each new size takes the same road as the
start size, behind it.
"""

from __future__ import annotations

import asyncio
from typing import cast

from textual import events
from textual.driver import Driver
from textual.drivers.web_driver import WebDriver
from textual.geometry import Size


class OrderedWebDriver(WebDriver):
    def start_application_mode(self) -> None:
        self._loop = asyncio.get_running_loop()  # the app's: the input thread posts through it
        super().start_application_mode()

    def on_meta(self, packet_type: str, payload: dict[str, object]) -> None:
        if packet_type != "resize":
            super().on_meta(packet_type, payload)
            return
        self._size = (cast(int, payload["width"]), cast(int, payload["height"]))
        size = Size(*self._size)
        asyncio.run_coroutine_threadsafe(self._post(events.Resize(size, size)), self._loop)

    async def _post(self, event: events.Resize) -> None:
        self._app.post_message(event)


def in_order(driver: type[Driver]) -> type[Driver]:
    """The driver an app should run with: the ordered one in place of textual-serve's."""
    return OrderedWebDriver if driver is WebDriver else driver
