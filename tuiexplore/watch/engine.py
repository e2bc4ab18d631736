"""Watch mode's engine: a source, the tracker, and (live, as root) tracepoints and owners.

One thread (``run``) reads packets and does everything else between them, every ``HOUSEKEEP``
seconds: kernel events, owner scans, connections to finalize, --pid's ports. The tracker is
only touched under ``lock``, so a view can take snapshots from another thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from tuiexplore.lab.tracepoints import TraceEvent, Tracer, TracerUnavailable, find_tracefs
from tuiexplore.safetext import terminal
from tuiexplore.watch import bpf, owners
from tuiexplore.watch.classify import classify
from tuiexplore.watch.packet import parse_ip
from tuiexplore.watch.sources import LiveSource, PcapSource, PcapWriter
from tuiexplore.watch.tracker import Conn, Tracker

HOUSEKEEP = 0.1
SETTLE_TRACED = 0.3  # a connection is reported once the tracer has read this far past its close


@dataclass
class Options:
    ifaces: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    host: str | None = None
    pid: int | None = None
    expr: str | None = None
    read: str | None = None
    write: str | None = None
    trace: bool = True
    include_ssh: bool = False
    duration: float | None = None
    count: int | None = None
    stream: BinaryIO | None = None  # the pcap on stdin, when fd 0 was handed to the UI


@dataclass(frozen=True)
class Stats:
    packets: int  # TCP segments tracked
    received: int  # frames read from the source
    drops: int  # dropped by the kernel (live capture)
    connections: int  # finished
    open: int
    aged_out: int
    cpu_s: float  # the whole process, start-up and imports included
    run_cpu_s: float  # since run() began: the capture's own cost
    rss_mb: float  # peak resident set


class WatchTracer(Tracer):
    """The lab's tracer, for every TCP port (or the watched ones) instead of the lab's one."""

    def __init__(self, tracefs: str, ports: list[int], exclude: tuple[int, int] | None) -> None:
        super().__init__(tracefs, 0)
        self.ports = set(ports)
        self.exclude = exclude
        self.netns = owners.netns_of("self")

    def parse(self, line: str) -> TraceEvent | None:
        ev = super().parse(line)
        if ev is None:
            return None
        # the event's own clock (CLOCK_MONOTONIC) to seconds since boot, which /proc/PID/stat counts in
        at_boot = ev.ts - self._offset + time.clock_gettime(time.CLOCK_BOOTTIME) - time.monotonic()
        return owners.placed(ev, self.netns, at_boot)

    def state_filter(self) -> str:
        if not self.ports:
            return "protocol == 6"
        ports = " || ".join(f"sport == {p} || dport == {p}" for p in sorted(self.ports))
        return f"protocol == 6 && ({ports})"

    def set_ports(self, ports: list[int]) -> None:
        """--pid's ports changed: the kernel-side filter follows."""
        self.ports = set(ports)
        self._write("events/sock/inet_sock_set_state/filter", self.state_filter())

    def wants(self, sport: int, dport: int) -> bool:
        if self.exclude and {sport, dport} == set(self.exclude):
            return False
        return not self.ports or bool(self.ports & {sport, dport})


def ssh_pair() -> tuple[int, int] | None:
    """Our own ssh session's ports, from $SSH_CONNECTION ("client_ip client_port server_ip server_port")."""
    parts = os.environ.get("SSH_CONNECTION", "").split()
    if len(parts) == 4 and parts[1].isdigit() and parts[3].isdigit():
        return int(parts[1]), int(parts[3])
    return None


def pid_ports(pid: int) -> list[int]:
    import psutil

    try:
        conns = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.NoSuchProcess:
        raise bpf.FilterError(f"--pid {pid}: no such process") from None
    except psutil.AccessDenied:
        raise bpf.FilterError(f"--pid {pid}: not allowed to read its sockets (run as its user or root)") from None
    return sorted({c.laddr.port for c in conns if c.laddr})


def private_tracefs() -> str:
    """tracefs, mounted in a mount namespace of our own when the host has not mounted it.
    Must run before any thread starts: unshare(CLONE_NEWNS) refuses a threaded process."""
    try:
        return find_tracefs(False)
    except TracerUnavailable:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
            raise TracerUnavailable("tracefs is not mounted and a private mount namespace is refused") from None
        libc.mount(b"none", b"/", None, 0x4000 | (1 << 18), None)  # MS_REC | MS_PRIVATE: the host sees nothing
        return find_tracefs(True)


class Watch:
    def __init__(self, opts: Options, on_final: Callable[[Conn], None] | None = None) -> None:
        self.opts = opts
        self.notes: list[str] = []
        self.lock = threading.Lock()
        self.owners = owners.Owners()
        self.tracker = Tracker(classify, on_final=self._final, on_kernel=self.owners.kernel_event)
        self._on_final = on_final or (lambda c: None)
        self.tracer: WatchTracer | None = None
        self.poller: owners.Poller | None = None
        self.writer: PcapWriter | None = None
        self.write_error = ""  # the -w file's failure, one line naming it
        self.live = opts.read is None
        self.settle = 0.0
        self._stop = threading.Event()
        self._running = threading.Event()  # set while run() reads: close() waits for it to end
        self._asked = 0
        self.frames = 0  # read from the source, IP or not
        self._cpu0: float | None = None

    def spec(self) -> bpf.Spec:
        o = self.opts
        exclude = None if o.include_ssh else ssh_pair()
        ports = list(o.ports)
        if o.pid is not None:
            ports += pid_ports(o.pid) or [0]  # port 0 matches nothing until the process opens a socket
        return bpf.Spec(ports=ports, host=o.host, exclude_pair=exclude, user=bpf.compile_user(o.expr) if o.expr else None)

    def start(self) -> None:
        """Raises SourceError (NotPermitted without CAP_NET_RAW) or FilterError: one line each."""
        o = self.opts
        spec = self.spec()
        self.source: LiveSource | PcapSource = PcapSource(o.read, o.stream) if o.read else LiveSource(o.ifaces, spec)
        self.notes += self.source.notes
        if o.write:
            self.writer = PcapWriter(o.write)
        if o.read:
            if isinstance(self.source, PcapSource) and self.source.streaming or o.count:
                # A pipe's reads wait for the next packet: a held connection would wait for it too.
                # --count N stops at the Nth connection to end: a FIN/FIN one ends at its last ACK.
                self.tracker.late_rst_s = 0.0
            if o.pid is not None or o.expr or o.ports or o.host:
                self.notes.append("filters apply to live capture only; a pcap is read whole")
            return
        if spec.exclude_pair:
            self.notes.append(
                f"our own ssh session (ports {spec.exclude_pair[0]}, {spec.exclude_pair[1]}) is excluded; --include-ssh keeps it"
            )
        if o.trace and os.geteuid() == 0:
            try:
                self.tracer = WatchTracer(private_tracefs(), spec.ports, spec.exclude_pair)
                self.tracer.start()
                self.settle = SETTLE_TRACED
                if not self.tracer.has_reason:
                    self.notes.append("this kernel's tcp_send_reset has no reason field: RST causes come from the wire")
            except TracerUnavailable as exc:
                self.tracer = None
                self.notes.append(f"tracepoints unavailable ({exc}): classifications rest on the wire")
        elif o.trace:
            self.notes.append("tracepoints need root: classifications rest on the wire")
        self.owners.local = owners.local_addresses()
        self.poller = owners.Poller()
        self.poller.start()

    def describe(self) -> str:
        """One line: what is watched and on what evidence (also the headless mode's ready signal)."""
        o, src = self.opts, self.source
        if isinstance(src, PcapSource):
            return f"reading {'stdin' if o.read == '-' else terminal(o.read)} ({src.kind})"
        where = ", ".join(o.ifaces) or "all interfaces"
        prog = len(src.program)
        kernel = "tracepoints on" if self.tracer else "no tracepoints"
        return f"watching {where}; kernel filter of {prog} BPF instructions; {kernel}; {src.reading()}"

    def run(self) -> None:
        self._running.set()
        try:
            self._run()
        finally:
            self._running.clear()

    def _run(self) -> None:
        o = self.opts
        self._cpu0 = _cpu()
        t0 = time.monotonic()
        next_housekeep = t0 + HOUSEKEEP
        next_refilter = t0 + 1.0
        tracker, count = self.tracker, o.count
        for batch in self.source.batches():
            now = time.monotonic()
            if batch:
                used, writer = len(batch), self.writer
                with self.lock:  # once a batch: a view's snapshot waits for one batch at most
                    for i, (ts, data) in enumerate(batch):
                        if data is None:  # a frame that is not IP
                            continue
                        if writer:
                            writer.write(ts, data)
                            if writer.error:
                                self._writer_check()
                                writer = None
                        p = parse_ip(ts, data)
                        if p is None:
                            continue
                        conn = tracker.add(p)
                        if o.pid is not None and conn.packets == 1:
                            self._pid_owner(conn, o.pid)
                        if conn.closed_at is not None and not self.settle and not conn.final:
                            if conn.fin_fin and tracker.late_rst_s:
                                tracker.hold(conn)  # a late RST is its rst_by: final once its window has passed
                            else:
                                tracker.finalize(conn)
                        if tracker.held:
                            tracker.release(p.ts)
                        if count and tracker.finished >= count:
                            used = i + 1
                            break
                self.frames += used
            if now >= next_housekeep or batch is None:
                next_housekeep = now + HOUSEKEEP
                self.housekeep()
                if o.pid is not None and self.live and now >= next_refilter:
                    next_refilter = now + 1.0
                    self._refilter()
            if self._stop.is_set() or (o.duration and now - t0 >= o.duration):
                break
            if count and tracker.finished >= count:
                break
        with self.lock:
            self.housekeep(final=True)
            self.tracker.finish_all()

    def housekeep(self, final: bool = False) -> None:
        with self.lock if not final else contextlib.nullcontext():
            now = time.time() if self.live else self.tracker.now
            if self.tracer is not None:
                # taken before the queue is drained: every event read by then is in it
                now = min(now, self.tracer.read_up_to())
                while not self.tracer.events.empty():
                    self._trace(self.tracer.events.get())
            if self.poller is not None:
                while not self.poller.results.empty():
                    self.owners.apply(self.poller.results.get(), self.tracker.open.values())
                if self.tracker.created != self._asked:
                    self._asked = self.tracker.created
                    self.poller.want()
            self.tracker.tick(now, self.settle)
        if self.writer:
            self.writer.flush()
            self._writer_check()

    def _writer_check(self) -> None:
        """A -w file that failed is said once and dropped; the watch goes on without it."""
        if self.writer and self.writer.error:
            self.write_error = self.writer.error
            self.notes.append(self.write_error)
            self.writer.close()
            self.writer = None

    def _trace(self, ev: TraceEvent) -> None:
        local, remote = owners.trace_endpoints(ev)
        if local and remote:
            self.tracker.add_kernel(ev, local, remote)

    def _pid_owner(self, conn: Conn, pid: int) -> None:
        """With --pid, the filter is that process's ports: the local end on one of them is its."""
        ports = set(self.source.spec.ports) if isinstance(self.source, LiveSource) else set()
        for d, (addr, port) in enumerate((conn.client, conn.server)):
            if port in ports and addr in self.owners.local and conn.sides[d].pid is None:
                self.owners.own(conn, d, pid)

    def _refilter(self) -> None:
        try:
            spec = self.spec()
        except bpf.FilterError:
            return  # the process exited: keep its last ports
        if isinstance(self.source, LiveSource) and spec.ports != self.source.spec.ports:
            self.source.refilter(spec)
            if self.tracer is not None:
                try:
                    self.tracer.set_ports(spec.ports)
                except OSError as exc:
                    self.notes.append(f"tracepoint filter not updated ({exc.strerror})")

    def _final(self, conn: Conn) -> None:
        self._on_final(conn)

    def stop(self) -> None:
        self._stop.set()
        self.source.stop()

    def stats(self) -> Stats:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        cpu = ru.ru_utime + ru.ru_stime
        t = self.tracker
        return Stats(
            t.index,
            self.frames,
            self.source.drops(),
            t.finished,
            len(t.open),
            t.aged_out,
            cpu,
            cpu - (cpu if self._cpu0 is None else self._cpu0),
            ru.ru_maxrss / 1024,
        )

    def close(self) -> None:
        if self._running.is_set():  # the UI quit while the engine thread reads: let it finish first
            self.stop()
            for _ in range(40):
                if not self._running.is_set():
                    break
                time.sleep(0.05)
        if self.tracer is not None:
            self.tracer.close()
        if self.poller is not None:
            self.poller.stop()
        self.source.close()
        if self.writer:
            self.writer.close()
            self._writer_check()


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime
