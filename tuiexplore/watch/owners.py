"""Which local process owns each end of a connection.

Two sources, merged by the engine:
- ``psutil.net_connections()`` (socket inode -> pid), polled on its own thread at most every
  ``PERIOD`` seconds and only while some open connection lacks an owner: on a busy box the scan
  of /proc/*/fd is the expensive part;
- the tracepoints' running task, for the state changes that only a syscall makes (connect()'s
  CLOSE -> SYN_SENT, close()/shutdown()'s ESTABLISHED -> FIN_WAIT1 and CLOSE_WAIT -> LAST_ACK, and
  close()'s active reset). Softirq-driven changes run on whatever task was current, so they are
  never used for ownership.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

PERIOD = 0.5
SYSCALL_CHANGES = {("TCP_CLOSE", "TCP_SYN_SENT"), ("TCP_ESTABLISHED", "TCP_FIN_WAIT1"), ("TCP_CLOSE_WAIT", "TCP_LAST_ACK")}
SYSCALL_RESETS = {"TCP_ABORT_ON_CLOSE", "TCP_STATE"}


@dataclass(frozen=True)
class Snapshot:
    """One scan: connected sockets by (local, remote) and listeners by port."""

    connected: dict[tuple[tuple[str, int], tuple[str, int]], int]
    listeners: dict[int, int]


def _plain(addr: str) -> str:
    return addr[7:] if addr.startswith("::ffff:") and "." in addr else addr


def scan() -> Snapshot:
    import psutil

    connected, listeners = {}, {}
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return Snapshot({}, {})
    for c in conns:
        if c.pid is None:
            continue
        if c.status == psutil.CONN_LISTEN:
            listeners[c.laddr.port] = c.pid
        elif c.raddr:
            connected[((_plain(c.laddr.ip), c.laddr.port), (_plain(c.raddr.ip), c.raddr.port))] = c.pid
    return Snapshot(connected, listeners)


def process_name(pid: int, fallback: str | None = None) -> str | None:
    import psutil

    try:
        return psutil.Process(pid).name()
    except (psutil.Error, OSError):
        return fallback


def task_pid(task: str) -> tuple[int, str] | None:
    """The trace line's "comm-pid" as (pid, comm); None for the idle task."""
    comm, _, pid = task.rpartition("-")
    if not pid.isdigit() or pid == "0":
        return None
    return int(pid), comm


class Poller:
    """Scans on request, on its own thread; results come back through ``results``."""

    def __init__(self) -> None:
        self.results: queue.SimpleQueue[Snapshot] = queue.SimpleQueue()
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="owners", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def want(self) -> None:
        self._wanted.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._wanted.wait(0.2):
                continue
            self._wanted.clear()
            self.results.put(scan())
            self._stop.wait(PERIOD)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(1.0)
