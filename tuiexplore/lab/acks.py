"""Which receivers still owe an ACK, read from the wire.

The kernel does not say when a socket's delayed-ACK timer is armed: /proc/net/tcp reports the
retransmit, zero-window probe, keepalive and TIME_WAIT timers (get_tcp4_sock), never
ICSK_TIME_DACK, and tcp_info has the timeout (tcpi_ato) but not whether it runs. The wire does:
a segment that takes sequence space (data, SYN, FIN) must be answered, at once or within the
delayed-ACK timeout (TCP_DELACK_MAX, 200 ms), and until its receiver sends something after it,
an answer is still to come. A late answer belongs to the step whose segment it answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuiexplore.lab.capture import Frame

SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10
Flow = tuple[str, int, str, int]


@dataclass
class _Sent:
    ts: float  # when the last segment taking sequence space went out
    end: int  # the sequence number just after it
    step: int | None  # the step it belongs to


class Acks:
    def __init__(self) -> None:
        self.sent: dict[Flow, _Sent] = {}  # each direction's last segment taking sequence space
        self.last: dict[Flow, float] = {}  # when each direction last sent anything
        self.owed: dict[Flow, float] = {}  # directions whose receiver has not spoken since their segment
        self.unacked: set[Flow] = set()  # directions whose last segment is not acked yet
        self.shut: set[Flow] = set()  # directions whose receiver offers a zero window

    def frame(self, f: Frame, step: int | None, delivered: bool = True) -> int | None:
        """Record one frame seen in ``step``; returns the step it belongs to: that of the segment
        it answers when it is a pure ACK that came after its step had ended, else ``step``.
        ``delivered`` False: the wire withheld it (the relay's hold, drop, delay): its receiver
        owes nothing for it until ``delivered`` says it arrived."""
        flow, back = (f.saddr, f.sport, f.daddr, f.dport), (f.daddr, f.dport, f.saddr, f.sport)
        owner = step
        waiting = self.sent.get(back)
        if (
            waiting is not None
            and waiting.step != step
            and back in self.owed
            and f.flag_bits == ACK
            and not f.payload_len
            and _after_or_at(f.ack, waiting.end)
        ):
            owner = waiting.step
        self.owed.pop(back, None)  # its receiver (the sender of this frame) has spoken
        if f.flag_bits & ACK and waiting is not None and _after_or_at(f.ack, waiting.end):
            self.unacked.discard(back)
        (self.shut.add if f.win == 0 else self.shut.discard)(back)
        if f.flag_bits & RST:
            if delivered:
                self._reset(flow, back)
        elif used := f.payload_len + bool(f.flag_bits & SYN) + bool(f.flag_bits & FIN):
            self.sent[flow] = _Sent(f.ts, (f.seq + used) & 0xFFFFFFFF, owner)
            if delivered:
                self.owed[flow] = f.ts
            self.unacked.add(flow)
        self.last[flow] = f.ts
        return owner

    def delivered(self, f: Frame, ts: float, step: int | None) -> None:
        """A withheld frame reached its receiver at ``ts``, in ``step`` (released, or its delay
        over): from then it owes the answer, which belongs to that step."""
        flow, back = (f.saddr, f.sport, f.daddr, f.dport), (f.daddr, f.dport, f.saddr, f.sport)
        if f.flag_bits & RST:
            self._reset(flow, back)
        elif used := f.payload_len + bool(f.flag_bits & SYN) + bool(f.flag_bits & FIN):
            end, last = (f.seq + used) & 0xFFFFFFFF, self.sent.get(flow)
            if last is None or _after_or_at(end, last.end):  # not an older one released out of order
                self.sent[flow] = _Sent(ts, end, step)
            self.owed[flow] = ts

    def _reset(self, flow: Flow, back: Flow) -> None:
        """A reset connection owes nothing either way."""
        for x in (flow, back):
            self.owed.pop(x, None)
            self.unacked.discard(x)
            self.shut.discard(x)

    def owed_since(self) -> float | None:
        """When the oldest segment still unanswered went out (None: every receiver has spoken
        since what it was sent)."""
        return min(self.owed.values(), default=None)

    def outstanding(self) -> list[Flow]:
        """The senders whose data is not all acked, or whose receiver offers no window: only
        these can have a retransmit or zero-window probe timer armed."""
        return sorted(self.unacked | self.shut)

    def ends(self) -> list[Flow]:
        """Every socket that sent a frame: (local address, port, remote address, port)."""
        return list(self.last)


def _after_or_at(a: int, b: int) -> bool:
    """Sequence-space comparison (RFC 1982 arithmetic on 32 bits)."""
    return ((a - b) & 0xFFFFFFFF) < 1 << 31
