"""The kernel functions that decide on receipt of a segment, for the kernel panel: each branch of
lab/receipt.py located by its code in the function it lives in, in the running kernel's own
source when a tree is found (kernel/source.py's discovery order), else in the bundled 6.12
excerpt. As for tcp_close (kernel/excerpt.py), lines are found by code, never by number. The
timer functions (kernel/timer_source.py's table, lab/timerpath.py's branches) are read and
located the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from importlib import resources

from tuiexplore.files import FileError, read_regular
from tuiexplore.kernel import timer_source
from tuiexplore.kernel.excerpt import Excerpt, function_lines, locate
from tuiexplore.kernel.source import TCP_C_MAX, Found, candidates

BUNDLE = "receipt-6.12.118.json"
TCP_INPUT, MINISOCKS, TCP_IPV4 = "net/ipv4/tcp_input.c", "net/ipv4/tcp_minisocks.c", "net/ipv4/tcp_ipv4.c"
FUNCTIONS = {
    "tcp_validate_incoming": TCP_INPUT,
    "tcp_reset": TCP_INPUT,
    "tcp_fin": TCP_INPUT,
    "tcp_data_queue": TCP_INPUT,
    "tcp_rcv_state_process": TCP_INPUT,
    "tcp_rcv_synsent_state_process": TCP_INPUT,
    "tcp_check_req": MINISOCKS,
    "tcp_timewait_state_process": MINISOCKS,
    "tcp_v4_rcv": TCP_IPV4,
}
# tcp_ack()'s own checks of the ACK number are not bundled: a refusal is shown where
# tcp_rcv_state_process() takes it (and, outside ESTABLISHED, sends the challenge ACK itself).
ACK_REFUSED = ("tcp_rcv_state_process", [r"=\s*tcp_ack\s*\(sk", r"FLAG_NO_CHALLENGE_ACK", r"tcp_send_challenge_ack\s*\("])
# branch id -> (the function it lives in, patterns matched in order as in excerpt.BRANCH_PATTERNS).
RECEIPT_PATTERNS: dict[str, tuple[str, list[str]]] = {
    "rcv_no_socket": ("tcp_v4_rcv", [r"^no_tcp_socket:", r"tcp_v4_send_reset\s*\(\s*NULL"]),
    "rcv_syn_sent": ("tcp_rcv_synsent_state_process", [r"if\s*\(th->ack\)", r"tcp_finish_connect\s*\("]),
    "rcv_syn_recv": ("tcp_check_req", [r"snt_isn\s*\+\s*1", r"syn_recv_sock\s*\("]),
    "rcv_listen": ("tcp_rcv_state_process", [r"case\s+TCP_LISTEN:", r"th->ack", r"conn_request"]),
    "rcv_no_ack": ("tcp_rcv_state_process", [r"!th->ack\s*&&\s*!th->rst\s*&&\s*!th->syn", r"goto\s+discard"]),
    # tcp_sequence(): "reason = tcp_sequence(...)" from 6.10, "if (!tcp_sequence(...))" before
    "rcv_out_of_window": ("tcp_validate_incoming", [r"\btcp_sequence\s*\(", r"if\s*\(!th->rst\)", r"tcp_send_dupack"]),
    "rcv_rst_ignored": ("tcp_validate_incoming", [r"\btcp_sequence\s*\(", r"tcp_reset_check", r"goto\s+discard"]),
    "rcv_rst_exact": ("tcp_validate_incoming", [r"seq\s*==\s*tp->rcv_nxt", r"goto\s+reset", r"^reset:", r"tcp_reset\s*\("]),
    "rcv_rst_challenge": ("tcp_validate_incoming", [r"seq\s*==\s*tp->rcv_nxt", r"tcp_send_challenge_ack\s*\("]),
    "rcv_syn_challenge": ("tcp_validate_incoming", [r"^syn_challenge:", r"TCPSYNCHALLENGE", r"tcp_send_challenge_ack\s*\("]),
    "rcv_oow_limited": ("tcp_validate_incoming", [r"tcp_oow_rate_limited\s*\(", r"tcp_oow_rate_limited\s*\("]),
    "rcv_ack_too_old": ACK_REFUSED,
    "rcv_ack_unsent": ACK_REFUSED,
    "rcv_ack": ("tcp_rcv_state_process", [r"=\s*tcp_ack\s*\(sk", r"case\s+TCP_FIN_WAIT1:", r"TCP_FIN_WAIT2\)"]),
    "rcv_data": ("tcp_rcv_state_process", [r"case\s+TCP_ESTABLISHED:", r"tcp_data_queue\s*\("]),
    "rcv_data_after_close": ("tcp_rcv_state_process", [r"RCV_SHUTDOWN", r"TCPABORTONDATA", r"tcp_reset\s*\("]),
    "rcv_zero_window": (
        "tcp_data_queue",
        [r"tcp_receive_window\(tp\)\s*==\s*0", r"TCPZEROWINDOWDROP", r"goto\s+out_of_window", r"^out_of_window:"]
        + [r"inet_csk_schedule_ack"],
    ),
    "rcv_fin": ("tcp_fin", [r"TCP_CLOSE_WAIT\)", r"TCP_CLOSING\)", r"tcp_time_wait\s*\(sk,\s*TCP_TIME_WAIT"]),
    "tw_ack": ("tcp_timewait_state_process", [r"paws_reject\s*\|\|\s*th->ack", r"oow_rate_limit|TCP_TW_ACK"]),
    "tw_quiet": ("tcp_timewait_state_process", [r"seq\s*==\s*(?:tcptw->tw_)?rcv_nxt\s*&&", r"inet_twsk_put\s*\(tw\)"]),
    "tw_kill": ("tcp_timewait_state_process", [r"sysctl_tcp_rfc1337", r"^kill:", r"inet_twsk_deschedule_put"]),
    "tw_syn": ("tcp_timewait_state_process", [r"th->syn\s*&&\s*!th->rst\s*&&\s*!th->ack", r"TCP_TW_SYN"]),
    "tw_rst": ("tcp_timewait_state_process", [r"return\s+TCP_TW_RST", r"return\s+TCP_TW_RST"]),
    "tw_fin": ("tcp_timewait_state_process", [r"tw_substate\W+TCP_TIME_WAIT", r"return\s+TCP_TW_ACK"]),
}
# Every function shown besides tcp_close -> (its file, its bundle); every branch -> its function and patterns.
SHOWN = {
    **{name: (file, BUNDLE) for name, file in FUNCTIONS.items()},
    **{name: (file, timer_source.BUNDLE) for name, file in timer_source.FUNCTIONS.items()},
}
PATTERNS = {**RECEIPT_PATTERNS, **timer_source.TIMER_PATTERNS}
HINT = (
    "this is not your kernel's own source: install your distribution's kernel source "
    "(Debian/Ubuntu: apt install linux-source) or pass --kernel-src"
)


def function_of(path: tuple[str, ...] | list[str]) -> str | None:
    """The function the decisive (last) receipt or timer branch of a path lives in, or None."""
    return next((PATTERNS[b][0] for b in reversed(path) if b in PATTERNS), None)


def deciding(path: tuple[str, ...] | list[str], base: Excerpt, kernel_src: str | None = None, host: bool = True) -> Excerpt:
    """The source a branch path decides in: its receipt or timer function (``for_panel``), else
    ``base`` (tcp_close's). The kernel panel, the verdict dialog and the export show this one."""
    name = function_of(path)
    return for_panel(name, kernel_src, host) if name else base


def _located(name: str, lines: list[str], first: int, version: str, origin: str, hint: str = "") -> Excerpt:
    patterns = {b: pats for b, (fn, pats) in PATTERNS.items() if fn == name}
    return Excerpt(lines, first, version, origin, branches=locate(lines, first, patterns), hint=hint, function=name)


def extract(text: str, name: str, version: str, origin: str) -> Excerpt | None:
    got = function_lines(text, name)
    if got is None:
        return None
    first, lines = got
    return _located(name, lines, first, version, f"{origin}: {SHOWN[name][0]} {first}-{first + len(lines) - 1}")


@cache
def bundled(name: str) -> Excerpt:
    meta = json.loads((resources.files("tuiexplore.kernel") / "bundled" / SHOWN[name][1]).read_text())
    fn = meta["functions"][name]
    origin = f"bundled: {meta['release']}, {fn['file']} {fn['first_line']}-{fn['first_line'] + len(fn['lines']) - 1}, GPL-2.0"
    return _located(name, fn["lines"], fn["first_line"], meta["version"], origin, HINT)


@cache
def _tree_text(path: str, file: str) -> str | None:
    try:
        return read_regular(os.path.join(path, file), TCP_C_MAX, file).decode(errors="replace")
    except (FileError, OSError):
        return None


def excerpt(name: str, kernel_src: str | None = None, env: Mapping[str, str] | None = None, host: bool = True) -> Excerpt:
    """The function from the first kernel tree found (a tarball is not read for these), else
    bundled. A tree given (``--kernel-src``, a guest line's) is the only one read: a file it
    lacks means the bundled excerpt, never another kernel's tree. ``host`` False: the kernel is
    not this machine's (a guest line fetched without its source), so no tree of this machine is
    looked for either."""
    for found in _trees(kernel_src, env, host):
        text = _tree_text(found.path, SHOWN[name][0])
        ex = extract(text, name, "", f"tree {found.path} ({found.how})") if text else None
        if ex is not None:
            return ex
    return bundled(name)


def _trees(kernel_src: str | None, env: Mapping[str, str] | None = None, host: bool = True) -> list[Found]:
    trees = [Found(kernel_src, "--kernel-src")] if kernel_src else candidates(None, env) if host else []
    return [found for found in trees if os.path.isdir(found.path)]


def tree_text(file: str, kernel_src: str | None = None) -> str | None:
    """``file`` of the first kernel tree found that has it (the same trees as ``excerpt``)."""
    return next((text for found in _trees(kernel_src) if (text := _tree_text(found.path, file))), None)


@cache
def for_panel(name: str, kernel_src: str | None = None, host: bool = True) -> Excerpt:
    """``excerpt(name, kernel_src, host=host)`` once per run: the panel asks at every mark."""
    return excerpt(name, kernel_src, host=host)
