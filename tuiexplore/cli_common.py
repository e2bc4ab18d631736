"""What the CLI's commands share: the one-line input error, and reading the inputs every
command names (a scenario, a guest kernel, paths that must not be empty)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a command runs: --help stays fast
    from tuiexplore.guest.machine import Guest
    from tuiexplore.scenarios.scenario import Scenario


class InputError(Exception):
    """Unusable input: one line on stderr, exit status 2."""


def scenario(name: str, wire: str | None = None) -> Scenario:
    """``wire``: --wire, which overrides the file's [lab] wire (None: the file's, else loopback)."""
    import dataclasses

    from tuiexplore.scenarios.scenario import ScenarioError, load

    try:
        scn = load(name)
    except ScenarioError as exc:
        raise InputError(str(exc)) from None
    return dataclasses.replace(scn, wire=wire) if wire else scn


def wire_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wire",
        choices=("loopback", "relay"),
        help="loopback (default), or relay: server and client in two namespaces, every frame through the lab's relay "
        "(overrides the scenario's [lab] wire)",
    )


def no_empty_paths(args: argparse.Namespace, *flags: str) -> None:
    """An empty path is a mistake (an unset shell variable), not a request to skip the option."""
    for flag in flags:
        if getattr(args, flag.lstrip("-").replace("-", "_"), None) == "":
            raise InputError(f"{flag}: an empty path")


def guest(name: str | None) -> Guest | None:
    if name is None:
        return None
    from tuiexplore.guest.commands import resolve
    from tuiexplore.guest.machine import GuestError

    try:
        return resolve(name)
    except GuestError as exc:
        raise InputError(str(exc)) from None
