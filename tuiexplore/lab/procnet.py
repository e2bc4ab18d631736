"""Every TCP socket of the lab's namespace with its state, from /proc/net/tcp.

This sees what file descriptors cannot: orphans after close(), TIME_WAIT, children not yet
accepted. Inside the private namespace every line belongs to the lab.
"""

from __future__ import annotations

from tuiexplore.lab.calls import TCP_STATES


def states(path: str = "/proc/net/tcp") -> dict[tuple[int, int], str]:
    """{(local port, remote port): state}; a listener's remote port is 0."""
    out: dict[tuple[int, int], str] = {}
    with open(path) as f:
        next(f)
        for line in f:
            parts = line.split()
            lport = int(parts[1].rsplit(":", 1)[1], 16)
            rport = int(parts[2].rsplit(":", 1)[1], 16)
            out[(lport, rport)] = TCP_STATES.get(int(parts[3], 16), parts[3])
    return out
