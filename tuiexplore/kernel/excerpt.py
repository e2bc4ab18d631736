"""The tcp_close source shown in the kernel panel: extracted with its real line numbers, and the
lines of each documented branch located by their code, so every function shape from 4.9 (one
``tcp_close``) through 5.11 (``__tcp_close`` + wrapper) to 6.18 (``copied_seq``) highlights.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources

# Each branch: patterns matched in order, each on a line after the previous match. The first
# pattern anchors the branch; missing later patterns shrink it; a missing anchor means this
# kernel has no such branch. Each pattern's work is linear in the line: "sk_shutdown then
# SHUTDOWN_MASK" is anchored at the first sk_shutdown (the run before it cannot pass one), so a
# line of many sk_shutdown is not rescanned to its end from each of them.
BRANCH_PATTERNS: dict[str, list[str]] = {
    "shutdown_mask": [r"^(?:(?!sk_shutdown\b).)*sk_shutdown\b.*SHUTDOWN_MASK"],
    "listen_stop": [r"sk_state\s*==\s*TCP_LISTEN", r"inet_csk_listen_stop\s*\("],
    "drain": [r"sk_receive_queue", r"data_was_unread\s*(\+=|=\s*true)"],
    "already_closed": [r"sk_state\s*==\s*TCP_CLOSE\s*\)", r"goto\s+adjudge_to_death"],
    "repair": [r"->repair\)", r"disconnect\s*\(sk,\s*0\)"],
    "data_was_unread": [r"if\s*\(\s*data_was_unread\s*\)", r"TCPABORTONCLOSE", r"tcp_send_active_reset"],
    "linger_zero": [r"SOCK_LINGER\)\s*&&\s*!sk->sk_lingertime", r"disconnect\s*\(sk,\s*0\)", r"TCPABORTONDATA"],
    "fin": [r"tcp_close_state\s*\(sk\)", r"tcp_send_fin\s*\(sk\)"],
    "no_fin": [r"tcp_close_state\s*\(sk\)"],
    "wait_close": [r"sk_stream_wait_close"],
    "orphan": [r"adjudge_to_death:", r"sock_orphan\s*\("],
    "linger2_abort": [r"linger2\)?\s*<\s*0", r"tcp_send_active_reset", r"TCPABORTONLINGER"],
    "linger2_orphan_ack": [r"tcp_send_fin\s*\(sk\)"],
    "fin_wait2_timewait": [r"tcp_time_wait\s*\(sk,\s*TCP_FIN_WAIT2"],
    "oom": [r"tcp_check_oom", r"TCPABORTONMEMORY"],
}

# Branches whose code is elsewhere and not shown: the panel says where instead of highlighting
# (a receipt's or a timer's function is shown itself: kernel/receipt_source.py).
ELSEWHERE = {
    "linger2_orphan_ack": "the RST comes later, from tcp_rcv_state_process() in tcp_input.c, when the peer's ACK "
    "reaches the orphan",
    "shutdown_fin": "shutdown() does not run tcp_close: tcp_shutdown() -> tcp_close_state() -> tcp_send_fin()",
    "shutdown_none": "shutdown() does not run tcp_close: tcp_shutdown() sends nothing in this state",
    "disconnect": "connect(AF_UNSPEC) does not run tcp_close: it calls tcp_disconnect() directly",
}


@dataclass(frozen=True)
class Excerpt:
    lines: list[str]
    first_line: int  # line number of lines[0] in the file
    version: str  # kernel version of the source, "" when unknown
    origin: str  # where the text came from, for the panel title
    licence: str = "GPL-2.0"
    branches: dict[str, list[int]] = field(default_factory=dict)  # branch -> file line numbers
    hint: str = ""  # how to get the running kernel's own source, when this is not it
    table: list[str] = field(default_factory=list)  # new_state[] and tcp_close_state(), when found
    table_first_line: int = 0
    function: str = "tcp_close"  # the one the panel is titled by (kernel/receipt_source.py's others)

    @property
    def last_line(self) -> int:
        return self.first_line + len(self.lines) - 1

    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def unread_rule(self) -> str:
        """'copied_seq' (6.18 fix, also backported) or 'skb_len' (older): how unread data is judged."""
        return "copied_seq" if any("copied_seq" in ln for ln in self.lines) else "skb_len"

    @property
    def has_reasons(self) -> bool:
        return any("SK_RST_REASON_" in ln for ln in self.lines)


# A comment, or a string or character literal (to its closing quote, else to the end).
_NOISE = re.compile(r"""/\*.*?(?:\*/|\Z)|//[^\n]*|"(?:\\.|[^"\\])*(?:"|\Z)|'(?:\\.|[^'\\])*(?:'|\Z)""", re.S)
_NOT_NEWLINE = re.compile(r"[^\n]")


def _strip_comments(text: str) -> str:
    """Comments and string literals blanked (newlines kept), so braces inside them do not count.
    One regular-expression pass: each character is looked at a bounded number of times."""
    return _NOISE.sub(lambda m: _NOT_NEWLINE.sub(" ", m.group()), text)


def _closing_braces(clean: str) -> dict[int, int]:
    """Every ``{`` (by offset) to its matching ``}``, in one pass over the braces: finding a
    function's end is then a lookup, not a scan per candidate definition."""
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for m in re.finditer(r"[{}]", clean):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            pairs[stack.pop()] = m.start()
    return pairs


def find_function(text: str, name: str, clean: str | None = None, pairs: dict[int, int] | None = None) -> tuple[int, int] | None:
    """(first, last) 1-based line numbers of the definition of ``name``, or None. ``clean`` and
    ``pairs`` (from :func:`_strip_comments` and :func:`_closing_braces`) may be shared between
    calls on the same text. The parameter list is matched without parentheses inside (true of
    the three functions looked up), so a candidate's match never runs past the next one's."""
    clean = _strip_comments(text) if clean is None else clean
    pairs = _closing_braces(clean) if pairs is None else pairs
    for m in re.finditer(rf"^(?:[A-Za-z_][\w \t\*]*\b)?{re.escape(name)}\s*\([^;{{}}()]*\)\s*\{{", clean, re.M):
        end = pairs.get(m.end() - 1)
        if end is not None:
            return clean.count("\n", 0, m.start()) + 1, clean.count("\n", 0, end) + 1
    return None


def extract(text: str, version: str, origin: str, licence: str = "GPL-2.0", hint: str = "") -> Excerpt | None:
    """__tcp_close() and its tcp_close() wrapper (5.11+), or the single tcp_close() (older)."""
    whole = text.splitlines()
    clean = _strip_comments(text)
    pairs = _closing_braces(clean)
    inner, outer = (find_function(text, name, clean, pairs) for name in ("__tcp_close", "tcp_close"))
    if outer is None:
        return None
    first, last = (min(inner[0], outer[0]), max(inner[1], outer[1])) if inner else outer
    lines = whole[first - 1 : last]
    table_first, table = extract_table(text, clean, pairs)
    return Excerpt(lines, first, version, origin, licence, locate(lines, first), hint, table, table_first)


def extract_table(text: str, clean: str | None = None, pairs: dict[int, int] | None = None) -> tuple[int, list[str]]:
    """tcp_close_state() and the new_state[] table above it: (first line, lines), or (0, [])."""
    fn = find_function(text, "tcp_close_state", clean, pairs)
    if fn is None:
        return 0, []
    lines = text.splitlines()
    start = next((n for n in range(fn[0] - 1, max(fn[0] - 60, 0), -1) if "new_state[" in lines[n - 1]), fn[0])
    return start, lines[start - 1 : fn[1]]


def function_lines(text: str, name: str) -> tuple[int, list[str]] | None:
    """(first line number, the lines) of the definition of ``name``, or None."""
    clean = _strip_comments(text)
    span = find_function(text, name, clean, _closing_braces(clean))
    return (span[0], text.splitlines()[span[0] - 1 : span[1]]) if span else None


def locate(lines: list[str], first_line: int, table: dict[str, list[str]] | None = None) -> dict[str, list[int]]:
    """File line numbers of each branch of ``table`` (tcp_close's: BRANCH_PATTERNS), found by
    code. Comments are ignored."""
    code = _strip_comments("\n".join(lines)).splitlines()
    found: dict[str, list[int]] = {}
    for branch, patterns in (BRANCH_PATTERNS if table is None else table).items():
        at, hits = 0, []
        if branch == "already_closed":  # the reset check comes after the drain loop
            drain = found.get("drain")
            at = drain[-1] - first_line + 1 if drain else 0
        for k, pat in enumerate(patterns):
            rx = re.compile(pat)
            idx = next((i for i in range(at, len(code)) if rx.search(code[i])), None)
            if idx is None:
                if k == 0:
                    break
                continue
            hits.append(first_line + idx)
            at = idx + 1
        if hits:
            found[branch] = hits
    return found


def bundled() -> Excerpt:
    base = resources.files("tuiexplore.kernel") / "bundled"
    meta = json.loads((base / "tcp_close-6.12.117.json").read_text())
    text = (base / "tcp_close-6.12.117.c").read_text()
    lines = text.splitlines()
    origin = f"bundled: {meta['release']}, {meta['file']} {meta['first_line']}-{meta['last_line']}, {meta['licence']}"
    return Excerpt(
        lines,
        meta["first_line"],
        meta["version"],
        origin,
        meta["licence"],
        locate(lines, meta["first_line"]),
        "this is not your kernel's own source: install your distribution's kernel source "
        "(Debian/Ubuntu: apt install linux-source) or pass --kernel-src",
    )
