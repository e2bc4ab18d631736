"""The user's settings: ``$XDG_CONFIG_HOME/tuiexplore/config.toml`` (``~/.config/...`` without it).

    theme = "contrast"                # dark, light, contrast, or a Textual theme's name
    scenario = "linger0"              # what `tuiexplore` and `demo` open without a SCENARIO
    kernel_src = "/usr/src/linux-source-6.12.tar.xz"   # the kernel panel's tcp.c
    [keymap]                          # binding id = keys (Textual's keymap; `tuiexplore config show`)
    next = "j"
    "client.close" = "ctrl+x"
    [watch]
    columns = ["#", "ended", "client", "server", "process"]

A command-line option wins over the file. A file that cannot be used as a whole (not TOML, an
unknown key, a value of the wrong type) is one line and the defaults; a value the commands
cannot use (no such theme, scenario, binding id or column) is one line and that value's default.
Never a traceback: the line names the file and the key, and quotes the user's text safely.
Standard library only: every command reads it before it imports anything heavy.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tuiexplore.safetext import quoted

MAX_BYTES = 64 * 1024  # a settings file, not a data set
TOP = ("theme", "scenario", "kernel_src", "keymap", "watch")
WATCH = ("columns",)


@dataclass(frozen=True)
class Settings:
    theme: str | None = None
    scenario: str | None = None
    kernel_src: str | None = None
    keymap: Mapping[str, str] = field(default_factory=dict)  # binding id -> "key[,key...]"
    watch_columns: tuple[str, ...] = ()  # () is the default ones (fewer under 120 columns)
    path: str = ""  # the file they were read from ("" when there was none)
    problems: tuple[str, ...] = ()  # one line each: why (part of) the file was not used

    def problem(self, text: str) -> Settings:
        """These settings with one more line for the user."""
        return replace(self, problems=(*self.problems, f"{self.path}: {text}"))


def path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "tuiexplore" / "config.toml"


def load(env: Mapping[str, str] | None = None) -> Settings:
    """The settings in force: the file's, or the defaults with the line that says why."""
    p = path(env)
    where = Settings(path=str(p))
    try:
        if not p.exists():  # raises PermissionError where a directory on the way is not ours to search
            return Settings()
        with open(p, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ValueError(f"larger than {MAX_BYTES // 1024} KiB")
        data = tomllib.loads(raw.decode("utf-8"))
        return parse(data, str(p))
    except OSError as exc:
        return where.problem(f"cannot read it ({exc.strerror}); using the defaults")
    except UnicodeDecodeError:
        return where.problem("not UTF-8 text; using the defaults")
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        return where.problem(f"{exc}; using the defaults")


def parse(data: dict[str, Any], source: str) -> Settings:
    """Settings from a parsed file; raises ValueError with one line naming the key."""
    for key in data:
        if key not in TOP:
            raise ValueError(f"unknown setting {quoted(key)} (known: {', '.join(TOP)})")
    text = {k: _string(data, k) for k in ("theme", "scenario", "kernel_src")}
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict):
        raise ValueError('keymap: must be a table of binding id = "keys", e.g. [keymap] next = "j"')
    for bid, keys in keymap.items():
        if not isinstance(keys, str) or not _keys_ok(keys):
            raise ValueError(f'keymap: {quoted(bid)}: keys must be a string like "j" or "ctrl+j,f5"')
    watch = data.get("watch", {})
    if not isinstance(watch, dict):
        raise ValueError('watch: must be a table, e.g. [watch] columns = ["#", "ended"]')
    for key in watch:
        if key not in WATCH:
            raise ValueError(f"watch: unknown setting {quoted(key)} (known: {', '.join(WATCH)})")
    columns = watch.get("columns", [])
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise ValueError("watch: columns must be a list of column names")
    return Settings(
        theme=text["theme"],
        scenario=text["scenario"],
        kernel_src=text["kernel_src"],
        keymap=dict(keymap),
        watch_columns=tuple(columns),
        path=source,
    )


def _string(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValueError(f"{key}: must be a non-empty string")
    return value


def _keys_ok(keys: str) -> bool:
    """Comma-separated key names (Textual's: "j", "ctrl+j", "question_mark" or "?")."""
    parts = [k.strip() for k in keys.split(",")]
    return all(p and p.isprintable() and " " not in p for p in parts)
