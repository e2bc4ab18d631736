"""The syscall vocabulary shared by scenario files, the actors and the views.

One table says, for every call, which arguments it takes, their types and defaults, so the
validator, the actor and the UI cannot disagree about what a step means.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

from tuiexplore.safetext import quoted

# Python's socket module lacks some Linux constants; these values are the kernel's ABI.
TCP_LINGER2 = 8
TCP_INFO = 11
SIOCINQ = 0x541B
SIOCOUTQ = 0x5411
SIOCOUTQNSD = 0x894B

SOCKOPTS: dict[str, tuple[int, int]] = {
    "SO_REUSEADDR": (socket.SOL_SOCKET, socket.SO_REUSEADDR),
    "SO_LINGER": (socket.SOL_SOCKET, socket.SO_LINGER),
    "SO_RCVBUF": (socket.SOL_SOCKET, socket.SO_RCVBUF),
    "SO_SNDBUF": (socket.SOL_SOCKET, socket.SO_SNDBUF),
    "SO_KEEPALIVE": (socket.SOL_SOCKET, socket.SO_KEEPALIVE),
    "TCP_NODELAY": (socket.IPPROTO_TCP, socket.TCP_NODELAY),
    "TCP_CORK": (socket.IPPROTO_TCP, socket.TCP_CORK),
    "TCP_LINGER2": (socket.IPPROTO_TCP, TCP_LINGER2),
    "TCP_KEEPIDLE": (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
    "TCP_KEEPINTVL": (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
    "TCP_KEEPCNT": (socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
    "TCP_USER_TIMEOUT": (socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),  # ms unacked data may wait; 0: the kernel's default
}

# Bit order is the kernel's (include/uapi/linux/eventpoll.h); decoding walks it low to high.
EPOLL_BITS: dict[str, int] = {
    "EPOLLIN": 0x001,
    "EPOLLPRI": 0x002,
    "EPOLLOUT": 0x004,
    "EPOLLERR": 0x008,
    "EPOLLHUP": 0x010,
    "EPOLLRDNORM": 0x040,
    "EPOLLRDBAND": 0x080,
    "EPOLLWRNORM": 0x100,
    "EPOLLWRBAND": 0x200,
    "EPOLLMSG": 0x400,
    "EPOLLRDHUP": 0x2000,
    "EPOLLEXCLUSIVE": 1 << 28,
    "EPOLLWAKEUP": 1 << 29,
    "EPOLLONESHOT": 1 << 30,
    "EPOLLET": 1 << 31,
}

SHUTDOWN_HOW = {"SHUT_RD": socket.SHUT_RD, "SHUT_WR": socket.SHUT_WR, "SHUT_RDWR": socket.SHUT_RDWR}
EPOLL_OPS = ("ADD", "MOD", "DEL")
FAMILIES = ("AF_INET", "AF_UNSPEC")

TCP_STATES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "NEW_SYN_RECV",
}


def epoll_mask(names: list[str]) -> int:
    mask = 0
    for name in names:
        mask |= EPOLL_BITS[name]
    return mask


def epoll_names(mask: int) -> list[str]:
    return [name for name, bit in EPOLL_BITS.items() if mask & bit]


@dataclass(frozen=True)
class Arg:
    """One argument of a call: its kind decides validation and how the actor reads it."""

    name: str
    kind: str  # "fd", "ep", "new", "int", "str", "names", "choice", "bool", "linger", "sockval", "flags"
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Arg, ...] = field(default_factory=tuple)
    summary: str = ""
    closing: bool = False  # the kernel may send FIN or RST because of it: predicted and judged

    def arg(self, name: str) -> Arg | None:
        return next((a for a in self.args if a.name == name), None)


_FD = Arg("fd", "fd", required=True)

CALLS: dict[str, Call] = {
    c.name: c
    for c in (
        Call("socket", (Arg("as", "new", required=True),), "create a TCP socket"),
        Call(
            "setsockopt",
            (_FD, Arg("option", "choice", required=True, choices=tuple(SOCKOPTS)), Arg("value", "sockval", required=True)),
            "set a socket option",
        ),
        Call("bind", (_FD, Arg("port", "int")), "bind to 127.0.0.1 and the lab port"),
        Call("listen", (_FD, Arg("backlog", "int", 16)), "start listening"),
        Call(
            "connect",
            (
                _FD,
                Arg("port", "int"),
                Arg("nonblocking", "bool", False),
                Arg("family", "choice", "AF_INET", choices=FAMILIES),
            ),
            "connect to the lab port (AF_UNSPEC disconnects)",
        ),
        Call("accept", (_FD, Arg("as", "new", required=True)), "accept a connection"),
        Call("epoll_create", (Arg("as", "new", required=True),), "create an epoll instance"),
        Call(
            "epoll_ctl",
            (
                Arg("ep", "ep", required=True),
                Arg("op", "choice", "ADD", choices=EPOLL_OPS),
                _FD,
                Arg("events", "names", ["EPOLLIN"]),
            ),
            "add, modify or remove an fd in an epoll set",
        ),
        Call(
            "epoll_wait",
            (Arg("ep", "ep", required=True), Arg("timeout_ms", "int", 1000), Arg("maxevents", "int", 10)),
            "wait for epoll events",
        ),
        Call("read", (_FD, Arg("size", "int", 4096)), "read from the socket"),
        Call("write", (_FD, Arg("data", "str"), Arg("size", "int")), "write to the socket"),
        Call(
            "shutdown",
            (_FD, Arg("how", "choice", "SHUT_WR", choices=tuple(SHUTDOWN_HOW))),
            "shut down one or both directions",
            closing=True,
        ),
        Call("close", (_FD,), "close the fd", closing=True),
        Call("exit", (), "the process exits; the kernel closes its fds", closing=True),
        Call("sleep", (Arg("ms", "int", required=True),), "the lab waits (timers, delayed ACKs)"),
        Call(
            "wait",
            (Arg("max_ms", "int", 10_000),),
            "the lab waits until the next pending timer of a lab socket fires (refused if it is due after MAX_MS)",
        ),
        # The relay's wire only (tuiexplore/relay/control.py); the actor names the direction.
        Call(
            "hold",
            (Arg("count", "int"), Arg("flags", "flags", "")),
            "the relay holds the actor's next segment(s): COUNT, or every one until the next release",
        ),
        Call("release", (Arg("packet", "int"),), "the relay delivers the actor's held segments (all, or packet #N)"),
        Call("drop", (Arg("count", "int", 1), Arg("flags", "flags", "")), "the relay drops the actor's next segment(s)"),
        Call("duplicate", (Arg("count", "int", 1), Arg("flags", "flags", "")), "the relay delivers the next segment(s) twice"),
        Call(
            "delay",
            (Arg("ms", "int", required=True), Arg("count", "int", 1), Arg("flags", "flags", "")),
            "the relay delivers the next segment(s) MS later",
        ),
        Call(
            "inject",
            (
                Arg("flags", "flags", required=True),
                Arg("seq", "int"),
                Arg("ack", "int"),
                Arg("absolute", "bool", False),
                Arg("win", "int"),
                Arg("data", "str"),
            ),
            "the scripted peer sends one segment as the actor's side",
        ),
        Call(
            "expect",
            (Arg("flags", "flags", required=True), Arg("seq", "int"), Arg("ack", "int"), Arg("timeout_ms", "int", 1000)),
            "the next segment the actor's side sends must be this one",
        ),
    )
}


INT32 = (-(1 << 31), (1 << 31) - 1)  # the C int the kernel reads for every integer argument here

# The range of each integer argument. Where the kernel takes any int, the bound is the C int;
# a smaller bound is there because the actor allocates or waits that much.
LIMITS: dict[str, tuple[int, int]] = {
    "port": (1, 65535),  # a TCP port; 0 would ask for an ephemeral port, not the lab's
    "backlog": (0, 65535),  # listen() clamps any larger value to net.core.somaxconn anyway
    "size": (1, 16 * 1024 * 1024),  # read()/write() buffers the actor allocates
    "timeout_ms": (-1, 60_000),  # epoll_wait: -1 waits for ever, anything else at most a minute
    "maxevents": (1, 1024),  # the actor allocates maxevents epoll_event slots
    "ms": (0, 60_000),  # sleep, delay
    "max_ms": (1, 120_000),  # wait: TIME_WAIT's 60 s and a FIN_WAIT2 timeout's 60 s fit, with the timer wheel's slack
    "count": (1, 1000),  # segments a wire rule applies to
    "packet": (1, 10_000_000),  # a packet's number in the lab's list
    "seq": (0, (1 << 32) - 1),  # relative to the sender's ISN, or absolute
    "ack": (0, (1 << 32) - 1),
    "win": (0, 65535),  # the header's 16 bits, as sent (before any scaling)
}
LAB_CALLS = ("sleep", "wait")  # performed by the lab itself: they name an actor, but need no process
WIRE_CALLS = ("hold", "release", "drop", "duplicate", "delay", "inject", "expect")  # performed by the relay, not an actor
RECEIVED = ("inject", "release")  # the wire calls that deliver a segment to a socket: predicted (lab/receipt.py)
# setsockopt values: an int (struct linger's two ints for SO_LINGER); these keep the buffer sizes
# and FIN_WAIT2 timers within what the kernel clamps them to rather than wrapping around.
SOCKOPT_LIMITS: dict[str, tuple[int, int]] = {"SO_RCVBUF": (1, 1 << 30), "SO_SNDBUF": (1, 1 << 30), "TCP_LINGER2": (-1, 1 << 20)}
SOCKOPT_DEFAULT_LIMIT = (0, 1 << 30)
LINGER_LIMITS = (INT32, (0, INT32[1]))  # (l_onoff, l_linger in seconds)
MAX_DATA = LIMITS["size"][1]  # a write's data string, in characters


class ArgError(ValueError):
    """An argument no syscall should see; ``field`` names it, str() says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _in(v: Any, lo: int, hi: int) -> bool:
    return _is_int(v) and lo <= v <= hi


def check_value(a: Arg, v: Any, option: Any = None) -> None:
    """Raise :class:`ArgError` unless ``v`` is a value argument ``a`` may pass to the kernel.

    fd names are not checked here: only the scenario validator and the actor know them."""
    fail = lambda msg: ArgError(a.name, msg)  # noqa: E731
    if a.kind == "int":
        if not _is_int(v):
            raise fail(f"must be an integer, not {type(v).__name__}")
        lo, hi = LIMITS.get(a.name, INT32)
        if not lo <= v <= hi:
            raise fail(f"must be from {lo} to {hi}")
    elif a.kind == "str":
        if not isinstance(v, str):
            raise fail(f"must be a string, not {type(v).__name__}")
        if len(v) > MAX_DATA:
            raise fail(f"at most {MAX_DATA} characters")
    elif a.kind == "flags" and not (isinstance(v, str) and all(c in "FSRPUEW." for c in v) and len(v) <= 8):
        raise fail('must be tcpdump flag letters, e.g. "F" or "R." (F S R P U E W .)')
    elif a.kind == "bool" and not isinstance(v, bool):
        raise fail("must be true or false")
    elif a.kind == "choice" and not (isinstance(v, str) and v in a.choices):
        raise fail(f"unknown value {quoted(v)} (expected one of: {', '.join(a.choices)})")
    elif a.kind == "names":
        if not isinstance(v, list) or not v or not all(isinstance(x, str) for x in v):
            raise fail('must be a list of event names, e.g. ["EPOLLIN", "EPOLLRDHUP"]')
        bad = [x for x in v if x not in EPOLL_BITS]
        if bad:
            raise fail(f"unknown event {quoted(bad[0])} (known: {', '.join(EPOLL_BITS)})")
    elif a.kind == "sockval":
        _check_sockval(v, option, fail)


def _check_sockval(v: Any, option: Any, fail: Any) -> None:
    if option == "SO_LINGER":
        (lo1, hi1), (lo2, hi2) = LINGER_LIMITS
        if not (isinstance(v, list) and len(v) == 2 and _in(v[0], lo1, hi1) and _in(v[1], lo2, hi2)):
            raise fail(f"SO_LINGER takes [onoff, seconds], e.g. [1, 0], seconds from {lo2} to {hi2}")
    elif isinstance(option, str) and option in SOCKOPTS:
        lo, hi = SOCKOPT_LIMITS.get(option, SOCKOPT_DEFAULT_LIMIT)
        if not _is_int(v):
            raise fail(f"{option} takes an integer")
        if not lo <= v <= hi:
            raise fail(f"{option} must be from {lo} to {hi}")


def check_args(call: str, args: dict[str, Any]) -> None:
    """Every value argument of a step within the kernel's limits, before any syscall sees it."""
    spec = CALLS.get(call) if isinstance(call, str) else None
    if spec is None:
        raise ArgError("call", f"unknown call (expected one of: {', '.join(CALLS)})")
    for a in spec.args:
        if args.get(a.name) is not None and a.kind not in ("fd", "ep", "new"):
            check_value(a, args[a.name], args.get("option"))


def complete_args(call: str, args: dict[str, Any], port: int) -> dict[str, Any]:
    """The arguments as performed: defaults filled in, the lab's port where none was given,
    every value range-checked (:class:`ArgError`): scenario and manual steps both pass here."""
    spec = CALLS[call]
    full = {a.name: a.default for a in spec.args if a.default is not None}
    full.update({k: v for k, v in args.items() if v is not None})
    if spec.arg("port") is not None and full.get("port") is None:
        full["port"] = port
    check_args(call, full)
    return full


def is_closing(call: str, args: dict[str, Any]) -> bool:
    """Whether the kernel's close/disconnect logic runs for this step (it gets a verdict)."""
    if call == "connect":
        return args.get("family") == "AF_UNSPEC"
    return CALLS[call].closing
