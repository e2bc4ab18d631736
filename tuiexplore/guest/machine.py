"""A lab agent inside a QEMU guest: the launcher the lab client uses instead of a local process.

The guest boots the chosen kernel with the host's root shared read-only over virtiofs and runs
``tuiexplore.guest.init`` as PID 1, which starts the ordinary agent on a virtio serial port.
QEMU's stdin/stdout *are* that port (``-chardev stdio``), so the object handed to the lab
client looks like the local agent's Popen: the same pipes, the same protocol.

Clean-up on every exit path: a keeper thread spawns QEMU and virtiofsd and lives exactly as long
as QEMU, so their PR_SET_PDEATHSIG (which fires when the spawning *thread* ends) kills both if
this process dies; when QEMU ends normally the keeper stops virtiofsd. The vhost-user socket is
an abstract unix socket handed to virtiofsd as a listening fd: there is no socket file to leave.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import IO, Any

from tuiexplore.guest.catalog import Kernel

QEMU = "qemu-system-x86_64"
VIRTIOFSD = ("/usr/lib/qemu/virtiofsd", "/usr/libexec/virtiofsd", "/usr/lib/virtiofsd")
PR_SET_PDEATHSIG = 1
KVM_GET_API_VERSION = 0xAE00
KVM_CHECK_EXTENSION = 0xAE03
MEMORY_MB = 1024


class GuestError(RuntimeError):
    """The guest cannot be started; the message is one line for the user."""


def _die_with_parent() -> None:
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def find_tools() -> tuple[str, str]:
    qemu = shutil.which(QEMU)
    fsd = next((p for p in VIRTIOFSD if os.access(p, os.X_OK)), None) or shutil.which("virtiofsd")
    if qemu is None or fsd is None:
        raise GuestError("running a guest kernel needs QEMU: apt-get install qemu-system-x86 (it brings virtiofsd)")
    return qemu, fsd


def kvm_usable() -> bool:
    """Real hardware KVM, not just a /dev/kvm: a paravirtual one (kvm-pvm in a VM) opens and
    answers the API version, but cannot run a normal guest in useful time. Hardware KVM
    announces the VT-x/AMD-V flags in /proc/cpuinfo; a PVM host's CPU does not."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((ln.split(":", 1)[1].split() for ln in f if ln.startswith("flags")), [])
        if not {"vmx", "svm"} & set(flags):
            return False
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except (OSError, StopIteration):
        return False
    try:
        import fcntl

        return fcntl.ioctl(fd, KVM_GET_API_VERSION) == 12
    except OSError:
        return False
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Guest:
    """How to reach an agent in a guest; ``spawn`` is the lab client's launcher hook."""

    kernel: Kernel
    cpus: int = 2
    # Boot (3-4 s under TCG) plus the agent's imports at a fifth of the host's speed.
    start_timeout: float = 90.0

    @property
    def kernel_version(self) -> str:
        return self.kernel.version

    @property
    def accel(self) -> str:
        return "kvm" if kvm_usable() else "tcg"

    def unread_rule(self) -> str | None:
        """How this kernel judges unread data, from its own tcp.c when `kernels get` fetched it:
        Debian's 5.10/6.1/6.12 carry the 6.18 copied_seq fix, so the version alone misleads."""
        if self.kernel.source is None:
            return None
        from tuiexplore.kernel.source import SourceError, discover

        try:
            return discover(self.kernel.source).unread_rule
        except SourceError:
            return None

    def describe(self) -> str:
        return f"guest Linux {self.kernel.version} ({self.kernel.release}, QEMU {self.accel.upper()})"

    def command(self, qemu: str, vfs_name: str, opts: dict[str, Any], env: dict[str, str]) -> list[str]:
        k = self.kernel
        root = env.get("PYTHONPATH", "").split(os.pathsep)[0]
        args = {
            "console": "ttyS0",
            "root": "root",
            "rootfstype": "virtiofs",
            "panic": "-1",
            "PYTHONPATH": root,
            "tuiopts": base64.b64encode(json.dumps(opts).encode()).decode(),
            "tuimods": k.modules,
        }
        if k.initramfs:
            args["tuiinit"] = sys.executable
        else:
            args["init"] = sys.executable
        for v in (root, sys.executable, k.modules):
            if any(c.isspace() for c in v):
                raise GuestError(f"{v!r}: a path with spaces cannot go on the guest's kernel command line")
        cmdline = " ".join(n if v is None else f"{n}={v}" for n, v in args.items()) + " -- -m tuiexplore.guest.init"
        cpu = ["-accel", "kvm", "-cpu", "host"] if self.accel == "kvm" else ["-accel", "tcg,thread=multi", "-cpu", "max"]
        return [
            qemu, *cpu, "-smp", str(self.cpus), "-m", f"{MEMORY_MB}M",
            "-nodefaults", "-no-user-config", "-nographic", "-monitor", "none", "-no-reboot",
            "-object", f"memory-backend-memfd,id=mem,size={MEMORY_MB}M,share=on", "-numa", "node,memdev=mem",
            "-chardev", f"socket,id=vfs,path={vfs_name},abstract=on",
            "-device", "vhost-user-fs-pci,chardev=vfs,tag=root",
            "-chardev", "stdio,id=agent,signal=off",
            "-device", "virtio-serial-pci", "-device", "virtserialport,chardev=agent,nr=1,name=tuiexplore.agent",
            "-serial", "chardev:con", "-chardev", "file,id=con,path=/proc/self/fd/2,append=on",
            "-kernel", k.vmlinuz, *(["-initrd", k.initramfs] if k.initramfs else []),
            "-append", cmdline,
        ]  # fmt: skip

    def spawn(self, opts: dict[str, Any], env: dict[str, str], stderr: IO[str]) -> GuestProcess:
        if not os.path.isfile(self.kernel.vmlinuz):
            raise GuestError(f"{self.kernel.vmlinuz}: no such kernel image")
        qemu, fsd = find_tools()
        rule = self.unread_rule()
        if rule and not opts.get("unread_rule"):
            opts = {**opts, "unread_rule": rule}
        proc = GuestProcess()
        threading.Thread(target=proc.keep, args=(self, qemu, fsd, opts, env, stderr), name="guest-keeper", daemon=True).start()
        proc.started.wait()
        if proc.error:
            raise GuestError(proc.error)
        return proc


class GuestProcess:
    """QEMU's Popen as the lab client sees it (stdin, stdout, pid, poll, wait, send_signal,
    kill); waiting also waits for virtiofsd to be stopped."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.finished = threading.Event()
        self.error = ""
        self.qemu: subprocess.Popen | None = None

    def keep(self, guest: Guest, qemu: str, fsd: str, opts: dict[str, Any], env: dict[str, str], stderr: IO[str]) -> None:
        name = f"tuiexplore-vfs-{os.getpid()}-{id(self):x}"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        fsd_proc = None
        try:
            listener.bind("\0" + name)
            listener.listen(1)
            share = ["-o", "source=/", "-o", "cache=always", "-o", "sandbox=chroot", "-o", "log_level=err"]
            fsd_proc = subprocess.Popen(
                [fsd, f"--fd={listener.fileno()}", *share],
                pass_fds=[listener.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                preexec_fn=_die_with_parent,
                start_new_session=True,
            )
            listener.close()
            self.qemu = subprocess.Popen(
                guest.command(qemu, name, opts, env),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                bufsize=1,
                preexec_fn=_die_with_parent,
                start_new_session=True,  # Ctrl-C reaches the client, which stops the guest in order
            )
        except (OSError, GuestError) as exc:
            self.error = f"cannot start the guest: {exc}"
            listener.close()
            if fsd_proc:
                fsd_proc.kill()
                fsd_proc.wait()
            self.started.set()
            self.finished.set()
            return
        self.started.set()
        self.qemu.wait()
        fsd_proc.terminate()
        try:
            fsd_proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            fsd_proc.kill()
            fsd_proc.wait()
        self.finished.set()

    @property
    def stdin(self) -> IO[str]:
        return self.qemu.stdin

    @property
    def stdout(self) -> IO[str]:
        return self.qemu.stdout

    @property
    def pid(self) -> int:
        return self.qemu.pid

    def poll(self) -> int | None:
        if self.qemu.poll() is None:
            return None
        self.finished.wait(5)  # QEMU is gone; virtiofsd follows within moments
        return self.qemu.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self.finished.wait(timeout):
            raise subprocess.TimeoutExpired(QEMU, timeout)
        return self.qemu.returncode

    def send_signal(self, sig: int) -> None:
        self.qemu.send_signal(sig)

    def kill(self) -> None:
        self.qemu.kill()
