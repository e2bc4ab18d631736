"""Starting a program so that it is traced from its first instruction, without fork() in our process.

A threaded process must not fork() (another thread may hold a lock the child then needs), so the
program is started by posix_spawn of a small helper (``HELPER``, ``python -I -S -c``): it stops
itself, the tracer seizes it, and everything before PTRACE_EVENT_EXEC is still the helper.
stdin is /dev/null; stdout and stderr go to unlinked files, which never raise SIGPIPE when the
tracer dies (a pipe would kill a program that prints after we are gone), and never reach the
terminal.

Just before its execve the helper gives the program what the user's shell would have (origin.py):
every signal's disposition (ignored where the user's were, default for all the others: the
interpreter's SIGPIPE/SIGXFSZ and glibc's 32/33 ignores must not survive the exec), the user's
signal mask and environment (the helper's own ``/proc/self/environ``, untouched by its
interpreter), no fd above 2. With ``--auto`` it first installs the seccomp filter (seccomp.py).
A failed execve exits with its errno, which ``exec_failure`` says in one line.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass

from tuiexplore.trace import ptrace
from tuiexplore.trace.escaping import escape
from tuiexplore.trace.origin import Origin

# argv: FILTER_HEX|- IGNORED_HEX BLOCKED_HEX PATH ARGV0 ARGS...; stdlib only, raw syscalls (glibc's
# sigaction refuses its internal signals 32 and 33, which its posix_spawn left ignored). The filter
# comes last: its calls (read, close_range, ...) fail with ENOSYS until the tracer has seized us.
HELPER = """
import ctypes, os, sys
a = [os.fsencode(x) for x in sys.argv]
libc = ctypes.CDLL(None, use_errno=True)
with open("/proc/self/environ", "rb") as f:
    env = [x for x in f.read().split(b"\\0") if x]
ign, blk = int(a[2], 16), int(a[3], 16)
for sig in range(1, 65):
    if sig not in (9, 19):  # rt_sigaction(sig, {SIG_IGN or SIG_DFL}, NULL, 8)
        libc.syscall(13, sig, ctypes.byref((ctypes.c_ulong * 4)(ign >> (sig - 1) & 1, 0, 0, 0)), None, 8)
if libc.syscall(436, 3, ctypes.c_uint(0xFFFFFFFF), 0) != 0:  # close_range(3, ~0, 0)
    os.closerange(3, 65536)
if a[1] != b"-":
    prog = bytes.fromhex(a[1].decode())
    buf = ctypes.create_string_buffer(prog, len(prog))
    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    fprog = Fprog(len(prog) // 8, ctypes.addressof(buf))
    if os.geteuid() != 0 and libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS: needed without CAP_SYS_ADMIN
        os._exit(200)
    if libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        os._exit(201)
os.kill(os.getpid(), 19)
libc.syscall(14, 2, ctypes.byref(ctypes.c_ulong(blk)), None, 8)  # rt_sigprocmask(SIG_SETMASK)
def strings(xs):
    return (ctypes.c_char_p * (len(xs) + 1))(*xs, None)
libc.execve(a[4], strings(a[5:]), strings(env))
os._exit(ctypes.get_errno() or 255)
"""
EXIT_NNP, EXIT_FILTER = 200, 201


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


def exec_failure(prog: str, status: int) -> str:
    """The helper's exit before the program ran (a wait status), as one line."""
    name = escape(os.fsencode(prog))
    if os.WIFSIGNALED(status):
        return f"{name}: the launcher was killed by {signal.Signals(os.WTERMSIG(status)).name} before the program started"
    code = os.WEXITSTATUS(status)
    if code == EXIT_NNP:
        return f"{name}: cannot set no_new_privs, which the --auto seccomp filter needs without CAP_SYS_ADMIN"
    if code == EXIT_FILTER:
        return f"{name}: the kernel refused the --auto seccomp filter"
    why = {
        errno.ENOEXEC: "not a format the kernel can execute (a script needs a '#!' line)",
        errno.ENOENT: "its interpreter is missing (the ELF interpreter, or the program its '#!' line names)",
    }.get(code, os.strerror(code))
    return f"{name}: cannot execute it: {why}"


def spawn(actor: str, argv: list[str], origin: Origin, env: dict[bytes, bytes], fast: bool = False) -> Launched:
    """Spawn the self-stopping helper and seize it; the program's execve follows its SIGCONT.
    Must run on the tracer's thread. ``fast``: the helper installs the seccomp filter first."""
    path = resolve(argv)
    options = ptrace.PROGRAM_OPTIONS
    filt = "-"
    if fast:
        from tuiexplore.trace import seccomp

        filt = seccomp.filter_hex()
        options |= ptrace.O_TRACESECCOMP | ptrace.O_EXITKILL
    exe = sys.executable
    wrapper = [exe, "-I", "-S", "-c", HELPER, filt, *origin.masks(), path, *argv]
    outs = [tempfile.TemporaryFile(prefix=f"tuiexplore-{actor}-") for _ in range(2)]
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        pid = os.posix_spawn(
            exe,
            wrapper,
            env,
            setsid=True,  # terminal signals (Ctrl-C, SIGHUP) never reach the program
            setsigmask=(),  # the helper's; the program's is the origin's, set by the helper
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
        raise Untraceable(exec_failure(argv[0], status))
    seize_or_kill(pid, options, argv[0])
    os.kill(pid, signal.SIGCONT)
    # The files keep their own offsets; our duplicates read from the start (pread).
    fds = [os.dup(f.fileno()) for f in outs]
    for f in outs:
        f.close()
    return Launched(actor, pid, list(argv), fds[0], fds[1])
