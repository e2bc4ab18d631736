"""One line of advice for each timer branch (lab/timerpath.py): what the program, or its peer,
should change when a timer decided what the kernel sent; registered with advice.py's table."""

from __future__ import annotations

from collections.abc import Callable

from tuiexplore.domain import SocketRow

TIMER_ADVICE: dict[str, str] = {
    "retransmit": "nothing is acknowledged yet: the kernel retransmits, backing off, until the peer ACKs or "
    "tcp_retries2 (about 15 min) or TCP_USER_TIMEOUT gives up",
    "write_timeout": "the peer never acknowledged: the application's next call fails with ETIMEDOUT; set "
    "TCP_USER_TIMEOUT to bound how long unacked data may wait, and treat ETIMEDOUT as a dead peer",
    "keepalive_probe": "keepalive is at work on an idle connection; TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT "
    "set how soon a dead peer is found",
    "keepalive_abort": "no keepalive probe was answered: the connection is reset and the application gets "
    "ETIMEDOUT; reconnect (or raise TCP_KEEPCNT / TCP_KEEPINTVL where probes are lost)",
    "keepalive_busy": "data is in flight, so keepalive waits: a stuck send is bounded by the retransmission "
    "timeouts (TCP_USER_TIMEOUT), not by keepalive",
    "orphan_fin_wait2_timewait": "nothing to change: the orphan waits for the peer's FIN for the rest of "
    "tcp_fin_timeout (or TCP_LINGER2) as a timewait socket",
    "orphan_fin_wait2_reset": "the peer never sent its FIN within the FIN_WAIT2 timeout: the peer's program should "
    "close its side",
    "timewait_end": "nothing to change: the timewait socket's time is up and it goes silently; a late segment "
    "for it now meets an RST from no socket",
    "zero_window_probe": "the peer's receive window is zero (its program is not reading): the probes go on until "
    "tcp_retries2 (or TCP_USER_TIMEOUT) runs out",
}


Line = Callable[[str, SocketRow, str], str]  # advice.py's: (outcome, socket, call) -> the line


def timer_advice() -> dict[str, Line]:
    """advice.py's table entries: a line for each timer branch, whatever the socket."""
    return {branch: _said(text) for branch, text in TIMER_ADVICE.items()}


def _said(text: str) -> Line:
    def line(outcome: str, s: SocketRow, call: str) -> str:
        return text

    return line
