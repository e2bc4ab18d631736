"""SNMP/netstat counters of the lab's namespace, and their per-step deltas.

Inside a private network namespace these counters count only the lab's sockets, so a delta is
exact evidence. Names mislead (SO_LINGER 0 bumps TCPAbortOnData): the verdict explains them.
"""

from __future__ import annotations

# Gauges and constants, not counters: a "delta" of these means nothing.
_NOT_COUNTERS = {"Tcp.RtoAlgorithm", "Tcp.RtoMin", "Tcp.RtoMax", "Tcp.MaxConn", "Tcp.CurrEstab"}
_GROUPS = {"Tcp", "TcpExt"}


def read(paths: tuple[str, ...] = ("/proc/net/snmp", "/proc/net/netstat")) -> dict[str, int]:
    """{"TcpExt.TCPAbortOnClose": n, "Tcp.OutRsts": n, ...} from the header/value line pairs."""
    values: dict[str, int] = {}
    for path in paths:
        with open(path) as f:
            lines = f.read().splitlines()
        for header, row in zip(lines[::2], lines[1::2], strict=False):
            group, _, names = header.partition(":")
            if group not in _GROUPS:
                continue
            for name, value in zip(names.split(), row.partition(":")[2].split(), strict=True):
                key = f"{group}.{name}"
                if key not in _NOT_COUNTERS:
                    values[key] = int(value)
    return values


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
