"""The stop/resume loop: one thread that alone calls ptrace and waitpid, for every traced task.

Non-stop model (notes §6): only a task at a network-relevant syscall entry is parked; it waits
for ``resume(tid)`` while its siblings and the other programs run on. Every other syscall is
resumed at once. Commands from other threads go through a queue and a doorbell: a ``sleep``
child seized with EXITKILL that is signalled to wake the blocking waitpid, so nothing polls and
the loop sees only its own tasks (``__WNOTHREAD``), never the app's other subprocesses.
"""

from __future__ import annotations

import errno
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tuiexplore.trace import launch, ptrace, syscalls
from tuiexplore.trace.events import Exited, Parked, Returned, Started, TraceEvent, TraceNote
from tuiexplore.trace.sockets import PlainFds, socket_fds

GROUP_STOPS = {signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}


@dataclass
class _Task:
    tid: int
    pid: int
    actor: str
    started: bool  # past the wrapper's exec
    pending: Parked | None = None  # the parked call, until its exit stop
    parked: bool = False
    in_syscall: bool = False  # between an entry we let pass and its exit


class Tracer:
    def __init__(self, on_event: Callable[[TraceEvent], None], env: dict[str, str] | None = None) -> None:
        self.on_event = on_event
        self.env = env  # the programs' environment (None: ours)
        self.tasks: dict[int, _Task] = {}
        self.actors: dict[int, str] = {}  # tgid -> actor
        self.plain = PlainFds()
        self.dying: set[int] = set()  # pids parked at their signal death already
        self._cmds: queue.SimpleQueue[tuple] = queue.SimpleQueue()
        self._bell = 0
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: Exception | None = None
        self.detached = False

    # -- any thread ----------------------------------------------------------------------------
    def start(self, programs: list[tuple[str, list[str]]]) -> None:
        """Launch every program (actor name, argv) traced; raises launch.Untraceable."""
        self._thread = threading.Thread(target=self._main, args=(programs,), name="tuiexplore-tracer", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    def resume(self, tid: int) -> None:
        self._command("resume", tid)

    def launch(self, actor: str, argv: list[str]) -> None:
        """Start one more traced program; a failure arrives as an error TraceNote."""
        self._command("launch", actor, argv)

    def detach(self) -> None:
        """Let every program run on untraced (parked calls then run); the loop ends."""
        self._command("detach")

    def died_at_stop(self, pid: int) -> bool:
        """Whether the process parked at its signal death (PTRACE_EVENT_EXIT) before it went."""
        return pid in self.dying

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _command(self, *cmd: object) -> None:
        self._cmds.put(cmd)
        if self._bell:
            try:
                os.kill(self._bell, signal.SIGUSR1)
            except ProcessLookupError:
                pass

    # -- the tracer thread ---------------------------------------------------------------------
    def _main(self, programs: list[tuple[str, list[str]]]) -> None:
        self.programs_label = programs[0][1][0] if programs else "program"
        try:
            self._bell = self._spawn_bell()
            for actor, argv in programs:
                self._spawn(actor, argv)
        except (launch.Untraceable, OSError) as exc:
            self._error = exc if isinstance(exc, launch.Untraceable) else launch.Untraceable(str(exc))
            self._abandon()
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop()
        finally:
            self._kill_bell()

    def _spawn(self, actor: str, argv: list[str]) -> None:
        lp = launch.spawn(actor, argv, self.env)
        self.actors[lp.pid] = actor
        self.tasks[lp.pid] = _Task(lp.pid, lp.pid, actor, False)
        self.on_event(Started(time.time(), actor, lp.pid, lp.argv, lp.stdout, lp.stderr))

    def _spawn_bell(self) -> int:
        pid = os.posix_spawn("/bin/sleep", ["sleep", "1000000"], dict(os.environ), setsigmask=())
        launch.seize_or_kill(pid, ptrace.O_EXITKILL, self.programs_label)
        return pid

    def _kill_bell(self) -> None:
        if self._bell:
            try:
                os.kill(self._bell, signal.SIGKILL)
                os.waitpid(self._bell, ptrace.WALL)
            except (ProcessLookupError, ChildProcessError):
                pass
            self._bell = 0

    def _abandon(self) -> None:
        """A launch failed half-way: detach whatever was started already, so it runs on."""
        for t in list(self.tasks.values()):
            ptrace.resume(t.tid, 0, ptrace.PTRACE_DETACH)
        self._kill_bell()

    def _loop(self) -> None:
        # The hot path, bound to locals: the exit stop of a call we let pass is most stops.
        waitpid, options, tasks, raw_resume = os.waitpid, ptrace.WALL | ptrace.WNOTHREAD, self.tasks, ptrace.raw_resume
        syscall_stop, entry_nr, names = (ptrace.SYSCALL_TRAP << 8) | 0x7F, ptrace.entry_nr, syscalls.NAMES
        while tasks:
            try:
                tid, status = waitpid(-1, options)
            except ChildProcessError:
                return
            task = tasks.get(tid)
            if status == syscall_stop and task is not None and task.started:
                if task.in_syscall:
                    task.in_syscall = False
                    raw_resume(tid)
                    continue
                nr = entry_nr(tid)
                if 0 <= nr < ptrace.X32_BIT and nr not in names:  # not an exit, not x32: a call of no interest
                    task.in_syscall = True
                    raw_resume(tid)
                    continue
            if tid == self._bell:
                if os.WIFSTOPPED(status):
                    ptrace.resume(tid, 0, ptrace.PTRACE_CONT)  # swallow the ring
                if self._drain_commands():
                    return
                continue
            task = task or self._adopt(tid)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                self._gone(task, status)
            elif os.WIFSTOPPED(status):
                self._stopped(task, status)

    def _drain_commands(self) -> bool:
        while True:
            try:
                cmd = self._cmds.get_nowait()
            except queue.Empty:
                return False
            if cmd[0] == "resume":
                task = self.tasks.get(cmd[1])
                if task is not None and task.parked:
                    task.parked = False
                    ptrace.resume(task.tid)
            elif cmd[0] == "launch":
                try:
                    self._spawn(cmd[1], cmd[2])
                except (launch.Untraceable, OSError) as exc:
                    self.on_event(TraceNote(time.time(), "error", f"{cmd[1]}: {exc}"))
            elif cmd[0] == "detach":
                self._detach_all()
                return True

    def _adopt(self, tid: int) -> _Task:
        """A new task can report its first stop before its parent's clone/fork event."""
        pid, ppid = _status_ids(tid)
        actor = self.actors.get(pid) or self.actors.get(ppid, "?")
        self.actors.setdefault(pid, actor)
        task = _Task(tid, pid, actor, True)
        self.tasks[tid] = task
        return task

    def _gone(self, task: _Task, status: int) -> None:
        self.tasks.pop(task.tid, None)
        if task.tid == task.pid:
            if os.WIFEXITED(status):
                how = f"exit {os.WEXITSTATUS(status)}"
            else:
                how = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
            if task.started:
                self.on_event(Exited(time.time(), task.actor, task.pid, how))
            else:
                self.on_event(TraceNote(time.time(), "error", f"{task.actor}: the program did not start ({how})"))

    def _stopped(self, task: _Task, status: int) -> None:
        sig, event = os.WSTOPSIG(status), status >> 16
        tid = task.tid
        if sig == ptrace.SYSCALL_TRAP:
            if task.in_syscall:  # the exit of a call we let pass (we always resume with PTRACE_SYSCALL)
                task.in_syscall = False
                ptrace.resume(tid)
            else:
                self._syscall_stop(task)
        elif event == ptrace.EVENT_EXEC:
            task.started = True
            self.plain.reset(task.pid)
            ptrace.resume(tid)
        elif event in (ptrace.EVENT_FORK, ptrace.EVENT_VFORK, ptrace.EVENT_CLONE):
            new = ptrace.event_msg(tid)
            if new not in self.tasks:
                pid = task.pid if event == ptrace.EVENT_CLONE and _status_ids(new)[0] == task.pid else new
                self.actors.setdefault(pid, task.actor)
                self.tasks[new] = _Task(new, pid, task.actor, True)
            ptrace.resume(tid)
        elif event == ptrace.EVENT_STOP:
            if sig in GROUP_STOPS and task.started:
                ptrace.resume(tid, 0, ptrace.PTRACE_LISTEN)  # a real group-stop: stay stopped
            else:
                ptrace.resume(tid)
        elif event == ptrace.EVENT_EXIT:  # the task is doomed; its fds close after this stop
            self._exit_stop(task)
        elif event:
            ptrace.resume(tid)
        else:  # signal-delivery-stop: deliver the signal
            ptrace.resume(tid, sig)

    def _exit_stop(self, task: _Task) -> None:
        """A process dying of a signal (SIGSEGV, SIGTERM, ...) closes its sockets without a call:
        its first task to reach PTRACE_EVENT_EXIT parks as a ``killed`` call while the fds are
        still open, so the exit can be predicted like exit_group's. (SIGKILL gives no such stop.)"""
        status = ptrace.event_msg(task.tid)  # the wait status it will exit with
        if not os.WIFSIGNALED(status) or not task.started or task.pid in self.dying or not socket_fds(task.pid):
            ptrace.resume(task.tid)
            return
        self.dying.add(task.pid)
        sig = signal.Signals(os.WTERMSIG(status)).name
        parked = Parked(time.time(), task.actor, task.pid, task.tid, "killed", {"signal": sig}, ())
        task.pending, task.parked = parked, True
        self.on_event(parked)

    def _syscall_stop(self, task: _Task) -> None:
        try:
            info = ptrace.syscall_info(task.tid)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise
            return
        if info.op == ptrace.OP_ENTRY:
            parked = self._entry(task, info) if task.started else None
            if parked is None:
                task.in_syscall = True
                ptrace.resume(task.tid)
                return
            task.pending, task.parked = parked, True
            self.on_event(parked)
        elif info.op == ptrace.OP_EXIT and task.pending is not None:
            p, task.pending = task.pending, None
            err = errno.errorcode.get(-info.ret, str(-info.ret)) if info.is_error else None
            result = syscalls.exit_result(task.tid, p.call, p.raw, info.ret)
            self.plain.forget(p.pid, p.call, p.raw, info.ret)
            self.on_event(Returned(time.time(), p.actor, p.pid, p.tid, p.call, info.ret, err, result))
            ptrace.resume(task.tid)
        else:
            ptrace.resume(task.tid)

    def _entry(self, task: _Task, info: ptrace.SyscallStop) -> Parked | None:
        if info.arch != ptrace.AUDIT_ARCH_X86_64 or info.nr & ptrace.X32_BIT:
            self.on_event(
                TraceNote(time.time(), "error", f"{task.actor} (pid {task.pid}) uses another syscall ABI (i386 or x32): detached")
            )
            ptrace.resume(task.tid, 0, ptrace.PTRACE_DETACH)
            self.tasks.pop(task.tid, None)
            return None
        call = syscalls.NAMES.get(info.nr)
        if call is None:
            return None
        a = info.args
        if call in ("exit", "exit_group") and not socket_fds(task.pid):
            return None  # nothing of interest dies with it
        if call == "exit" and _threads(task.pid) > 1:
            return None  # one thread ends; the fd table lives on with its siblings
        if call in syscalls.ON_SOCKET_FD:
            if call == "fcntl" and a[1] not in (syscalls.F_DUPFD, syscalls.F_DUPFD_CLOEXEC):
                return None
            if not self.plain.is_socket(task.pid, task.tid, call, a):
                return None
        elif call == "close_range":
            self.plain.reset(task.pid)
        args = syscalls.decode_entry(task.tid, call, a)
        return Parked(time.time(), task.actor, task.pid, task.tid, call, args, a)

    def _detach_all(self) -> None:
        detach_all(self.tasks.values(), self._bell)
        self.tasks.clear()
        self.detached = True
        self.on_event(TraceNote(time.time(), "info", "detached: the programs run on untraced"))


def detach_all(tasks: Iterable[_Task], bell: int) -> None:
    """Parked tasks are detached where they stand; running ones are interrupted first, and a
    task caught at a signal keeps it (DETACH's data delivers it)."""
    waiting = set()
    for task in list(tasks):
        if task.parked:
            ptrace.resume(task.tid, 0, ptrace.PTRACE_DETACH)
        else:
            try:
                ptrace.ptrace(ptrace.PTRACE_INTERRUPT, task.tid)
                waiting.add(task.tid)
            except OSError:
                pass
    while waiting:
        try:
            tid, status = os.waitpid(-1, ptrace.WALL | ptrace.WNOTHREAD)
        except ChildProcessError:
            break
        if tid not in waiting:
            if tid == bell and os.WIFSTOPPED(status):
                ptrace.resume(tid, 0, ptrace.PTRACE_CONT)
            continue
        if os.WIFSTOPPED(status):
            sig, event = os.WSTOPSIG(status), status >> 16
            deliver = sig if not event and sig != ptrace.SYSCALL_TRAP else 0
            ptrace.resume(tid, deliver, ptrace.PTRACE_DETACH)
        waiting.discard(tid)


def _status_ids(tid: int) -> tuple[int, int]:
    """(Tgid, PPid) of a task, from /proc/TID/status."""
    ids = {"Tgid": tid, "PPid": 0}
    try:
        with open(f"/proc/{tid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ids:
                    ids[key] = int(value)
    except OSError:
        pass
    return ids["Tgid"], ids["PPid"]


def _threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0
