"""Every app's key bindings by id, and ``tuiexplore config show``: the settings in force, as a
config.toml that can be copied, with every binding id, its keys and what it does.

Imported by the CLI's ``config`` command and by scripts/gen_docs.py only: it imports every app.
"""

from __future__ import annotations

import json

from textual.binding import Binding, BindingType
from textual.theme import BUILTIN_THEMES

from tuiexplore.config import Settings, path
from tuiexplore.tui import theme as themes
from tuiexplore.tui.bindings import EXPLORER_BINDINGS
from tuiexplore.tui.compare_app import CompareApp
from tuiexplore.tui.keyhelp import keys_in_force
from tuiexplore.tui.packets import PacketTable
from tuiexplore.tui.screens import Dialog, ReadOnlyDialog
from tuiexplore.tui.step_screen import STEP_BINDINGS
from tuiexplore.tui.watch_app import WatchApp
from tuiexplore.tui.watch_widgets import COMPACT_COLUMNS, DEFAULT_COLUMNS, pick_columns


def _with_ids(bindings: list[BindingType]) -> list[Binding]:
    return [b for b in bindings if isinstance(b, Binding) and b.id]


def groups() -> list[tuple[str, list[Binding]]]:
    """(where, its bindings with ids), in the order the manual lists them."""
    return [
        ("explorer", _with_ids([*EXPLORER_BINDINGS])),
        ("the packets table (explorer, step, watch)", _with_ids(PacketTable.BINDINGS)),
        ("step", _with_ids([*STEP_BINDINGS])),
        ("watch", _with_ids(WatchApp.BINDINGS)),
        ("compare", _with_ids(CompareApp.BINDINGS)),
        ("dialogs", _with_ids([*Dialog.BINDINGS, *ReadOnlyDialog.BINDINGS])),
    ]


def binding_ids() -> set[str]:
    return {b.id for _, bindings in groups() for b in bindings if b.id}


def problems(settings: Settings) -> list[str]:
    """Values of the file that no app can use (the apps ignore them): one line each."""
    out = []
    known = binding_ids()
    out += [
        f"keymap: no binding {json.dumps(bid)} (the ids: tuiexplore config show); ignored"
        for bid in settings.keymap
        if bid not in known
    ]
    names = [t.name for t in themes.load_themes()]
    if settings.theme:
        try:
            themes.resolve(settings.theme, [*names, *BUILTIN_THEMES])
        except ValueError as exc:
            out.append(f"theme: {exc}; using the default")
    out += [why for why in [pick_columns(settings.watch_columns)[1]] if why]
    return [f"{settings.path}: {line}" for line in out]


def show(settings: Settings) -> str:
    """The settings in force as TOML, each with where it comes from; then every key by id."""
    where = settings.path or f"{path()} (not there: the defaults)"
    lines = [f"# tuiexplore's settings: {where}", "# a command-line option wins over these", ""]
    lines.append(_setting("theme", settings.theme, f"default: {themes.DEFAULT} (--theme dark|light|contrast)"))
    lines.append(_setting("scenario", settings.scenario, "default: seed-rst (what tuiexplore and demo open)"))
    lines.append(
        _setting("kernel_src", settings.kernel_src, "default: looked for ($TUIEXPLORE_KERNEL_SRC, /lib/modules, /usr/src)")
    )
    lines += ["", "[watch]"]
    columns = list(settings.watch_columns) or DEFAULT_COLUMNS
    default = f"  # default (80 columns: {', '.join(COMPACT_COLUMNS)})"
    lines.append(f"columns = {json.dumps(columns, ensure_ascii=False)}{'' if settings.watch_columns else default}")
    lines += ["", "[keymap]  # binding id = keys; the keys in force, and what each does"]
    for group, bindings in groups():
        lines.append(f"# {group}")
        for b in bindings:
            keys = ",".join(keys_in_force(b, settings.keymap))
            mark = "" if b.id in settings.keymap else "  (default)"
            lines.append(f"{json.dumps(b.id)} = {json.dumps(keys)}  # {b.tooltip or b.description}{mark}")
    return "\n".join(lines)


def _setting(name: str, value: str | None, default: str) -> str:
    return f"{name} = {json.dumps(value, ensure_ascii=False)}" if value else f"# {name}: {default}"
