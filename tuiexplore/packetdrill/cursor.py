"""A cursor over a script's tokens, with the checks every part of the grammar uses."""

from __future__ import annotations

from .lexer import Token
from .script import ScriptError


class Cursor:
    def __init__(self, text: str, toks: list[Token]) -> None:
        self.lines = text.split("\n")
        self.toks = toks
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, n: int = 1) -> Token:
        return self.toks[min(self.i + n, len(self.toks) - 1)]

    def at(self, *texts: str) -> bool:
        return self.tok.kind in ("PUNCT", "WORD", "ELLIPSIS") and self.tok.text in texts

    def take(self) -> Token:
        t = self.tok
        self.i = min(self.i + 1, len(self.toks) - 1)
        return t

    def expect(self, text: str, what: str | None = None) -> Token:
        if not self.at(text):
            self.fail(f"expected {what or repr(text)}")
        return self.take()

    def expect_kind(self, kind: str, what: str) -> Token:
        if self.tok.kind != kind:
            self.fail(f"expected {what}")
        return self.take()

    def fail(self, message: str, tok: Token | None = None) -> None:
        t = tok or self.tok
        found = "end of file" if t.kind == "EOF" else repr(t.text[:40])
        raise ScriptError(t.line, t.col, f"{message}, found {found}")

    def error(self, message: str, tok: Token) -> ScriptError:
        return ScriptError(tok.line, tok.col, message)

    def integer(self, what: str, low: int = 0, high: int = 2**32 - 1) -> int:
        t = self.tok
        if t.kind not in ("INTEGER", "HEX"):
            self.fail(f"expected {what}")
        self.take()
        value = int(t.text, 16) if t.kind == "HEX" else int(t.text)
        if not low <= value <= high:
            raise self.error(f"{what} out of range ({low}..{high}): {t.text}", t)
        return value

    def time(self) -> int:
        t = self.tok
        if t.kind not in ("FLOAT", "INTEGER"):
            self.fail("expected a time")
        self.take()
        if t.text.startswith("-"):
            raise self.error("negative time", t)
        return round(float(t.text) * 1_000_000)
