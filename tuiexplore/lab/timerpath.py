"""What a pending timer will do when it fires, predicted by following the kernel's timer code
(net/ipv4/tcp_timer.c: ``tcp_keepalive_timer()``, ``tcp_retransmit_timer()`` ->
``tcp_write_timeout()`` -> ``retransmits_timed_out()``, ``tcp_probe_timer()``; the timewait
socket's ``tw_timer_handler()``), from what the kernel reports just before the lab waits: the
timer's kind and the socket's state (sock_diag), its retransmission or probe count
(``idiag_retrans``), the bytes not acked, the lab namespace's sysctls, the options the socket was
given, and when the RTO first retransmitted its oldest unacked segment (the capture). A
``wait`` step's verdict judges it against what the timer sent, like a closing call's. The branch
ids (TIMER_BRANCHES) are documented in docs/reference/branches.md with predict.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from tuiexplore.lab.capture import Frame
from tuiexplore.lab.predict import Prediction, rst_reason
from tuiexplore.lab.timers import Pending

TIMER_BRANCHES: dict[str, str] = {
    "retransmit": "tcp_retransmit_timer(): tcp_write_timeout() lets it go on: the oldest unacked segment again "
    "(the first time: the tail loss probe's, tcp_send_loss_probe()), the RTO backs off",
    "write_timeout": "tcp_write_timeout(): retransmits_timed_out() for tcp_retries2, the orphan's retries or "
    "TCP_USER_TIMEOUT: tcp_write_err(), the socket closes with ETIMEDOUT and nothing is sent",
    "keepalive_probe": "tcp_keepalive_timer(): idle for the keepalive time, probes left: tcp_write_wakeup() sends a probe",
    "keepalive_abort": "tcp_keepalive_timer(): icsk_probes_out reached keepalive_probes (or the user timeout passed): "
    "tcp_send_active_reset() and tcp_write_err(): RST, ETIMEDOUT",
    "keepalive_busy": "tcp_keepalive_timer(): data in flight or queued, the connection is alive without keepalive: re-armed",
    "orphan_fin_wait2_timewait": "tcp_keepalive_timer() on an orphan in FIN_WAIT2: tcp_fin_time() is over 60 s, "
    "so the rest is spent as a timewait socket (tcp_time_wait())",
    "orphan_fin_wait2_reset": "tcp_keepalive_timer() on an orphan in FIN_WAIT2: its time is up: RST (TCP_STATE), the socket dies",
    "timewait_end": "tw_timer_handler(): the timewait socket (TIME_WAIT, or FIN_WAIT2 for an orphan) is killed; nothing is sent",
    "zero_window_probe": "tcp_probe_timer(): the peer's window is still zero: a window probe",
}
# A timer the kernel cut short to the user timeout fires exactly at it; the capture stamps a
# segment when the relay or lo's packet socket reads it (later than the kernel sent it, by more
# under load) and sock_diag gives jiffies in ms: the two clocks differ by up to this.
CLOCKS_MS = 20
RTO_MIN_MS, RTO_MAX_MS = 200, 120_000  # TCP_RTO_MIN, TCP_RTO_MAX
TIMEWAIT_LEN_S = 60  # TCP_TIMEWAIT_LEN
TIMEWAIT_TIMER = 3  # sock_diag's idiag_timer of a timewait socket (TIME_WAIT, or an orphan's FIN_WAIT2)

Sysctl = Callable[[str], int]  # a net.ipv4 sysctl of the namespace the socket lives in


@dataclass(frozen=True)
class TimerSocket:
    """What the prediction reads about the timer's socket besides the timer itself."""

    orphan: bool  # no fd holds it any more (SOCK_DEAD)
    options: dict[str, int]  # setsockopt values it was given (TCP_USER_TIMEOUT, TCP_KEEPCNT, TCP_LINGER2, ...)
    elapsed_ms: int | None  # at the timer's expiry, since the RTO first retransmitted the oldest unacked segment


def model_timeout_ms(boundary: int, rto_base_ms: int = RTO_MIN_MS) -> int:
    """tcp_model_timeout(): how long ``boundary`` retransmissions take, the RTO doubling from
    ``rto_base`` up to TCP_RTO_MAX."""
    linear = (RTO_MAX_MS // rto_base_ms).bit_length() - 1  # ilog2(TCP_RTO_MAX / rto_base)
    if boundary <= linear:
        return ((2 << boundary) - 1) * rto_base_ms
    return ((2 << linear) - 1) * rto_base_ms + (boundary - linear) * RTO_MAX_MS


def _timed_out(p: Pending, boundary: int, user_timeout: int, elapsed: int | None) -> bool:
    """retransmits_timed_out(): never before a first retransmission; else the time since then
    against the user timeout, or the modelled time of ``boundary`` retransmissions."""
    if p.retrans == 0 or elapsed is None:
        return False
    return elapsed + CLOCKS_MS >= (user_timeout or model_timeout_ms(boundary))


def predict_timer(p: Pending, s: TimerSocket, sysctl: Sysctl, version: tuple[int, int, int]) -> Prediction:
    """The timer's branch, also as the path the kernel panel shows (where its code is)."""
    pred = _predict(p, s, sysctl, version)
    return replace(pred, path=(pred.branch,))


def _predict(p: Pending, s: TimerSocket, sysctl: Sysctl, version: tuple[int, int, int]) -> Prediction:
    if p.timer == TIMEWAIT_TIMER:
        return Prediction("none", "timewait_end", None, text="the timewait socket's timer: it is killed, nothing sent")
    if p.kind == "fin_wait2":
        return _fin_wait2(s, sysctl, version)
    if p.kind == "keepalive":
        return _keepalive(p, s, sysctl, version)
    if p.kind == "zero_window_probe":
        limit = _orphan_retries(sysctl) if s.orphan else sysctl("tcp_retries2")
        if p.retrans >= limit:
            return _write_timeout(f"{p.retrans} window probes unanswered, the limit is {limit}")
        return Prediction("none", "zero_window_probe", None, text=f"window probe {p.retrans + 1} (the limit is {limit})")
    return _retransmission(p, s, sysctl)


def _orphan_retries(sysctl: Sysctl) -> int:
    """tcp_orphan_retries() while the RTO is below TCP_RTO_MAX: 0 means 8."""
    return sysctl("tcp_orphan_retries") or 8


def _write_timeout(why: str) -> Prediction:
    return Prediction(
        "none", "write_timeout", None, ("TcpExt.TCPAbortOnTimeout",), f"{why}: tcp_write_err(), ETIMEDOUT, nothing sent"
    )


def _retransmission(p: Pending, s: TimerSocket, sysctl: Sysctl) -> Prediction:
    user_timeout = s.options.get("TCP_USER_TIMEOUT", 0)
    if p.kind == "syn_retransmission" or p.kind == "synack_retransmission":
        limit = s.options.get("TCP_SYNCNT") or sysctl("tcp_syn_retries")
        if p.retrans >= limit:
            return _write_timeout(f"{p.retrans} SYN retransmissions, the limit is {limit}")
    else:
        boundary = _orphan_retries(sysctl) if s.orphan else sysctl("tcp_retries2")
        if _timed_out(p, boundary, user_timeout, s.elapsed_ms):
            used = f"TCP_USER_TIMEOUT {user_timeout} ms" if user_timeout else f"{boundary} retransmissions' time"
            return _write_timeout(f"unacked for {s.elapsed_ms} ms after {p.retrans} retransmissions ({used} used up)")
    what = "the FIN" if p.kind == "fin_retransmission" else "the oldest unacked segment"
    outcome = "FIN" if p.kind == "fin_retransmission" else "none"
    first = "a tail loss probe or the first RTO" if p.retrans == 0 else f"retransmission {p.retrans + 1}"
    return Prediction(outcome, "retransmit", None, ("Tcp.RetransSegs",), f"{first}: {what} again")


def _keepalive(p: Pending, s: TimerSocket, sysctl: Sysctl, version: tuple[int, int, int]) -> Prediction:
    if p.unacked:
        return Prediction("none", "keepalive_busy", None, text=f"{p.unacked} bytes in flight or queued: re-armed, nothing sent")
    probes = s.options.get("TCP_KEEPCNT") or sysctl("tcp_keepalive_probes")
    user_timeout = s.options.get("TCP_USER_TIMEOUT", 0)
    # The timer is armed for the moment the connection has been idle the keepalive time (a segment
    # received meanwhile would re-arm it instead: the verdict would show it); then the probes decide.
    # Idle at the expiry, as the timer was armed: the keepalive time, then an interval per probe.
    idle_ms = 1000 * (
        (s.options.get("TCP_KEEPIDLE") or sysctl("tcp_keepalive_time"))
        + p.retrans * (s.options.get("TCP_KEEPINTVL") or sysctl("tcp_keepalive_intvl"))
    )
    if (user_timeout == 0 and p.retrans >= probes) or (user_timeout and p.retrans > 0 and idle_ms >= user_timeout):
        limit = f"TCP_USER_TIMEOUT {user_timeout} ms" if user_timeout else f"keepalive_probes {probes}"
        return Prediction(
            "RST",
            "keepalive_abort",
            rst_reason("TCP_KEEPALIVE_TIMEOUT", version),
            ("TcpExt.TCPAbortOnTimeout",),
            f"{p.retrans} probes unanswered ({limit}): RST, then ETIMEDOUT for the application",
        )
    return Prediction("none", "keepalive_probe", None, ("TcpExt.TCPKeepAlive",), f"probe {p.retrans + 1} of {probes}")


def _fin_wait2(s: TimerSocket, sysctl: Sysctl, version: tuple[int, int, int]) -> Prediction:
    """The full orphan in FIN_WAIT2 (its tcp_fin_time() was over 60 s when it got there)."""
    linger2 = s.options.get("TCP_LINGER2", 0)
    fin_time = linger2 or sysctl("tcp_fin_timeout")
    if linger2 >= 0 and fin_time - TIMEWAIT_LEN_S > 0:
        return Prediction(
            "none", "orphan_fin_wait2_timewait", None, text=f"{fin_time - TIMEWAIT_LEN_S} s more as a timewait socket"
        )
    return Prediction(
        "RST", "orphan_fin_wait2_reset", rst_reason("TCP_STATE", version), text="its FIN_WAIT2 time is up: RST, the orphan dies"
    )


def first_unacked_ms(p: Pending, frames: list[Frame], at: float) -> int | None:
    """From the capture: ms from the start of ``retransmits_timed_out()``'s clock
    (tp->retrans_stamp) to ``at`` (the timer's expiry). The clock starts at the first
    retransmission the RTO made of the oldest unacked segment, not at its first sending nor at a
    tail loss probe (measured here: TCP_USER_TIMEOUT 1000 ms ends 1000 ms after the first RTO's
    retransmission); the RTO's are the last ``retrans`` (icsk_retransmits) sendings of it."""
    mine = [f for f in frames if (f.sport, f.dport) == (p.lport, p.rport)]
    sent = [(f, f.payload_len + (1 if f.flag_bits & 0x03 else 0)) for f in mine]  # SYN and FIN take one
    sent = [(f, n) for f, n in sent if n]
    if not sent or p.unacked <= 0:
        return None
    base = sent[0][0].seq
    end = max((f.seq - base + n) & 0xFFFFFFFF for f, n in sent)
    una = end - p.unacked
    head = sorted(f.ts for f, n in sent if (f.seq - base) & 0xFFFFFFFF <= una < ((f.seq - base) & 0xFFFFFFFF) + n)
    if not head or p.retrans == 0:
        return None
    return round((at - head[max(0, len(head) - p.retrans)]) * 1000)


class SocketOptions:
    """The options each lab socket was given, from the steps that set them (an accepted socket
    inherits its listener's, as the kernel's clone does)."""

    def __init__(self) -> None:
        self.by_socket: dict[tuple[str, str], dict[str, int]] = {}

    def seen(self, actor: str, call: str, args: dict[str, Any], ret: int | None, result: dict[str, Any]) -> None:
        if call == "setsockopt" and ret == 0 and isinstance(args.get("value"), int):
            self.by_socket.setdefault((actor, args["fd"]), {})[args["option"]] = args["value"]
        elif call == "accept" and ret is not None and ret >= 0 and "fd" in result:
            self.by_socket[(actor, result["fd"])] = dict(self.by_socket.get((actor, args["fd"]), {}))

    def of(self, actor: str, fd: str) -> dict[str, int]:
        return self.by_socket.get((actor, fd), {})
