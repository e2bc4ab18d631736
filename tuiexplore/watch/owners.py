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

import os
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from tuiexplore.lab.tracepoints import TraceEvent
from tuiexplore.watch.packet import parse_endpoint
from tuiexplore.watch.tracker import Conn, Ep

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
        if c.pid is None or not c.laddr:  # psutil gives () for an address whose port is 0
            continue
        if c.status == psutil.CONN_LISTEN:
            listeners[c.laddr.port] = c.pid
        elif c.raddr:
            connected[((_plain(c.laddr.ip), c.laddr.port), (_plain(c.raddr.ip), c.raddr.port))] = c.pid
    return Snapshot(connected, listeners)


def local_addresses() -> set[str]:
    import psutil

    return {a.address.split("%")[0] for addrs in psutil.net_if_addrs().values() for a in addrs}


def trace_endpoints(ev: TraceEvent) -> tuple[Ep | None, Ep | None]:
    """(local, remote) of the socket a tracepoint event is about."""
    f = ev.fields
    if ev.event == "inet_sock_set_state":
        v6 = f.get("family") == "AF_INET6"
        local = parse_endpoint(f"{f.get('saddrv6' if v6 else 'saddr', '')}:{ev.sport}")
        return local, parse_endpoint(f"{f.get('daddrv6' if v6 else 'daddr', '')}:{ev.dport}")
    return parse_endpoint(f.get("src", "")), parse_endpoint(f.get("dest", ""))


@dataclass
class Owners:
    """Puts pids and process names on connection ends, from scans and from kernel events."""

    local: set[str] = field(default_factory=set)

    def own(self, conn: Conn, d: int, pid: int, comm: str | None = None) -> None:
        # the name is read each time: a pid is reused once the numbers wrap
        side = conn.sides[d]
        side.pid = pid
        side.process = process_name(pid, comm) or comm

    def apply(self, snap: Snapshot, conns: Iterable[Conn]) -> None:
        for conn in conns:
            for d, (me, peer) in enumerate(((conn.client, conn.server), (conn.server, conn.client))):
                if conn.sides[d].pid is not None:
                    continue
                pid = snap.connected.get((me, peer))
                if pid is None and d == 1 and me[0] in self.local:
                    pid = snap.listeners.get(me[1])
                if pid is not None:
                    self.own(conn, d, pid)

    def kernel_event(self, conn: Conn, ev: TraceEvent) -> None:
        """A tracepoint joined a connection: a line for its story, and its task when a syscall made it."""
        f = ev.fields
        local, _ = trace_endpoints(ev)
        if ev.event == "inet_sock_set_state":
            text = f"{f.get('oldstate', '').removeprefix('TCP_')} → {f.get('newstate', '').removeprefix('TCP_')}"
        else:
            text = f"sent RST (state {f.get('state', '?').removeprefix('TCP_')}, reason {f.get('reason', '?')})"
        by_syscall = syscall_made(ev)
        d = conn.side_of(local) if local else None
        if local and local[1] == 0:  # connect() before its port was chosen: the client
            d = 0
        conn.events.append((ev.ts, "kernel", f"{conn.name(d) if d is not None else '?'} {text}"))
        if by_syscall and d is not None and conn.sides[d].pid is None:
            task = task_pid(ev.task)
            if task:
                self.own(conn, d, task[0], task[1])


def syscall_made(ev: TraceEvent) -> bool:
    """The event ran in the socket owner's own syscall, so its task is that owner."""
    f = ev.fields
    if ev.event == "inet_sock_set_state":
        return (f.get("oldstate", ""), f.get("newstate", "")) in SYSCALL_CHANGES
    return f.get("reason") in SYSCALL_RESETS


def netns_of(pid: int | str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def task_netns(pid: int, at_boot: float) -> tuple[int, int] | None:
    """The network namespace of task ``pid`` and its process (the tgid: trace lines name the
    thread that ran, which is not the process psutil names for a threaded server) if it is still
    the task that ran ``at_boot`` seconds after boot; None once it has exited or its pid names a
    task started since (pids wrap, at 32768 by default). All are read through one /proc/PID
    handle, so they are the same task's."""
    try:
        fd = os.open(f"/proc/{pid}", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        with open(os.open("stat", os.O_RDONLY, dir_fd=fd), "rb") as f:
            # starttime (field 22), in clock ticks rounded down: never later than the true start
            started = int(f.read().rpartition(b")")[2].split()[19]) / os.sysconf("SC_CLK_TCK")
        if started > at_boot:
            return None
        with open(os.open("status", os.O_RDONLY, dir_fd=fd), "rb") as f:
            tgid = next(int(line.split()[1]) for line in f if line.startswith(b"Tgid:"))
        return os.stat("ns/net", dir_fd=fd).st_ino, tgid
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    finally:
        os.close(fd)


def placed(ev: TraceEvent, ours: int | None, at_boot: float) -> TraceEvent | None:
    """A syscall's event as watch may use it: None when its task is in another network namespace
    (a lab's, a container's), without its task when that task can no longer be placed, and with
    its task named by its process (tgid) otherwise. Tracepoints are global, and 127.0.0.1:port
    exists in every namespace: without this, a lab's connect() to the watched port would lend its
    actor's pid to our next connection there; and a lab's actor has often exited by the time its
    line is read. Softirq-driven events run on an unrelated task and are kept as they are."""
    task = task_pid(ev.task) if ours is not None and syscall_made(ev) else None
    if task is None:
        return ev
    theirs = task_netns(task[0], at_boot)
    if theirs is None:
        return replace(ev, task="")
    netns, tgid = theirs
    return replace(ev, task=f"{task[1]}-{tgid}") if netns == ours else None


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
