"""An asciicast v2 recording of what the terminal showed (``--record FILE.cast``).

asciicast v2 is asciinema's format: a JSON header line (version 2, width, height, timestamp),
then one JSON line per event, ``[seconds, "o", text]`` for output and ``[seconds, "r", "WxH"]``
for a resize. It plays in a terminal (``asciinema play``) and in a web page (asciinema-player).

The UI hands every string it writes to the terminal to :meth:`Recorder.output`; this module
knows nothing of Textual. Sizes are bounded: a pause longer than ``IDLE_S`` is recorded as
``IDLE_S`` (the header's ``idle_time_limit`` says so to players too), and the recording stops at
``MAX_BYTES`` or ``MAX_S`` with a last line that says so on the replayed screen.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from typing import IO

IDLE_S = 2.0  # a longer pause (someone reading the screen) replays as this long
MAX_BYTES = 32 * 1024 * 1024
MAX_S = 30 * 60.0  # of recorded (idle-compressed) time

# What a program writes to set up the terminal's input, not to show anything: mouse and focus
# reports, bracketed paste, the kitty keyboard protocol, mode queries (a player's terminal would
# answer them into its own input), the pointer shape, and the alternate screen (whose leaving at
# exit would wipe the last frame off a replay). A replay has no input, and a player's terminal
# should not be left in these modes after it: they are not recorded.
_INPUT_SETUP = re.compile(
    r"\x1b\[\?(?:1000|1003|1015|1006|1004|2004|1049|2048)[hl]|\x1b\[\?\d+\$p|\x1b\[>\d*u|\x1b\[<u|\x1b\]22;[^\x07\x1b]*(?:\x07|\x1b\\)"
)
# The end of a recording: autowrap and the cursor as a terminal has them, the cursor on the last row.
_END = "\x1b[?7h\x1b[0m\x1b[{rows};1H\x1b[?25h"


class Recorder:
    """Writes one asciicast v2 file as the session goes. Thread-safe: Textual's app thread writes,
    the export (``session.cast``) may copy it meanwhile."""

    def __init__(
        self,
        sink: IO[str],
        width: int,
        height: int,
        title: str = "",
        path: str | None = None,
        max_bytes: int = MAX_BYTES,
        max_s: float = MAX_S,
        clock=time.monotonic,  # noqa: ANN001 - a callable returning seconds; tests give their own
    ) -> None:
        self.sink, self.size, self.path = sink, (width, height), path  # path: None for a temporary file
        self.max_bytes, self.max_s, self.clock = max_bytes, max_s, clock
        self.capped = ""  # why the recording stopped early, once it has
        self._lock = threading.Lock()
        self._last = clock()
        self._t = 0.0  # recorded time: real time with each idle gap cut to IDLE_S
        self._bytes = 0
        header: dict[str, object] = {
            "version": 2,
            "width": width,
            "height": height,
            "timestamp": int(time.time()),
            "idle_time_limit": IDLE_S,
        }
        if title:
            header["title"] = title
        self._line(header)

    def output(self, text: str) -> None:
        """What the program wrote to the terminal, now."""
        if shown := _INPUT_SETUP.sub("", text):
            self._event("o", shown)

    def resize(self, width: int, height: int) -> None:
        if (width, height) != self.size:
            self.size = (width, height)
            self._event("r", f"{width}x{height}")

    def _event(self, kind: str, data: str) -> None:
        with self._lock:
            if self.capped or self.sink.closed:
                return
            now = self.clock()
            self._t += min(now - self._last, IDLE_S)
            self._last = now
            if self._t > self.max_s:
                self._cap(f"{self.max_s / 60:g} minutes")
            elif self._bytes + len(data) > self.max_bytes:
                mb = self.max_bytes / (1024 * 1024)
                self._cap(f"{mb:g} MB" if mb >= 1 else f"{self.max_bytes} bytes")
            else:
                self._line([round(self._t, 6), kind, data])

    def _cap(self, limit: str) -> None:
        """The last event: a line on the bottom row of the replayed screen that says why it ends."""
        self.capped = f"the recording stopped at its cap of {limit}"
        bottom = f"\x1b[{self.size[1]};1H\x1b[0m\x1b[2K"
        self._line([round(self._t, 6), "o", f"{bottom}[tuiexplore: {self.capped}]"[: len(bottom) + self.size[0]]])
        self.sink.flush()

    def _line(self, obj: object) -> None:
        text = json.dumps(obj, ensure_ascii=False) + "\n"
        self._bytes += len(text)
        self.sink.write(text)

    def copy_to(self, path: str) -> None:
        """The recording so far, as a file of its own (the export bundle's ``session.cast``)."""
        with self._lock:
            if self.sink.closed:  # stopped (ctrl+r): a named file is still whole on disk
                if self.path:
                    shutil.copyfile(self.path, path)
                return
            self.sink.flush()
            self.sink.seek(0)
            with open(path, "w", encoding="utf-8") as out:
                shutil.copyfileobj(self.sink, out)
            self.sink.seek(0, os.SEEK_END)

    @property
    def recording(self) -> bool:
        return not self.sink.closed and not self.capped

    def close(self) -> None:
        """The end: the player's terminal is left as a shell expects it. Later output is ignored."""
        with self._lock:
            if self.sink.closed:
                return
            if not self.capped:
                self._line([round(self._t, 6), "o", _END.format(rows=self.size[1])])
            self.sink.close()


def open_recorder(path: str | None, width: int, height: int, title: str = "") -> Recorder:
    """A recorder into ``path``; None: into an unnamed temporary file, kept for the export's
    ``session.cast`` only. Raises OSError if ``path`` cannot be written."""
    import tempfile

    sink = open(path, "w+", encoding="utf-8") if path else tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
    return Recorder(sink, width, height, title, path)


def read_cast(path: str) -> tuple[dict, list[list]]:
    """A recording's header and events (for tests and checks), each line parsed as JSON."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
