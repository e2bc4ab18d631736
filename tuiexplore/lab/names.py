"""Who owns each actor's sockets, by process name: read while the lab runs (its processes end
with it), for the explorer's sockets panel and for a headless run's exported screen."""

from __future__ import annotations

from tuiexplore.domain import ActorInventory


def process_names(actors: dict[str, ActorInventory], guest: bool = False) -> dict[int, str]:
    """Who owns each actor's sockets, as the OS says: pid -> process name. A guest's pids belong
    to the guest kernel, where this host's /proc cannot look: there the name is what the agent
    reports: a guest process, with its guest pid beside it."""
    names = {}
    for info in actors.values():
        pid = info.pid
        if pid and guest:
            names[pid] = "guest process"
        elif pid:
            names[pid] = _comm(pid)
    return names


def _comm(pid: int) -> str:
    """The kernel's name for the process (what psutil's name() reads first; importing psutil
    for it cost a headless run ~5-10 ms of CPU before its first step)."""
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().removesuffix("\n")
    except OSError:
        return "(gone)"
