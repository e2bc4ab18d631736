"""One line of advice for the program that made a closing call: what to change (or why nothing
needs to), from the branch the kernel took and the socket's state just before the call.

Every branch id the project defines (lab/predict.py's BRANCHES and STILL_REFERENCED) has its
line; tests/test_advice.py holds the table to them. An RST's line also says what the peer's
application meets, since that is usually where the bug report comes from.
"""

from __future__ import annotations

from tuiexplore.domain import SocketRow
from tuiexplore.lab.predict import STILL_REFERENCED
from tuiexplore.lab.receipt_advice import RECEIPT_ADVICE
from tuiexplore.lab.timeradvice import timer_advice

PEER_AFTER_RST = "the peer gets ECONNRESET on read() or EPIPE on write() and loses its unread data"


def _bytes(n: int) -> str:
    return f"{n} byte{'s' if n != 1 else ''}"


UNHELD = "the prediction did not hold, so its branch gives no advice: the packets and counters (v) say what the kernel did"


def advise(branch: str, outcome: str, sock: SocketRow, call: str = "close", held: bool = True) -> str:
    """``outcome``: what the branch sends here ("FIN", "RST", "none"), as predicted; ``held``:
    whether the kernel did that."""
    line = _ADVICE.get(branch)
    if line is None:
        return ""
    if not held:
        return UNHELD
    text = line(outcome, sock, call)
    return f"{text}; {PEER_AFTER_RST}" if outcome == "RST" and branch != "listen_stop" else text


def _data_was_unread(outcome: str, s: SocketRow, call: str) -> str:
    unread = _bytes(s.inq) if s.inq else "data"
    return (
        f"{unread} the peer sent {'was' if s.inq == 1 else 'were'} never read: read until read() returns 0 (EOF) "
        f"before {call}(), or shutdown(SHUT_WR) and drain, to close with FIN"
    )


def _linger_zero(outcome: str, s: SocketRow, call: str) -> str:
    what = (
        "SO_LINGER {1, 0} makes close() an abort: RST instead of FIN, unsent and unread data dropped, and no "
        "TIME_WAIT (used to free the port at once or to cut off a misbehaving peer)"
    )
    if outcome != "RST":
        return f"{what}; in {s.state} there was nothing to reset"
    return f"{what}; drop the setsockopt for a FIN close"


def _fin(outcome: str, s: SocketRow, call: str) -> str:
    if outcome == "FIN":
        wait = "this side keeps TIME_WAIT for 60 s" if s.state in ("ESTABLISHED", "SYN_RECV") else "the peer closed first"
        return f"a clean close, nothing to change ({wait})"
    held = f"behind {_bytes(s.unsent)} unsent" if s.unsent else "behind the peer's full window"
    return f"the FIN waits {held}: the peer is not reading; it goes out once the peer reads (or the retries give up)"


def _no_fin(outcome: str, s: SocketRow, call: str) -> str:
    if s.state == "SYN_SENT":
        return "the connection attempt was abandoned before the handshake finished: the peer never saw it"
    if s.state == "FIN_WAIT2" and s.linger2 < 0:
        return _linger2(outcome, s, call)
    return f"our FIN went out earlier (shutdown(SHUT_WR) or the first close): this {call}() only releases the socket"


def _linger2(outcome: str, s: SocketRow, call: str) -> str:
    return (
        "TCP_LINGER2 < 0 forbids the orphan to wait in FIN_WAIT2 for the peer's FIN: "
        "leave TCP_LINGER2 at its default (or >= 0) to let the peer finish with a FIN"
    )


def _listen_stop(outcome: str, s: SocketRow, call: str) -> str:
    if outcome != "RST":
        return "no connection was waiting in the accept queue: closing the listener cost no client anything"
    n = s.accept_queue
    waiting = f"{n} connection{'s' if n != 1 else ''}" if n else "connections"
    return (
        f"{waiting} still in the accept queue got RST (their clients read ECONNRESET): "
        "accept() and serve them, or stop accepting new ones first, before closing the listener"
    )


def _already_closed(outcome: str, s: SocketRow, call: str) -> str:
    lost = f" (the {_bytes(s.inq)} still unread are dropped)" if s.inq else ""
    return (
        f"the connection was already gone (reset by the peer, refused, never connected){lost}: {call}() is right; "
        "look at the error the earlier read(), write() or connect() returned"
    )


def _shutdown_fin(outcome: str, s: SocketRow, call: str) -> str:
    if outcome != "FIN":
        return _fin(outcome, s, call)
    return "the half-close: keep reading until read() returns 0 (EOF), then close(), and the end is FIN/FIN"


def _shutdown_none(outcome: str, s: SocketRow, call: str) -> str:
    if s.state in ("ESTABLISHED", "CLOSE_WAIT", "SYN_RECV"):
        return "SHUT_RD sends nothing and data still arriving is ACKed and dropped: use SHUT_WR to send a FIN"
    return f"nothing to send in {s.state}: the FIN went earlier or there is no connection"


def _disconnect(outcome: str, s: SocketRow, call: str) -> str:
    if outcome != "RST":
        return "tcp_disconnect() had nothing to reset here; the socket can connect() again"
    return "tcp_disconnect() resets an established connection: use shutdown(SHUT_WR) then close() for a FIN"


def _still_referenced(outcome: str, s: SocketRow, call: str) -> str:
    return (
        "another fd (a dup() or a forked child's copy) still holds the socket, so nothing was sent: close it there "
        "too, or shutdown(SHUT_WR) to send the FIN whoever holds it"
    )


_ADVICE = {
    "data_was_unread": _data_was_unread,
    "linger_zero": _linger_zero,
    "fin": _fin,
    "no_fin": _no_fin,
    "linger2_abort": _linger2,
    "linger2_orphan_ack": _linger2,
    "listen_stop": _listen_stop,
    "already_closed": _already_closed,
    "shutdown_fin": _shutdown_fin,
    "shutdown_none": _shutdown_none,
    "disconnect": _disconnect,
    STILL_REFERENCED: _still_referenced,
    **timer_advice(),  # a timer's branches (lab/timerpath.py)
    **RECEIPT_ADVICE,
}
