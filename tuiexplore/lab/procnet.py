"""Every TCP socket of the lab's namespace with its state and armed timer, from /proc/net/tcp
or, for the sockets whose ends are known, from sock_diag lookups (``lookup_*``: microseconds,
where reading /proc/net/tcp walks the host's whole established hash, ~25 ms here).

This sees what file descriptors cannot: orphans after close(), TIME_WAIT, children not yet
accepted. Inside the private namespace every line belongs to the lab; there, every socket that
is not an actor's listener has been on the wire, so its ends are known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tuiexplore.lab import sockdiag
from tuiexplore.lab.calls import TCP_STATES

Key = tuple[int, int]  # (local port, remote port); a listener's remote port is 0


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


TIMER_NAMES = {1: "retransmission", 2: "keepalive/FIN_WAIT2", 3: "TIME_WAIT", 4: "zero-window probe"}


@dataclass(frozen=True)
class Timer:
    """A timer armed on one socket (get_tcp4_sock: the delayed-ACK timer is not among them)."""

    lport: int
    rport: int
    state: str
    kind: int  # /proc/net/tcp's ``tr``, sock_diag's idiag_timer: 1 retransmit (also loss probe,
    # reorder), 2 sk_timer (keepalive, FIN_WAIT2), 3 TIME_WAIT, 4 zero-window probe
    due_s: float  # from now; <= 0 when it is due and has not run yet
    unacked: int  # tx_queue: write_seq - snd_una (sent and not acked, or not sent yet)
    retrans: int = 0  # retransmissions so far (kind 1), unanswered probes (kinds 2 and 4)

    def describe(self) -> str:
        return f"{TIMER_NAMES.get(self.kind, f'timer {self.kind}')} timer"


def _ends(keys: Iterable[Key], addr: str, peers: tuple[str, ...]) -> list[tuple[str, int, str, int]]:
    """One exact lookup for each address the peer may have; a listener's is 0.0.0.0:0."""
    out: list[tuple[str, int, str, int]] = []
    for lport, rport in set(keys):
        out += [(addr, lport, peer, rport) for peer in peers] if rport else [(addr, lport, "0.0.0.0", 0)]
    return out


def lookup_states(keys: Iterable[Key], addr: str = "127.0.0.1", peers: tuple[str, ...] = ()) -> dict[Key, str]:
    """``states()`` for these sockets (all on ``addr``, their peers on one of ``peers``, by default
    ``addr`` too); the ones that do not exist are left out."""
    found = sockdiag.lookup(_ends(keys, addr, peers or (addr,)))
    return {(d.lport, d.rport): TCP_STATES.get(d.state, str(d.state)) for d in found}


def lookup_timers(keys: Iterable[Key], addr: str = "127.0.0.1", peers: tuple[str, ...] = ()) -> list[Timer]:
    """The armed timers of these sockets (as ``lookup_states`` finds them)."""
    return [
        Timer(
            d.lport,
            d.rport,
            TCP_STATES.get(d.state, str(d.state)),
            d.timer,
            d.expires_ms / 1000,
            d.wqueue if d.rport else 0,
            d.retrans,
        )
        for d in sockdiag.lookup(_ends(keys, addr, peers or (addr,)))
        if d.timer
    ]
