"""Signals that end the explorer the orderly way: SIGHUP (the terminal or ssh went away) and
SIGTERM. By default SIGHUP kills the process on the spot, leaving the terminal in the alternate
screen with mouse tracking and raw mode on; through ``App.exit`` Textual restores the terminal
and the app stops its lab (on_unmount), as for ``q``."""

from __future__ import annotations

import asyncio
import signal
import threading
from functools import partial

from textual.app import App

EXIT_SIGNALS = (signal.SIGHUP, signal.SIGTERM)


def exit_on_signals(app: App) -> None:
    """From now on SIGHUP and SIGTERM make ``app`` exit with 128 + the signal's number."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread gets signals; an app run elsewhere leaves them to its owner
    loop = asyncio.get_running_loop()
    for sig in EXIT_SIGNALS:
        loop.add_signal_handler(sig, partial(app.exit, return_code=128 + sig))
