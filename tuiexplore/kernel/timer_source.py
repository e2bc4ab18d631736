"""The timer functions for the kernel panel: each timer branch of lab/timerpath.py with the function
that decides it (net/ipv4/tcp_timer.c, and the timewait socket's handler in
inet_timewait_sock.c) and the patterns that find its lines by code, as kernel/receipt_source.py
has them for the receipt functions; it reads and shows these through the same path.
"""

from __future__ import annotations

BUNDLE = "timers-6.12.118.json"
TCP_TIMER, TIMEWAIT_SOCK = "net/ipv4/tcp_timer.c", "net/ipv4/inet_timewait_sock.c"
FUNCTIONS = {
    "tcp_retransmit_timer": TCP_TIMER,
    "tcp_write_timeout": TCP_TIMER,
    "tcp_probe_timer": TCP_TIMER,
    "tcp_keepalive_timer": TCP_TIMER,
    "tw_timer_handler": TIMEWAIT_SOCK,
}
# branch id -> (the function it lives in, patterns matched in order as in excerpt.BRANCH_PATTERNS).
# Each branch's lines are its deciding condition, then what the kernel does on it.
TIMER_PATTERNS: dict[str, tuple[str, list[str]]] = {
    "retransmit": (
        "tcp_retransmit_timer",
        [r"if\s*\(\s*tcp_write_timeout\s*\(sk\)", r"tcp_retransmit_skb\s*\(sk,\s*tcp_rtx_queue_head", r"icsk_backoff\+\+"],
    ),
    "write_timeout": (
        "tcp_write_timeout",
        [
            r"retry_until\s*=.*sysctl_tcp_retries2",
            r"retry_until\s*=\s*tcp_orphan_retries\s*\(",
            r"expired\s*=\s*retransmits_timed_out\s*\(",
            r"if\s*\(\s*expired\s*\)",
            r"tcp_write_err\s*\(sk\)",
        ],
    ),
    "zero_window_probe": (
        "tcp_probe_timer",
        [r"max_probes\s*=.*sysctl_tcp_retries2", r"icsk_probes_out\s*>=\s*max_probes", r"tcp_send_probe0\s*\(sk\)"],
    ),
    "keepalive_busy": ("tcp_keepalive_timer", [r"packets_out\s*\|\|\s*!tcp_write_queue_empty", r"goto\s+resched"]),
    "keepalive_probe": (
        "tcp_keepalive_timer",
        [r"elapsed\s*>=\s*keepalive_time_when\s*\(tp\)", r"tcp_write_wakeup\s*\(sk", r"icsk_probes_out\+\+"],
    ),
    "keepalive_abort": (
        "tcp_keepalive_timer",
        [
            r"elapsed\s*>=\s*keepalive_time_when\s*\(tp\)",
            r"user_timeout\s*!=\s*0",
            r"icsk_probes_out\s*>=\s*keepalive_probes\s*\(tp\)",
            r"tcp_send_active_reset\s*\(sk",
            r"tcp_write_err\s*\(sk\)",
        ],
    ),
    "orphan_fin_wait2_timewait": (
        "tcp_keepalive_timer",
        [
            r"sk_state\s*==\s*TCP_FIN_WAIT2\s*&&\s*sock_flag\s*\(sk,\s*SOCK_DEAD\)",
            r"linger2\)?\s*>=\s*0",
            r"tcp_fin_time\s*\(sk\)\s*-\s*TCP_TIMEWAIT_LEN",
            r"tmo\s*>\s*0",
            r"tcp_time_wait\s*\(sk,\s*TCP_FIN_WAIT2",
        ],
    ),
    "orphan_fin_wait2_reset": (
        "tcp_keepalive_timer",
        [
            r"sk_state\s*==\s*TCP_FIN_WAIT2\s*&&\s*sock_flag\s*\(sk,\s*SOCK_DEAD\)",
            r"tcp_send_active_reset\s*\(sk",
            r"goto\s+death",
            r"^death:",
            r"tcp_done\s*\(sk\)",
        ],
    ),
    "timewait_end": ("tw_timer_handler", [r"inet_twsk_kill\s*\(tw\)"]),
}
