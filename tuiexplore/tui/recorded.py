"""The terminal output of an app, teed into a :class:`~tuiexplore.recording.Recorder`.

Textual draws by calling its driver's ``write`` with the escape sequences for the terminal; a
subclass of the app's own driver class hands each string to the recorder as well, with the
terminal's size at that moment (a resize becomes the cast's ``r`` event). Textual's headless
driver is never given output, so a recording needs a real terminal or a pseudo-terminal
(``tuiexplore.headless``).
"""

from __future__ import annotations

import os
import sys

from textual.app import App
from textual.driver import Driver

from tuiexplore.recording import Recorder, open_recorder


def terminal_size() -> tuple[int, int]:
    """The size of the terminal Textual writes to (its driver writes to stderr)."""
    try:
        stream = sys.__stderr__
        if stream is None:  # started without a stderr at all
            return 80, 24
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError):
        return 80, 24
    return size.columns, size.lines


def record(app: App, recorder: Recorder) -> None:
    """From now on, what ``app`` draws is written to ``recorder`` too."""
    base: type[Driver] = app.driver_class

    class RecordingDriver(base):  # type: ignore[misc,valid-type]  # the app's own driver class, chosen at run time
        def write(self, data: str) -> None:
            recorder.resize(*terminal_size())
            recorder.output(data)
            super().write(data)

        def stop_application_mode(self) -> None:
            recorder.close()  # the recording ends on the app's last frame, not on the terminal's teardown
            super().stop_application_mode()

    app.driver_class = RecordingDriver


def start(app: App, path: str | None, title: str) -> Recorder | None:
    """What ``app`` will draw, recorded into ``path`` (None: an unnamed temporary file, for the
    export's session.cast). None under textual-serve, whose driver speaks to a browser in a
    protocol of its own, not to a terminal. Raises OSError if ``path`` cannot be written."""
    if "TEXTUAL_DRIVER" in os.environ:
        return None
    recorder = open_recorder(path, *terminal_size(), title=title)
    record(app, recorder)
    return recorder


def finish(recorder: Recorder | None) -> None:
    """After the app: the file closed, and a recording cut short by its cap said on stderr."""
    if recorder is None:
        return
    recorder.close()
    if recorder.capped and recorder.path:
        print(f"tuiexplore: {recorder.path}: {recorder.capped}", file=sys.stderr)


def stop(app: App) -> str:
    """ctrl+r: the --record file ends here (the session goes on unrecorded); what to say."""
    recorder = getattr(app, "recorder", None)
    if recorder is None or not recorder.recording or not recorder.path:
        return ""
    recorder.close()
    return f"recording stopped: {recorder.path} is complete"


def recording_to_file(app: App) -> bool:
    recorder = getattr(app, "recorder", None)
    return bool(recorder and recorder.path and recorder.recording)
