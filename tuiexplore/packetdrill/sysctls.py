"""Setting a script's sysctls in the run's own network namespace (what its backtick lines were
translated into by ``shell``). A setting the namespace refuses is said, not fatal: a child
namespace cannot pick a congestion control the host has not allowed, for one."""

from __future__ import annotations

from collections.abc import Iterable

from .shell import Sysctl


def apply(settings: Iterable[Sysctl]) -> list[str]:
    """Write each setting under /proc/sys (the calling thread's namespace); what failed, one line each."""
    notes = []
    for s in settings:
        path = "/proc/sys/" + s.name.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(s.value)
        except OSError as exc:
            hint = (
                " (a namespace may only pick what the host's tcp_allowed_congestion_control lists)"
                if "congestion" in s.name
                else ""
            )
            notes.append(f"line {s.line}: sysctl {s.name}={s.value} not set in the run's namespace: {exc.strerror}{hint}")
    return notes
