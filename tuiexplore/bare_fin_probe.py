"""Whether a kernel takes a bare FIN that arrives into a zero receive window: tcp_data_queue()'s
``if (tcp_receive_window(tp) == 0)`` branch drops any in-order segment there (TCPZeroWindowDrop)
unless it carries the exception of "tcp: accept bare FIN packets under memory pressure"
(``if (!skb->len && (TCP_SKB_CB(skb)->tcp_flags & TCPHDR_FIN)) goto queue_and_out;``).

As for the unread-data rule (unread_probe.py), a version number does not tell (stable trees
take such fixes), so it is read from the kernel's own source (its tree: ``--kernel-src``, the
running kernel's, a guest line's), else asked of the kernel itself: the scripted peer of a
packetdrill script (packetdrill/probes/zero_window_fin.pkt) fills a small receive buffer and
sends a bare FIN into the closed window; the ACK after it says which. rules_probe.py runs it
and caches the answer per release with the other rules'.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tuiexplore.kernel.excerpt import function_lines
from tuiexplore.timeline import Event, PacketEvent

PROBE = "zero_window_fin.pkt"
TAKEN, DROPPED = 60002, 60001  # the probe's ACK after its FIN: RCV.NXT past the FIN, or not
_EXCEPTION = re.compile(r"!\s*skb->len\s*&&\s*\(?\s*TCP_SKB_CB\(skb\)->tcp_flags\s*&\s*TCPHDR_FIN")


def from_source(text: str) -> bool | None:
    """From tcp_input.c's text: does tcp_data_queue()'s zero-window branch let a bare FIN
    through before its drop? None: no such function or branch found."""
    got = function_lines(text, "tcp_data_queue")
    if got is None:
        return None
    body = "\n".join(got[1])
    zero = body.find("tcp_receive_window(tp) == 0")
    drop = body.find("TCPZEROWINDOWDROP", zero)
    if zero < 0 or drop < 0:
        return None
    return _EXCEPTION.search(body[zero:drop]) is not None


def seen(events: Iterable[Event]) -> bool | None:
    """The probe run's answer: the kernel ACKed past the FIN (taken) or only the data (dropped)."""
    acks = {e.ack for e in events if isinstance(e, PacketEvent) and e.src == "local" and e.flags == "."}
    return True if TAKEN in acks else False if DROPPED in acks else None
