"""Predictions and verdicts for the segments the relay delivers on a wire call: an ``inject`` of
the scripted peer, or a ``release`` of one held segment.

Before the step, the segment exactly as it will go (``Wire.arriving``) and what the kernel and
the relay say of the socket it reaches (its state from sock_diag, RCV.NXT and the window from the
relay's view, whether an fd still holds it, the namespace's sysctls) go to lab/receipt.py; after
the step, what that socket sent back and the state it is in are judged against the prediction.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tuiexplore.domain import PredictionView, SocketRow
from tuiexplore.lab.advice import advise
from tuiexplore.lab.attribution import Attribution, Key
from tuiexplore.lab.capture import Frame
from tuiexplore.lab.counters import delta
from tuiexplore.lab.receipt import SYN, Arrival, Receipt, Receiver, after, before, predict_arrival, said
from tuiexplore.lab.receipt_branches import RECEIPT_BRANCHES
from tuiexplore.lab.receive_rules import UNKNOWN, ReceiveRules
from tuiexplore.relay import topology
from tuiexplore.timeline import VerdictEvent

RST_BIT, FIN_BIT, ACK_BIT = 0x04, 0x01, 0x10
SYN_STATES = ("SYN_RECV", "NEW_SYN_RECV")


@dataclass(frozen=True)
class Expected:
    """One prediction made before a step, and who it is about."""

    sock: SocketRow  # the receiving socket (a row of its own when no fd holds it)
    actor: str
    addr: str  # the receiver's address: its replies are the frames from it
    receipt: Receipt
    before: dict[str, int]  # the receiver's kernel's counters (on the relay, its side's alone)

    def view(self) -> PredictionView:
        p = self.receipt
        state = f" -> {p.state or 'gone'}" if p.outcome != "SYN-ACK" else ""
        return PredictionView(
            self.sock.name, p.outcome, p.branch, p.reason, f"{self.actor} {self.sock.name}{state}: {p.text}", p.path
        )


@dataclass
class Arrivals:
    """Made by the agent once the lab is up; ``states`` looks sockets up where they live."""

    net: topology.Wire
    who: Attribution
    states: Callable[[Iterable[Key]], dict[Key, str]]
    version: tuple[int, int, int]
    rules: ReceiveRules = UNKNOWN  # rules_probe.py: from the kernel's source or a probe

    def predict(self, actor: str, call: str, args: dict, frames: list[Frame], held: Iterable[SocketRow]) -> list[Expected]:
        """For an inject, or a release of exactly one segment: [] otherwise (several segments
        change the socket one after another; each would need the state the last one left)."""
        going = self.net.arriving(actor, call, args, frames)
        if len(going) != 1:
            return []
        seg = going[0]
        key = (seg.dport, seg.sport)
        states = self.states([key, (seg.dport, 0)])
        held_rows = {(s.lport, s.rport): s for s in held}
        row = held_rows.get(key)
        owner, fd = self.who.owner(*key)
        state = states.get(key)
        limit_s = _or(self.net.sysctl(seg.daddr, "tcp_invalid_ratelimit"), 500) / 1000
        view = sequence(frames, seg, self.net.undelivered(), limit_s)
        receiver = Receiver(
            state=state,
            closed=row is None,
            timewait=state == "TIME_WAIT" or (state == "FIN_WAIT2" and row is None),
            listener=states.get((seg.dport, 0)) == "LISTEN",
            linger2=row.linger2 if row else 0,
            rfc1337=self.net.sysctl(seg.daddr, "tcp_rfc1337") or 0,
            challenge_limit=_or(self.net.sysctl(seg.daddr, "tcp_challenge_ack_limit"), 1 << 31),
            oow_recent=view.last_oow is not None and time.time() - view.last_oow < limit_s,
            version=self.version,
            rcv_nxt=view.rcv_nxt,
            rcv_wnd=view.rcv_wnd,
            snd_nxt=view.snd_nxt,
            accept_full=_full(held_rows.get((seg.dport, 0))),
            rules=self.rules,
            snd_una=view.snd_una,
            max_window=view.max_window,
            bytes_acked=view.bytes_acked,
            retransmits=view.syn_retransmits,
        )
        arrival = Arrival(seg.flag_bits, seg.seq, seg.ack, seg.payload_len)
        sock = row or SocketRow(fd if fd != "?" else "(no fd)", -1, state or "CLOSE", lport=key[0], rport=key[1])
        return [Expected(sock, owner, seg.daddr, predict_arrival(receiver, arrival), self.net.counters_of(seg.daddr))]

    def judge(self, t: float, step: int, call: str, expected: Expected, frames: list[Frame], resets: list[Any]) -> VerdictEvent:
        """``resets``: the step's tcp_send_reset tracepoint events (root), for the RST's reason.
        The verdict's counters are the receiver's kernel's own (the other side's challenge ACKs
        or resets are not this socket's doing)."""
        s = expected.sock
        deltas = delta(expected.before, self.net.counters_of(expected.addr))
        key = (s.lport, s.rport)
        return receipt_verdict(t, step, call, expected, frames, resets, deltas, self.states([key]).get(key))


def receipt_verdict(
    t: float,
    step: int,
    call: str,
    expected: Expected,
    frames: list[Frame],
    resets: list[Any],
    deltas: dict[str, int],
    now: str | None,
) -> VerdictEvent:
    """The verdict on one received segment: what its receiver sent back (among ``frames``) and
    ``now``, the state it is in (None: gone), against the prediction. The lab's and the
    packetdrill runner's (packetdrill/receipts.py)."""
    p, s = expected.receipt, expected.sock
    mine = [f for f in frames if f.saddr == expected.addr and (f.sport, f.dport) == (s.lport, s.rport)]
    observed = outcome_of(mine)
    # A listener's reset is traced with the listener's own ends (its dport is 0).
    ends = ((s.lport, s.rport), (s.lport, 0))
    reasons = [r.fields.get("reason") for r in resets if (r.sport, r.dport) in ends and r.fields.get("reason")]
    reason = reasons[0] if reasons else None
    state = "SYN_RECV" if now in SYN_STATES else now or "CLOSE"
    want = "SYN_RECV" if p.outcome == "SYN-ACK" else (p.state or "CLOSE")
    # The peer's own kernel answered the answer within the step: it ACKed the SYN-ACK
    # (ESTABLISHED), or it reset the connection (CLOSE): that state is the peer's doing.
    moved_on = ""
    if want == "SYN_RECV" and state == "ESTABLISHED" and _acked_by_peer(mine, frames, expected.addr):
        moved_on = "then the peer ACKed the SYN-ACK: ESTABLISHED"
    elif want != "CLOSE" and state == "CLOSE" and _reset_by_peer(mine, frames, expected.addr):
        moved_on = "then the peer answered it with RST: CLOSE"
    state = want if moved_on else state
    agree = observed == p.outcome and state == want and (reason is None or p.reason is None or reason == p.reason)
    parts = [said(call, observed, state, p.text)]
    parts += [f"{k.split('.', 1)[1]} {v:+d}" for k, v in deltas.items() if k in p.counters]
    if moved_on:
        parts.append(moved_on)
    if reason:
        parts.append(f"kernel reason {reason}")
    if p.errno:
        parts.append(f"the application now gets {p.errno}")
    if not agree:
        why = RECEIPT_BRANCHES[p.branch]
        with_reason = f" with reason {p.reason}" if p.reason and reason and p.reason != reason else ""
        parts.append(f"PREDICTED {p.outcome}{with_reason}, {want} ({why}) - the kernel did otherwise")
    # predicted/observed: what the socket sends back (the contract's FIN/RST/none, and ACK or
    # SYN-ACK for an answer to a segment); the state it is left in is in the explanation.
    return VerdictEvent(
        t, step, expected.actor, s.name, call, p.outcome, observed, p.branch, reason, dict(deltas), agree,
        " · ".join(parts), tuple(p.path), advise(p.branch, p.outcome, s, call, held=agree),
    )  # fmt: skip


def _reset_by_peer(mine: list[Frame], frames: list[Frame], addr: str) -> bool:
    """The peer sent an RST on the receiver's connection after the receiver's first answer."""
    if not mine:
        return False
    first, ends = frames.index(mine[0]), (mine[0].dport, mine[0].sport)
    return any(f.saddr != addr and f.flag_bits & RST_BIT and (f.sport, f.dport) == ends for f in frames[first + 1 :])


def _acked_by_peer(mine: list[Frame], frames: list[Frame], addr: str) -> bool:
    """The receiver's SYN-ACK was ACKed back (by the real peer) among the step's frames."""
    synacks = [f for f in mine if f.flag_bits & SYN]
    return any(
        f.saddr != addr and f.flag_bits & 0x10 and (f.dport, f.sport) == (s.sport, s.dport) and f.ack == (s.seq + 1) % (1 << 32)
        for s in synacks
        for f in frames
    )


def outcome_of(frames: list[Frame]) -> str:
    """What the receiver sent back: RST, SYN-ACK, SYN (its own SYN again), FIN, ACK (any other
    segment), or none."""
    bits = [f.flag_bits for f in frames]
    if any(b & RST_BIT for b in bits):
        return "RST"
    if any(b & SYN for b in bits):
        return "SYN-ACK" if any(b & (SYN | ACK_BIT) == SYN | ACK_BIT for b in bits) else "SYN"
    if any(b & FIN_BIT for b in bits):
        return "FIN"
    return "ACK" if frames else "none"


def _full(listener: SocketRow | None) -> bool:
    """sk_acceptq_is_full(): more children queued than listen()'s backlog (sk_max_ack_backlog)."""
    return listener is not None and listener.accept_queue > listener.backlog


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


@dataclass(frozen=True)
class View:
    """The receiver's side of its connection, as the frames show it."""

    rcv_nxt: int
    rcv_wnd: int
    snd_nxt: int
    last_oow: float | None  # when it last answered an invalid segment (its last_oow_ack_time)
    snd_una: int | None = None  # None: its SYN was not seen
    max_window: int = 65535  # the largest window the sender offered it, scaled
    bytes_acked: int = 0
    syn_retransmits: int = 0  # its own SYN sent again (icsk_retransmits while in SYN_SENT)


def sequence(frames: list[Frame], seg: Frame, undelivered: set[int], limit_s: float) -> View:
    """RCV.NXT, the window and SND.NXT of the receiver, from the frames of its connection since
    the last handshake's SYN on these ends, in order: RCV.NXT moves with each segment of the sender's that
    was delivered, and is what the receiver's own ACKs say (an ACK carries RCV.NXT: a segment
    the receiver discarded does not move it); the window is its last, scaled by the shift its
    SYN announced; SND.NXT the end of all it sent, held segments included. Each delivered
    segment that the receiver had to answer as invalid (``_invalid``) sets the time of its last
    such answer, unless it came within the rate limit of the last (__tcp_oow_rate_limited()).
    SND.UNA starts at the receiver's SYN (one past it for a passive opener, whose SND.UNA the
    handshake sets) and moves with each of the sender's delivered ACKs that tcp_ack() takes,
    which add up to bytes_acked (tcp_snd_una_update()); max_window is the largest window the
    sender offered, scaled by the shift its own SYN announced. A segment whose ACK is past SND.NXT
    moves none of them: tcp_ack() discards it whole (receipt_ack.py)."""
    ends = {(seg.saddr, seg.sport), (seg.daddr, seg.dport)}
    opening = [i for i, f in enumerate(frames) if f.flag_bits & SYN and _ends(f) == ends]  # SYN, SYN-ACK
    start = max((i for i in opening if not frames[i].flag_bits & ACK_BIT), default=max(opening, default=0))
    rcv_nxt = snd_nxt = last_oow = snd_una = None
    win, shift, peer_shift, max_window, acked = 65535, 0, 0, 0, 0
    # The receiver's SYN as often as it went (the first and each retransmission), before start too.
    syn = frames[start] if frames else None
    syns = sum(
        1
        for f in frames
        if syn and f.flag_bits & (SYN | ACK_BIT) == SYN and f.seq == syn.seq and (f.saddr, f.sport) == (seg.daddr, seg.dport)
    )
    for f in frames[start:]:
        if _ends(f) != ends:
            continue
        end = (f.seq + f.payload_len + bool(f.flag_bits & SYN) + bool(f.flag_bits & FIN_BIT)) % (1 << 32)
        if (f.saddr, f.sport) == (seg.saddr, seg.sport):
            if id(f) in undelivered or (f.flag_bits & ACK_BIT and snd_nxt is not None and after(f.ack, snd_nxt)):
                continue  # not delivered, or discarded whole by tcp_ack() (an ACK of data never sent)
            if rcv_nxt is not None and _invalid(f, end, rcv_nxt, win) and (last_oow is None or f.ts - last_oow >= limit_s):
                last_oow = f.ts
            if not f.flag_bits & RST_BIT and end != f.seq and (rcv_nxt is None or after(end, rcv_nxt)):
                rcv_nxt = end
            if f.flag_bits & RST_BIT:
                continue
            peer_shift = _wscale(f, peer_shift)
            max_window = max(max_window, f.win << (0 if f.flag_bits & SYN else peer_shift))
            if f.flag_bits & ACK_BIT and snd_una is not None and after(f.ack, snd_una) and not after(f.ack, snd_nxt or 0):
                acked, snd_una = acked + (f.ack - snd_una) % (1 << 32), f.ack
            continue
        if f.flag_bits & RST_BIT:
            continue
        snd_nxt = end if snd_nxt is None or after(end, snd_nxt) else snd_nxt
        if f.flag_bits & SYN and snd_una is None:
            snd_una = (f.seq + bool(f.flag_bits & ACK_BIT)) % (1 << 32)
        if f.flag_bits & ACK_BIT:
            rcv_nxt = f.ack
        shift = _wscale(f, shift)
        win = f.win << (0 if f.flag_bits & SYN else shift)
    rcv_nxt = seg.seq if rcv_nxt is None else rcv_nxt
    return View(rcv_nxt, win, snd_nxt or 0, last_oow, snd_una, max_window or 65535, acked, max(syns - 1, 0))


def _wscale(f: Frame, shift: int) -> int:
    """The shift a SYN announces; ``shift`` for any other segment."""
    m = re.search(r"wscale (\d+)", f.options) if f.flag_bits & SYN else None
    return int(m[1]) if m else shift


def _invalid(f: Frame, end: int, rcv_nxt: int, win: int) -> bool:
    """Whether tcp_validate_incoming() answers this segment through the per-socket rate limit:
    a challenge ACK (an RST in the window but not at RCV.NXT, a SYN), or a duplicate ACK for a
    segment outside the window that carries no data (tcp_oow_rate_limited() lets data through
    without counting it)."""
    in_window = not before(end, rcv_nxt) and not after(f.seq, (rcv_nxt + win) % (1 << 32))
    if f.flag_bits & RST_BIT:
        return in_window and f.seq != rcv_nxt
    if f.flag_bits & SYN:
        return True
    return not in_window and end == f.seq


def _ends(f: Frame) -> set[tuple[str, int]]:
    return {(f.saddr, f.sport), (f.daddr, f.dport)}
