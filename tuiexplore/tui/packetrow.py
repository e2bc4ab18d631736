"""One packet row of the live list, in tcpdump's words, as much of it as the width allows."""

from __future__ import annotations

from rich.style import StyleType
from rich.text import Text

from tuiexplore.tcpdump import absolute, timestamp
from tuiexplore.timeline import PacketEvent

NARROW = 90  # below this width the row number goes: tcpdump's line matters more
PORTS = 110  # from this width on, the ports as tcpdump prints them (host.port)


def header(width: int) -> str:
    if width >= NARROW:
        return f"{'#':>4} {'step':>5} {'t':>8}  packet, in tcpdump's notation (S: -S absolute seq, T: -ttt/-ttttt)"
    return f"{'step':>4} {'t':>8}  packet (tcpdump; S: -S, T: -ttt)"


def row(
    p: PacketEvent,
    width: int,
    absolute_seq: bool,
    ts_mode: int,
    previous: float | None,
    first: float | None,
    flag_style: StyleType,
    mark: str = "",
    mark_style: StyleType = "",
) -> Text:
    """The options on the rows they fit in (the detail view and the transcript always have them);
    ``mark``: what the relay did to the segment (reports.relaymarks), before its flags."""
    step = f"<{p.step}>" if p.step is not None else ""
    ts = timestamp(ts_mode, p.t, previous, first) if ts_mode else f"{p.t:>8.3f}"
    seq_ack = absolute(p.raw) if absolute_seq else None
    head = f"{p.index:>4} {step:>5} {ts}  " if width >= NARROW else f"{step:>4} {ts:>7}  "
    head += f"{p.src}.{p.sport} > {p.dst}.{p.dport}: " if width >= PORTS else f"{p.src} > {p.dst}: "
    tag = f"[{mark}]" if mark else ""
    body = p.tcpdump(options=True, seq_ack=seq_ack)
    if len(head) + len(tag) + 1 + len(body) > width - 1:
        body = p.tcpdump(options=False, seq_ack=seq_ack)
    text = Text(head)
    if tag:
        text.append(tag, style=mark_style)
        text.append(" ")
    flags = f"Flags [{p.flags}]"
    text.append(flags, style=flag_style)
    text.append(body[len(flags) :])
    return text
