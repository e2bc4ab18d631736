"""A segment that reaches a TIME_WAIT mini-socket (substate TIME_WAIT, or FIN_WAIT2 for an orphan
whose FIN was ACKed): ``tcp_timewait_state_process()``, PAWS aside (the scripted peer's
timestamps only grow). A leaf: lab/receipt.py turns each ``Answer`` into its ``Receipt``."""

from __future__ import annotations

from tuiexplore.lab.receipt_answer import ACK, FIN, RST, SYN, Answer, Receiving, Segment, where_in_window
from tuiexplore.lab.seqnum import MOD, after, before


def _answer(outcome: str, branch: str, state: str, text: str) -> Answer:
    return Answer(outcome, branch, state, text, "timewait")


def timewait(r: Receiving, a: Segment) -> Answer:
    s = r.state or ""
    if s == "FIN_WAIT2":  # "repeat all the checks of tcp_rcv_state_process()"
        if not (not before(a.end, r.rcv_nxt) and not after(a.seq, (r.rcv_nxt + r.rcv_wnd) % MOD)):
            return _answer("ACK", "tw_ack", s, "outside the FIN_WAIT2 mini-socket's window: ACK")
        if a.has(RST):
            return _answer("none", "tw_kill", "", "an RST in the window ends the FIN_WAIT2 mini-socket")
        if a.has(SYN) and not before(a.seq, r.rcv_nxt):
            return _reset("a SYN in the window")
        if not a.has(ACK) or not after(a.end, r.rcv_nxt) or a.end == a.seq:
            return _answer("none", "tw_quiet", s, "a duplicate ACK: nothing to answer")
        if not a.has(FIN) or a.end != (r.rcv_nxt + 1) % MOD:
            return _reset(f"{a.length} new bytes after our close()")
        return _answer("ACK", "tw_fin", "TIME_WAIT", "the peer's FIN: ACKed, FIN_WAIT2 -> TIME_WAIT (60 s)")
    if a.seq == r.rcv_nxt and (a.end == a.seq or a.has(RST)):
        if a.has(RST) and not r.rfc1337:
            return _answer("none", "tw_kill", "", "an RST at RCV.NXT: TIME_WAIT assassination (RFC 1337), the socket is gone")
        what = "an RST (tcp_rfc1337 = 1 ignores it)" if a.has(RST) else "a bare ACK at RCV.NXT"
        return _answer("none", "tw_quiet", s, f"{what}: nothing sent, TIME_WAIT goes on")
    # A new SYN: past RCV.NXT, or with a newer timestamp than the last one taken (RFC 6191).
    newer_ts = a.tsval is not None and r.ts_recent is not None and (r.ts_recent - a.tsval) % MOD >= MOD // 2
    if a.has(SYN) and not a.has(RST | ACK) and (after(a.seq, r.rcv_nxt) or newer_ts):
        new = "past RCV.NXT" if after(a.seq, r.rcv_nxt) else "with a newer timestamp"
        if r.listener:
            return _answer("SYN-ACK", "tw_syn", "", f"a new SYN {new}: TIME_WAIT gives way and the listener answers SYN-ACK")
        return _answer("ACK", "tw_ack", s, f"a new SYN {new}, but no listener: the TIME_WAIT socket ACKs it")
    if a.has(RST):
        return _answer("none", "tw_quiet", s, f"an RST not at RCV.NXT ({where_in_window(a.seq, r.rcv_nxt)}): dropped")
    what = f"{a.length} bytes of data" if a.length else "a SYN at or before RCV.NXT" if a.has(SYN) else "a segment"
    return _answer("ACK", "tw_ack", s, f"{what} into TIME_WAIT: ACKed with what it expects, TIME_WAIT restarted")


def _reset(why: str) -> Answer:
    return Answer(
        "RST", "tw_rst", "", f"{why} to a FIN_WAIT2 mini-socket: RST, the mini-socket is gone", "timewait",
        reset="TCP_TIMEWAIT_SOCKET", counters=("Tcp.OutRsts",),
    )  # fmt: skip
