"""Output paths (--pcap, --export) checked before a lab starts, so a bad path costs no run."""

from __future__ import annotations

import os

from tuiexplore.files import FileError, check_output
from tuiexplore.safetext import terminal

# What --export writes; the capture twice: classic pcap for every reader, pcapng with the relay's marks.
BUNDLE = ("timeline.jsonl", "capture.pcap", "capture.pcapng", "transcript.md", "screen.svg", "diagram.svg", "session.pkt")


class Unusable(ValueError):
    """An output path that cannot be written: one line, exit status 2."""


def check(directory: str | None, files: list[str]) -> None:
    """Output paths are usable before the lab starts, not found unusable after the whole run."""
    if directory:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise Unusable(f"--export {terminal(directory)}: cannot create the directory ({exc.strerror})") from None
        files = [*files, *(os.path.join(directory, name) for name in BUNDLE)]
    for path in files:
        try:
            check_output(path)
        except FileError as exc:
            raise Unusable(str(exc)) from None
