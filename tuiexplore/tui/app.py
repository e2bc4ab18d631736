"""The explorer app: themes, the lab driver, and the screens. What the explorer shows and does
is ``explorer.ExplorerScreen``; a new view is another Screen."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable
from typing import Any

from textual import on, work
from textual.app import App
from textual.driver import Driver
from textual.message_pump import MessagePump
from textual.worker import Worker, WorkerState

from tuiexplore import rules_probe, unread_probe
from tuiexplore.config import Settings
from tuiexplore.kernel.excerpt import Excerpt, bundled
from tuiexplore.kernel.notes import version_notes
from tuiexplore.kernel.source import SourceError, discover
from tuiexplore.lab.receive_rules import ReceiveRules
from tuiexplore.lab.transport import Transport
from tuiexplore.recording import Recorder
from tuiexplore.room import NO_ROOM, Room
from tuiexplore.scenarios.scenario import Scenario
from tuiexplore.tui import gcquiet, recorded
from tuiexplore.tui import theme as themes
from tuiexplore.tui.driver import LabDriver
from tuiexplore.tui.explorer import ExplorerScreen
from tuiexplore.tui.messages import KernelSourceFound
from tuiexplore.tui.settings import apply as apply_settings
from tuiexplore.tui.signals import exit_on_signals
from tuiexplore.tui.widgets import printable


class ExplorerApp(App):
    TITLE = "tuiexplore"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    CSS_PATH = themes.stylesheet_path()

    def __init__(
        self,
        scenario: Scenario,
        theme: str | None = None,
        tracer: bool = True,
        excerpt: Excerpt | None = None,
        driver_factory: Callable[..., LabDriver] = LabDriver,
        watch_tty: bool = False,
        find_source: bool = False,
        kernel_src: str | None = None,
        autoplay: bool = False,
        pause_s: float = 2.0,
        transport: Callable[..., Transport] | None = None,
        room: Room = NO_ROOM,
        settings: Settings | None = None,
    ) -> None:
        """``transport``: how the lab's agent is reached (e.g. a guest kernel's); None: this host.
        ``room``: the quiz and the demo's ``once`` (the recording is ``recorder``, set by run_app).
        ``settings``: the user's (config.load()); None: the defaults."""
        super().__init__()
        self.settings = apply_settings(self, settings, theme)  # theme and keymap
        self.tracer = tracer
        self.driver_factory = driver_factory
        self.driver: LabDriver | None = None
        self.watch_tty = watch_tty
        self.find_source, self.kernel_src = find_source, kernel_src
        self.explorer = ExplorerScreen(scenario, excerpt or bundled(), autoplay, pause_s, room)
        self.recorder: Recorder | None = None  # what the terminal showed (the export's session.cast)
        self.error = ""  # why the lab failed, printed when the app exits
        self.transport = transport
        self.running_release = platform.release()  # the lab's kernel (a guest's, with a transport)
        self._gc_quiet = False

    def get_driver_class(self) -> type[Driver]:
        driver = super().get_driver_class()
        if "TEXTUAL_DRIVER" in os.environ:  # serve: the page's sizes in order
            from tuiexplore.tui.web_driver import in_order

            driver = in_order(driver)
        return driver

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(themes.APP_VARIABLES)

    def get_default_screen(self) -> ExplorerScreen:
        # The explorer is the first screen itself: a pushed one would style and lay out twice.
        return self.explorer

    def on_mount(self) -> None:
        exit_on_signals(self)
        self.call_after_refresh(self.quiet_gc)
        if self.watch_tty:
            self.set_interval(5, self.check_terminal)
        if self.find_source:
            self.discover_source()

    def quiet_gc(self) -> None:
        """After the first frame: the garbage collector's full passes off the steps (gcquiet.py)."""
        if not self._gc_quiet and not self._exit:
            self._gc_quiet = True
            gcquiet.start()

    def start_driver(self, target: MessagePump) -> None:
        """Called by the explorer once mounted: the driver posts its messages to it."""
        kw = {} if self.transport is None else {"transport": self.transport}
        self.driver = self.driver_factory(target, self.explorer.scenario, tracer=self.tracer, **kw)
        self.driver.start()

    @work(thread=True, exclusive=True, group="kernel-source", exit_on_error=False, description="finding tcp.c")
    def discover_source(self) -> None:
        """The running kernel's own tcp.c, if this machine has it (a first tarball read takes ~10 s);
        a guest's only from its line's tree (kernel_src): never this machine's, else the bundled one."""
        ex = discover(self.kernel_src) if self.kernel_src or self.transport is None else bundled()
        if self.transport is None:  # the host's kernel: probed for its rules where its source does not say
            unread_probe.unread_rule(ex)
            rules = rules_probe.for_kernel(None, self.kernel_src)
        else:  # a guest's: its line's tree only (a probe would share the guest with the lab)
            rules = rules_probe.from_tree(self.kernel_src) if self.kernel_src else ReceiveRules()
        self.explorer.post_message(KernelSourceFound(ex, version_notes(ex, self.running_release), rules))

    @on(Worker.StateChanged)
    def worker_changed(self, event: Worker.StateChanged) -> None:
        """A worker that failed is said, in a toast and on the status line, never swallowed."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            text = f"{event.worker.description} failed: {type(error).__name__}: {error}"
            self.notify(printable(text), severity="error", markup=False, timeout=10)
            self.explorer.problem = text
            self.explorer.update_status()

    def check_terminal(self) -> None:
        # Over ssh a dropped connection leaves no TTY; exit instead of spinning (dolphie's trick).
        if not sys.stdin.isatty():
            self.exit()

    def on_unmount(self) -> None:
        if self._gc_quiet:
            self._gc_quiet = False
            gcquiet.stop()
        if self.driver is not None:
            self.driver.stop()
            self.driver.join(timeout=10)


def make_app(scenario: Scenario, theme: str | None = None, tracer: bool = True, **kw: Any) -> ExplorerApp:
    """The one factory the CLI and the tests use."""
    return ExplorerApp(scenario, theme=theme, tracer=tracer, **kw)


def run_app(
    scenario: Scenario,
    theme: str | None = None,
    tracer: bool = True,
    kernel_src: str | None = None,
    autoplay: bool = False,
    pause_s: float = 2.0,
    transport: Callable[..., Transport] | None = None,
    release: str | None = None,
    room: Room = NO_ROOM,
    settings: Settings | None = None,
) -> int:
    """``transport``/``release``: a lab elsewhere (a guest kernel) and that kernel's version."""
    if sys.stdout.isatty():
        # An exported COLUMNS/LINES would override the real terminal size in Textual.
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)
    try:
        if kernel_src:
            discover(kernel_src)  # an unusable --kernel-src is an input error, said before the screen opens
        app = make_app(
            scenario,
            theme=theme,
            tracer=tracer,
            # Under textual-serve (TEXTUAL_DRIVER set) the browser is the terminal: nothing to watch.
            watch_tty="TEXTUAL_DRIVER" not in os.environ,
            find_source=True,
            kernel_src=kernel_src,
            autoplay=autoplay,
            pause_s=pause_s,
            transport=transport,
            room=room,
            settings=settings,
        )
        app.recorder = recorded.start(app, room.record, f"tuiexplore {scenario.name}: {scenario.title}")
    except (ValueError, SourceError) as exc:
        print(f"tuiexplore: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"tuiexplore: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    app.running_release = release or app.running_release
    try:
        app.run()
    finally:
        recorded.finish(app.recorder)
    if app.error:
        print(f"tuiexplore: {printable(str(app.error))}", file=sys.stderr)
        return 1
    return app.return_code or 0  # 128 + N after SIGHUP or SIGTERM
