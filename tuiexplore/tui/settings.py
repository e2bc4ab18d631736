"""The user's settings (``tuiexplore.config``) applied to an app: its theme and its keymap.

Every app calls ``apply`` as it is made, so the footer, the help screens and the actions follow
the same keymap: Textual rebinds each binding by its id, and the help tables read the keys back
from the app (``keyhelp``). A line about the file (or a value of it the app cannot use) is shown
as a toast, once the screen is up.
"""

from __future__ import annotations

from textual.app import App

from tuiexplore.config import Settings
from tuiexplore.tui import theme as themes
from tuiexplore.tui.widgets import printable


def apply(app: App, settings: Settings | None, theme: str | None) -> Settings:
    """Register the themes, choose one (``--theme``, else the file's, else the default) and set
    the keymap. ``theme`` that does not exist raises ValueError (a command-line error); the
    file's is a line and the default. Returns the settings with any such line added."""
    settings = settings or Settings()
    for t in themes.load_themes():
        app.register_theme(t)
    known = list(app.available_themes)
    if theme is None and settings.theme:
        try:
            app.theme = themes.resolve(settings.theme, known)
        except ValueError as exc:
            settings = settings.problem(f"theme: {exc}; using the default")
            app.theme = themes.DEFAULT
    else:
        app.theme = themes.resolve(theme, known)
    app.set_keymap(dict(settings.keymap))
    for line in settings.problems:
        app.notify(printable(line), title="config", severity="warning", timeout=15, markup=False)
    return settings
