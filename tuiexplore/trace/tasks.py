"""The traced tasks as the tracer keeps them, and detaching them all so that they run on."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass

from tuiexplore.trace import ptrace
from tuiexplore.trace.events import Parked


@dataclass
class Task:
    tid: int
    pid: int
    actor: str
    started: bool  # past the wrapper's exec
    pending: Parked | None = None  # the parked call, until its exit stop
    parked: bool = False
    in_syscall: bool = False  # between an entry we let pass and its exit


def adopt(tid: int, tasks: dict[int, Task], actors: dict[int, str]) -> Task:
    """A new task can report its first stop before its parent's clone/fork event: it is taken
    in by its process's (or its parent's) actor."""
    pid, ppid = status_ids(tid)
    actor = actors.get(pid) or actors.get(ppid, "?")
    actors.setdefault(pid, actor)
    task = tasks[tid] = Task(tid, pid, actor, True)
    return task


def detach_all(tasks: Iterable[Task], bell: int) -> None:
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


def exit_words(status: int) -> str:
    """A wait status as the notes say it: "exit 0", "killed by SIGSEGV"."""
    if os.WIFEXITED(status):
        return f"exit {os.WEXITSTATUS(status)}"
    return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"


def status_ids(tid: int) -> tuple[int, int]:
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


def running(pid: int) -> bool:
    """Alive and not a zombie (a detached program of ours is reaped by no one)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False
