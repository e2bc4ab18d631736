"""Reading a scenario file without trusting it: regular files only, bounded size and nesting."""

from __future__ import annotations

import os
from collections.abc import Callable

from tuiexplore.files import FileError, read_regular
from tuiexplore.safetext import terminal

MAX_BYTES = 1024 * 1024  # the built-ins are 1-3 KB
MAX_DEPTH = 8  # arrays and tables; the format itself needs 4


class ScenarioError(Exception):
    """Unusable scenario input; str() is the one-line message for the user."""


def read_file(path: str, builtins: Callable[[], list[str]]) -> str:
    """The text of a scenario file: a regular file only (a FIFO or /dev/zero is refused before a
    byte is read, see :mod:`tuiexplore.files`), at most MAX_BYTES, UTF-8."""
    where = terminal(path)
    try:
        exists = os.path.lexists(path)
    except ValueError:
        exists = True  # a NUL in the path: read_regular says so
    if not exists:
        known = ", ".join(builtins())
        raise ScenarioError(f"{where}: no such file or built-in scenario (built-ins: {known})")
    try:
        data = read_regular(path, MAX_BYTES, "a scenario file")
    except FileError as exc:
        raise ScenarioError(str(exc)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{where}: not UTF-8 text (byte {exc.start})") from None


def too_deep(text: str) -> int | None:
    """The line where brackets outside strings and comments first nest deeper than MAX_DEPTH.

    Counted before tomllib sees the text, as its recursive descent would otherwise need a
    Python frame per level (a RecursionError at a few hundred)."""
    depth, quote, line = 0, "", 1
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        if quote:
            if c == "\\" and quote in ('"', '"""'):
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            i += len(quote)
            continue
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return None
