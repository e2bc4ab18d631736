"""What the manual keys and the command palette's calls mean, from what an actor holds.

No Textual here: the key table and the palette's entries are plain data, unit-tested without a
screen (tests/test_keys.py); ``app.py`` binds them and ``commands.py`` offers them.
"""

from __future__ import annotations

from typing import Any

from tuiexplore.session import FdModel

# Manual keys: (actor, call, description); arguments are filled from what the actor holds.
CLIENT_KEYS = [
    ("k", "socket", "socket"),
    ("c", "connect", "connect"),
    ("e", "read", "read"),
    ("w", "write", "write"),
    ("h", "shutdown", "shutdown"),
    ("l", "linger0", "SO_LINGER 0"),
    ("x", "close", "close"),
    ("z", "exit", "exit"),
]
SERVER_KEYS = [
    ("A", "accept", "accept"),
    ("E", "epoll_wait", "epoll_wait"),
    ("R", "read", "read"),
    ("W", "write", "write"),
    ("X", "close", "close"),
]


def manual_args(actor: str, call: str, m: FdModel) -> tuple[str, dict[str, Any]] | None:
    """The real call and its arguments for a manual key, or None when it makes no sense now."""
    conn = m.conn()
    if m.exited:
        return None
    if call == "socket":
        return "socket", {"as": m.fresh_name("sock")}
    if call == "connect":
        target = next((s for s in reversed(m.sockets) if s not in m.connected and s not in m.listeners), None)
        return ("connect", {"fd": target}) if target else None
    if call == "accept":
        lst = next(iter(sorted(m.listeners)), None)
        return ("accept", {"fd": lst, "as": m.fresh_name("conn")}) if lst else None
    if call == "epoll_wait":
        ep = m.latest("epoll")
        return ("epoll_wait", {"ep": ep, "timeout_ms": 0}) if ep else None
    if call == "exit":
        return "exit", {}
    if conn is None:
        return None
    if call in ("read", "write", "shutdown") and conn not in m.connected:
        return None
    simple: dict[str, tuple[str, dict[str, Any]]] = {
        "read": ("read", {"fd": conn}),
        "write": ("write", {"fd": conn, "data": "1" if actor == "server" else "x"}),
        "shutdown": ("shutdown", {"fd": conn, "how": "SHUT_WR"}),
        "linger0": ("setsockopt", {"fd": conn, "option": "SO_LINGER", "value": [1, 0]}),
        "close": ("close", {"fd": conn}),
    }
    return simple.get(call)


# On the relay's wire: what it can do to this actor's next segments, and the scripted peer.
WIRE_ENTRIES: list[tuple[str, str, dict[str, Any]]] = [
    ("hold FINs until release", "hold", {"flags": "F"}),
    ("hold the next segment", "hold", {"count": 1}),
    ("release what is held", "release", {}),
    ("drop the next FIN", "drop", {"flags": "F"}),
    ("drop the next segment", "drop", {}),
    ("duplicate the next segment", "duplicate", {}),
    ("delay the next segment 300 ms", "delay", {"ms": 300}),
    ("inject an RST (seq = RCV.NXT)", "inject", {"flags": "R"}),
    ("inject a FIN", "inject", {"flags": "F."}),
]


def palette_calls(actor: str, m: FdModel, wire: str = "loopback") -> list[tuple[str, str, dict[str, Any]]]:
    """Every call this actor could make now, with sensible arguments, for the command palette."""
    out: list[tuple[str, str, dict[str, Any]]] = [
        ("socket()", "socket", {"as": m.fresh_name("sock")}),
        ("epoll_create()", "epoll_create", {"as": m.fresh_name("ep")}),
        ("exit()", "exit", {}),
        ("sleep 200 ms", "sleep", {"ms": 200}),
    ]
    if wire == "relay":
        out += [(f"relay: {title}", call, args) for title, call, args in WIRE_ENTRIES]
    for fd in m.sockets:
        out += [
            (f"bind({fd})", "bind", {"fd": fd}),
            (f"listen({fd})", "listen", {"fd": fd}),
            (f"connect({fd})", "connect", {"fd": fd}),
            (f"connect({fd}, nonblocking)", "connect", {"fd": fd, "nonblocking": True}),
            (f"connect({fd}, AF_UNSPEC) — disconnect", "connect", {"fd": fd, "family": "AF_UNSPEC"}),
            (f"accept({fd})", "accept", {"fd": fd, "as": m.fresh_name("conn")}),
            (f"read({fd})", "read", {"fd": fd}),
            (f"read({fd}, 1 byte)", "read", {"fd": fd, "size": 1}),
            (f'write({fd}, "hello")', "write", {"fd": fd, "data": "hello"}),
            (f"write({fd}, 100000 bytes)", "write", {"fd": fd, "size": 100000}),
            (f"close({fd})", "close", {"fd": fd}),
        ]
        out += [(f"shutdown({fd}, {how})", "shutdown", {"fd": fd, "how": how}) for how in ("SHUT_RD", "SHUT_WR", "SHUT_RDWR")]
        out += [
            (f"setsockopt({fd}, SO_LINGER, {v})", "setsockopt", {"fd": fd, "option": "SO_LINGER", "value": v})
            for v in ([1, 0], [1, 1], [1, 5], [0, 0])
        ]
        out += [
            (f"setsockopt({fd}, TCP_LINGER2, -1)", "setsockopt", {"fd": fd, "option": "TCP_LINGER2", "value": -1}),
            (f"setsockopt({fd}, SO_RCVBUF, 4096)", "setsockopt", {"fd": fd, "option": "SO_RCVBUF", "value": 4096}),
            (f"setsockopt({fd}, SO_REUSEADDR, 1)", "setsockopt", {"fd": fd, "option": "SO_REUSEADDR", "value": 1}),
        ]
        for opt in ("TCP_NODELAY", "SO_KEEPALIVE"):
            out.append((f"setsockopt({fd}, {opt}, 1)", "setsockopt", {"fd": fd, "option": opt, "value": 1}))
    for ep in m.epolls:
        out += [
            (f"epoll_wait({ep})", "epoll_wait", {"ep": ep, "timeout_ms": 0}),
            (f"epoll_wait({ep}, 1 s)", "epoll_wait", {"ep": ep, "timeout_ms": 1000}),
        ]
        out += [
            (
                f"epoll_ctl({ep}, ADD, {fd}, IN|OUT|RDHUP|HUP)",
                "epoll_ctl",
                {"ep": ep, "op": "ADD", "fd": fd, "events": ["EPOLLIN", "EPOLLOUT", "EPOLLRDHUP", "EPOLLHUP"]},
            )
            for fd in m.sockets
        ]
    return out
