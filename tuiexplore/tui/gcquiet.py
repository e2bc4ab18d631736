"""Python's cyclic garbage collector kept off the explorer's steps while an app runs.

Its full passes scan every tracked object: after start-up that is Textual's modules, styles and
widgets (~60k objects) and every cached line (a Strip and its seven caches), 50-350 ms a pass,
which came one step in twenty (bench_tui's key loop: the p95). While an app runs, the objects
of its start-up are frozen out of the passes (gc.freeze: they are still freed by reference
counting), and a full pass comes after 100 young ones, not 10. Cycles are still collected, the
young ones as before; the app's end puts both back, so a process that runs many apps (the
tests) frees their start-ups as it did.
"""

from __future__ import annotations

import gc

FULL_EVERY = 100  # second-generation collections before a full one (Python's default: 10)

_running = 0  # apps between start() and stop(): the first saves the settings, the last restores them
_saved: tuple[int, int, int] = gc.get_threshold()


def start() -> None:
    """Called once the app's first frame is drawn: what exists by then is its start-up."""
    global _running, _saved
    if not _running:
        _saved = gc.get_threshold()
        gc.set_threshold(_saved[0], _saved[1], FULL_EVERY)
    _running += 1
    gc.freeze()


def stop() -> None:
    global _running
    if _running:
        _running -= 1
        if not _running:
            gc.set_threshold(*_saved)
            gc.unfreeze()
