"""Signals that end the explorer the orderly way: SIGHUP (the terminal or ssh went away) and
SIGTERM. Textual restores the terminal (alternate screen, mouse tracking, raw mode) and the app
stops its lab only when it exits through ``App.exit``; a Python-level ``SystemExit`` raised in
the middle of the event loop skips both."""

from __future__ import annotations

import asyncio
import signal
from functools import partial

from textual.app import App

EXIT_SIGNALS = (signal.SIGHUP, signal.SIGTERM)


def exit_on_signals(app: App) -> None:
    """From now on SIGHUP and SIGTERM make ``app`` exit with 128 + the signal's number."""
    loop = asyncio.get_running_loop()
    for sig in EXIT_SIGNALS:
        loop.add_signal_handler(sig, partial(app.exit, return_code=128 + sig))
