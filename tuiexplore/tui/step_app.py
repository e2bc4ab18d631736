"""``tuiexplore step -- PROGRAM ARGS``: the explorer over the user's own traced programs.

The app owns the session's thread (step_feed.SessionThread) and ends it on quit by detaching,
so the programs always run on correctly, traced or not."""

from __future__ import annotations

import os
import platform
import sys

from textual import work
from textual.app import App

from tuiexplore.config import Settings
from tuiexplore.kernel.excerpt import Excerpt, bundled
from tuiexplore.kernel.notes import version_notes
from tuiexplore.kernel.source import discover
from tuiexplore.tui import recorded
from tuiexplore.tui import theme as themes
from tuiexplore.tui.messages import KernelSourceFound
from tuiexplore.tui.settings import apply as apply_settings
from tuiexplore.tui.signals import exit_on_signals
from tuiexplore.tui.step_feed import EventBatcher, SessionThread, SteppingSession
from tuiexplore.tui.step_screen import StepScreen

DETACH_WAIT_S = 10.0


class StepApp(App):
    TITLE = "tuiexplore step"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    CSS_PATH = themes.stylesheet_path()

    def __init__(
        self,
        session: SteppingSession,
        batcher: EventBatcher,
        actors: list[str],
        where: str,
        theme: str | None = None,
        excerpt: Excerpt | None = None,
        find_source: bool = False,
        settings: Settings | None = None,
    ) -> None:
        super().__init__()
        self.settings = apply_settings(self, settings, theme)  # theme and keymap
        self.session, self.batcher, self.find_source = session, batcher, find_source
        self.stepper_screen = StepScreen(session, actors, excerpt or bundled(), where)
        self.thread: SessionThread | None = None

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(themes.APP_VARIABLES)

    def on_mount(self) -> None:
        exit_on_signals(self)  # SIGHUP, SIGTERM: detach (on_unmount) and say what runs on, as q does
        self.push_screen(self.stepper_screen)
        if self.find_source:
            self.discover_source()

    def start_session(self, screen: StepScreen) -> None:
        """Called by the screen once mounted: from now on the session posts to it."""
        self.batcher.attach(screen)
        self.thread = SessionThread(self.session, screen)
        self.thread.start()

    @work(thread=True, exclusive=True, group="kernel-source", exit_on_error=False, description="finding tcp.c")
    def discover_source(self) -> None:
        ex = discover(None)
        notes = version_notes(ex, platform.release())
        self.stepper_screen.post_message(KernelSourceFound(ex, notes))

    def on_unmount(self) -> None:
        self.session.request_detach()
        if self.thread is not None:
            self.thread.join(DETACH_WAIT_S)


def run_step_app(
    programs: list[tuple[str, list[str]]],
    lab: bool,
    capture: bool,
    theme: str | None = None,
    with_server: str | None = None,
    settings: Settings | None = None,
    record: str | None = None,
) -> int:
    """Start the programs (one line and exit 2 if they cannot be traced), then the screen;
    ``record``: an asciicast v2 file of what the screen shows (``--record``)."""
    from tuiexplore.trace.command import left_behind
    from tuiexplore.trace.launch import Untraceable

    if sys.stdout.isatty():
        os.environ.pop("COLUMNS", None)  # an exported size would override the real terminal's
        os.environ.pop("LINES", None)
    batcher = EventBatcher()
    if lab:
        from tuiexplore.trace.child import ChildStepper

        session: SteppingSession = ChildStepper(programs, batcher, capture=capture, with_server=with_server)
        where = "in a lab namespace (own lo, exact counters)"
    else:
        from tuiexplore.trace.stepper import Stepper

        session = Stepper(programs, batcher, auto=False, lab=False, capture=capture)
        where = "in this namespace (lo, own connections only)"
    try:
        session.start()
    except Untraceable as exc:
        print(f"tuiexplore step: {exc}", file=sys.stderr)
        return 2
    actors = [name for name, _ in programs] + (["server"] if with_server else [])
    app = StepApp(session, batcher, actors, where, theme=theme, find_source=True, settings=settings)
    try:
        title = f"tuiexplore step: {' | '.join(' '.join(argv) for _, argv in programs)}"
        recorder = recorded.start(app, record, title) if record else None  # None would record to a temporary file
    except OSError as exc:  # checked writable before the programs started; it can still fail here
        print(f"tuiexplore step: cannot write {exc.filename}: {exc.strerror}; not recording", file=sys.stderr)
        recorder = None
    try:
        app.run()
    finally:
        recorded.finish(recorder)
    print(f"tuiexplore step: {left_behind(session)}", file=sys.stderr)  # by pid: nothing survives unsaid
    return app.return_code or 0
