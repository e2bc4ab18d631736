"""The keys of a list of bindings as they are in force, for the help screens: the app's keymap
applied (the footer follows it by itself), shown the way the footer shows them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from textual.app import App
from textual.binding import Binding

from tuiexplore import safetext


def keymap_of(app: App) -> Mapping[str, str]:
    """The keymap set with ``App.set_keymap`` (normalised: "?" is "question_mark"). Textual keeps
    it in ``_keymap`` and has no getter; reading it back keeps the help equal to the footer."""
    return app._keymap


def keys_in_force(binding: Binding, keymap: Mapping[str, str]) -> list[str]:
    """The key names that trigger ``binding`` with ``keymap`` applied (Textual's rule: the keymap's
    keys replace the binding's own)."""
    chosen = keymap.get(binding.id) if binding.id else None
    return [k.strip() for k in (chosen or binding.key).split(",") if k.strip()]


def key_table(app: App, bindings: Iterable[Binding], where: str = "") -> list[str]:
    """Markdown table rows ``| keys | what they do |``; ``where`` qualifies the keys (e.g. "on the packets")."""
    keymap = keymap_of(app)
    rows = []
    for b in bindings:
        shown = " ".join(safetext.md_code(app.get_key_display(b.with_key(k))) for k in keys_in_force(b, keymap))
        rows.append(f"| {shown}{' ' + where if where else ''} | {b.tooltip or b.description} |")
    return rows


def spoken(app: App, bindings: Iterable[Binding], text: str) -> str:
    """``text`` with each ``{binding id}`` replaced by that binding's keys in force, e.g.
    "Press {next} to step" -> "Press n or space to step" (or "Press j to step" with a keymap)."""
    keymap = keymap_of(app)
    keys = {b.id: " or ".join(app.get_key_display(b.with_key(k)) for k in keys_in_force(b, keymap)) for b in bindings if b.id}
    return re.sub(r"\{([\w.]+)\}", lambda m: keys[m.group(1)], text)
