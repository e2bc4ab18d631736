"""Themes as Textual Theme objects, read from the ``themes/`` data (installed as tuiexplore.themes)."""

from __future__ import annotations

import tomllib
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from textual.theme import Theme

SHORT = {"dark": "tuiexplore-dark", "light": "tuiexplore-light", "contrast": "tuiexplore-contrast"}
DEFAULT = "tuiexplore-dark"
APP_VARIABLES = {"fin": "#5fd75f", "rst": "#ff5f5f", "hot-line": "#5f5f00", "predicted-line": "#303a5a"}


def theme_dir() -> Traversable:
    try:
        return resources.files("tuiexplore.themes")
    except ModuleNotFoundError:  # running from a checkout without installing
        return Path(__file__).resolve().parents[2] / "themes"


def load_themes() -> list[Theme]:
    themes = []
    for entry in sorted(theme_dir().iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            themes.append(Theme(**data))
    return themes


def stylesheet_path() -> str:
    return str(theme_dir() / "app.tcss")


def resolve(name: str | None, known: list[str]) -> str:
    """A --theme value to a registered theme name; raises ValueError with the choices."""
    if not name:
        return DEFAULT
    full = SHORT.get(name, name)
    if full not in known:
        raise ValueError(f"unknown theme {name!r} (choose from: {', '.join([*SHORT, *sorted(known)])})")
    return full
