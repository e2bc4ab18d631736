"""The typed events of a packetdrill script, after packetdrill's ``script.h``.

Times are in microseconds, as packetdrill keeps them. Sequence numbers stay relative to each
side's initial sequence number, as the script writes them: only a runner knows the ISNs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class ScriptError(Exception):
    """A script that cannot be read: where, and why, in packetdrill's ``FILE:LINE`` form."""

    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.col = col
        self.message = message

    def where(self, path: str) -> str:
        return f"{path}:{self.line}:{self.col}: {self.message}"


class TimeKind(Enum):
    ABSOLUTE = "absolute"  # 0.100
    RELATIVE = "relative"  # +0.1: from the previous event (its start, for a blocking call)
    ANY = "any"  # *: an outbound packet that may come at any time
    ABSOLUTE_RANGE = "absolute_range"  # 0.1~0.2
    RELATIVE_RANGE = "relative_range"  # +0~+.04


@dataclass(frozen=True)
class EventTime:
    kind: TimeKind
    usecs: int = 0
    end_usecs: int | None = None  # the end of a ~ range


# Expressions: syscall arguments and results, as packetdrill's parser keeps them.


@dataclass(frozen=True)
class Ellipsis_:
    """``...``: a value the script does not check or does not give."""


@dataclass(frozen=True)
class Int:
    value: int
    text: str


@dataclass(frozen=True)
class Word:
    name: str  # SOCK_STREAM, SOL_SOCKET, ...


@dataclass(frozen=True)
class Str:
    value: str
    open_ended: bool = False  # "abc"... : a prefix


@dataclass(frozen=True)
class BitOr:
    terms: tuple[Expr, ...]


@dataclass(frozen=True)
class Assign:
    name: str
    value: Expr


@dataclass(frozen=True)
class List:
    items: tuple[Expr, ...]  # [1], [ ] and { a, b }


@dataclass(frozen=True)
class Struct:
    fields: tuple[tuple[str, Expr], ...]  # {sa_family=AF_INET, sin_port=htons(8080), ...}

    def get(self, name: str) -> Expr | None:
        return next((v for k, v in self.fields if k == name), None)


@dataclass(frozen=True)
class Call:
    name: str  # htons(8080), inet_addr("192.0.2.1"), msg_iov(1)
    args: tuple[Expr, ...]


Expr = Ellipsis_ | Int | Word | Str | BitOr | Assign | List | Struct | Call


@dataclass(frozen=True)
class Syscall:
    name: str
    args: tuple[Expr, ...]
    result: Expr
    errno: str | None = None  # EINPROGRESS in "= -1 EINPROGRESS (Operation now in progress)"
    note: str | None = None
    end_usecs: int | None = None  # "...0.200": a call that blocks until then


@dataclass(frozen=True)
class TcpOption:
    kind: str  # nop, eol, mss, wscale, sackOK, sack, TS, FO, FOEXP, md5
    value: int | None = None  # mss, wscale
    val: int | None = None  # TS val
    ecr: int | None = None  # TS ecr
    cookie: str | None = None  # FO/FOEXP/md5 hex text ("" for an empty FO)
    blocks: tuple[tuple[int, int], ...] = ()  # sack


@dataclass(frozen=True)
class TcpPacket:
    inbound: bool  # "<": the script injects it; ">": the kernel must send it
    flags: str  # tcpdump letters as written: "S", "S.", "F.", "P.", "R", "."
    start_seq: int
    payload: int
    ack: int | None = None  # only when the script gives one
    win: int | None = None
    urg: int | None = None
    options: tuple[TcpOption, ...] | None = ()  # None: <...>, options not checked
    ecn: str | None = None  # [ect0], [noecn], ... as written

    @property
    def end_seq(self) -> int:
        return self.start_seq + self.payload


@dataclass(frozen=True)
class Command:
    """A backtick shell line: never run as given (see ``packetdrill.shell``)."""

    text: str


@dataclass(frozen=True)
class Code:
    """A ``%{ }%`` block: evaluated only as asserts over ``tcpi_*`` fields."""

    text: str


Action = Syscall | TcpPacket | Command | Code


@dataclass(frozen=True)
class Event:
    line: int
    col: int
    time: EventTime
    action: Action
    source: str  # the script's own text of the line, for the explorer


@dataclass(frozen=True)
class Option:
    name: str  # without the leading --
    value: str | None
    line: int


@dataclass
class Script:
    options: list[Option] = field(default_factory=list)
    init_command: Command | None = None
    init_line: int = 0
    events: list[Event] = field(default_factory=list)
    cleanup_command: Command | None = None
    cleanup_line: int = 0

    def option(self, name: str) -> str | None:
        """The last value an in-script ``--name=value`` line gives (later lines win, as in packetdrill)."""
        found = [o.value for o in self.options if o.name == name]
        return found[-1] if found else None
