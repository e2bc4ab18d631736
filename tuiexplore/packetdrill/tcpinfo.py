"""``%{ }%`` blocks: asserts over ``TCP_INFO`` fields, evaluated without ``exec``.

packetdrill hands these blocks to a Python interpreter with the socket's ``tcpi_*`` fields
defined. A file's Python is never run here: a block whose statements are all ``assert`` with
comparisons, arithmetic and bit tests over ``tcpi_*`` names, integers and the kernel's TCP
constants is evaluated by walking its syntax tree; anything else is reported as skipped.
"""

from __future__ import annotations

import ast
import operator
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# include/net/tcp_states.h and include/uapi/linux/tcp.h
CONSTANTS: dict[str, int] = {
    "TCP_ESTABLISHED": 1, "TCP_SYN_SENT": 2, "TCP_SYN_RECV": 3, "TCP_FIN_WAIT1": 4,
    "TCP_FIN_WAIT2": 5, "TCP_TIME_WAIT": 6, "TCP_CLOSE": 7, "TCP_CLOSE_WAIT": 8,
    "TCP_LAST_ACK": 9, "TCP_LISTEN": 10, "TCP_CLOSING": 11, "TCP_NEW_SYN_RECV": 12,
    "TCPI_OPT_TIMESTAMPS": 1, "TCPI_OPT_SACK": 2, "TCPI_OPT_WSCALE": 4, "TCPI_OPT_ECN": 8,
    "TCPI_OPT_ECN_SEEN": 16, "TCPI_OPT_SYN_DATA": 32, "TCPI_OPT_USEC_TS": 64,
    "TCPI_OPT_TFO_CHILD": 128,
}  # fmt: skip

_BINARY: dict[type, Callable[[int, int], int]] = {
    ast.BitAnd: operator.and_, ast.BitOr: operator.or_, ast.BitXor: operator.xor,
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.LShift: operator.lshift, ast.RShift: operator.rshift,
}  # fmt: skip
_COMPARE: dict[type, Callable[[int, int], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    ok: bool | None  # None: skipped (not an assert this evaluator takes)
    text: str  # the failing assert with the values it saw, or why it was skipped


_LIMIT = 1 << 128


class _Skip(Exception):
    pass


def fields_used(code: str) -> set[str]:
    """The ``tcpi_*`` names a block reads (what the runner must fetch)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id.startswith("tcpi_")}


def evaluate(code: str, tcpi: Mapping[str, int]) -> Outcome:
    """Every assert of ``code`` against the socket's ``tcpi`` fields."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        return Outcome(None, f"skipped: not Python ({type(e).__name__})")
    if not tree.body or not all(isinstance(s, ast.Assert) for s in tree.body):
        return Outcome(None, "skipped: only assert statements over tcpi_* fields are evaluated")
    for stmt in tree.body:
        assert isinstance(stmt, ast.Assert)
        try:
            held = bool(_value(stmt.test, tcpi))
        except _Skip as e:
            return Outcome(None, f"skipped: {e}")
        except RecursionError:
            return Outcome(None, "skipped: nested too deeply")
        if not held:
            seen = ", ".join(f"{n}={tcpi[n]}" for n in sorted(fields_used(ast.unparse(stmt.test))) if n in tcpi)
            return Outcome(False, f"assertion failed: {ast.unparse(stmt.test)} ({seen})")
    return Outcome(True, "held")


def _value(node: ast.expr, tcpi: Mapping[str, int]) -> int:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in tcpi:
            return tcpi[node.id]
        raise _Skip(f"{node.id} is not a TCP_INFO field or constant this evaluator knows")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left, tcpi), _value(node.right, tcpi)
        if isinstance(node.op, ast.LShift | ast.RShift) and not 0 <= right <= 64:
            raise _Skip(f"a shift by {right} is not evaluated")
        if isinstance(node.op, ast.FloorDiv | ast.Mod) and right == 0:
            raise _Skip("a division by zero")
        result = _BINARY[type(node.op)](left, right)
        if abs(result) > _LIMIT:  # TCP_INFO fields are at most 64 bits: a bigger number is no test
            raise _Skip("a value beyond 128 bits")
        return result
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return int(not _value(node.operand, tcpi))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_value(node.operand, tcpi)
    if isinstance(node, ast.BoolOp):
        values = (_value(v, tcpi) for v in node.values)
        return int(all(values) if isinstance(node.op, ast.And) else any(values))
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left = _value(node.left, tcpi)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _value(right_node, tcpi)
            if not _COMPARE[type(op)](left, right):
                return 0
            left = right
        return 1
    raise _Skip(f"{type(node).__name__} is not evaluated")


# struct tcp_info (include/uapi/linux/tcp.h): the byte fields, then (name, offset, format).
_U8 = ("tcpi_state", "tcpi_ca_state", "tcpi_retransmits", "tcpi_probes", "tcpi_backoff", "tcpi_options")
_U32 = (
    "rto ato snd_mss rcv_mss unacked sacked lost retrans fackets last_data_sent last_ack_sent last_data_recv "
    "last_ack_recv pmtu rcv_ssthresh rtt rttvar snd_ssthresh snd_cwnd advmss reordering rcv_rtt rcv_space total_retrans"
).split()
_LATER = (
    ("pacing_rate", 104, "Q"), ("max_pacing_rate", 112, "Q"), ("bytes_acked", 120, "Q"), ("bytes_received", 128, "Q"),
    ("segs_out", 136, "I"), ("segs_in", 140, "I"), ("notsent_bytes", 144, "I"), ("min_rtt", 148, "I"),
    ("data_segs_in", 152, "I"), ("data_segs_out", 156, "I"), ("delivery_rate", 160, "Q"), ("busy_time", 168, "Q"),
    ("rwnd_limited", 176, "Q"), ("sndbuf_limited", 184, "Q"), ("delivered", 192, "I"), ("delivered_ce", 196, "I"),
    ("bytes_sent", 200, "Q"), ("bytes_retrans", 208, "Q"), ("dsack_dups", 216, "I"), ("reord_seen", 220, "I"),
    ("rcv_ooopack", 224, "I"), ("snd_wnd", 228, "I"),
)  # fmt: skip


def fields(info: bytes) -> dict[str, int]:
    """The ``tcpi_*`` fields a ``getsockopt(TCP_INFO)`` answer holds (a shorter answer: fewer)."""
    out = {name: info[i] for i, name in enumerate(_U8) if i < len(info)}
    if len(info) > 6:
        out["tcpi_snd_wscale"], out["tcpi_rcv_wscale"] = info[6] & 0x0F, info[6] >> 4
    for i, name in enumerate(_U32):
        if 8 + 4 * i + 4 <= len(info):
            out["tcpi_" + name] = struct.unpack_from("I", info, 8 + 4 * i)[0]
    for name, offset, fmt in _LATER:
        if offset + struct.calcsize(fmt) <= len(info):
            out["tcpi_" + name] = struct.unpack_from(fmt, info, offset)[0]
    return out
