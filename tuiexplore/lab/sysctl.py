"""The lab's own sysctls: net.* values of the network namespace the calling thread is in.

A network namespace has its own copy of the TCP sysctls (``ipv4_net_table``), and /proc/sys/net
shows the copy of the namespace of the task that opens the file: set from inside the lab (or
from a thread that entered one of the relay's namespaces), a value never touches the host's.
Unprivileged, the lab's user namespace owns its network namespaces, which makes them writable.

``write`` takes any ``net.`` name (packetdrill scripts set others); a scenario's ``[lab]``
table takes the names of ``SCENARIO`` only, each within its range.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from tuiexplore.safetext import quoted

PROC = Path("/proc/sys")
# The teardown sysctls a scenario may set, with the range the lab accepts (the kernel's own,
# where it has one; otherwise bounds that keep a lab's timers within minutes).
SCENARIO: dict[str, tuple[int, int]] = {
    "tcp_fin_timeout": (1, 600),  # seconds in FIN_WAIT2 for an orphan (tcp_fin_time())
    "tcp_keepalive_time": (1, 7200),  # seconds idle before the first keepalive probe
    "tcp_keepalive_intvl": (1, 600),  # seconds between probes
    "tcp_keepalive_probes": (1, 127),  # unanswered probes before the abort (the kernel's MAX_TCP_KEEPCNT)
    "tcp_retries2": (1, 255),  # retransmissions of data before the abort (ETIMEDOUT)
    "tcp_orphan_retries": (0, 255),  # an orphan's, 0 meaning 8 (tcp_orphan_retries())
    "tcp_abort_on_overflow": (0, 1),  # a full accept queue answers the handshake's ACK with RST
    "tcp_rfc1337": (0, 1),  # TIME_WAIT ignores an RST (RFC 1337) instead of dying
    "tcp_challenge_ack_limit": (0, 1 << 30),  # challenge ACKs per second (RFC 5961)
}
_NAME = re.compile(r"net(\.[a-z0-9_]+)+")


Value = int | str  # a scenario's are numbers; a packetdrill script's may be "4096 87380 6291456" or "cubic"


class SysctlError(ValueError):
    """One line: which name, and why it cannot be set."""


def full_name(name: str) -> str:
    """``tcp_fin_timeout`` -> ``net.ipv4.tcp_fin_timeout``; a ``net.`` name as given."""
    return name if name.startswith("net.") else f"net.ipv4.{name}"


def _path(name: str) -> Path:
    full = full_name(name)
    if not _NAME.fullmatch(full):
        raise SysctlError(f"{full}: not a net.* sysctl name")
    return PROC / full.replace(".", "/")


def read_text(name: str) -> str:
    """The value in the calling thread's network namespace, as the kernel prints it."""
    try:
        return _path(name).read_text().strip()
    except OSError as exc:
        raise SysctlError(f"{full_name(name)}: cannot read it: {exc.strerror}") from None


def read(name: str) -> int:
    """A number's value in the calling thread's network namespace (SysctlError if there is none)."""
    text = read_text(name)
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        raise SysctlError(f"{full_name(name)}: not a number: {quoted(text)}") from None


def write(name: str, value: Value) -> None:
    """Set it in the calling thread's network namespace, and check the kernel kept the value."""
    path = _path(name)
    if not path.exists():
        raise SysctlError(f"{full_name(name)}: this kernel has no such sysctl (for the lab's namespace)")
    try:
        path.write_text(f"{value}\n")
    except OSError as exc:
        raise SysctlError(f"{full_name(name)}: the lab cannot set it to {value}: {exc.strerror}") from None


def check(raw: object) -> dict[str, int]:
    """A scenario's ``sysctls`` table: {short name: value}; SysctlError (one line) otherwise."""
    if not isinstance(raw, dict):
        raise SysctlError("must be a table of sysctl = integer, e.g. { tcp_fin_timeout = 2 }")
    out = {}
    for key, value in raw.items():
        name = key.removeprefix("net.ipv4.")
        if name not in SCENARIO:
            raise SysctlError(f"unknown sysctl {quoted(key)} (settable: {', '.join(SCENARIO)})")
        lo, hi = SCENARIO[name]
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise SysctlError(f"{name}: must be an integer from {lo} to {hi}")
        out[name] = value
    return out


def apply(values: Mapping[str, Value]) -> tuple[dict[str, Value], list[str]]:
    """Set each in the calling thread's namespace: (the values the kernel now holds, one line per
    sysctl it could not set)."""
    done: dict[str, Value] = {}
    errors: list[str] = []
    for name, value in values.items():
        try:
            write(name, value)
            text = " ".join(read_text(name).split())  # tcp_rmem's three numbers come tab-separated
            done[name] = int(text) if re.fullmatch(r"-?\d+", text) else text
        except SysctlError as exc:
            errors.append(str(exc))
    return done, errors
