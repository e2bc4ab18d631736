"""The command line's side of the user's settings (``config``): read once per command, each
line about them said once, the file's scenario and kernel source used where the command line
names none, and ``tuiexplore config path|show``."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

from tuiexplore import safetext
from tuiexplore.config import Settings


def say(msg: str) -> None:
    """One message on stderr; it may quote a file's text, so it is made terminal-safe."""
    print(f"tuiexplore: {safetext.terminal_lines(msg)}", file=sys.stderr)


@functools.cache
def user_settings() -> Settings:
    """The user's config.toml, read once; a line on stderr for each part of it not used. Its
    kernel_src is one more place the kernel source is looked for, as $TUIEXPLORE_KERNEL_SRC
    (which wins, and which the lab's child processes inherit)."""
    from tuiexplore import config
    from tuiexplore.kernel.source import ENV

    settings = config.load()
    if settings.kernel_src and not os.environ.get(ENV):
        if os.path.exists(settings.kernel_src):
            os.environ[ENV] = settings.kernel_src
        else:
            settings = settings.problem(
                f"kernel_src: {safetext.quoted(settings.kernel_src)}: no such file or directory; not used"
            )
    for line in settings.problems:
        say(line)
    return settings


def default_scenario(given: str | None) -> str:
    """The scenario named on the command line, else the config file's (if it loads), else seed-rst."""
    if given:
        return given
    settings = user_settings()
    if settings.scenario:
        from tuiexplore.scenarios.scenario import ScenarioError, load

        try:
            load(settings.scenario)
            return settings.scenario
        except ScenarioError as exc:
            say(f"{settings.path}: scenario: {exc}; opening seed-rst")
    return "seed-rst"


def config_command(action: str, keymaps: Callable[[Settings], tuple[list[str], str]]) -> int:
    """``keymaps(settings)``: the keymap's problems and the settings shown with every binding id
    (the TUI's knowledge, handed in by the CLI entry: this module imports no UI)."""
    from tuiexplore import config

    if action == "path":
        print(config.path())
        return 0
    settings = user_settings()
    problems, shown = keymaps(settings)
    for line in problems:
        say(line)
    print(shown)
    return 0
