"""Who did what: frames, trace events and socket rows attributed to actors and fd names.

Pure bookkeeping (no I/O, no clock): the agent feeds it what the kernel reported and asks it
whose a 4-tuple is. Keys are (local port, remote port) as the owning socket sees them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tuiexplore.domain import SocketRow

Key = tuple[int, int]
Owner = tuple[str, str]  # (actor, fd name); "?" where nobody is known
SYN, ACK, FIN = 0x02, 0x10, 0x01


@dataclass
class Attribution:
    owners: dict[Key, Owner] = field(default_factory=dict)
    listeners: dict[int, Owner] = field(default_factory=dict)  # lport -> owner of the listener
    known_state: dict[Key, str] = field(default_factory=dict)  # the last state we reported per key

    def owner(self, lport: int, rport: int) -> Owner:
        """Who speaks for this 4-tuple: its socket's owner, else (a connection not accepted yet)
        the listener's actor, with no fd name of its own."""
        if (lport, rport) in self.owners:
            return self.owners[(lport, rport)]
        if lport in self.listeners and rport:
            return self.listeners[lport][0], "?"
        return self.listeners.get(lport, ("?", "?"))

    def pending_of(self, key: Key, fd: str) -> str | None:
        """The listener whose accept queue holds this connection, when no fd owns it yet."""
        return self.listeners[key[0]][1] if fd == "?" and key[1] and key[0] in self.listeners else None

    def frame(self, sport: int, dport: int, flag_bits: int, payload_len: int, current: Owner | None) -> tuple[str, str]:
        """Record one frame; return (sender actor, receiver actor)."""
        if (sport, dport) not in self.owners and flag_bits & (SYN | ACK) == SYN and current and current[1]:
            # A SYN from a port no socket reports: the connect() under way, which failed and
            # gave its port back (ECONNREFUSED) before the actor could read it.
            self.owners[(sport, dport)] = current
        return self.owner(sport, dport)[0], self.owner(dport, sport)[0]

    def trace_key(self, sport: int, dport: int, connecting: SocketRow | None) -> Key:
        """connect() traces CLOSE->SYN_SENT before it picks the source port: the socket is then
        the one the step under way connects, whose port its actor has reported since."""
        if sport == 0 and connecting is not None:
            return connecting.lport, connecting.rport
        return sport, dport

    def state(self, key: Key, new: str) -> Owner:
        self.known_state[key] = new
        return self.owner(*key)

    def sockets(self, actor: str, rows: Iterable[SocketRow]) -> None:
        # Listeners closed in this step stay known until it ends (``reset_listeners``): the RSTs
        # of their un-accepted children are still theirs.
        for s in rows:
            if s.state == "LISTEN":
                self.listeners[s.lport] = (actor, s.name)
            elif s.lport:
                # Remembered after close: an orphan or TIME_WAIT socket still sends in its owner's name.
                self.owners[(s.lport, s.rport)] = (actor, s.name)

    def reset_listeners(self, held: dict[str, Iterable[SocketRow]]) -> None:
        """At the end of a step: only the listeners that are still open."""
        self.listeners = {s.lport: (actor, s.name) for actor, rows in held.items() for s in rows if s.state == "LISTEN"}

    def changes(self, now: dict[Key, str]) -> list[tuple[Key, str, str, Owner]]:
        """States read from the kernel that differ from what we reported: (key, old, new, owner).
        Sockets no longer in the table went to CLOSE."""
        out = []
        for key in sorted(set(now) | set(self.known_state)):
            old, new = self.known_state.get(key, "CLOSE"), now.get(key, "CLOSE")
            if old != new:
                out.append((key, old, new, self.state(key, new)))
        self.known_state = {k: v for k, v in self.known_state.items() if v != "CLOSE"}
        return out
