"""Connections from packets: one summary per TCP 4-tuple, with bounded memory.

Each connection keeps counters for every packet but only the last ``RING`` packets themselves;
the tracker keeps the last ``OVERALL`` packets across connections. Closed connections are kept
(with their ring) up to ``MAX_CLOSED``, then aged out oldest first and counted; open ones beyond
``MAX_OPEN`` go the same way (least recently active first).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tuiexplore.lab.tracepoints import TraceEvent
from tuiexplore.watch.packet import ACK, FIN, RST, SYN, Pkt, endpoint

RING = 64
OVERALL = 5000
MAX_CLOSED = 2000
MAX_OPEN = 20000
SYN_TIMEOUT = 3.0  # seconds of capture time without an answer to a SYN
# A connection closed by FIN/FIN waits this long (capture time) before it is reported: some peers
# reset it right after the graceful close, and that RST belongs in its report (rst_by).
LATE_RST_S = 1.0
_MASK = 0xFFFFFFFF

Ep = tuple[str, int]


def seq_after(a: int, b: int) -> bool:
    """a is at or after b in sequence space (RFC 1982 style, as the kernel's after())."""
    return (a - b) & _MASK < 0x80000000


CONNECT_TO_SYN_S = 0.25  # a connect()'s tracepoint and its SYN, at most this far apart


@dataclass(slots=True)
class Side:
    """What one endpoint sent, as far as the wire shows."""

    packets: int = 0
    bytes: int = 0
    isn: int | None = None
    syn_ts: float | None = None
    fin_ts: float | None = None
    fin_end: int = 0  # sequence number right after our FIN
    fin_acked: bool = False
    rst: Pkt | None = None
    # bytes the peer sent after our last data segment: an active RST with some of them pending
    # is the wire's sign of close() with unread data
    received_since_sent: int = 0
    received_after_fin: int = 0  # the peer's data after our FIN (half-close, or a reset to come)
    acked_after_fin: bool = False  # we ACKed the peer's data after our FIN: we only shut down
    pid: int | None = None
    process: str | None = None


@dataclass(slots=True)
class Conn:
    id: int
    client: Ep
    server: Ep
    client_known: bool  # the SYN was seen; otherwise the lower port is taken for the server
    first: float
    last: float
    sides: tuple[Side, Side] = field(default_factory=lambda: (Side(), Side()))
    ring: deque = field(default_factory=lambda: deque(maxlen=RING))  # (index, direction, Pkt)
    events: deque = field(default_factory=lambda: deque(maxlen=64))  # (ts, source, text)
    kernel: list[TraceEvent] = field(default_factory=list)
    synack: bool = False
    closed_at: float | None = None
    fin_fin: bool = False  # closed by both FINs ACKed, not by an RST (one may still come)
    held: bool = False  # kept for a late RST (Tracker.hold)
    final: bool = False
    end: object = None  # classify.End, set when the connection closes on the wire

    @property
    def packets(self) -> int:
        return self.sides[0].packets + self.sides[1].packets

    def side_of(self, ep: Ep) -> int | None:
        return 0 if ep == self.client else (1 if ep == self.server else None)

    def name(self, d: int) -> str:
        return "client" if d == 0 else "server"

    def ep(self, d: int) -> str:
        return endpoint(*(self.client if d == 0 else self.server))

    def rel(self, d: int, p: Pkt) -> tuple[int, int]:
        """tcpdump's relative seq and ack for a packet sent by side d."""
        me, peer = self.sides[d].isn, self.sides[1 - d].isn
        return (p.seq - (me if me is not None else p.seq)) & _MASK, (p.ack - (peer if peer is not None else p.ack)) & _MASK

    def state(self) -> str:
        c, s = self.sides
        if self.end is not None:
            return "CLOSED"
        if not self.synack and c.syn_ts is not None:
            return "SYN_SENT"
        if c.fin_ts is None and s.fin_ts is None:
            return "ESTABLISHED"
        if c.fin_ts is not None and s.fin_ts is not None:
            return "CLOSING"
        return "CLIENT_FIN" if c.fin_ts is not None else "SERVER_FIN"


class Tracker:
    def __init__(
        self,
        classify: Callable[[Conn], object],
        on_final: Callable[[Conn], None] | None = None,
        on_kernel: Callable[[Conn, TraceEvent], None] | None = None,
    ) -> None:
        self.classify = classify
        self.on_final = on_final or (lambda c: None)
        self.on_kernel = on_kernel or (lambda c, e: None)
        self.open: OrderedDict[tuple, Conn] = OrderedDict()  # key -> conn, least recently active first
        self.closed: OrderedDict[int, Conn] = OrderedDict()
        self.overall: deque = deque(maxlen=OVERALL)
        self.index = 0
        self.aged_out = 0
        self.finished = 0
        self._ids = 0
        self._pending: dict[tuple, list[TraceEvent]] = {}
        self._recent: dict[tuple, Conn] = {}  # finalized, still kept: late ACKs and RSTs join them
        # connect()'s CLOSE -> SYN_SENT comes before the source port is chosen (sport 0): it is
        # matched to a SYN towards that server from the same address, whichever is seen first
        self._connecting: dict[Ep, deque] = {}
        self._syns: dict[Ep, deque] = {}  # server -> connections recently opened towards it
        # what tick() looks at, so it does not walk every open connection ten times a second
        self._closing: dict[int, Conn] = {}
        self._unanswered: dict[int, Conn] = {}
        self.now = 0.0
        self.late_rst_s = LATE_RST_S  # 0 where no time passes between packets (a pipe, read as it comes)
        # FIN/FIN connections of a capture read whole, kept for a late RST: (deadline, conn) in the
        # order they closed, finalized as the capture's own time passes their deadline
        self.held: deque[tuple[float, Conn]] = deque()
        self.version = 0  # bumped on every change, so a view can skip redraws

    @property
    def created(self) -> int:
        return self._ids

    def conns(self) -> list[Conn]:
        return [*self.closed.values(), *self.open.values()]

    def lookup(self, a: Ep, b: Ep) -> Conn | None:
        return self.open.get((a, b)) or self.open.get((b, a))

    def _late(self, a: Ep, b: Ep) -> Conn | None:
        return self._recent.get((a, b)) or self._recent.get((b, a))

    def add(self, p: Pkt) -> Conn:
        self.index += 1
        if p.ts > self.now:
            self.now = p.ts
        src, dst = (p.src, p.sport), (p.dst, p.dport)
        conn = self.open.get((src, dst)) or self.open.get((dst, src))  # lookup(), without a call a packet
        syn_only = p.bits & (SYN | ACK) == SYN
        if conn is not None and syn_only and conn.closed_at is not None:
            self.finalize(conn)  # a new connection on a reused 4-tuple
            conn = None
        if conn is None and not syn_only:
            conn = self._late(src, dst)
        if conn is None:
            conn = self._new(p, src, dst, syn_only)
        elif not conn.final:
            self.open.move_to_end((conn.client, conn.server))
        d = 0 if src == conn.client else 1
        conn.last = p.ts
        conn.ring.append((self.index, d, p))
        self.overall.append((self.index, conn.id, d, p))
        self._update(conn, d, p)
        self.version += 1
        return conn

    def _new(self, p: Pkt, src: Ep, dst: Ep, syn_only: bool) -> Conn:
        if syn_only:
            client, server, known = src, dst, True
        elif p.bits & (SYN | ACK) == SYN | ACK:
            client, server, known = dst, src, True
        else:  # joined mid-stream: servers usually have the lower port
            client, server = (src, dst) if p.sport > p.dport else (dst, src)
            known = False
        self._ids += 1
        conn = Conn(self._ids, client, server, known, p.ts, p.ts)
        self.open[(client, server)] = conn
        if syn_only:
            self._unanswered[conn.id] = conn
        events = [ev for key in ((client, server), (server, client)) for ev in self._pending.pop(key, [])]
        waiting = self._connecting.get(server)
        # connect() fires CLOSE -> SYN_SENT microseconds before its SYN (both kernel clocks): an
        # older one is not this SYN's (a connect() in another namespace whose SYN we never see)
        while waiting and waiting[0].ts < p.ts - CONNECT_TO_SYN_S:
            waiting.popleft()
        if syn_only and waiting:
            events.insert(0, waiting.popleft())
        elif syn_only:
            self._syns.setdefault(server, deque(maxlen=64)).append(conn)
            if len(self._syns) > 1000:
                self._syns.pop(next(iter(self._syns)))
        for ev in events:
            conn.kernel.append(ev)
            self.on_kernel(conn, ev)
        if len(self.open) > MAX_OPEN:
            _, oldest = self.open.popitem(last=False)
            self._closing.pop(oldest.id, None)
            self._unanswered.pop(oldest.id, None)
            self.aged_out += 1
        return conn

    def _update(self, conn: Conn, d: int, p: Pkt) -> None:
        me, peer = conn.sides[d], conn.sides[1 - d]
        bits, length = p.bits, p.length
        me.packets += 1
        me.bytes += length
        if bits & SYN:
            if me.isn is None:
                me.isn = p.seq
            if me.syn_ts is None:
                me.syn_ts = p.ts
                conn.events.append((p.ts, "wire", f"{conn.name(d)} SYN" + ("-ACK" if bits & ACK else "")))
            if bits & ACK:
                conn.synack = True
                self._unanswered.pop(conn.id, None)
        if length:
            me.received_since_sent = 0
            peer.received_since_sent += length
            if peer.fin_ts is not None:
                peer.received_after_fin += length
        if bits & ACK and peer.fin_ts is not None:
            if not peer.fin_acked and seq_after(p.ack, peer.fin_end):
                peer.fin_acked = True
            if me.fin_ts is not None and me.received_after_fin and not bits & RST:
                me.acked_after_fin = True
        if bits & FIN and me.fin_ts is None:
            me.fin_ts = p.ts
            me.fin_end = (p.seq + length + 1) & _MASK
            conn.events.append((p.ts, "wire", f"{conn.name(d)} FIN"))
        if bits & RST and me.rst is None:
            me.rst = p
            conn.events.append((p.ts, "wire", f"{conn.name(d)} RST [{p.flags}] win {p.win}"))
        c, s = conn.sides
        closed = bool(bits & RST) or (c.fin_ts is not None and s.fin_ts is not None and c.fin_acked and s.fin_acked)
        if closed and not conn.final:
            if conn.closed_at is None:
                conn.closed_at = p.ts
                conn.fin_fin = not p.bits & RST
                self._closing[conn.id] = conn
            conn.end = self.classify(conn)
        elif conn.final and me.rst is p:  # a late first RST: the row shows it (its report went out)
            conn.end = self.classify(conn)

    def add_kernel(self, ev: TraceEvent, local: Ep, remote: Ep) -> Conn | None:
        if local[1] == 0:
            for conn in self._syns.get(remote, ()):
                if conn.client[0] == local[0] and abs((conn.sides[0].syn_ts or 0) - ev.ts) < CONNECT_TO_SYN_S:
                    self._syns[remote].remove(conn)
                    conn.kernel.append(ev)
                    self.on_kernel(conn, ev)
                    return conn
            self._connecting.setdefault(remote, deque(maxlen=64)).append(ev)
            if len(self._connecting) > 1000:
                self._connecting.pop(next(iter(self._connecting)))
            return None
        conn = self.lookup(local, remote) or self._late(local, remote)
        if conn is None:
            # a tracepoint may be read before its packet (connect() runs before the SYN is captured)
            self._pending.setdefault((local, remote), []).append(ev)
            if len(self._pending) > 1000:
                self._pending.pop(next(iter(self._pending)))
            return None
        conn.kernel.append(ev)
        self.on_kernel(conn, ev)
        if len(conn.kernel) > 64:
            del conn.kernel[:16]
        if conn.closed_at is not None and not conn.final:
            conn.end = self.classify(conn)
        self.version += 1
        return conn

    def tick(self, now: float, settle: float) -> None:
        """Finalize connections closed ``settle`` seconds ago, and SYNs left unanswered."""
        for conn in list(self._closing.values()):
            if conn.closed_at is not None and now - conn.closed_at >= (max(settle, self.late_rst_s) if conn.fin_fin else settle):
                self.finalize(conn)
        for conn in list(self._unanswered.values()):
            if conn.closed_at is None and now - conn.last >= SYN_TIMEOUT:
                conn.closed_at = conn.last
                conn.end = self.classify(conn)
                self.finalize(conn)

    def hold(self, conn: Conn) -> None:
        """Keep a FIN/FIN connection open for ``late_rst_s`` of capture time (a late RST is its rst_by)."""
        if not conn.held:
            conn.held = True
            self.held.append(((conn.closed_at or self.now) + self.late_rst_s, conn))

    def release(self, now: float) -> None:
        """Finalize the held connections whose late-RST window ended by ``now`` (capture time)."""
        while self.held and self.held[0][0] <= now:
            self.finalize(self.held.popleft()[1])

    def finalize(self, conn: Conn) -> None:
        if conn.final:
            return
        self.open.pop((conn.client, conn.server), None)
        self._closing.pop(conn.id, None)
        self._unanswered.pop(conn.id, None)
        if conn.end is None:
            conn.end = self.classify(conn)
        conn.final = True
        self.finished += 1
        self.closed[conn.id] = conn
        self._recent[(conn.client, conn.server)] = conn
        while len(self.closed) > MAX_CLOSED:
            _, old = self.closed.popitem(last=False)
            if self._recent.get((old.client, old.server)) is old:
                del self._recent[(old.client, old.server)]
            self.aged_out += 1
        self.version += 1
        self.on_final(conn)

    def finish_all(self) -> None:
        """End of capture: closed connections are final; open ones are reported as still open."""
        for conn in list(self.open.values()):
            self.finalize(conn)
