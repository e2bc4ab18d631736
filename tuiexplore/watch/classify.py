"""How a connection ended and why, in the explorer's branch vocabulary.

Two kinds of evidence, and the result says which it rests on:
- ``tracepoint``: the kernel's own ``tcp_send_reset`` reason for the RST (root, Linux >= 6.12
  for close-path reasons), and its ``inet_sock_set_state`` changes;
- ``wire``: what the packets show. An *active* reset (tcp_send_active_reset) goes out as ``[R.]``
  with the socket's real window and its options; a *reply* reset (tcp_v4_send_reset, answering a
  segment for a socket that is gone or closed) carries win 0 and no options. An active RST while
  the peer's data sent after our last data is outstanding is close() with unread data
  (``data_was_unread``); with nothing outstanding it is an abort (``linger_zero``).
The wire cannot see whether the app read the data, so its answer is the likely branch, labelled
as such; the tracepoint's reason, where there is one, replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuiexplore.domain import SocketRow
from tuiexplore.lab.advice import advise
from tuiexplore.lab.predict import BRANCHES
from tuiexplore.watch.packet import ACK, parse_endpoint
from tuiexplore.watch.tracker import Conn, Side

# Causes that are not a tcp_close() branch: what happened on the wire (or in tcp_input.c).
WIRE_CLASSES = {
    "refused": "nothing listened on the port: the SYN was answered with RST (tcp_v4_send_reset, no socket)",
    "data_after_close": "data reached a socket that had been closed (an orphan or TIME_WAIT socket): answered with RST",
    "no_socket": "a segment for a connection this host no longer knows was answered with RST",
    "syn_timeout": "the SYN was never answered (filtered, or the host is down)",
    "open": "the connection was still open when the capture ended",
    "half_open": "only one side closed before the capture ended",
    "keepalive_timeout": "keepalive probes went unanswered: the kernel gave up",
    "oom": "too many orphaned sockets or out of socket memory: tcp_check_oom() reset it",
    "reset": "an RST, and too little on the wire to say why: it has no ACK bit (Linux's active resets always "
    "carry one), or the capture missed what came before it",
}
EXPLAIN = {**BRANCHES, **WIRE_CLASSES}
# What to do about a wire class (a branch's advice is lab/advice.py's); none for a connection still open.
WIRE_ADVICE = {
    "refused": "nothing listened on the port: start the server first, or connect to the port it listens on",
    "data_after_close": "the peer kept sending after this side closed: agree on the end in the protocol (the peer "
    "stops first), or shutdown(SHUT_WR) and read to EOF before close()",
    "no_socket": "the segment was for a connection this host had already forgotten (closed long ago, or a restart): "
    "the peer must reconnect",
    "syn_timeout": "the SYN was never answered: check the address, the port and any firewall in between",
    "keepalive_timeout": "the peer stopped answering keepalives (gone, or the path dropped it): the application sees ETIMEDOUT",
    "oom": "the host ran short of socket memory or orphan slots (net.ipv4.tcp_max_orphans): fewer orphaned sockets",
    "reset": "capture the connection from its start, or watch it live as root for the kernel's reason",
}

# The tcp_close() branches passed, for the kernel panel (same ids as lab/predict.py's paths).
PATHS = {
    "data_was_unread": ("shutdown_mask", "drain", "data_was_unread"),
    "linger_zero": ("shutdown_mask", "drain", "linger_zero"),
    "fin": ("shutdown_mask", "drain", "fin"),
    "linger2_abort": ("shutdown_mask", "drain", "no_fin", "linger2_abort"),
    "linger2_orphan_ack": ("shutdown_mask", "drain", "fin", "linger2_orphan_ack"),
    "data_after_close": ("shutdown_mask", "drain", "fin"),
    "oom": ("shutdown_mask", "drain", "orphan", "oom"),
    "shutdown_fin": ("shutdown_fin",),
    "disconnect": ("disconnect",),
}

# enum sk_rst_reason names (read from the kernel's format file by the tracer) -> cause.
_REASONS = {
    "TCP_ABORT_ON_CLOSE": "data_was_unread",
    "TCP_STATE": "linger_zero",
    "TCP_ABORT_ON_LINGER": "linger2_abort",
    "TCP_ABORT_ON_MEMORY": "oom",
    "TCP_KEEPALIVE_TIMEOUT": "keepalive_timeout",
    "TCP_DISCONNECT_WITH_DATA": "disconnect",
    "TCP_TIMEWAIT_SOCKET": "data_after_close",
}


@dataclass(frozen=True)
class End:
    kind: str  # "FIN/FIN" | "FIN then RST" | "RST" | "refused" | "timeout" | "open"
    summary: str  # the row's words, e.g. "RST by client: unread data"
    cause: str  # a branch id (lab/predict.py) or a wire class (WIRE_CLASSES)
    evidence: str  # "tracepoint" | "wire"
    closed_first_by: str | None  # ip:port
    rst_by: str | None
    rst_reason: str | None  # the kernel's name, where the tracepoint gave one
    explanation: str
    path: tuple[str, ...]
    advice: str = ""  # what to change in the program whose call ended it (lab/advice.py), "" while open


def _reply(side: Side) -> bool:
    r = side.rst
    return r is not None and r.win == 0 and not r.options


def _first(t: float | None) -> float:
    return float("inf") if t is None else t


def _reset_reason(conn: Conn, d: int) -> str | None:
    """The tcp_send_reset reason for the RST sent by side d (matched by its addresses)."""
    for ev in conn.kernel:
        if ev.event != "tcp_send_reset":
            continue
        src = parse_endpoint(ev.fields.get("src", ""))
        dst = parse_endpoint(ev.fields.get("dest", ""))
        mine = conn.client if d == 0 else conn.server
        if src == mine or (dst == mine and ev.fields.get("state") in (None, "UNKNOWN")):
            return ev.fields.get("reason")
    return None


def _wire_rst_cause(conn: Conn, r: int) -> str:
    rs, other = conn.sides[r], conn.sides[1 - r]
    if r == 1 and conn.client_known and not conn.synack:
        return "refused"
    if _reply(rs):
        if rs.fin_ts is not None and rs.received_after_fin:
            return "data_after_close"
        if rs.fin_ts is not None:
            return "linger2_orphan_ack"
        if other.rst is None:
            return "no_socket"
    if (rs.rst is not None and not rs.rst.bits & ACK) or (not conn.client_known and not rs.received_since_sent):
        return "reset"  # not tcp_send_active_reset's, or nothing seen that it could have answered
    return "data_was_unread" if rs.received_since_sent else "linger_zero"


def classify(conn: Conn) -> End:
    c, s = conn.sides
    firsts = [min(_first(x.fin_ts), _first(x.rst.ts if x.rst else None)) for x in conn.sides]
    first = 0 if firsts[0] <= firsts[1] else 1
    closed_first_by = conn.ep(first) if firsts[first] != float("inf") else None
    resets = {d: rst for d in (0, 1) if (rst := conn.sides[d].rst) is not None}
    r = min(resets, key=lambda d: resets[d].ts) if resets else None
    if r is not None and not conn.fin_fin:
        cause = _wire_rst_cause(conn, r)
        evidence, reason = "wire", _reset_reason(conn, r)
        mapped = _REASONS.get(reason or "")
        if reason == "NO_SOCKET":
            mapped = cause if cause in ("refused", "data_after_close") else "no_socket"
        elif reason == "TCP_ABORT_ON_DATA":
            mapped = "data_after_close" if conn.sides[r].received_after_fin else "linger2_orphan_ack"
        elif reason and reason != "NOT_SPECIFIED" and not mapped:
            mapped = reason.lower()
        if mapped:
            evidence, cause = "tracepoint", mapped
        summary = _summary_for(conn, r, cause, evidence)
        fin_before = any(x.fin_ts is not None and x.fin_ts <= resets[r].ts for x in conn.sides)
        kind = "refused" if cause == "refused" else ("FIN then RST" if fin_before else "RST")
        rst_by = conn.ep(r)
    elif c.fin_ts is not None and s.fin_ts is not None:
        kind, rst_by, reason = "FIN/FIN", None, None
        half = conn.sides[first].acked_after_fin
        cause = "shutdown_fin" if half else "fin"
        summary = f"FIN/FIN, {conn.name(first)} first" + (" (half-close)" if half else "")
        if r is not None:  # reset after both FINs were ACKed: it did not end the connection, but it is the first RST
            rst_by, reason = conn.ep(r), _reset_reason(conn, r)
            summary += f"; then RST by {conn.name(r)}"
        evidence = "tracepoint" if any(ev.event == "inet_sock_set_state" for ev in conn.kernel) else "wire"
    elif not conn.synack and c.syn_ts is not None and conn.closed_at is not None:
        kind, summary, cause, evidence, rst_by, reason = "timeout", "timeout: SYN unanswered", "syn_timeout", "wire", None, None
    else:
        half = c.fin_ts is not None or s.fin_ts is not None
        kind, rst_by, reason, evidence = "open", None, None, "wire"
        cause = "half_open" if half else "open"
        summary = f"open ({conn.name(first)} sent FIN)" if half else "open"
    text = EXPLAIN.get(cause, f"kernel reason {reason}")
    if evidence == "wire" and cause in ("data_was_unread", "linger_zero"):
        text += " — from the wire: an active [R.] (real window" + (
            ", the peer's data outstanding)" if cause == "data_was_unread" else ", nothing outstanding)"
        )
        settle = "and this kernel's reset gave no reason" if reason else "run as root for the kernel's reason"
        text += f": {WIRE_SUMMARY[cause]}: the wire cannot tell; {settle}"
    if kind == "FIN/FIN" and rst_by:
        text += f"; then {rst_by} sent an RST, after both FINs were ACKed"
    if reason:
        text += f"; kernel reason {reason}"
    verdict = "RST" if rst_by and kind != "FIN/FIN" else "FIN"
    advice = WIRE_ADVICE.get(cause) or advise(cause, verdict, SocketRow("", -1, "ESTABLISHED"))
    if advice and evidence == "wire" and cause in ("data_was_unread", "linger_zero"):
        advice = f"if the wire's guess is right: {advice}"
    return End(kind, summary, cause, evidence, closed_first_by, rst_by, reason, text, PATHS.get(cause, ()), advice)


# What the wire alone shows for the two close() resets: each looks like the other in some cases.
WIRE_SUMMARY = {
    "data_was_unread": "unread data, or SO_LINGER 0 after reading",
    "linger_zero": "SO_LINGER 0, or older unread data",
}


def _summary_for(conn: Conn, r: int, cause: str, evidence: str) -> str:
    who = conn.name(r)
    if evidence == "wire" and cause in WIRE_SUMMARY:
        return f"RST by {who}: {WIRE_SUMMARY[cause]}"
    return {
        "data_was_unread": f"RST by {who}: unread data",
        "linger_zero": f"RST by {who}: SO_LINGER 0",
        "data_after_close": "RST reply to data after close",
        "refused": "refused",
        "linger2_abort": f"RST by {who}: TCP_LINGER2 < 0",
        "linger2_orphan_ack": f"RST by {who}: orphan answered the ACK of its FIN",
        "no_socket": f"RST by {who}: no socket",
        "reset": f"RST by {who}: the wire shows no cause",
    }.get(cause, f"RST by {who}: {cause}")
