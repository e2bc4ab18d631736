"""Observing what a closing call did, from the evidence, and judging the prediction.

The observed outcome comes from the wire (the packets this socket sent during the step), the
RST reason from the ``tcp_send_reset`` tracepoint where it runs, and the counters from the
namespace's own /proc/net/netstat. A disagreement with the prediction is shown, never hidden.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tuiexplore.domain import SocketRow
from tuiexplore.lab.advice import advise
from tuiexplore.lab.capture import Frame
from tuiexplore.lab.predict import BRANCHES, Prediction
from tuiexplore.lab.timerpath import TIMER_BRANCHES
from tuiexplore.timeline import VerdictEvent

ALL_BRANCHES = {**BRANCHES, **TIMER_BRANCHES}  # the closing calls' and the timers' (lab/timerpath.py)


def outcome_of(frames: Iterable[Frame]) -> str:
    flags = [f.flag_bits for f in frames]
    if any(b & 0x04 for b in flags):
        return "RST"
    if any(b & 0x01 for b in flags):
        return "FIN"
    return "none"


def sent_by(sock: SocketRow, frames: Iterable[Frame], others: set[tuple[int, int]]) -> list[Frame]:
    """Frames this socket sent. A listener speaks through its un-accepted children: frames from
    its port on connections that no actor owns."""
    lport, rport = sock.lport, sock.rport
    if sock.state == "LISTEN":
        return [f for f in frames if f.sport == lport and (f.sport, f.dport) not in others]
    return [f for f in frames if f.sport == lport and f.dport == rport]


def judge(
    *,
    t: float,
    step: int,
    actor: str,
    call: str,
    sock: SocketRow,
    pred: Prediction,
    frames: list[Frame],
    resets: list[Any],
    deltas: dict[str, int],
    others: set[tuple[int, int]],
) -> VerdictEvent:
    mine = sent_by(sock, frames, others)
    observed = outcome_of(mine)
    ports = {(f.sport, f.dport) for f in mine}
    reasons = [r.fields.get("reason") for r in resets if (r.sport, r.dport) in ports and r.fields.get("reason")]
    reason = reasons[0] if reasons else None
    agree = observed == pred.outcome and (reason is None or pred.reason is None or reason == pred.reason)
    parts = [f"{call}() -> {observed}: {pred.text}"]
    parts += [f"{k.split('.', 1)[1]} {v:+d}" for k, v in deltas.items() if k in pred.counters or "Abort" in k]
    if reason:
        parts.append(f"kernel reason {reason}")
    if not agree:
        parts.append(
            f"PREDICTED {pred.outcome}"
            + (f" with reason {pred.reason}" if pred.reason and reason and pred.reason != reason else "")
            + f" ({ALL_BRANCHES[pred.branch]}) - the kernel did otherwise"
        )
    return VerdictEvent(
        t,
        step,
        actor,
        sock.name,
        call,
        pred.outcome,
        observed,
        pred.branch,
        reason,
        dict(deltas),
        agree,
        " · ".join(parts),
        tuple(pred.path),
        advise(pred.branch, pred.outcome, sock, call, held=agree),
    )
