"""The process's stdout and stderr at the edge, set up once by the CLI before any command runs:

- a locale whose encoding is not UTF-8 (``LC_ALL=C``) gets ASCII fallbacks for the symbols the
  app prints (``▶`` as ``>``, ``·`` as ``.``) and a visible escape for any other character the
  encoding lacks, instead of a UnicodeEncodeError in the middle of a command;
- a write to stdout that fails for a reason other than a closed pipe (``> /dev/full``) becomes
  :class:`OutputFailed`, whose message names stdout, wherever the write was made.
"""

from __future__ import annotations

import codecs
import sys
import unicodedata
from typing import Any, TextIO

HANDLER = "tuiexplore-ascii"
FALLBACK = {
    "·": ".", "▶": ">", "◀": "<", "▲": "^", "▼": "v", "●": "*", "…": "...", "—": "--", "─": "-", "│": "|",
    "┌": "+", "┐": "+", "└": "+", "┘": "+", "├": "+", "┤": "+", "┬": "+", "┴": "+", "┼": "+",
    "→": "->", "←": "<-", "↑": "^", "↓": "v", "↳": "->", "⇄": "<->", "⟷": "<->", "»": ">>", "«": "<<",
    "§": "S", "✓": "ok", "✗": "x", "⚠": "!",
}  # fmt: skip


class OutputFailed(Exception):
    """stdout could not be written (a full disk, an I/O error): one line naming it."""


def _ascii(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for c in exc.object[exc.start : exc.end]:
        plain = FALLBACK.get(c) or unicodedata.normalize("NFKD", c).encode("ascii", "ignore").decode()
        if not plain or not plain.isprintable():
            n = ord(c)
            if 0xDC80 <= n <= 0xDCFF:  # a byte of a file name that was not valid in the locale
                n -= 0xDC00
            plain = f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"
        out.append(plain)
    return "".join(out), exc.end


codecs.register_error(HANDLER, _ascii)


class _Guarded:
    """A stream whose failed writes raise OutputFailed naming it (a closed pipe stays a
    BrokenPipeError: ``pipes`` turns that into the quiet exit 141)."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputFailed(f"cannot write {self._name}: {exc.strerror}") from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputFailed(f"cannot write {self._name}: {exc.strerror}") from None

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._stream, attr)


def install() -> None:
    """ASCII fallbacks where the locale needs them, and stdout's failures named."""
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if encoding and codecs.lookup(encoding).name != "utf-8" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors=HANDLER)
    if sys.stdout is not None and not isinstance(sys.stdout, _Guarded):
        sys.stdout = _Guarded(sys.stdout, "stdout")
