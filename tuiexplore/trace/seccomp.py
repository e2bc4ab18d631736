"""``--fast``: a seccomp filter so that a program stops only at the network-relevant syscalls.

Under PTRACE_SYSCALL every syscall stops twice (entry and exit), ~60 us each on this kind of VM:
a program that makes 100k getppid() pays seconds. With this filter (``RET_TRACE`` for the numbers
of syscalls.NAMES and for any other ABI, ``ALLOW`` for the rest) and PTRACE_O_TRACESECCOMP, the
others never stop at all. The price (notes/ptrace.md §4, strace's --seccomp-bpf): a filter
outlives its tracer, and without one every ``RET_TRACE`` call fails with ENOSYS, so the programs
can never be detached: they are seized with EXITKILL and die with the tracer instead of running
on broken, and a detach only stops stepping while the tracer keeps them going to their end.

The filter is installed by the launch helper (launch.py) that stops itself, is seized, and execs
the program: a threaded tracer must not fork() to do it itself. Without root it sets no_new_privs
first (the kernel wants CAP_SYS_ADMIN or no_new_privs for a filter), and the Stepper says so.
"""

from __future__ import annotations

import struct

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


def filter_hex() -> str:
    """The filter for the launch helper (launch.py), which installs it before the program's execve."""
    return program(sorted(NAMES)).hex()
