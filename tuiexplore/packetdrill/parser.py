"""packetdrill's grammar (its ``parser.y``), read by recursive descent into ``script`` events.

Only TCP over the script's own addresses is supported: UDP, ICMP, GRE and MPLS packets, and
packet-level fuzzing, are refused by name with their line and column. Semantic checks are
parser.y's own: a sequence range must match its payload length, ``*`` and ``~`` times only go
with outbound packets, ``<...>`` options only with outbound packets.
"""

from __future__ import annotations

from collections.abc import Mapping

from .lexer import Token, tokens
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
    ScriptError,
    Str,
    Struct,
    Syscall,
    TcpOption,
    TcpPacket,
    TimeKind,
    Word,
)

_UNSUPPORTED_PACKETS = {
    "udp": "UDP packets",
    "icmp": "ICMP packets",
    "gre": "GRE encapsulation",
    "GREv0": "GRE encapsulation",
    "mpls": "MPLS encapsulation",
    "ipv4": "explicit IPv4 headers (a second host)",
    "ipv6": "explicit IPv6 headers (a second host)",
}
_ECN = {"ect0", "ect1", "ce", "noecn", "ect01"}


def parse(text: str, defines: Mapping[str, str] | None = None) -> Script:
    """The script in ``text``; ``defines`` are the ``-D NAME=VALUE`` of the command line."""
    return _Parser(text, tokens(text, defines)).script()


class _Parser:
    def __init__(self, text: str, toks: list[Token]) -> None:
        self.lines = text.split("\n")
        self.toks = toks
        self.i = 0

    # -- token helpers

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

    def time(self) -> int:
        t = self.tok
        if t.kind not in ("FLOAT", "INTEGER"):
            self.fail("expected a time")
        self.take()
        if t.text.startswith("-"):
            raise self.error("negative time", t)
        return round(float(t.text) * 1_000_000)

    def action(self) -> Action:
        t = self.tok
        if t.kind == "BACKQUOTE":
            return Command(self.take().text)
        if t.kind == "CODE":
            return Code(self.take().text)
        if self.at("<", ">"):
            return self.packet()
        if t.kind == "ELLIPSIS" or t.kind == "WORD":
            return self.syscall()
        self.fail("expected a packet, a system call, a `command` or a %{ }% block")
        raise AssertionError  # fail() raised

    # -- packets

    def packet(self) -> TcpPacket:
        inbound = self.take().text == "<"
        if self.tok.kind == "WORD" and self.tok.text in _UNSUPPORTED_PACKETS:
            raise self.error(f"{_UNSUPPORTED_PACKETS[self.tok.text]} are not supported: only TCP", self.tok)
        ecn = None
        if self.at("[", "("):
            ecn = self.ip_info()
        if self.tok.kind == "INTEGER" and self.peek().text == ">":
            raise self.error("explicit ports are not supported: the lab picks the connection's ports", self.tok)
        if self.tok.kind == "WORD" and self.tok.text in _UNSUPPORTED_PACKETS:
            raise self.error(f"{_UNSUPPORTED_PACKETS[self.tok.text]} are not supported: only TCP", self.tok)
        flags = self.flags()
        start = self.integer("a start sequence number")
        self.expect(":", "':' in the sequence range")
        end = self.integer("an end sequence number")
        self.expect("(", "'(' before the payload length")
        payload = self.integer("a payload length", 0, 0xFFFF)
        self.expect(")")
        if end != start + payload:
            raise self.error("inconsistent TCP sequence numbers and payload size", self.toks[self.i - 1])
        ack = win = urg = None
        if self.at("ack"):
            self.take()
            ack = self.integer("an ack number")
        if self.at("win"):
            self.take()
            win = self.integer("a window", 0, 0xFFFF)
        if self.at("urg"):
            self.take()
            urg = self.integer("an urgent pointer", 0, 0xFFFF)
        options: tuple[TcpOption, ...] | None = ()
        if self.at("<"):
            lt = self.take()
            if self.tok.kind == "ELLIPSIS":
                self.take()
                if inbound:
                    raise self.error("<...> for TCP options can only be used with outbound packets", lt)
                options = None
            else:
                options = self.tcp_options()
            self.expect(">", "'>' closing the option list")
        if self.at("{"):
            raise self.error("packet fuzzing ({...}) is not supported", self.tok)
        return TcpPacket(inbound, flags, start, payload, ack, win, urg, options, ecn)

    def ip_info(self) -> str:
        close = "]" if self.take().text == "[" else ")"
        words = []
        while not self.at(close):
            if self.tok.kind == "EOF":
                self.fail(f"expected {close!r}")
            words.append(self.take().text)
        self.take()
        text = " ".join(words)
        if text not in _ECN:
            raise self.error(f"IP header fields ({text}) are not supported", self.toks[self.i - 1])
        return text

    def flags(self) -> str:
        t = self.tok
        if self.at(".", "-"):
            self.take()
            return "." if t.text == "." else ""
        if t.kind != "WORD" or any(c not in "SFRPUEWA" for c in t.text):
            self.fail("expected TCP flags (S, S., F., P., R, R., .)")
        self.take()
        text = t.text
        if self.at("."):
            self.take()
            text += "."
        return text

    def tcp_options(self) -> tuple[TcpOption, ...]:
        found = [self.tcp_option()]
        while self.at(","):
            self.take()
            found.append(self.tcp_option())
        if sum(_option_bytes(o) for o in found) > 40:
            raise self.error("TCP option list too long", self.tok)
        return tuple(found)

    def tcp_option(self) -> TcpOption:
        t = self.tok
        name = t.text if t.kind == "WORD" else ""
        if name in ("nop", "eol", "sackOK"):
            self.take()
            return TcpOption(name)
        if name == "mss":
            self.take()
            return TcpOption(name, value=self.integer("an mss value", 0, 0xFFFF))
        if name == "wscale":
            self.take()
            return TcpOption(name, value=self.integer("a window scale", 0, 0xFF))
        if name == "TS":
            self.take()
            self.expect("val")
            val = self.integer("a TS val")
            self.expect("ecr")
            return TcpOption(name, val=val, ecr=self.integer("a TS ecr"))
        if name == "sack":
            self.take()
            blocks = []
            while self.tok.kind == "INTEGER":
                left = self.integer("a SACK left edge")
                self.expect(":")
                blocks.append((left, self.integer("a SACK right edge")))
            if not blocks:
                self.fail("expected SACK blocks")
            return TcpOption(name, blocks=tuple(blocks))
        if name in ("FO", "FOEXP", "md5"):
            self.take()
            cookie = ""
            if self.tok.kind in ("WORD", "INTEGER") and not self.at(","):
                cookie = self.take().text
            if any(c not in "0123456789abcdefABCDEF" for c in cookie) or len(cookie) % 2 or len(cookie) > 32:
                raise self.error(f"{name} cookie is not a valid hex string: {cookie[:40]}", t)
            return TcpOption(name, cookie=cookie)
        self.fail("expected a TCP option (nop, eol, mss, wscale, sackOK, sack, TS, FO, FOEXP, md5)")
        raise AssertionError

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


def _option_bytes(o: TcpOption) -> int:
    fixed = {"nop": 1, "eol": 1, "mss": 4, "wscale": 3, "sackOK": 2, "TS": 10, "md5": 18}
    if o.kind in fixed:
        return fixed[o.kind]
    if o.kind == "sack":
        return 2 + 8 * len(o.blocks)
    cookie = len(o.cookie or "") // 2
    return (2 if o.kind == "FO" else 4) + cookie
