"""Starting a program so that it is traced from its first instruction, without fork() in our process.

A threaded process must not fork() (another thread may hold a lock the child then needs), so the
program is started by posix_spawn of ``sh -c 'kill -STOP $$; exec "$0" "$@"'``: the wrapper stops
itself, the tracer seizes it, and everything before PTRACE_EVENT_EXEC is still the wrapper.
stdin is /dev/null; stdout and stderr go to unlinked files, which never raise SIGPIPE when the
tracer dies (a pipe would kill a program that prints after we are gone), and never reach the
terminal.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from dataclasses import dataclass

from tuiexplore.trace import ptrace

WRAPPER = 'kill -STOP $$; exec "$0" "$@"'


class Untraceable(Exception):
    """The program cannot be stepped; the message is one line for the user."""


@dataclass
class Launched:
    actor: str
    pid: int
    argv: list[str]
    stdout: int  # our read ends (fds of the unlinked files)
    stderr: int


def resolve(argv: list[str]) -> str:
    """The executable's path, refusing what ptrace stepping cannot handle here."""
    if not argv:
        raise Untraceable("no program given (tuiexplore step -- PROGRAM ARGS)")
    prog = argv[0]
    path = prog if "/" in prog else shutil.which(prog)
    if not path or not os.path.exists(path):
        raise Untraceable(f"{prog}: no such program")
    if os.path.isdir(path) or not os.access(path, os.X_OK):
        raise Untraceable(f"{prog}: not executable")
    try:
        with open(path, "rb") as f:
            head = f.read(20)
    except OSError as exc:
        raise Untraceable(f"{prog}: cannot read it ({exc.strerror})") from None
    if head[:4] == b"\x7fELF":
        cls, machine = head[4], int.from_bytes(head[18:20], "little")
        if cls == 1 or machine == 3:
            raise Untraceable(f"{prog}: a 32-bit (i386) program; only x86_64 programs can be stepped")
        if machine != 62:
            raise Untraceable(f"{prog}: built for another machine (ELF e_machine {machine}); only x86_64 is decoded")
    return path


def seize_or_kill(pid: int, options: int, what: str) -> None:
    """Seize our fresh child; if that is refused, kill it (it is only a wrapper) and say why."""
    try:
        ptrace.seize(pid, options)
    except OSError as exc:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        why = "another tracer is attached or ptrace is restricted (Yama, seccomp, container)" if exc.errno == 1 else exc.strerror
        raise Untraceable(f"{what}: cannot trace it: {why}") from None


def spawn(actor: str, argv: list[str], env: dict[str, str] | None = None, fast: bool = False) -> Launched:
    """Spawn the self-stopping wrapper and seize it. Must run on the tracer's thread. ``fast``:
    the wrapper installs the seccomp filter first (trace/seccomp.py)."""
    path = resolve(argv)
    if fast:
        from tuiexplore.trace import seccomp

        exe, wrapper = seccomp.launcher(path, argv)
        options = ptrace.PROGRAM_OPTIONS | ptrace.O_TRACESECCOMP | ptrace.O_EXITKILL
    else:
        exe, wrapper = "/bin/sh", ["sh", "-c", WRAPPER, path, *argv[1:]]
        options = ptrace.PROGRAM_OPTIONS
    outs = [tempfile.TemporaryFile(prefix=f"tuiexplore-{actor}-") for _ in range(2)]
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        pid = os.posix_spawn(
            exe,
            wrapper,
            dict(os.environ if env is None else env),
            setsid=True,  # terminal signals (Ctrl-C, SIGHUP) never reach the program
            setsigmask=(),
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, outs[0].fileno(), 1),
                (os.POSIX_SPAWN_DUP2, outs[1].fileno(), 2),
            ],
        )
    finally:
        os.close(devnull)
    _, status = os.waitpid(pid, os.WUNTRACED)
    if not os.WIFSTOPPED(status):
        raise Untraceable(f"{argv[0]}: the launcher exited before the program started (status {status:#x})")
    seize_or_kill(pid, options, argv[0])
    os.kill(pid, signal.SIGCONT)
    # The files keep their own offsets; our duplicates read from the start (pread).
    fds = [os.dup(f.fileno()) for f in outs]
    for f in outs:
        f.close()
    return Launched(actor, pid, list(argv), fds[0], fds[1])
