"""Untrusted text made safe for each place it is written to.

Titles, summaries, narration, actor and fd names, payloads and the keys quoted in error
messages all come from files or from the network. Each sink has its own way of being
attacked, so each has one function here and every writer goes through it:

- terminal: control characters (ESC, CSI, OSC, BEL, backspace, bidi overrides, ...) become
  visible ``\\xNN``/``\\uNNNN`` escapes, so a title cannot clear the screen or rename the pane;
- Rich/Textual: the same terminal-safe text, handed over as ``Content``/``Text`` objects that are
  never parsed as markup (the TUI's ``printable`` is this function);
- Markdown: terminal-safe, then Markdown punctuation escaped, and code spans and fences sized
  so that no backtick run in the text can close them;
- SVG/XML: terminal-safe (XML 1.0 forbids most control characters even as references), then
  ``& < > " '`` as entities;
- JSON: ASCII-only ``json.dumps`` (C1 controls such as U+009B, a CSI on some terminals, come out
  as ``\\u009b``, and ``jq``/``cat`` on a terminal stay safe).
"""

from __future__ import annotations

import json
import re
from typing import Any

# Characters that start emphasis, code, links, HTML, entities, strike-through or end a cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&|~])")
_BACKTICKS = re.compile(r"`+")


def terminal(text: object) -> str:
    """Printable characters as they are; every other one as a visible escape."""
    s = str(text)
    if s.isprintable():  # the common case, no copy
        return s
    return "".join(c if c.isprintable() else _escape(c) for c in s)


def terminal_lines(text: object) -> str:
    """Like :func:`terminal`, keeping the line breaks (for multi-line messages and dialogs)."""
    return "\n".join(terminal(line) for line in str(text).split("\n"))


def quoted(text: object) -> str:
    """A name or key for an error message: terminal-safe and quoted, like ``repr`` for strings."""
    return "'" + terminal(text).replace("'", "\\'") + "'"


def _escape(c: str) -> str:
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def markdown(text: object) -> str:
    """Inline Markdown text: no emphasis, links, HTML or table cells can be injected."""
    return _MD_SPECIAL.sub(r"\\\1", terminal_lines(text)).replace("\n", " ")


def md_code(text: object) -> str:
    """An inline code span that the text cannot end early (CommonMark: a longer backtick run)."""
    s = terminal(text).replace("|", "\\|")  # inside a table a bare | still ends the cell
    fence = "`" * (max((len(m) for m in _BACKTICKS.findall(s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def md_fence(lines: list[str], info: str = "") -> list[str]:
    """A fenced code block around terminal-safe lines, its fence longer than any inside."""
    body = [terminal(line) for line in lines]
    longest = max((len(m) for line in body for m in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", *body, fence]


def xml(text: object) -> str:
    """Text for an XML/SVG text node or attribute value: well-formed whatever came in."""
    s = terminal(text)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").replace("'", "&#39;")


def json_line(obj: Any) -> str:
    """One JSON Lines record, ASCII only, so it is safe on a terminal and a valid JSON string."""
    return json.dumps(obj, ensure_ascii=True)
