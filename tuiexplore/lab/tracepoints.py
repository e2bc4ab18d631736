"""Kernel tracepoints in a tracefs instance of the lab's own (root only).

``sock:inet_sock_set_state`` gives every TCP state change; ``tcp:tcp_send_reset`` gives each
RST the kernel sends and, since 6.10, why (``reason``). Reason names are read from the event's
``format`` file (they change between kernel versions), never hard-coded. The instance is
``instances/tuiexplore-<pid>``: removed on exit, and stale ones of dead labs removed on start.
Tracepoints are global, so events are kept only for the lab's port (see ``Tracer.ports``).
"""

from __future__ import annotations

import math
import os
import queue
import re
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

TRACEFS_PATHS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
PREFIX = "tuiexplore-"
_MARK = "tuiexplore-barrier "
_LINE = re.compile(r"^\s*(?P<task>.+?)\s+\[\d+\]\s+\S+\s+(?P<ts>\d+\.\d+):\s+(?P<event>\w+):\s+(?P<body>.*)$")
_KV = re.compile(r"(\w+)=(\S+)")
_SYMBOLIC = re.compile(r'\{\s*(-?\d+)\s*,\s*"(\w+)"\s*\}')


@dataclass(frozen=True)
class TraceEvent:
    ts: float  # wall-clock seconds, converted from the trace clock
    event: str  # "inet_sock_set_state" | "tcp_send_reset"
    sport: int
    dport: int
    fields: dict[str, str]
    task: str = ""  # "comm-pid" of the task that was running: the caller for syscall-driven events


class TracerUnavailable(RuntimeError):
    pass


def find_tracefs(mount_if_missing: bool) -> str:
    for path in TRACEFS_PATHS:
        if os.path.isdir(os.path.join(path, "instances")):
            return path
    if mount_if_missing:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        target = TRACEFS_PATHS[0]
        # Only ever called inside the lab's private mount namespace: the host's mounts are untouched.
        if libc.mount(b"nodev", target.encode(), b"tracefs", 0, None) == 0:
            return target
        raise TracerUnavailable(f"tracefs is not mounted and mounting it failed ({os.strerror(ctypes.get_errno())})")
    raise TracerUnavailable("tracefs is not mounted here")


def reason_names(tracefs: str) -> dict[int, str]:
    """The kernel's own enum sk_rst_reason table, parsed from the event's print fmt."""
    try:
        with open(os.path.join(tracefs, "events/tcp/tcp_send_reset/format")) as f:
            fmt = f.read()
    except OSError:
        return {}
    _, _, reason_part = fmt.partition("REC->reason")
    return {int(n): name for n, name in _SYMBOLIC.findall(reason_part)}


def remove_stale_instances(tracefs: str) -> None:
    root = os.path.join(tracefs, "instances")
    for name in os.listdir(root):
        if name.startswith(PREFIX):
            pid = name[len(PREFIX) :]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                try:
                    os.rmdir(os.path.join(root, name))
                except OSError:
                    pass


class Tracer:
    def __init__(self, tracefs: str, port: int, on_event: Callable[[], None] | None = None) -> None:
        self.tracefs = tracefs
        self.port = port
        self.events: queue.SimpleQueue[TraceEvent] = queue.SimpleQueue()
        self.reasons = reason_names(tracefs)
        self.has_reason = bool(self.reasons)
        self._on_event = on_event or (lambda: None)
        self._dir = os.path.join(tracefs, "instances", f"{PREFIX}{os.getpid()}")
        self._stop = threading.Event()
        self._wake: tuple[int, ...] = os.pipe()
        self._thread: threading.Thread | None = None
        self._marks = 0  # barriers written to trace_marker
        self.passed = 0  # the last barrier the reader has seen: every event before it is read
        self._read_up_to = 0.0
        # trace clock "mono" is CLOCK_MONOTONIC; this offset turns it into wall-clock time.
        self._offset = clock_offset()

    def start(self) -> None:
        remove_stale_instances(self.tracefs)
        try:
            os.mkdir(self._dir)
        except FileExistsError:
            pass
        except OSError as exc:
            raise TracerUnavailable(f"cannot create a tracefs instance: {exc.strerror}") from exc
        try:
            self._write("trace_clock", "mono")
            self._write("events/sock/inet_sock_set_state/filter", self.state_filter())
            self._write("events/sock/inet_sock_set_state/enable", "1")
            self._write("events/tcp/tcp_send_reset/enable", "1")
            self._pipe = os.open(os.path.join(self._dir, "trace_pipe"), os.O_RDONLY | os.O_NONBLOCK)
            self._marker = os.open(os.path.join(self._dir, "trace_marker"), os.O_WRONLY)
        except OSError as exc:
            self.close()
            raise TracerUnavailable(f"cannot enable tracepoints: {exc.strerror} ({exc.filename})") from exc
        self._thread = threading.Thread(target=self._read, name="tracer", daemon=True)
        self._thread.start()

    def state_filter(self) -> str:
        """The kernel-side filter for state changes (tracefs filter syntax)."""
        return f"protocol == 6 && (sport == {self.port} || dport == {self.port})"

    def wants(self, sport: int, dport: int) -> bool:
        return self.port in (sport, dport)

    def _write(self, rel: str, value: str) -> None:
        with open(os.path.join(self._dir, rel), "w") as f:
            f.write(value)

    def barrier(self) -> int:
        """Write a marker into our ring buffer: once the reader has passed it (``passed`` >= the
        number returned), every tracepoint the kernel recorded before it has been read, on every
        CPU (trace_pipe merges the per-CPU buffers in time order)."""
        self._marks += 1
        os.write(self._marker, f"{_MARK}{self._marks}".encode())
        return self._marks

    def _read(self) -> None:
        buf = b""
        while not self._stop.is_set():
            mark = time.time()
            while True:  # to the end of what the kernel holds: then every event before mark is read
                try:
                    chunk = os.read(self._pipe, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    return
                if not chunk:
                    break
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    ev = self.parse(line.decode(errors="replace"))
                    if ev is not None:
                        self.events.put(ev)
                        self._on_event()
            self._read_up_to = mark
            select.select([self._pipe, self._wake[0]], [], [], 0.1)

    def read_up_to(self) -> float:
        """Wall-clock time before which every event is in ``events`` (all of them once reading
        has stopped). A busy box can keep this thread waiting: time alone says nothing."""
        if self._thread is None or not self._thread.is_alive():
            return math.inf
        return self._read_up_to

    def parse(self, line: str) -> TraceEvent | None:
        m = _LINE.match(line)
        if not m:
            return None
        if m["event"] == "tracing_mark_write":
            if m["body"].startswith(_MARK):
                self.passed = max(self.passed, int(m["body"][len(_MARK) :].split()[0]))
                self._on_event()
            return None
        fields = dict(_KV.findall(m["body"]))
        if m["event"] == "tcp_send_reset":
            sport, dport = _port(fields.get("src")), _port(fields.get("dest"))
            if not sport:  # kernels <= 6.9 print sport=/dport= instead of src=/dest=
                sport, dport = int(fields.get("sport", 0)), int(fields.get("dport", 0))
            reason = fields.get("reason")
            if reason is not None and reason.isdigit():
                fields["reason"] = self.reasons.get(int(reason), reason)
        else:
            sport, dport = int(fields.get("sport", 0)), int(fields.get("dport", 0))
        if not self.wants(sport, dport):
            return None
        return TraceEvent(float(m["ts"]) + self._offset, m["event"], sport, dport, fields, m["task"])

    def close(self) -> None:
        self._stop.set()
        if self._wake:
            os.write(self._wake[1], b"x")  # the reader leaves its select now, not at its timeout
        if self._thread is not None:
            self._thread.join(1.0)
        if hasattr(self, "_pipe"):
            os.close(self._pipe)
            del self._pipe
        if hasattr(self, "_marker"):
            os.close(self._marker)
            del self._marker
        try:
            os.rmdir(self._dir)  # turns its events off on the way: one wait for the kernel, not three
        except OSError:  # a kernel that wants them off first: off, then removed
            for rel in ("events/sock/inet_sock_set_state/enable", "events/tcp/tcp_send_reset/enable"):
                try:
                    self._write(rel, "0")
                except OSError:
                    pass
            try:
                os.rmdir(self._dir)
            except OSError:
                pass
        for fd in self._wake:
            os.close(fd)
        self._wake = ()


def clock_offset(samples: int = 16) -> float:
    """Wall-clock minus monotonic time, from the pair read closest together: frames (stamped in
    wall-clock time) and tracepoints a few microseconds apart must merge in kernel order, and a
    preemption between the two reads (a loaded machine) would shift every tracepoint by it."""
    best: tuple[int, int] | None = None
    for _ in range(max(samples, 1)):
        t0 = time.time_ns()
        m = time.monotonic_ns()
        t1 = time.time_ns()
        if best is None or t1 - t0 < best[0]:
            best = (t1 - t0, (t0 + t1) // 2 - m)
    assert best is not None  # at least one sample was taken
    return best[1] / 1e9


def _port(addr: str | None) -> int:
    if not addr or ":" not in addr:
        return 0
    try:
        return int(addr.rsplit(":", 1)[1])
    except ValueError:
        return 0
