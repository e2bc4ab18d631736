"""Tokens of packetdrill's language, as its ``lexer.l`` cuts them.

flex takes the longest match at each point and, between equally long ones, the earliest rule;
the table below keeps ``lexer.l``'s order so ``0x1f`` is a hex integer, ``1.2.3.4`` an address,
``.01`` a float and ``sackOK`` a keyword, exactly as packetdrill reads them. Keywords come out
as ``WORD`` tokens whose text the parser compares, since flex's keywords are fixed words too.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .script import ScriptError

# A script bigger than this is not a test script: refuse it before reading it all.
MAX_SCRIPT_BYTES = 256 * 1024


@dataclass(frozen=True)
class Token:
    kind: str  # OPTION FLOAT INTEGER HEX WORD STRING BACKQUOTE CODE IPV4 IPV6 ELLIPSIS PUNCT EOF
    text: str
    line: int
    col: int


_IPV4 = r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+"
# Candidates only: ipaddress decides, and lexer.l's own rule needs a "::" or eight groups so
# that sequence ranges such as 1:1001 stay integers.
_IPV6 = r"[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}(?::" + _IPV4 + r"|\." + r"[0-9]+\.[0-9]+\.[0-9]+)?"

# (kind, pattern), in lexer.l's rule order (ties go to the earlier rule).
_RULES: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(pattern))
    for kind, pattern in [
        ("ELLIPSIS", r"\.\.\."),
        ("OPTION", r"--[a-zA-Z0-9_]+"),
        ("FLOAT", r"-?[0-9]*\.[0-9]+"),
        ("INTEGER", r"-?[0-9]+"),
        ("HEX", r"0x[0-9a-fA-F]+"),
        ("WORD", r"[a-zA-Z0-9_]+"),
        ("STRING", r'"(?:\\.|[^"\\])*"'),
        ("BACKQUOTE", r"`(?:\\.|[^`\\])*`"),
        ("PUNCT", r"[^ \t\n]"),
        ("SPACE", r"[ \t\r\n]+"),
        ("COMMENT", r"//[^\n]*(?:\n|$)"),
        ("COMMENT", r"/\*(?:[^*]|\*(?!/))*\*/"),
        ("CODE", r"%\{(?:[^}]|\}(?!%))*\}%"),
        ("IPV4", _IPV4),
        ("IPV6", _IPV6),
    ]
]


_OPENERS = (('"', "string"), ("`", "backquoted command"), ("/*", "comment"), ("%{", "code block"))


def _valid_ipv6(text: str) -> bool:
    if "::" not in text and text.count(":") < 7:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def tokens(text: str, defines: Mapping[str, str] | None = None) -> list[Token]:
    """The script's tokens, comments and white space dropped, ending with an EOF token."""
    if len(text) > MAX_SCRIPT_BYTES:
        raise ScriptError(1, 1, f"the script is over {MAX_SCRIPT_BYTES} bytes: not read")
    defines = defines or {}
    out: list[Token] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        kind, end = "", pos
        for rule, pattern in _RULES:
            m = pattern.match(text, pos)
            if m and m.end() > end and (rule != "IPV6" or _valid_ipv6(m.group())):
                kind, end = rule, m.end()
        lexeme = text[pos:end]
        col = pos - line_start + 1
        if kind == "PUNCT":  # every other character is some token's: only an opener left open gets here
            for opener, what in _OPENERS:
                if text.startswith(opener, pos):
                    raise ScriptError(line, col, f"unterminated {what}")
        if kind not in ("SPACE", "COMMENT"):
            out.append(_token(kind, lexeme, line, col, defines))
        newlines = lexeme.count("\n")
        if newlines:
            line += newlines
            line_start = pos + lexeme.rindex("\n") + 1
        pos = end
    out.append(Token("EOF", "", line, pos - line_start + 1))
    return out


def _token(kind: str, lexeme: str, line: int, col: int, defines: Mapping[str, str]) -> Token:
    if kind == "WORD" and lexeme in defines:  # -D NAME=VALUE, as lexer.l's word()
        value = defines[lexeme]
        if value[:1] == '"':
            return Token("STRING", value.strip('"'), line, col)
        if value[:1] == "`":
            return Token("BACKQUOTE", value.strip("`"), line, col)
        return Token("WORD", value, line, col)
    if kind in ("STRING", "BACKQUOTE"):
        return Token(kind, lexeme[1:-1], line, col)
    if kind == "CODE":
        return Token(kind, lexeme[2:-2].strip(" \t"), line, col)
    if kind == "OPTION":
        return Token(kind, lexeme[2:], line, col)
    return Token(kind, lexeme, line, col)
