"""tcp_ack()'s two checks of the ACK number that kernels of one line do differently (lab/
receipt_ack.py): whether an ACK of data never sent (``after(ack, tp->snd_nxt)``) is answered
with a challenge ACK, and whether the too-old bound of RFC 5961 5.2 is ``min(max_window,
bytes_acked)`` ("tcp: do not accept ACK of bytes we never sent") or ``max_window``. Stable trees
take both, so neither is read from a version: from tcp_ack() in the kernel's own source, else
from what the kernel does with the probe script (packetdrill/probes/ack_rules.pkt); rules_probe.py
runs it and caches the answers per release.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tuiexplore.kernel.excerpt import function_lines
from tuiexplore.timeline import Event, PacketEvent

PROBE = "ack_rules.pkt"
UNSENT, OLD = 5000, 0  # the probe's refused ACK numbers (relative)
_UNSENT = re.compile(r"if\s*\(\s*after\s*\(\s*ack\s*,\s*tp->snd_nxt\s*\)\s*\)")
_OLD = re.compile(r"if\s*\(\s*before\s*\(\s*ack\s*,\s*prior_snd_una\s*\)\s*\)")
_END = re.compile(r"\breturn\b|\bgoto\b")


def from_source(text: str) -> dict[str, bool | None]:
    """From tcp_input.c's text: the two rules as tcp_ack() has them (None: not found)."""
    got = function_lines(text, "tcp_ack")
    body = "\n".join(got[1]) if got else ""
    unsent = _UNSENT.search(body)
    old = _OLD.search(body)
    after_check = body[unsent.end() :] if unsent else ""
    end = _END.search(after_check)
    old_part = body[old.end() : body.find("goto old_ack", old.end())] if old else ""
    return {
        "ack_unsent_challenge": "tcp_send_challenge_ack" in after_check[: end.start()] if unsent and end else None,
        "ack_old_bytes_acked": "bytes_acked" in old_part if old and "goto old_ack" in body[old.end() :] else None,
    }


def seen(events: Iterable[Event]) -> dict[str, bool | None]:
    """The probe run's answers: did the kernel answer the unsent ACK, the one before SND.UNA?
    Each answer is what it sent after that inject and before the next; None for both when the
    last inject's ACK (ack 2) never came (the run did not get that far)."""
    answers: dict[int, int] = {}
    last: int | None = None
    done = False
    for e in events:
        if not isinstance(e, PacketEvent):
            continue
        if e.src == "peer" and not e.len and e.flags == ".":
            last = e.ack
            answers.setdefault(last, 0)
        elif e.src == "peer":
            last = None
        elif e.src == "local" and last is not None:
            answers[last] += 1
        done = done or (e.src == "local" and e.ack == 2)
    if not done or UNSENT not in answers or OLD not in answers:
        return {"ack_unsent_challenge": None, "ack_old_bytes_acked": None}
    return {"ack_unsent_challenge": answers[UNSENT] > 0, "ack_old_bytes_acked": answers[OLD] > 0}
