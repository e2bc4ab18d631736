"""Reading a scenario file without trusting it: regular files only, bounded size and nesting."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from tuiexplore.safetext import terminal

MAX_BYTES = 1024 * 1024  # the built-ins are 1-3 KB
MAX_DEPTH = 8  # arrays and tables; the format itself needs 4


class ScenarioError(Exception):
    """Unusable scenario input; str() is the one-line message for the user."""


def read_file(path: str, builtins: Callable[[], list[str]]) -> str:
    """The text of a scenario file: a regular file only, at most MAX_BYTES, UTF-8.

    Opened non-blocking so that a FIFO without a writer cannot hang the reader, and checked with
    fstat on the open fd, so /dev/zero or a directory is refused before one byte is read."""
    where = terminal(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        known = ", ".join(builtins())
        raise ScenarioError(f"{where}: no such file or built-in scenario (built-ins: {known})") from None
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"{where}: cannot open it ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ScenarioError(f"{where}: not a regular file ({_kind(mode)}); a scenario is a TOML file")
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot read it ({exc.strerror})") from None
    finally:
        os.close(fd)
    if size > MAX_BYTES:
        raise ScenarioError(f"{where}: larger than {MAX_BYTES} bytes; a scenario file is a few KB")
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{where}: not UTF-8 text (byte {exc.start})") from None


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


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
