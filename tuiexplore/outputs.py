"""Output paths (--pcap, --export) checked before a lab starts, so a bad path costs no run."""

from __future__ import annotations

import os


class Unusable(ValueError):
    """An output path that cannot be written: one line, exit status 2."""


def check(directory: str | None, files: list[str]) -> None:
    """Output paths are usable before the lab starts, not found unusable after the whole run."""
    if directory:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise Unusable(f"--export {directory}: cannot create the directory ({exc.strerror})") from None
        files = [*files, *(os.path.join(directory, name) for name in ("capture.pcap", "timeline.jsonl", "transcript.md"))]
    for path in files:
        existed = os.path.lexists(path)
        try:
            with open(path, "ab"):  # creates or appends nothing: proves the path is writable now
                pass
        except OSError as exc:
            raise Unusable(f"{path}: cannot write there ({exc.strerror})") from None
        if not existed:
            os.unlink(path)
