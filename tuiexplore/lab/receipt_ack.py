"""tcp_ack()'s checks of the ACK number, which run before anything else of the segment is taken
(lab/receipt.py calls them once tcp_validate_incoming() has passed the segment):

- ``before(ack, prior_snd_una)``: an old ACK. Within the bound (RFC 5961 5.2) it is only ignored
  (``goto old_ack``: the segment's data and FIN are still taken); before it, the segment is
  dropped with a challenge ACK (TCP_TOO_OLD_ACK). The bound is ``min(max_window, bytes_acked)``
  where the kernel has "tcp: do not accept ACK of bytes we never sent", ``max_window`` before.
- ``after(ack, tp->snd_nxt)``: an ACK of data never sent: dropped (TCP_ACK_UNSENT_DATA); newer
  code answers it with a challenge ACK too.

Who sends that challenge ACK depends on the caller: tcp_rcv_established() (ESTABLISHED) lets
tcp_ack() send it; tcp_rcv_state_process() (every other synchronized state: FIN_WAIT1,
FIN_WAIT2, CLOSING, CLOSE_WAIT, LAST_ACK) passes FLAG_NO_CHALLENGE_ACK and sends one itself for
any ACK tcp_ack() refused ("accept old ack during closing"), whatever tcp_ack() does. Either way
it goes through tcp_send_challenge_ack()'s limits (receipt.py's ``_challenge``).
"""

from __future__ import annotations

from dataclasses import dataclass

from tuiexplore.lab.receive_rules import ReceiveRules
from tuiexplore.lab.seqnum import MOD, after, before

NOT_KNOWN = "not known for this kernel (no source, no probe): the older code is assumed"


@dataclass(frozen=True)
class Refused:
    """An ACK number tcp_ack() refuses: the segment is discarded."""

    branch: str  # rcv_ack_too_old or rcv_ack_unsent
    challenged: bool  # a challenge ACK is sent (within tcp_send_challenge_ack()'s limits)
    why: str


def refused(
    state: str, ack: int, snd_una: int | None, snd_nxt: int, max_window: int, bytes_acked: int, rules: ReceiveRules
) -> Refused | None:
    """None: tcp_ack() takes the ACK (a new one, a duplicate, or an old one within the bound)."""
    state_process = state != "ESTABLISHED"  # tcp_rcv_state_process(): it challenges any refusal itself
    if snd_una is not None and before(ack, snd_una):
        bound, how = _bound(max_window, bytes_acked, rules.ack_old_bytes_acked)
        if not before(ack, (snd_una - bound) % MOD):
            return None  # old_ack: ignored, the segment goes on
        return Refused(
            "rcv_ack_too_old", True,
            f"an ACK {(snd_una - ack) % MOD} before SND.UNA, past the old-ACK bound {bound} ({how}): dropped (TCP_TOO_OLD_ACK)",
        )  # fmt: skip
    if not after(ack, snd_nxt):
        return None
    what = f"an ACK {(ack - snd_nxt) % MOD} past SND.NXT (data never sent): dropped (TCP_ACK_UNSENT_DATA)"
    if state_process:
        return Refused("rcv_ack_unsent", True, f"{what}; in {state} tcp_rcv_state_process() answers any refused ACK")
    rule = rules.ack_unsent_challenge
    if rule:
        return Refused("rcv_ack_unsent", True, f"{what}; this kernel's tcp_ack() answers it")
    said = "this kernel's tcp_ack() sends nothing for it" if rule is False else f"whether tcp_ack() answers it is {NOT_KNOWN}"
    return Refused("rcv_ack_unsent", False, f"{what}; {said}")


def _bound(max_window: int, bytes_acked: int, rule: bool | None) -> tuple[int, str]:
    if rule:
        return min(max_window, bytes_acked), f"min(max_window {max_window}, bytes_acked {bytes_acked})"
    if rule is False:
        return max_window, f"max_window {max_window}: this kernel does not bound it by bytes_acked"
    return max_window, f"max_window {max_window}; a bound by bytes_acked is {NOT_KNOWN}"
