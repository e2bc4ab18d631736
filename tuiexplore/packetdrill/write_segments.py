"""A captured segment as a written script's ``<`` or ``>`` line (packetdrill's ``tcp_packet_spec``).

Numbers are in script space, as packetdrill maps them (its ``run_packet.c``): sequence and ACK
numbers and SACK edges relative to each side's ISN, and TCP timestamps counted from
``TS_BASE`` at each sender's first one, per connection. packetdrill maps an outbound TS val
from the first one it sees and an inbound TS ecr back to the live value of the TS val it
echoes, so values counted this way replay the same exchange.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tuiexplore.tcpdump import absolute
from tuiexplore.timeline import PacketEvent

TS_BASE = 100  # a written TS val: its sender's first is 100 (0 stays "no echo" in a SYN's ecr)
_MASK = 0xFFFFFFFF
_SACK_BLOCK = re.compile(r"\{(\d+):(\d+)\}")


@dataclass
class Numbers:
    """Each sender's first TS val, per connection: the origin of the written values."""

    first_ts: dict[tuple[int, int], int] = field(default_factory=dict)

    def ts_val(self, p: PacketEvent, val: int) -> int:
        first = self.first_ts.setdefault((p.sport, p.dport), val)
        return (val - first + TS_BASE) & _MASK

    def ts_ecr(self, p: PacketEvent, ecr: int) -> int:
        if ecr == 0:
            return 0
        first = self.first_ts.setdefault((p.dport, p.sport), ecr)  # the receiver's own TS val, echoed
        return (ecr - first + TS_BASE) & _MASK


def flags(p: PacketEvent) -> str:
    """packetdrill's flags: the letters, then "." for ACK ("-" for none at all)."""
    letters = "".join(c for c in p.flags if c in "FSRPUEW")
    text = letters + ("." if "." in p.flags else "")
    return text or "-"


def options(p: PacketEvent, numbers: Numbers) -> tuple[list[str], list[str]]:
    """The options packetdrill can write, in order, and those it cannot (md5, unknown kinds)."""
    written: list[str] = []
    left_out: list[str] = []
    for item in filter(None, (i.strip() for i in p.options.split(","))):
        text = _option(item, p, numbers)
        (left_out if text is None else written).append(text or item)
    return written, left_out


def _option(item: str, p: PacketEvent, numbers: Numbers) -> str | None:
    words = item.split()
    if item in ("nop", "eol", "sackOK"):
        return item
    if len(words) == 2 and words[0] in ("mss", "wscale") and words[1].isdigit():
        return item
    if len(words) == 5 and words[0] == "TS" and words[1] == "val" and words[3] == "ecr":
        return f"TS val {numbers.ts_val(p, int(words[2]))} ecr {numbers.ts_ecr(p, int(words[4]))}"
    if words[:1] == ["sack"]:
        return _sack(item, p)
    if words == ["tfo", "cookiereq"]:  # tcpdump's TCP Fast Open option: packetdrill's FO
        return "FO"
    if len(words) == 3 and words[:2] == ["tfo", "cookie"]:
        return f"FO {words[2]}"
    return None  # md5, unknown kinds: nothing a script could carry


def _sack(item: str, p: PacketEvent) -> str | None:
    """SACK edges are in the ACK's sequence space; tcpdump prints them absolute."""
    numbers = absolute(p.raw) if p.raw else None
    if numbers is None:
        return None  # no header bytes (a timeline read back from JSON): the ISN is unknown
    isn = (numbers[1] - p.ack) & _MASK
    blocks = [((int(a) - isn) & _MASK, (int(b) - isn) & _MASK) for a, b in _SACK_BLOCK.findall(item)]
    return "sack " + " ".join(f"{a}:{b}" for a, b in blocks) if blocks else None


def segment(p: PacketEvent, inbound: bool, numbers: Numbers) -> tuple[str, list[str]]:
    """The line's text after its time, and the options that could not be written.

    An inbound segment is what the script injects: every field as it was, less the options that
    cannot be written (injected without them). An outbound one is
    what the kernel must send: its window is checked only when it is zero (a closed window is
    what a teardown may hang on; other values follow buffer autotuning), and an option list that
    cannot be written whole is not checked (``<...>``)."""
    parts = ["<" if inbound else ">", flags(p), f"{p.seq}:{p.seq + p.len}({p.len})"]
    if "." in p.flags:
        parts.append(f"ack {p.ack}")
    if inbound or p.win == 0:
        parts.append(f"win {p.win}")
    written, left_out = options(p, numbers)
    if left_out and not inbound:
        parts.append("<...>")
    elif written:
        parts.append(f"<{','.join(written)}>")
    return " ".join(parts), left_out
