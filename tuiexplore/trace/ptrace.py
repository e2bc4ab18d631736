"""The ptrace calls the tracer needs, through ctypes: SEIZE, GET_SYSCALL_INFO, pidfd_getfd.

PTRACE_GET_SYSCALL_INFO (Linux 5.3) says entry or exit and gives the number, arguments or return
value without decoding registers, so no entry/exit toggle can drift. Only the thread that seized a
task may call ptrace on it: every call here runs on the tracer's one thread.
"""

from __future__ import annotations

import ctypes
import errno
import os
from dataclasses import dataclass

PTRACE_CONT = 7
PTRACE_DETACH = 17
PTRACE_SYSCALL = 24
PTRACE_GETEVENTMSG = 0x4201
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_LISTEN = 0x4208
PTRACE_GET_SYSCALL_INFO = 0x420E

O_TRACESYSGOOD = 0x01
O_TRACEFORK = 0x02
O_TRACEVFORK = 0x04
O_TRACECLONE = 0x08
O_TRACEEXEC = 0x10
O_TRACEEXIT = 0x40
O_TRACESECCOMP = 0x80
O_EXITKILL = 0x100000
# Never EXITKILL on a traced program: when the tracer dies the kernel detaches and the program
# runs on (notes §6). Only the doorbell child dies with us.
PROGRAM_OPTIONS = O_TRACESYSGOOD | O_TRACEFORK | O_TRACEVFORK | O_TRACECLONE | O_TRACEEXEC | O_TRACEEXIT

EVENT_FORK, EVENT_VFORK, EVENT_CLONE, EVENT_EXEC, EVENT_EXIT, EVENT_SECCOMP, EVENT_STOP = 1, 2, 3, 4, 6, 7, 128
WALL = 0x40000000
WNOTHREAD = 0x20000000
SYSCALL_TRAP = 0x80 | 5  # SIGTRAP | 0x80 with TRACESYSGOOD
SECCOMP_STATUS = (EVENT_SECCOMP << 16) | (5 << 8) | 0x7F  # waitpid's status at a PTRACE_EVENT_SECCOMP stop
AUDIT_ARCH_X86_64 = 0xC000003E
X32_BIT = 0x40000000

OP_ENTRY, OP_EXIT, OP_SECCOMP = 1, 2, 3
SYS_PIDFD_OPEN = 434
SYS_PIDFD_GETFD = 438

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.restype = ctypes.c_long
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_libc.syscall.restype = ctypes.c_long


class _SyscallInfo(ctypes.Structure):  # struct ptrace_syscall_info, <linux/ptrace.h>
    _fields_ = [
        ("op", ctypes.c_uint8),
        ("pad", ctypes.c_uint8 * 3),
        ("arch", ctypes.c_uint32),
        ("ip", ctypes.c_uint64),
        ("sp", ctypes.c_uint64),
        ("u", ctypes.c_uint64 * 7),
        ("ret_data", ctypes.c_uint32),
    ]


@dataclass(frozen=True)
class SyscallStop:
    op: int  # OP_ENTRY | OP_EXIT
    arch: int
    nr: int = -1  # entry
    args: tuple[int, ...] = ()
    ret: int = 0  # exit: the return value (negative errno on error)
    is_error: bool = False


def ptrace(request: int, tid: int, addr: int = 0, data: int = 0) -> int:
    r = _libc.ptrace(request, tid, addr, data)
    if r == -1:
        err = ctypes.get_errno()
        if err:
            raise OSError(err, f"ptrace({request:#x}, {tid}): {os.strerror(err)}")
    return r


def seize(pid: int, options: int) -> None:
    ptrace(PTRACE_SEIZE, pid, 0, options)


def resume(tid: int, sig: int = 0, request: int = PTRACE_SYSCALL) -> bool:
    """False when the task is gone already (killed while stopped): nothing left to resume."""
    try:
        ptrace(request, tid, 0, sig)
    except OSError as exc:
        if exc.errno == errno.ESRCH:
            return False
        raise
    return True


_ENTRY_INFO = _SyscallInfo()  # the tracer thread's own: entry_nr() is called from it alone
_ENTRY_ADDR = ctypes.addressof(_ENTRY_INFO)
_ENTRY_SIZE = ctypes.sizeof(_ENTRY_INFO)


def entry_nr(tid: int) -> int:
    """The syscall number at an x86_64 entry stop, else -1 (an exit, another ABI, an error):
    the cheap first look at every entry, before anything is decoded."""
    if _libc.ptrace(PTRACE_GET_SYSCALL_INFO, tid, _ENTRY_SIZE, _ENTRY_ADDR) <= 0:
        return -1
    if _ENTRY_INFO.op != OP_ENTRY or _ENTRY_INFO.arch != AUDIT_ARCH_X86_64:
        return -1
    return _ENTRY_INFO.u[0]


def seccomp_call(tid: int) -> tuple[int, int]:
    """(number, first argument) at an x86_64 seccomp stop, else (-1, 0): the cheap first look
    at a --fast stop (trace/seccomp.py), before anything is decoded."""
    if _libc.ptrace(PTRACE_GET_SYSCALL_INFO, tid, _ENTRY_SIZE, _ENTRY_ADDR) <= 0:
        return -1, 0
    if _ENTRY_INFO.op != OP_SECCOMP or _ENTRY_INFO.arch != AUDIT_ARCH_X86_64:
        return -1, 0
    return _ENTRY_INFO.u[0], _ENTRY_INFO.u[1]


def raw_cont(tid: int) -> None:
    """PTRACE_CONT without error checks, for the --fast hot path."""
    _libc.ptrace(PTRACE_CONT, tid, None, None)


def raw_resume(tid: int) -> None:
    """PTRACE_SYSCALL without error checks, for the hot path (a task that vanished is reaped next)."""
    _libc.ptrace(PTRACE_SYSCALL, tid, None, None)


def event_msg(tid: int) -> int:
    out = ctypes.c_ulong()
    ptrace(PTRACE_GETEVENTMSG, tid, 0, ctypes.addressof(out))
    return out.value


def syscall_info(tid: int) -> SyscallStop:
    si = _SyscallInfo()
    ptrace(PTRACE_GET_SYSCALL_INFO, tid, ctypes.sizeof(si), ctypes.addressof(si))
    if si.op in (OP_ENTRY, OP_SECCOMP):
        return SyscallStop(OP_ENTRY, si.arch, si.u[0], tuple(si.u[1:7]))
    if si.op == OP_EXIT:
        return SyscallStop(OP_EXIT, si.arch, ret=ctypes.c_int64(si.u[0]).value, is_error=bool(si.u[1] & 0xFF))
    return SyscallStop(si.op, si.arch)


def pidfd_getfd(pid: int, fd: int) -> int:
    """A duplicate of another process's fd (Linux 5.6); the caller must close it."""
    pidfd = _libc.syscall(SYS_PIDFD_OPEN, pid, 0)
    if pidfd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"pidfd_open({pid}): {os.strerror(err)}")
    try:
        dup = _libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if dup < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"pidfd_getfd({pid}, {fd}): {os.strerror(err)}")
        return dup
    finally:
        os.close(pidfd)


def read_mem(tid: int, addr: int, size: int) -> bytes:
    """Tracee memory; empty when the address is not mapped (a bad pointer the kernel will EFAULT)."""
    if not addr or size <= 0:
        return b""
    try:
        fd = os.open(f"/proc/{tid}/mem", os.O_RDONLY)
    except OSError:
        return b""
    try:
        return os.pread(fd, size, addr)
    except OSError:
        return b""
    finally:
        os.close(fd)
