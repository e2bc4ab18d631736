"""``--fast``: a seccomp filter so that a program stops only at the network-relevant syscalls.

Under PTRACE_SYSCALL every syscall stops twice (entry and exit), ~60 us each on this kind of VM:
a program that makes 100k getppid() pays seconds. With this filter (``RET_TRACE`` for the numbers
of syscalls.NAMES and for any other ABI, ``ALLOW`` for the rest) and PTRACE_O_TRACESECCOMP, the
others never stop at all. The price (notes/ptrace.md §4, strace's --seccomp-bpf): a filter
outlives its tracer, and without one every ``RET_TRACE`` call fails with ENOSYS, so the programs
can never be detached: they are seized with EXITKILL and die with the tracer instead of running
on broken, and a detach only stops stepping while the tracer keeps them going to their end.

The filter is installed by a small helper (``HELPER``, run as ``python -I -S -c``) that stops
itself, is seized, and execs the program: a threaded tracer must not fork() to do it itself.
"""

from __future__ import annotations

import struct
import sys

from tuiexplore.trace.ptrace import AUDIT_ARCH_X86_64, X32_BIT
from tuiexplore.trace.syscalls import NAMES

RET_ALLOW, RET_TRACE = 0x7FFF0000, 0x7FF00000
LD_W_ABS, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06
NR_AT, ARCH_AT = 0, 4  # offsetof(struct seccomp_data, nr / arch)


def program(numbers: list[int]) -> bytes:
    """The classic BPF program: other ABIs and x32 are traced (the tracer refuses them), the
    numbers traced, everything else allowed. Jumps are relative to the next instruction."""
    ins = [(LD_W_ABS, 0, 0, ARCH_AT), (JEQ_K, 1, 0, AUDIT_ARCH_X86_64), (RET_K, 0, 0, RET_TRACE), (LD_W_ABS, 0, 0, NR_AT)]
    ins.append((JGE_K, len(numbers) + 1, 0, X32_BIT))
    ins += [(JEQ_K, len(numbers) - i, 0, nr) for i, nr in enumerate(numbers)]
    ins += [(RET_K, 0, 0, RET_ALLOW), (RET_K, 0, 0, RET_TRACE)]
    return b"".join(struct.pack("=HBBI", *i) for i in ins)


# argv: FILTER_HEX PATH ARGV0 ARGS...; stdlib only, and nothing after the filter but kill and execve.
HELPER = """
import ctypes, os, signal, sys
prog = bytes.fromhex(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(prog, len(prog))
class Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
fprog = Fprog(len(prog) // 8, ctypes.addressof(buf))
if os.geteuid() != 0 and libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS: needed without CAP_SYS_ADMIN
    sys.exit("tuiexplore: cannot set no_new_privs: " + os.strerror(ctypes.get_errno()))
if libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
    sys.exit("tuiexplore: cannot install the seccomp filter: " + os.strerror(ctypes.get_errno()))
os.kill(os.getpid(), signal.SIGSTOP)
os.execv(sys.argv[2], sys.argv[3:])
"""


def launcher(path: str, argv: list[str]) -> tuple[str, list[str]]:
    """What to posix_spawn instead of the shell wrapper."""
    hexprog = program(sorted(NAMES)).hex()
    return sys.executable, [sys.executable, "-I", "-S", "-c", HELPER, hexprog, path, path, *argv[1:]]
