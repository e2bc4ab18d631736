"""Who owns each actor's sockets, by process name: read while the lab runs (its processes end
with it), for the explorer's sockets panel and for a headless run's exported screen."""

from __future__ import annotations

from tuiexplore.domain import ActorInventory


def process_names(actors: dict[str, ActorInventory], guest: bool = False) -> dict[int, str]:
    """Who owns each actor's sockets, as the OS says (psutil): pid -> process name. A guest's pids
    belong to the guest kernel, where this host's psutil cannot look: there the name is what the
    agent reports: a guest process, with its guest pid beside it."""
    import psutil  # here, on the driver's thread after a step: at import it cost 5 ms of the launch

    names = {}
    for info in actors.values():
        pid = info.pid
        if pid and guest:
            names[pid] = "guest process"
        elif pid:
            try:
                names[pid] = psutil.Process(pid).name()
            except psutil.Error:
                names[pid] = "(gone)"
    return names
