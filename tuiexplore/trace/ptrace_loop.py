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
from collections.abc import Callable

from tuiexplore.trace import launch, ptrace, syscalls
from tuiexplore.trace.doorbell import Doorbell
from tuiexplore.trace.events import Exited, Parked, Returned, Started, TraceEvent, TraceNote
from tuiexplore.trace.interest import Interest
from tuiexplore.trace.origin import Origin
from tuiexplore.trace.sockets import socket_fds
from tuiexplore.trace.tasks import Task, adopt, detach_all, exit_words, status_ids

GROUP_STOPS = {signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}
KEPT_ON = "detached from stepping: the programs run on to their end (traced, unstepped: see seccomp.py)"


class PtraceLoop:
    def __init__(
        self, on_event: Callable[[TraceEvent], None], origin: Origin, extra_env: dict[str, str] | None = None, fast: bool = False
    ) -> None:
        self.on_event = on_event
        self.origin = origin  # what the user's shell gave us: the programs get it (origin.py)
        self.env = origin.with_env(extra_env or {})
        # --auto (trace/seccomp.py): only the filter's calls stop, everything else runs on with CONT
        self.fast, self.go = fast, ptrace.PTRACE_CONT if fast else ptrace.PTRACE_SYSCALL
        self.passive = False  # --auto after a detach: nothing parks, the programs run to their end
        self.tasks: dict[int, Task] = {}
        self.actors: dict[int, str] = {}  # tgid -> actor
        self.interest = Interest()
        self.dying: set[int] = set()  # pids parked at their signal death already
        self.other_abi: set[int] = set()  # pids said to have made a call of another ABI
        self.failed: list[str] = []  # programs started later (after the server's listen) whose exec failed
        self._cmds: queue.SimpleQueue[tuple] = queue.SimpleQueue()
        self.bell = Doorbell()
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
        """Let every program run on untraced (parked calls then run); the loop ends (with --auto
        they run on traced, unstepped, and the loop ends with them)."""
        self._command("detach")

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _command(self, *cmd: object) -> None:
        self._cmds.put(cmd)
        self.bell.ring()

    # -- the tracer thread ---------------------------------------------------------------------
    def _main(self, programs: list[tuple[str, list[str]]]) -> None:
        self.programs_label = programs[0][1][0] if programs else "program"
        try:
            self.bell.install(self.programs_label)
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
            self.bell.remove()

    def _spawn(self, actor: str, argv: list[str]) -> None:
        lp = launch.spawn(actor, argv, self.origin, self.env, self.fast)
        try:
            self._until_exec(lp.pid, argv[0])
        except launch.Untraceable:
            os.close(lp.stdout)
            os.close(lp.stderr)
            raise
        self.actors[lp.pid] = actor
        self.tasks[lp.pid] = Task(lp.pid, lp.pid, actor, True)
        self.on_event(Started(time.time(), actor, lp.pid, lp.argv, lp.stdout, lp.stderr))

    def _until_exec(self, pid: int, prog: str) -> None:
        """The helper's stops up to its execve's PTRACE_EVENT_EXEC: a failed exec is the helper's
        exit, said in one line (launch.exec_failure), before the program counts as started."""
        while True:
            _, status = os.waitpid(pid, ptrace.WALL)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                raise launch.Untraceable(launch.exec_failure(prog, status))
            sig, event = os.WSTOPSIG(status), status >> 16
            if event == ptrace.EVENT_EXEC:
                self.interest.plain.reset(pid)
                ptrace.resume(pid, 0, self.go)
                return
            deliver = 0 if event or sig == ptrace.SYSCALL_TRAP else sig  # its own SIGCONT, say
            ptrace.resume(pid, deliver, self.go)

    def _abandon(self) -> None:
        """A launch failed half-way: the programs started run on, detached (--auto: killed, see seccomp.py)."""
        for t in list(self.tasks.values()):
            os.kill(t.pid, signal.SIGKILL) if self.fast else ptrace.resume(t.tid, 0, ptrace.PTRACE_DETACH)
        self.bell.remove()

    def _loop(self) -> None:
        # The hot path, bound to locals: the exit stop of a call we let pass is most stops.
        waitpid, options, tasks, raw_resume = os.waitpid, ptrace.WALL | ptrace.WNOTHREAD, self.tasks, ptrace.raw_resume
        syscall_stop, entry_nr, names = (ptrace.SYSCALL_TRAP << 8) | 0x7F, ptrace.entry_nr, syscalls.NAMES
        seccomp_stop, seccomp_call, raw_cont = ptrace.SECCOMP_STATUS, ptrace.seccomp_call, ptrace.raw_cont
        plain_io, plain = syscalls.PLAIN_IO, self.interest.plain
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
            elif status == seccomp_stop and task is not None and task.started:  # --auto: mostly plain-fd I/O
                nr, fd = seccomp_call(tid)
                if self.passive or (nr in plain_io and plain.known_plain(task.pid, fd)):
                    raw_cont(tid)
                    continue
            if tid == self.bell.pid:
                self.bell.answer(status)
                if self._drain_commands():
                    return
                continue
            task = task or adopt(tid, self.tasks, self.actors)
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
                    ptrace.resume(task.tid)  # PTRACE_SYSCALL: its exit stop brings the result
            elif cmd[0] == "launch":
                try:
                    self._spawn(cmd[1], cmd[2])
                except (launch.Untraceable, OSError) as exc:
                    self.failed.append(f"{cmd[1]}: {exc}")
                    self.on_event(TraceNote(time.time(), "error", f"{cmd[1]}: {exc}"))
            elif cmd[0] == "detach":
                return self._detach_all()

    def _gone(self, task: Task, status: int) -> None:
        self.tasks.pop(task.tid, None)
        if task.tid == task.pid:
            how = exit_words(status)
            if task.started:
                self.on_event(Exited(time.time(), task.actor, task.pid, how))
            else:
                self.on_event(TraceNote(time.time(), "error", f"{task.actor}: the program did not start ({how})"))

    def _stopped(self, task: Task, status: int) -> None:
        sig, event = os.WSTOPSIG(status), status >> 16
        tid = task.tid
        if sig == ptrace.SYSCALL_TRAP:
            if task.in_syscall:  # the exit of a call we let pass with PTRACE_SYSCALL
                task.in_syscall = False
                ptrace.resume(tid)
            else:
                self._syscall_stop(task)
        elif event == ptrace.EVENT_SECCOMP:  # --auto: a call of the filter's, at its entry
            self._syscall_stop(task)
        elif event == ptrace.EVENT_EXEC:
            task.started = True
            self.interest.plain.reset(task.pid)
            ptrace.resume(tid, 0, self.go)
        elif event in (ptrace.EVENT_FORK, ptrace.EVENT_VFORK, ptrace.EVENT_CLONE):
            new = ptrace.event_msg(tid)
            if new not in self.tasks:
                pid = task.pid if event == ptrace.EVENT_CLONE and status_ids(new)[0] == task.pid else new
                self.actors.setdefault(pid, task.actor)
                self.tasks[new] = Task(new, pid, task.actor, True)
            ptrace.resume(tid, 0, self.go)
        elif event == ptrace.EVENT_STOP:
            if sig in GROUP_STOPS and task.started:
                ptrace.resume(tid, 0, ptrace.PTRACE_LISTEN)  # a real group-stop: stay stopped
            else:
                ptrace.resume(tid, 0, self.go)
        elif event == ptrace.EVENT_EXIT:  # the task is doomed; its fds close after this stop
            self._exit_stop(task)
        elif event:
            ptrace.resume(tid, 0, self.go)
        else:  # signal-delivery-stop: deliver the signal
            ptrace.resume(tid, sig, self.go)

    def _exit_stop(self, task: Task) -> None:
        """A process dying of a signal (SIGSEGV, SIGTERM, ...) closes its sockets without a call:
        its first task to reach PTRACE_EVENT_EXIT parks as a ``killed`` call while the fds are
        still open, so the exit can be predicted like exit_group's. (SIGKILL gives no such stop.)"""
        status = ptrace.event_msg(task.tid)  # the wait status it will exit with
        if not os.WIFSIGNALED(status) or not task.started or task.pid in self.dying or self.passive or not socket_fds(task.pid):
            ptrace.resume(task.tid, 0, self.go)
            return
        self.dying.add(task.pid)
        sig = signal.Signals(os.WTERMSIG(status)).name
        parked = Parked(time.time(), task.actor, task.pid, task.tid, "killed", {"signal": sig}, ())
        task.pending, task.parked = parked, True
        self.on_event(parked)

    def _syscall_stop(self, task: Task) -> None:
        try:
            info = ptrace.syscall_info(task.tid)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise
            return
        if info.op == ptrace.OP_ENTRY:
            parked = self._entry(task, info) if task.started and not self.passive else None
            if parked is None:
                task.in_syscall = not self.fast  # PTRACE_SYSCALL stops at its exit too
                ptrace.resume(task.tid, 0, self.go)
                return
            task.pending, task.parked = parked, True
            self.on_event(parked)
        elif info.op == ptrace.OP_EXIT and task.pending is not None:
            p, task.pending = task.pending, None
            err = errno.errorcode.get(-info.ret, str(-info.ret)) if info.is_error else None
            result = syscalls.exit_result(task.tid, p.call, p.raw, info.ret)
            self.interest.plain.forget(p.pid, p.call, p.raw, info.ret)
            self.on_event(Returned(time.time(), p.actor, p.pid, p.tid, p.call, info.ret, err, result))
            ptrace.resume(task.tid, 0, self.go)
        else:
            ptrace.resume(task.tid, 0, self.go)

    def _entry(self, task: Task, info: ptrace.SyscallStop) -> Parked | None:
        if info.arch != ptrace.AUDIT_ARCH_X86_64 or info.nr & ptrace.X32_BIT:
            # An int $0x80 call, an exec'd i386 program, or x32: not decoded, it runs unstepped,
            # said once per process; its later x86_64 calls are stepped as before.
            if task.pid not in self.other_abi:
                self.other_abi.add(task.pid)
                abi = "x32" if info.arch == ptrace.AUDIT_ARCH_X86_64 else "i386"
                self.on_event(
                    TraceNote(
                        time.time(),
                        "warn",
                        f"{task.actor} (pid {task.pid}) switched to the {abi} syscall ABI (call {info.nr & ~ptrace.X32_BIT}): "
                        "its calls there are not decoded and run unstepped; its x86_64 calls are still stepped",
                    )
                )
            return None
        return self.interest.parked(task.actor, task.pid, task.tid, info.nr, info.args)

    def _detach_all(self) -> bool:
        """True when the loop is over. Under the seccomp filter they cannot be detached (their calls
        would fail): parked calls run, nothing parks any more, the loop goes on to their exit."""
        if self.fast:
            self.passive = True
            for task in self.tasks.values():
                if task.parked:
                    task.parked = False
                    ptrace.resume(task.tid, 0, ptrace.PTRACE_CONT)
            self.on_event(TraceNote(time.time(), "info", KEPT_ON))
            self.detached = True  # after the note: the Stepper drains its inbox once it sees this
            return False
        detach_all(self.tasks.values(), self.bell.pid)
        self.tasks.clear()
        self.detached = True
        self.on_event(TraceNote(time.time(), "info", "detached: the programs run on untraced"))
        return True
