"""The lab sockets' pending timers in words, as the kernel reports them after a step.

sock_diag gives each socket's armed timer (``idiag_timer``: the kind, ``idiag_expires``: ms
left; the same as /proc/net/tcp's ``tr`` and ``tm->when``), never the delayed-ACK timer. Which
timer a kind means depends on the socket's state, as in the kernel:
- kind 1 (ICSK_TIME_RETRANS, and the loss probe and reorder timers that share it): in
  FIN_WAIT1, CLOSING or LAST_ACK our FIN is not acked yet, and when the only byte not acked is
  the FIN (write_seq counts it) the retransmission is the FIN's; in SYN_SENT it is the SYN's;
  a request socket's (SYN_RECV) is the SYN-ACK's;
- kind 2 (sk_timer, ``tcp_keepalive_timer()``): in FIN_WAIT2 the orphan's FIN_WAIT2 timeout,
  otherwise a keepalive probe;
- kind 3: a timewait socket's end; its state is TIME_WAIT, or FIN_WAIT2 for the timewait
  socket that stands in for an orphan in FIN_WAIT2 (``tcp_time_wait(sk, TCP_FIN_WAIT2, tmo)``);
- kind 4: the zero-window probe (``tcp_probe_timer()``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tuiexplore.lab.procnet import Timer

FIN_SENT = ("FIN_WAIT1", "CLOSING", "LAST_ACK")
_RETRANSMITTED = {"SYN_SENT": "syn_retransmission", "SYN_RECV": "synack_retransmission", "NEW_SYN_RECV": "synack_retransmission"}


@dataclass(frozen=True)
class Pending:
    """One pending timer of a lab socket: whose, which, and how long until it fires."""

    actor: str
    fd: str
    state: str
    kind: str  # one of KINDS
    due_ms: int  # from the end of the step; 0 when due and not run yet
    lport: int = 0
    rport: int = 0
    retrans: int = 0  # the kernel's count: retransmissions so far, or unanswered probes
    unacked: int = 0  # bytes (a FIN counts one) sent or queued and not acked
    timer: int = 0  # sock_diag's idiag_timer (3: a timewait socket's)

    def text(self) -> str:
        what = KINDS[self.kind]
        verb = "ends" if self.kind in ("time_wait", "fin_wait2") else "due"
        return f"{what} {verb} in {duration(self.due_ms)}"

    def line(self) -> str:
        """The timer with its socket: ``client c: FIN retransmission due in 204 ms``."""
        return f"{self.actor} {self.fd} ({self.state}): {self.text()}"

    def to_dict(self) -> dict[str, Any]:
        fields = {"actor": self.actor, "fd": self.fd, "state": self.state, "kind": self.kind, "due_ms": self.due_ms}
        return {**fields, "text": self.text()}


KINDS = {
    "retransmission": "retransmission",
    "fin_retransmission": "FIN retransmission",
    "syn_retransmission": "SYN retransmission",
    "synack_retransmission": "SYN-ACK retransmission",
    "keepalive": "keepalive probe",
    "fin_wait2": "FIN_WAIT2 timeout",
    "time_wait": "TIME_WAIT",
    "zero_window_probe": "zero-window probe",
}


def kind_of(t: Timer) -> str:
    """Which timer the kernel has armed on this socket (see the module's docstring)."""
    if t.kind == 1:
        if t.state in FIN_SENT and t.unacked == 1:
            return "fin_retransmission"
        return _RETRANSMITTED.get(t.state, "retransmission")
    if t.kind == 2:
        return "fin_wait2" if t.state == "FIN_WAIT2" else "keepalive"
    if t.kind == 3:
        return "fin_wait2" if t.state == "FIN_WAIT2" else "time_wait"
    return "zero_window_probe"


def duration(ms: int) -> str:
    """204 ms, 2.0 s, 59.8 s."""
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def pending(timers: list[Timer], owner: Callable[[int, int], tuple[str, str]]) -> list[Pending]:
    """The armed timers of the lab's sockets, soonest first, each named for its owner."""
    out = []
    for t in timers:
        if t.kind not in (1, 2, 3, 4):
            continue
        actor, fd = owner(t.lport, t.rport)
        due = max(0, round(t.due_s * 1000))
        out.append(Pending(actor, fd, t.state, kind_of(t), due, t.lport, t.rport, t.retrans, t.unacked, t.kind))
    return sorted(out, key=lambda p: (p.due_ms, p.actor, p.fd))
