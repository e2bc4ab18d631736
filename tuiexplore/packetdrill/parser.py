"""packetdrill's grammar (its ``parser.y``), read by recursive descent into ``script`` events.

This module reads the script, its options, event times, system calls and their expressions;
segment lines are ``packets``'s. Semantic checks are parser.y's own: ``*`` and ``~`` times only
go with outbound packets, a range may not run backwards.
"""

from __future__ import annotations

from collections.abc import Mapping

from .cursor import Cursor
from .lexer import tokens
from .packets import packet
from .script import (
    Action,
    Assign,
    BitOr,
    Call,
    Code,
    Command,
    Ellipsis_,
    Event,
    EventTime,
    Expr,
    Int,
    List,
    Option,
    Script,
    Str,
    Struct,
    Syscall,
    TcpPacket,
    TimeKind,
    Word,
)


def parse(text: str, defines: Mapping[str, str] | None = None) -> Script:
    """The script in ``text``; ``defines`` are the ``-D NAME=VALUE`` of the command line."""
    return _Parser(text, tokens(text, defines)).script()


class _Parser(Cursor):
    # -- script: opt_options opt_init_command events opt_cleanup_command

    def script(self) -> Script:
        out = Script()
        while self.tok.kind == "OPTION":
            out.options.append(self.option())
        if self.tok.kind == "BACKQUOTE":
            out.init_line = self.tok.line
            out.init_command = Command(self.take().text)
        while self.tok.kind != "EOF":
            if self.tok.kind == "BACKQUOTE" and self.peek().kind == "EOF":
                out.cleanup_line = self.tok.line
                out.cleanup_command = Command(self.take().text)
                break
            out.events.append(self.event())
        if not out.events:
            raise self.error("the script has no events", self.tok)
        return out

    def option(self) -> Option:
        t = self.take()
        value = None
        if self.at("="):
            self.take()
            v = self.tok
            if v.kind not in ("INTEGER", "HEX", "FLOAT", "WORD", "STRING", "IPV4", "IPV6"):
                self.fail(f"expected a value for --{t.text}")
            self.take()
            value = v.text
            if v.kind == "WORD" and self.at("="):  # --define=NAME=VALUE
                self.take()
                value += "=" + self.take().text
        return Option(t.text, value, t.line)

    # -- event: event_time action

    def event(self) -> Event:
        first = self.tok
        when = self.event_time()
        action = self.action()
        if when.kind in (TimeKind.ANY, TimeKind.ABSOLUTE_RANGE, TimeKind.RELATIVE_RANGE):
            if not (isinstance(action, TcpPacket) and not action.inbound):
                what = "<star>" if when.kind is TimeKind.ANY else "range"
                raise self.error(f"event time {what} can only be used with outbound packets", first)
        source = self.lines[first.line - 1].strip() if first.line <= len(self.lines) else ""
        return Event(first.line, first.col, when, action, source)

    def event_time(self) -> EventTime:
        if self.at("*"):
            self.take()
            return EventTime(TimeKind.ANY)
        relative = self.at("+")
        if relative:
            self.take()
        start = self.time()
        if not self.at("~"):
            return EventTime(TimeKind.RELATIVE if relative else TimeKind.ABSOLUTE, start)
        self.take()
        if relative:
            self.expect("+", "'+' after '~' in a relative range")
        elif self.at("+"):
            self.fail("a range mixes absolute and relative times")
        end = self.time()
        if end < start:
            raise self.error("time range is backwards", self.toks[self.i - 1])
        return EventTime(TimeKind.RELATIVE_RANGE if relative else TimeKind.ABSOLUTE_RANGE, start, end)

    def action(self) -> Action:
        t = self.tok
        if t.kind == "BACKQUOTE":
            return Command(self.take().text)
        if t.kind == "CODE":
            return Code(self.take().text)
        if self.at("<", ">"):
            return packet(self)
        if t.kind == "ELLIPSIS" or t.kind == "WORD":
            return self.syscall()
        self.fail("expected a packet, a system call, a `command` or a %{ }% block")
        raise AssertionError  # fail() raised

    # -- system calls: opt_end_time function_name function_arguments '=' expression opt_errno opt_note

    def syscall(self) -> Syscall:
        end = None
        if self.tok.kind == "ELLIPSIS":
            self.take()
            end = self.time()
        name = self.expect_kind("WORD", "a system call name").text
        self.expect("(", f"'(' after {name}")
        args: tuple[Expr, ...] = ()
        if not self.at(")"):
            args = self.expression_list(")")
        self.expect(")")
        self.expect("=", f"'=' and the expected result of {name}()")
        result = self.expression()
        errno = note = None
        if self.tok.kind == "WORD" and self.tok.text.startswith("E") and self.tok.text.isupper():
            errno = self.take().text
            note = self.note()
        elif self.at("("):
            note = self.note()
        return Syscall(name, args, result, errno, note, end)

    def note(self) -> str | None:
        if not self.at("("):
            return None
        open_ = self.take()
        words = []
        while not self.at(")"):
            if self.tok.kind == "EOF" or self.tok.line != open_.line:
                raise self.error("unterminated note: expected ')'", open_)
            words.append(self.take().text)
        self.take()
        return " ".join(words)

    # -- expressions

    def expression_list(self, close: str) -> tuple[Expr, ...]:
        items = [self.expression()]
        while self.at(","):
            self.take()
            items.append(self.expression())
        if not self.at(close):
            self.fail(f"expected ',' or {close!r}")
        return tuple(items)

    def expression(self) -> Expr:
        first = self.primary()
        terms = [first]
        while self.at("|"):
            self.take()
            terms.append(self.primary())
        return first if len(terms) == 1 else BitOr(tuple(terms))

    def primary(self) -> Expr:
        t = self.tok
        if t.kind == "ELLIPSIS":
            self.take()
            return Ellipsis_()
        if t.kind in ("INTEGER", "HEX"):
            self.take()
            return Int(int(t.text, 16) if t.kind == "HEX" else int(t.text), t.text)
        if t.kind == "STRING":
            text = ""
            while self.tok.kind == "STRING":
                text += self.take().text
            if self.tok.kind == "ELLIPSIS":
                self.take()
                return Str(text, open_ended=True)
            return Str(text)
        if self.at("["):
            self.take()
            items: tuple[Expr, ...] = () if self.at("]") else self.expression_list("]")
            self.expect("]")
            return List(items)
        if self.at("{"):
            return self.braces()
        if t.kind == "WORD":
            self.take()
            if self.at("("):
                self.take()
                args: tuple[Expr, ...] = () if self.at(")") else self.expression_list(")")
                self.expect(")")
                return Call(t.text, args)
            if self.at("="):
                self.take()
                return Assign(t.text, self.expression())
            return Word(t.text)
        self.fail("expected an expression")
        raise AssertionError

    def braces(self) -> Expr:
        """``{name=value, ...}`` (sockaddr, linger, pollfd, epoll_event, ...) or ``{a, b}``."""
        self.take()
        if self.at("}"):
            self.take()
            return List(())
        items = self.expression_list("}")
        self.expect("}")
        if all(isinstance(i, Assign) for i in items):
            return Struct(tuple((i.name, i.value) for i in items if isinstance(i, Assign)))
        return List(items)
