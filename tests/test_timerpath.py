"""The timer predictor (lab/timerpath.py) on the inputs the kernel gives: each branch of
tcp_keepalive_timer() and tcp_write_timeout() it follows. The same predictions are judged against
the real kernel in test_timer_builtins.py."""

from tuiexplore.lab.capture import Frame
from tuiexplore.lab.timerpath import TIMER_BRANCHES, SocketOptions, TimerSocket, first_unacked_ms, model_timeout_ms, predict_timer
from tuiexplore.lab.timers import Pending

SYSCTLS = {"tcp_keepalive_time": 1, "tcp_keepalive_intvl": 1, "tcp_keepalive_probes": 2, "tcp_retries2": 15}
SYSCTLS |= {"tcp_orphan_retries": 0, "tcp_syn_retries": 6, "tcp_fin_timeout": 60}
V618 = (6, 18, 0)


def _p(kind: str, state: str = "ESTABLISHED", retrans: int = 0, unacked: int = 0, timer: int = 1) -> Pending:
    return Pending("client", "c", state, kind, 200, 1000, 2000, retrans, unacked, timer)


def _sock(orphan: bool = False, elapsed: int | None = None, **options: int) -> TimerSocket:
    return TimerSocket(orphan, options, elapsed)


def test_tcp_retries2_15_is_the_kernels_924_6_seconds():
    assert model_timeout_ms(15) == 924_600  # tcp(7): "a hypothetical timeout of 924.6 seconds"
    assert model_timeout_ms(3) == 3_000  # 200 + 400 + 800 + 1600 ms


def test_keepalive_probes_then_the_abort_with_its_rst_reason():
    probe = predict_timer(_p("keepalive", retrans=1, timer=2), _sock(), SYSCTLS.get, V618)
    assert (probe.outcome, probe.branch) == ("none", "keepalive_probe")
    abort = predict_timer(_p("keepalive", retrans=2, timer=2), _sock(), SYSCTLS.get, V618)
    assert (abort.outcome, abort.branch, abort.reason) == ("RST", "keepalive_abort", "TCP_KEEPALIVE_TIMEOUT")
    assert predict_timer(_p("keepalive", retrans=2, timer=2), _sock(), SYSCTLS.get, (6, 1, 0)).reason is None
    more = predict_timer(_p("keepalive", retrans=2, timer=2), _sock(TCP_KEEPCNT=5), SYSCTLS.get, V618)
    assert more.branch == "keepalive_probe"  # the socket's own TCP_KEEPCNT wins over the sysctl
    busy = predict_timer(_p("keepalive", retrans=2, unacked=5, timer=2), _sock(), SYSCTLS.get, V618)
    assert (busy.outcome, busy.branch) == ("none", "keepalive_busy")
    # With TCP_USER_TIMEOUT the idle time decides (keepalive time + a probe interval each), not the count.
    ut = predict_timer(_p("keepalive", retrans=1, timer=2), _sock(TCP_USER_TIMEOUT=1500), SYSCTLS.get, V618)
    assert ut.branch == "keepalive_abort"


def test_retransmission_until_the_user_timeout_or_the_retries():
    first = predict_timer(_p("fin_retransmission", "FIN_WAIT1", unacked=1), _sock(), SYSCTLS.get, V618)
    assert (first.outcome, first.branch) == ("FIN", "retransmit")
    ut = _sock(elapsed=999, TCP_USER_TIMEOUT=1000)
    assert predict_timer(_p("retransmission", retrans=2, unacked=5), ut, SYSCTLS.get, V618).branch == "write_timeout"
    early = _sock(elapsed=500, TCP_USER_TIMEOUT=1000)
    assert predict_timer(_p("retransmission", retrans=2, unacked=5), early, SYSCTLS.get, V618).branch == "retransmit"
    # An orphan: tcp_orphan_retries (0: 8), i.e. 8 retransmissions' modelled 102.2 s.
    orphan = predict_timer(_p("retransmission", retrans=8, unacked=5), _sock(True, 102_200), SYSCTLS.get, V618)
    assert (orphan.outcome, orphan.branch) == ("none", "write_timeout")
    assert (
        predict_timer(_p("retransmission", retrans=8, unacked=5), _sock(False, 102_200), SYSCTLS.get, V618).branch == "retransmit"
    )


def test_timewait_sockets_end_silently_and_every_branch_is_documented():
    for state, kind in (("TIME_WAIT", "time_wait"), ("FIN_WAIT2", "fin_wait2")):
        p = predict_timer(_p(kind, state, timer=3), _sock(True), SYSCTLS.get, V618)
        assert (p.outcome, p.branch) == ("none", "timewait_end")
    full = predict_timer(_p("fin_wait2", "FIN_WAIT2", timer=2), _sock(True), SYSCTLS.get, V618)
    assert (full.outcome, full.branch, full.reason) == ("RST", "orphan_fin_wait2_reset", "TCP_STATE")
    assert {"retransmit", "write_timeout", "keepalive_abort", "timewait_end"} <= set(TIMER_BRANCHES)


def _frame(ts: float, seq: int, n: int, flags: int = 0x18) -> Frame:
    return Frame(ts, b"", "a", "b", 1000, 2000, seq, 0, flags, 0, n)


def test_the_user_timeouts_clock_starts_at_the_first_rto_retransmission():
    """Sent at 0, the tail loss probe at 0.2, the RTO's at 0.4 and 0.8: with two RTO
    retransmissions (icsk_retransmits 2) the clock started at 0.4."""
    frames = [_frame(0.0, 100, 5), _frame(0.2, 100, 5), _frame(0.4, 100, 5), _frame(0.8, 100, 5)]
    assert first_unacked_ms(_p("retransmission", retrans=2, unacked=5), frames, 1.4) == 1000
    assert first_unacked_ms(_p("retransmission", retrans=0, unacked=5), frames, 1.4) is None


def test_an_accepted_socket_inherits_its_listeners_options():
    opts = SocketOptions()
    opts.seen("server", "setsockopt", {"fd": "l", "option": "TCP_USER_TIMEOUT", "value": 500}, 0, {})
    opts.seen("server", "accept", {"fd": "l", "as": "conn"}, 4, {"fd": "conn"})
    assert opts.of("server", "conn") == {"TCP_USER_TIMEOUT": 500}


def test_the_kernel_panel_shows_a_timers_own_function():
    from tuiexplore.kernel import receipt_source
    from tuiexplore.kernel.excerpt import ELSEWHERE, bundled

    p = predict_timer(_p("keepalive", retrans=2, timer=2), _sock(), SYSCTLS.get, V618)
    assert p.path == ("keepalive_abort",) and "keepalive_abort" not in ELSEWHERE  # not elsewhere: shown
    shown = receipt_source.deciding(p.path, bundled())
    assert shown.function == "tcp_keepalive_timer" and shown.branches["keepalive_abort"]
