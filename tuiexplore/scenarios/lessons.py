"""The quiz's lesson order (``tuiexplore quiz``): the built-ins from the seed to the hardest
cases, each with a one-line intro. An intro sets the scene and never gives the answer away (a
built-in's title often does, so the quiz shows the intro in its place)."""

from __future__ import annotations

from dataclasses import replace

from tuiexplore.scenarios.scenario import Scenario, load

LESSONS: tuple[tuple[str, str], ...] = (
    ("seed-rst", "The seed: the server writes one byte; the client closes without reading it."),
    ("read-then-close", "The server writes one byte; the client reads it, then closes."),
    ("clean-close", "Both sides close in turn; nothing is left unread anywhere."),
    ("half-close", "The client shuts down its sending side first; data still flows to it."),
    ("linger-zero", "The client sets SO_LINGER to on with a timeout of 0 s, then closes."),
    ("exit-with-unread", "The client never calls close(): it exits with a byte unread."),
    ("connect-refused", "The client connects to a port nobody listens on, then closes the socket."),
    ("listener-close-pending", "A connection waits in the accept queue; the server closes the listener."),
    ("exit-both-ends", "One process holds both ends of a connection, and exits."),
    ("fin-on-data", "The peer's last data and its FIN arrive together; then each side closes."),
    ("write-after-peer-close", "The client has closed; the server keeps writing, then closes."),
    ("peer-reset-then-write", "The client closes with SO_LINGER set; then the server writes, twice."),
    ("disconnect", "connect() with AF_UNSPEC on an established socket: a disconnect, not a close."),
    ("sleep-after-exit", "The client exits; its socket lives on as an orphan while the lab waits."),
    ("linger2-negative", "TCP_LINGER2 is -1; the client half-closes, then closes."),
    ("listener-close-reset-child", "The only pending connection was reset before the listener closes."),
    ("zero-window-close", "The client's send queue is stuck behind a zero window when it closes."),
    ("fin-full-window", "Nothing is unsent, but the peer's window is exactly full when the client closes."),
    ("window-reopen-close", "A FIN held back by a full window; then the window reopens."),
    # The relay's wire: what loopback never does (a segment held, lost, or sent by a scripted peer).
    ("lost-fin", "On a wire that loses segments, the client's FIN is dropped on its way."),
    ("crossing-fins", "The client's FIN is held on the wire while the server closes too."),
    ("rst-in-window", "A scripted peer sends RSTs, one with a sequence number off by one, then the client closes."),
    ("close-no-rst", "Data the server already read arrives again, with a FIN; then the server closes."),
    # Timers: the lab waits for the kernel's own (short lab sysctls, a socket option).
    ("fin-wait2-timeout", "The client closes; the server does not, for longer than the client's FIN_WAIT2 timeout."),
    ("keepalive-abort", "Keepalive is on, and the server falls silent on the wire."),
    ("user-timeout-abort", "TCP_USER_TIMEOUT is 1000 ms, and the client's data never arrives."),
    ("data-after-close", "The server has closed; a scripted client keeps writing to it."),
    ("timewait-segments", "The server's socket waits in TIME_WAIT; late data, then a new SYN, arrive."),
    ("reset-loses-response", "The server answers a request without reading its body, and closes; the wire is slow."),
)


def names() -> list[str]:
    return [name for name, _ in LESSONS]


def lesson(name: str) -> Scenario:
    """The built-in as the quiz plays it: titled by its lesson's intro."""
    number = names().index(name) + 1
    intro = dict(LESSONS)[name]
    return replace(load(name), title=f"lesson {number}/{len(LESSONS)}: {intro}")
