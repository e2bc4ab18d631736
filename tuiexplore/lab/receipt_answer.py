"""What one receive-path function of the kernel does with a segment, for lab/receipt.py to turn
into its Receipt: the leaf that the modules of those functions share (receipt_handshake.py,
receipt_timewait.py), so that none of them imports the predictor that calls it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tuiexplore.lab.seqnum import MOD

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


class Segment(Protocol):
    """The arriving segment, as lab/receipt.py's Arrival has it."""

    @property
    def seq(self) -> int: ...
    @property
    def ack(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def length(self) -> int: ...
    @property
    def tsval(self) -> int | None: ...
    def has(self, bit: int) -> bool: ...


class Receiving(Protocol):
    """The receiver, as lab/receipt.py's Receiver has it."""

    @property
    def state(self) -> str | None: ...
    @property
    def rcv_nxt(self) -> int: ...
    @property
    def rcv_wnd(self) -> int: ...
    @property
    def snd_nxt(self) -> int: ...
    @property
    def oow_recent(self) -> bool: ...
    @property
    def accept_full(self) -> bool: ...
    @property
    def rfc1337(self) -> int: ...
    @property
    def ts_recent(self) -> int | None: ...
    @property
    def listener(self) -> bool: ...
    @property
    def retransmits(self) -> int: ...


@dataclass(frozen=True)
class Answer:
    outcome: str  # what is sent back: "ACK", "RST", "SYN-ACK", "SYN" (its own SYN again), "none"
    branch: str
    state: str  # the state the connection is left in ("" when none is left)
    text: str
    where: str  # the function, for the receipt's path
    reset: str | None = None  # the drop reason an RST carries (6.10+)
    counters: tuple[str, ...] = ()
    errno: str = ""


def where_in_window(seq: int, rcv_nxt: int) -> str:
    off = (seq - rcv_nxt) % MOD
    off = off - MOD if off >= MOD // 2 else off
    return f"seq RCV.NXT{off:+d}"
