"""The typed records every part of the app shares, apart from the events (``timeline``).

Standard library only: the actor process imports this module, and so do the report views, the
CLI and the TUI. What crosses a pipe is one of these (or an event), never a bare dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# How a step ended. Only RETURNED and BLOCKED count as "ran as written" (the contract's exit 0).
RETURNED = "returned"  # the syscall returned: ret, or -1 with errno
BLOCKED = "blocked"  # the syscall is still in the kernel; a late reply may follow
FAILED = "failed"  # the actor could not perform it (an error in the actor, not a syscall error)
REFUSED = "refused"  # not sent: the actor is still blocked in an earlier call, or has exited
OUTCOMES = (RETURNED, BLOCKED, FAILED, REFUSED)


@dataclass(frozen=True)
class LabInfo:
    kernel: str
    release: str
    port: int
    mode: str
    tracepoints: bool
    rst_reasons: list[str] = field(default_factory=list)
    t0: float = 0.0
    where: str = ""  # from the transport: e.g. "guest Linux 6.1.176 (..., QEMU TCG)"; "" = this host
    wire: str = "loopback"  # or "relay": the two ends in two namespaces, through the agent
    sysctls: dict[str, int | str] = field(default_factory=dict)  # the lab's own net.* values, as set (lab/sysctl.py)


@dataclass(frozen=True)
class StepDone:
    step: int
    ok: bool
    overhead_ms: float
    waited_s: float
    outcome: str = RETURNED
    message: str = ""  # why a FAILED or REFUSED step did not run


@dataclass(frozen=True)
class SocketRow:
    """One socket as its actor's kernel reports it (TCP_INFO, SO_LINGER, ioctls)."""

    name: str
    fd: int
    state: str
    linger: tuple[int, int] = (0, 0)
    linger2: int = 0
    nonblocking: bool = False
    lport: int = 0
    rport: int = 0
    inq: int = 0
    outq: int = 0
    unsent: int = 0
    accept_queue: int = 0
    backlog: int = 0
    snd_wscale: int = 0
    snd_wnd: int | None = None  # tcpi_snd_wnd; None on kernels before 5.4 (see lab/tcpinfo.py)
    snd_mss: int = 0  # tcpi_snd_mss
    cwnd_room: int | None = None  # tcpi_snd_cwnd minus the packets in flight; None: not read


@dataclass(frozen=True)
class ActorInventory:
    """What one actor holds now; ``pid`` is None once it has exited."""

    pid: int | None
    sockets: list[SocketRow] = field(default_factory=list)
    blocked: bool = False


@dataclass(frozen=True)
class PredictionView:
    """A prediction for one socket of a closing call, as the views show it."""

    fd: str
    outcome: str
    branch: str
    reason: str | None
    text: str
    path: tuple[str, ...] = ()
