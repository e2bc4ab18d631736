"""Each lab socket's walk through the TCP state machine, with the cause of every move.

Fed by the timeline (StateEvent, StepEvent, PacketEvent, VerdictEvent) and recomputed from the
whole list each time, so stepping back (a fresh lab, a shorter timeline) moves the marks back.
A cause is read from the evidence, never from a table of state pairs:

- the first move of a socket in a step where its own actor called on it (or exited) is that
  call's (``close()``, ``shutdown()``, ``connect()``, ``listen()``); a RST sent in that step,
  and the verdict's branch, say why the call aborted (unread data, SO_LINGER 0, TCP_LINGER2 < 0);
- any other move follows the last packet the socket's actor received in the step (``rcv FIN``,
  ``rcv SYN,ACK``, ``rcv RST``), or a RST it sent (``snd RST``), else a timer (``timeout``).

Linux's own departures from RFC 9293's figure: an orphan leaving FIN_WAIT2/TIME_WAIT is traced
as the full socket's X -> CLOSE, then /proc/net/tcp shows a timewait mini-socket carrying on
(``tw``); a reset jumps from any state straight to CLOSE; TCP_LINGER2 < 0 turns close() in
FIN_WAIT2 into a RST.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tuiexplore.reports import relaymarks
from tuiexplore.timeline import DROPPED, HELD, Event, PacketEvent, StateEvent, StepEvent, VerdictEvent

# The calls whose own code path moves a socket (tcp_close_state, tcp_connect, inet_listen, ...).
CALL_MOVES = ("close", "shutdown", "connect", "listen", "exit")
UNDELIVERED = (HELD, DROPPED)
# Why a closing call sent RST, by the verdict's branch id (docs/reference/branches.md).
ABORT_WHY = {
    "data_was_unread": "unread data",
    "linger_zero": "SO_LINGER 0",
    "linger2_abort": "TCP_LINGER2<0",
    "disconnect": "disconnect",
    "listen_stop": "listener closed",
}


@dataclass(frozen=True)
class Move:
    """One transition of one socket: old -> new, and what made the kernel take it."""

    old: str
    new: str
    cause: str
    step: int | None
    t: float
    source: str  # "tracepoint" | "tcp_info"
    timewait: bool = False  # the state is held by a timewait mini-socket, not the full socket


@dataclass(eq=False)
class SocketPath:
    actor: str
    fd: str
    moves: list[Move] = field(default_factory=list)
    state: str = "CLOSE"
    timewait: bool = False

    @property
    def name(self) -> str:
        return f"{self.actor} {self.fd}"

    @property
    def last(self) -> Move | None:
        return self.moves[-1] if self.moves else None

    @property
    def started(self) -> bool:
        return bool(self.moves)

    def path_text(self) -> str:
        """ESTABLISHED ─close(), snd RST→ CLOSE, as in a write-up."""
        if not self.moves:
            return self.state
        out = [self.moves[0].old]
        for m in self.moves:
            out.append(f"{edge_text(m)} {m.new}")
        return " ".join(out)


def edge_text(m: Move) -> str:
    return f"─{m.cause}→"


def flag_name(flags: str) -> str:
    """tcpdump's flag letters as the RFC's words: S. -> SYN,ACK; F. -> FIN; R. -> RST."""
    if "R" in flags:
        return "RST"
    words = [w for letter, w in (("S", "SYN"), ("F", "FIN")) if letter in flags]
    if "." in flags and not words:
        return "ACK"
    if "." in flags and "S" in flags:
        words.append("ACK")
    return ",".join(words) or flags


@dataclass
class _Step:
    call: StepEvent | None = None
    packets: list[tuple[int, PacketEvent]] = field(default_factory=list)
    branch: str = ""
    moved: set[tuple[str, str]] = field(default_factory=set)


def track(events: list[Event]) -> list[SocketPath]:
    """Every socket that has a state, in order of first appearance, with its moves."""
    steps: dict[int, _Step] = {}
    seen: dict[int, PacketEvent] = {}
    for i, e in enumerate(events):
        if isinstance(e, StepEvent):
            steps.setdefault(e.step, _Step()).call = e
            # A segment the relay held arrives when a release delivers it: in that step.
            steps[e.step].packets += [(i, seen[n]) for n in relaymarks.releases([e]) if n in seen]
        elif isinstance(e, PacketEvent) and e.step is not None:
            seen[e.index] = e
            if e.relay not in UNDELIVERED:  # held or dropped: it reached nobody in its step
                steps.setdefault(e.step, _Step()).packets.append((i, e))
        elif isinstance(e, VerdictEvent):
            steps.setdefault(e.step, _Step()).branch = e.branch
    found: list[SocketPath] = []
    sockets: dict[tuple[str, str], SocketPath] = {}
    children: dict[str, list[SocketPath]] = {}  # connections the kernel has, not yet accepted
    for i, e in enumerate(events):
        if isinstance(e, StepEvent) and e.call == "accept" and e.ret is not None and e.ret >= 0:
            _accepted(e, sockets, children)
        if not isinstance(e, StateEvent) or e.actor == "?" or e.old == e.new:
            continue
        sock = _socket_of(e, sockets, children)
        if sock not in found:
            found.append(sock)
        if sock.started and (sock.state == e.new or (e.source == "tcp_info" and e.old != sock.state)):
            continue  # a poll of /proc/net/tcp seeing again, or late, what a tracepoint showed
        st = steps.get(e.step) if e.step is not None else None
        _apply(sock, e, _cause(sock, e, i, st))
    return found


def _socket_of(e: StateEvent, sockets: dict[tuple[str, str], SocketPath], children: dict[str, list[SocketPath]]) -> SocketPath:
    if e.fd != "?":
        return sockets.setdefault((e.actor, e.fd), SocketPath(e.actor, e.fd))
    pending = children.setdefault(e.actor, [])
    for child in pending:
        if child.state == e.old:
            return child
    child = SocketPath(e.actor, "(not accepted)")
    pending.append(child)
    return child


def _accepted(e: StepEvent, sockets: dict[tuple[str, str], SocketPath], children: dict[str, list[SocketPath]]) -> None:
    """accept() hands the oldest established child over under the name the step gave it."""
    pending = children.get(e.actor, [])
    child = next((c for c in pending if c.state == "ESTABLISHED"), None)
    name = e.result.get("fd")
    if child is None or not name:
        return
    pending.remove(child)
    child.fd = name
    sockets[(e.actor, name)] = child


def _cause(sock: SocketPath, e: StateEvent, index: int, st: _Step | None) -> str:
    if st is None:
        return "timeout"
    key = (sock.actor, sock.fd)
    call = st.call
    own = (
        call is not None
        and call.actor == e.actor
        and call.call in CALL_MOVES
        and (call.call == "exit" or call.args.get("fd") == sock.fd)
    )
    sent_rst = any("R" in p.flags and p.src == e.actor for _, p in st.packets)
    if own and call is not None and key not in st.moved:
        st.moved.add(key)
        text = f"{call.call}()"
        if e.new == "CLOSE" and sent_rst and e.old != "LISTEN":  # a listener's RSTs are its children's
            why = ABORT_WHY.get(st.branch)
            return f"{text} {why}: snd RST" if why else f"{text}, snd RST"
        return text
    st.moved.add(key)
    if e.new == "CLOSE":
        if any("R" in p.flags and p.dst == e.actor for _, p in st.packets):
            return "rcv RST"
        if sent_rst:
            return "snd RST"
    received = _received_before(e, index, st)
    return f"rcv {flag_name(received.flags)}" if received is not None else "timeout"


def _received_before(e: StateEvent, index: int, st: _Step) -> PacketEvent | None:
    """The last packet the actor received before this move (any of the step's, if the move was
    stamped before its packet: a tracepoint can overtake the frame that caused it)."""
    mine = [(i, p) for i, p in st.packets if p.dst == e.actor]
    before = [p for i, p in mine if i < index]
    if before:
        return before[-1]
    return mine[0][1] if mine else None


def _apply(sock: SocketPath, e: StateEvent, cause: str) -> None:
    last = sock.last
    if e.old == "CLOSE" and e.new in ("FIN_WAIT2", "TIME_WAIT") and last is not None and last.new == "CLOSE":
        # tcp_time_wait() traced the full socket's X -> CLOSE; a mini-socket carries the state on.
        sock.moves.pop()
        before = sock.last
        if last.old == e.new and before is not None and before.new == e.new:
            sock.moves[-1] = Move(before.old, e.new, f"{before.cause}, tw sock", before.step, before.t, before.source, True)
        else:
            sock.moves.append(Move(last.old, e.new, f"{last.cause}, tw sock", last.step, last.t, e.source, True))
        sock.state, sock.timewait = e.new, True
        return
    sock.timewait = sock.timewait and e.new != "CLOSE"
    sock.moves.append(Move(e.old, e.new, cause, e.step, e.t, e.source, timewait=sock.timewait))
    sock.state = e.new
