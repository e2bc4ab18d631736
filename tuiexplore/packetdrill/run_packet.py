"""The script's packets (packetdrill's ``run_packet.c``): ``<`` lines built into live segments,
``>`` lines checked against what the kernel sent.

Sequence numbers in a script are relative to each side's ISN: the kernel's is learned from the
first SYN it sends on a connection, the remote's is the peer's own. Timestamps the same way:
an injected TS val is sent as written, and its ecr is the script's ecr moved by the offset the
kernel's first TS val showed, so the kernel's per-connection random offset never reaches the
script. An outbound TS val is checked only when ``--tcp_ts_tick_usecs`` says how fast it ticks.
"""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass, replace

from .ippacket import ACK_BIT, MOD, Live, flag_bits
from .netdev import Addresses
from .script import TcpOption, TcpPacket

SYN_BIT = 0x02
DEFAULT_PORT = 8080  # packetdrill's: bind(..., ...) and connect(..., ...) mean this port


@dataclass
class Connection:
    local_port: int = DEFAULT_PORT
    remote_port: int = 0
    local_isn: int | None = None
    remote_isn: int = 0
    ts_offset: int | None = None  # the kernel's TS val minus the script's


class PacketError(Exception):
    """An outbound packet that is not the script's: packetdrill's "error handling packet"."""


def show(p: TcpPacket) -> str:
    """A script packet, in the script's own words."""
    text = f"{p.flags or '-'} {p.start_seq}:{p.end_seq}({p.payload})"
    if p.ack is not None:
        text += f" ack {p.ack}"
    if p.win is not None:
        text += f" win {p.win}"
    if p.options is None:
        return text + " <...>"
    return text + (f" <{options_text(p.options)}>" if p.options else "")


def options_text(options: tuple[TcpOption, ...]) -> str:
    out = []
    for o in options:
        if o.kind in ("mss", "wscale"):
            out.append(f"{o.kind} {o.value}")
        elif o.kind == "TS":
            out.append(f"TS val {o.val} ecr {o.ecr}")
        elif o.kind == "sack":
            out.append("sack " + " ".join(f"{a}:{b}" for a, b in o.blocks))
        elif o.cookie is not None:
            out.append(f"{o.kind} {o.cookie}".rstrip())
        else:
            out.append(o.kind)
    return ",".join(out)


class Packets:
    def __init__(self, addrs: Addresses, tick_usecs: int | None, tolerance_usecs: int) -> None:
        self.addrs = addrs
        self.conn = Connection(remote_port=random.randint(32768, 60999), remote_isn=random.getrandbits(32))
        self.tick_usecs = tick_usecs
        self.tolerance_usecs = tolerance_usecs

    # -- relative numbers, both ways

    def relative(self, live: Live) -> TcpPacket:
        """A live segment from the kernel in the script's numbers."""
        c = self.conn
        seq = (live.seq - (c.local_isn or 0)) % MOD
        ack = (live.ack - c.remote_isn) % MOD if live.bits & ACK_BIT else None
        opts = tuple(
            replace(o, val=(o.val or 0) - (c.ts_offset or 0)) if o.kind == "TS" and c.ts_offset is not None else o
            for o in live.options
        )
        return TcpPacket(False, live.flags, seq, live.payload, ack, live.win, None, opts)

    def inject(self, p: TcpPacket) -> Live:
        """The segment a ``<`` line sends."""
        c = self.conn
        bits = flag_bits(p.flags)
        if bits & SYN_BIT and not bits & ACK_BIT and c.local_isn is not None and c.local_port == DEFAULT_PORT:
            c.local_isn = None  # a new connection to the listener: its SYN-ACK brings a new ISN
        ack = 0
        if p.ack is not None:
            ack = (p.ack + (c.local_isn or 0)) % MOD
        opts = tuple(self._live_option(o) for o in (p.options or ()))
        win = 65535 if p.win is None else p.win  # packetdrill's htons(-1) for a window not given
        a = self.addrs
        return Live(
            a.family,
            a.remote,
            a.local,
            c.remote_port,
            c.local_port,
            (c.remote_isn + p.start_seq) % MOD,
            ack,
            bits,
            win,
            p.urg or 0,
            opts,
            p.payload,
        )

    def _live_option(self, o: TcpOption) -> TcpOption:
        """An injected option in live numbers: TS ecr echoes the kernel's clock, SACK blocks
        acknowledge the kernel's sequence space."""
        c = self.conn
        if o.kind == "TS" and o.ecr:
            return replace(o, ecr=((o.ecr or 0) + (c.ts_offset or 0)) % MOD)
        if o.kind == "sack":
            isn = c.local_isn or 0
            return replace(o, blocks=tuple(((a + isn) % MOD, (b + isn) % MOD) for a, b in o.blocks))
        return o

    def sniffed(self, live: Live, script: TcpPacket) -> None:
        """Learn the kernel's ISN (and ports, for an active open) from a SYN it sent."""
        c = self.conn
        if live.bits & SYN_BIT:
            c.local_isn = (live.seq - script.start_seq) % MOD
            c.local_port = live.sport
            if not live.bits & ACK_BIT:  # our connect(): the remote's port is the one it dialled
                c.remote_port = live.dport
        ts = live.ts()
        want = next((o for o in script.options or () if o.kind == "TS"), None)
        if ts and want and c.ts_offset is None:
            c.ts_offset = ts[0] - (want.val or 0)

    def observe(self, live: Live) -> None:
        """Every segment of the script's as it is read: a SYN starts a connection's numbers (its
        ``>`` line, when checked, sets them exactly from the script's own sequence number)."""
        if live.bits & SYN_BIT:
            self.conn.local_isn, self.conn.ts_offset = live.seq, None

    def ours(self, live: Live) -> bool:
        """A segment of the script's connections: from the local address to the remote one."""
        return live.src == self.addrs.local and live.dst == self.addrs.remote

    # -- checking a > line

    def check(self, live: Live, want: TcpPacket) -> None:
        """Raise PacketError naming both packets when ``live`` is not what ``want`` says."""
        if live.bits & SYN_BIT:  # a new connection (or a new attempt): its own ISN and TS offset
            self.conn.ts_offset = None
            self.sniffed(live, want)
        got = self.relative(live)
        wrong = self._differences(got, live, want)
        if wrong:
            raise PacketError(f"expected {show(want)} got {show(got)} ({'; '.join(wrong)})")
        self.sniffed(live, want)

    def _differences(self, got: TcpPacket, live: Live, want: TcpPacket) -> list[str]:
        wrong = []
        if flag_bits(want.flags) != live.bits & 0xFF:
            wrong.append(f"flags {want.flags or '-'} vs {got.flags or '-'}")
        if want.start_seq != got.start_seq:
            wrong.append(f"seq {want.start_seq} vs {got.start_seq}")
        if want.payload != got.payload:
            wrong.append(f"payload length {want.payload} vs {got.payload}")
        if want.ack is not None and live.bits & ACK_BIT and want.ack != got.ack:
            wrong.append(f"ack {want.ack} vs {got.ack}")
        if want.win is not None and want.win != got.win:
            wrong.append(f"win {want.win} vs {got.win}")
        if want.options is not None:
            why = self._options(want.options, live.options, got.options or ())
            if why:
                wrong.append(why)
        return wrong

    def _options(self, want: tuple[TcpOption, ...], live: tuple[TcpOption, ...], got: tuple[TcpOption, ...]) -> str:
        def shape(opts: tuple[TcpOption, ...]) -> list[str]:
            return [o.kind for o in opts if o.kind != "eol"]

        if shape(want) != shape(live):
            return f"options <{options_text(want)}> vs <{options_text(got)}>"
        for w, g, rel in zip(
            [o for o in want if o.kind != "eol"],
            [o for o in live if o.kind != "eol"],
            [o for o in got if o.kind != "eol"],
            strict=True,
        ):
            if w.kind in ("mss", "wscale") and w.value != g.value:
                return f"{w.kind} {w.value} vs {g.value}"
            if w.kind in ("FO", "FOEXP") and (w.cookie or "").lower() != (g.cookie or "").lower():
                return f"{w.kind} cookie {w.cookie or '(empty)'} vs {g.cookie or '(empty)'}"
            if w.kind == "sack" and [
                ((a - self.conn.remote_isn) % MOD, (b - self.conn.remote_isn) % MOD) for a, b in g.blocks
            ] != list(w.blocks):
                return f"sack blocks {w.blocks} vs {g.blocks}"
            if w.kind == "TS":
                if w.ecr != g.ecr:
                    return f"TS ecr {w.ecr} vs {g.ecr}"
                if self.tick_usecs and self.conn.ts_offset is not None:
                    slack = self.tolerance_usecs // self.tick_usecs + 1
                    if abs((rel.val or 0) - (w.val or 0)) > slack:
                        return f"TS val {w.val} vs {rel.val} (tolerance {slack} ticks of {self.tick_usecs} us)"
        return ""


def family_name(family: int) -> str:
    return "IPv6" if family == socket.AF_INET6 else "IPv4"
