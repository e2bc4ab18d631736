"""The explorer's report dialogs and its export bundle, as plain functions of what the explorer
screen knows (:class:`Explorer`).

``DIALOGS`` is what the screen's one ``dialog(name)`` action opens: each entry builds its modal
screen from the screen's state, or gives None when there is nothing to show yet (the verdict
before any verdict). A new report dialog is one function here and one key in ``bindings.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from textual.app import App
from textual.binding import Binding
from textual.geometry import Size
from textual.notifications import SeverityLevel
from textual.screen import Screen

from tuiexplore.domain import LabInfo
from tuiexplore.files import FileError, write_file
from tuiexplore.kernel.excerpt import Excerpt
from tuiexplore.reports import export
from tuiexplore.reports.details import table_text, verdict_text
from tuiexplore.reports.ladder import ladder
from tuiexplore.scenarios.scenario import Scenario
from tuiexplore.timeline import Event, VerdictEvent
from tuiexplore.tui.bindings import EXPLORER_BINDINGS
from tuiexplore.tui.driver import LabDriver, SavePcap
from tuiexplore.tui.keyhelp import key_table
from tuiexplore.tui.packets import PacketTable
from tuiexplore.tui.screens import HelpScreen, TextScreen


class Explorer(Protocol):
    """What the dialogs read of :class:`tuiexplore.tui.explorer.ExplorerScreen` (named by this
    protocol, not imported: the screen imports this module)."""

    scenario: Scenario
    excerpt: Excerpt
    info: LabInfo | None
    events: list[Event]
    last_verdict: VerdictEvent | None

    @property
    def size(self) -> Size: ...

    @property
    def app(self) -> App[Any]: ...

    @property
    def driver(self) -> LabDriver: ...

    @property
    def source_place(self) -> tuple[str | None, bool]: ...



def ladder_dialog(ex: Explorer) -> Screen:
    lines = ladder(list(ex.events), width=max(60, int(ex.size.width * 0.9) - 12))  # inside the dialog
    return TextScreen("The exchange as a ladder diagram", "\n".join(lines))


def table_dialog(ex: Explorer) -> Screen:
    title, body = table_text(ex.excerpt)
    return TextScreen(f"{title} · {ex.excerpt.origin}" if ex.excerpt.table else title, "\n".join(body))


def verdict_dialog(ex: Explorer) -> Screen | None:
    if ex.last_verdict is None:
        return None
    return TextScreen(*verdict_text(ex.last_verdict, ex.events, ex.excerpt, *ex.source_place))


def help_dialog(ex: Explorer) -> Screen:
    packets = [b for b in PacketTable.BINDINGS if isinstance(b, Binding) and b.id]
    return HelpScreen(key_table(ex.app, EXPLORER_BINDINGS) + key_table(ex.app, packets, "on the packets"))


DIALOGS: dict[str, Callable[[Explorer], Screen | None]] = {
    "verdict": verdict_dialog,
    "table": table_dialog,
    "ladder": ladder_dialog,
    "help": help_dialog,
}


class Notice(NamedTuple):
    """A toast for the screen to show."""

    text: str
    severity: SeverityLevel = "information"
    timeout: float | None = None  # None: Textual's default


def export_bundle(ex: Explorer) -> Notice | None:
    """A bundle for a write-up: timeline, Markdown transcript, the screen as SVG, and the pcap
    (written by the driver's thread: only it touches the lab). None before the lab is up."""
    if ex.info is None:
        return None
    directory = os.path.abspath(time.strftime("tuiexplore-export-%Y%m%d-%H%M%S"))

    def shoot(path: str) -> None:
        write_file(path, ex.app.export_screenshot().encode())

    try:
        export.write(directory, ex.scenario, ex.info, list(ex.events), ex.excerpt, shoot, *ex.source_place)
        if (recorder := getattr(ex.app, "recorder", None)) is not None:  # what the terminal showed so far
            recorder.copy_to(os.path.join(directory, "session.cast"))
    except FileError as exc:
        return Notice(f"export failed: {exc}", "error")
    except OSError as exc:
        return Notice(f"export failed: {exc.strerror}: {exc.filename}", "error")
    captures = tuple(os.path.join(directory, name) for name in ("capture.pcap", "capture.pcapng"))
    ex.driver.submit(SavePcap(captures, tuple(ex.events)))
    return Notice(f"exported to {directory}", timeout=8)
