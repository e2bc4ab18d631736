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
import dataclasses
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from typing import IO

from tuiexplore.guest.catalog import Kernel
from tuiexplore.guest.console import last_words
from tuiexplore.lab.client import LabError
from tuiexplore.lab.codec import encode
from tuiexplore.lab.protocol import LabOptions
from tuiexplore.lab.transport import Transport, last_line

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

    def command(self, qemu: str, vfs_name: str, agent: Agent) -> list[str]:
        k = self.kernel
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        args = {
            "console": "ttyS0",
            "root": "root",
            "rootfstype": "virtiofs",
            "panic": "-1",
            "PYTHONPATH": root,
            "tuiagent": agent.name,
            "tuiopts": base64.b64encode(agent.arg.encode()).decode(),
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
        # TCG runs both vCPUs on one host thread: with thread=multi, a guest patching its own code
        # across CPUs (text_poke_bp's int3) raced on a loaded host, about one boot in ten here
        # ("Oops: int3" in sched_clock_cpu, then "Fatal exception in interrupt"), and it was no faster.
        cpu = ["-accel", "kvm", "-cpu", "host"] if self.accel == "kvm" else ["-accel", "tcg,thread=single", "-cpu", "max"]
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

    def transport(self, opts: LabOptions) -> GuestTransport:
        """What ``Lab(transport=...)`` calls: boot the guest and return once its agent speaks."""
        if not os.path.isfile(self.kernel.vmlinuz):
            raise LabError(f"{self.kernel.vmlinuz}: no such kernel image")
        if opts.wire == "relay":
            self.check_wire()
        # The guest's own tcp.c decides, never the host's (None: the agent goes by the version).
        return GuestTransport(self, Agent("lab", encode(dataclasses.replace(opts, unread_rule=self.unread_rule()))))

    def script_transport(self) -> GuestTransport:
        """A packetdrill script's run process in the guest (it reads its options from the port)."""
        self.check_scripts()
        return GuestTransport(self, Agent("packetdrill", "-"))

    def check_scripts(self) -> None:
        if not os.path.isfile(self.kernel.vmlinuz):
            raise LabError(f"{self.kernel.vmlinuz}: no such kernel image")
        self.check_module("tun", "a packetdrill script's device", "scripts ran in guests")

    def check_wire(self) -> None:
        self.check_module("veth", "the relay's wire", "the relay existed")

    def check_module(self, module: str, needer: str, since: str) -> None:
        """What the lab needs in the guest: said in one line before a boot that would fail."""
        k = self.kernel
        has = k.ships(module)
        if has is None and k.fetched:
            raise LabError(
                f"{needer} needs {module}, which the cached Linux {k.version} does not carry (fetched before "
                f"{since}): 'tuiexplore kernels get {k.label}' fetches it again with it"
            )
        if has is False:
            raise LabError(f"{needer} needs {module}, and Linux {k.version} has none (neither built in nor a module)")


@dataclass(frozen=True)
class Agent:
    """Which agent the guest's init runs on its port (``guest.init.AGENTS``) and its argument."""

    name: str
    arg: str


class GuestTransport(Transport):
    """The agent's JSON lines through QEMU's stdin/stdout (the guest's virtio serial port)."""

    def __init__(self, guest: Guest, agent: Agent) -> None:
        try:
            qemu, fsd = find_tools()
        except GuestError as exc:
            raise LabError(str(exc)) from None
        self.where = guest.describe()
        self._stderr = tempfile.TemporaryFile(mode="w+")  # QEMU's own messages and the guest's console
        # virtiofsd's apart: when QEMU fails (a file that is no kernel), virtiofsd's complaint that
        # its peer went away comes last and would hide QEMU's reason ("invalid kernel header").
        self._fsd_stderr = tempfile.TemporaryFile(mode="w+")
        self._started = threading.Event()
        self._finished = threading.Event()
        self._error = ""
        self._qemu: subprocess.Popen[str] | None = None  # set by _keep() before _started
        threading.Thread(target=self._keep, args=(guest, qemu, fsd, agent), name="guest-keeper", daemon=True).start()
        self._started.wait()
        if self._error:
            raise LabError(self._error)
        proc = self._qemu
        assert proc is not None and proc.stdin is not None and proc.stdout is not None  # _keep() started it, with PIPEs
        self._proc: subprocess.Popen[str] = proc
        self._stdin: IO[str] = proc.stdin
        self._stdout: IO[str] = proc.stdout
        self.pid = proc.pid
        # Boot and the agent's start-up take far longer than a local agent's; the client's
        # ready timeout starts once the first bytes are here.
        ready = select.select([self._stdout], [], [], guest.start_timeout)[0]
        self._first: bytes = os.read(self._stdout.fileno(), 1 << 16) if ready else b""
        if not ready:
            self.stop("")
            raise LabError(f"the guest's lab did not start within {guest.start_timeout:.0f} s")

    def _keep(self, guest: Guest, qemu: str, fsd: str, agent: Agent) -> None:
        """Spawns virtiofsd and QEMU and lives exactly as long as QEMU (see the module doc)."""
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
                stderr=self._fsd_stderr,
                preexec_fn=_die_with_parent,
                start_new_session=True,
            )
            listener.close()
            self._qemu = subprocess.Popen(
                guest.command(qemu, name, agent),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                text=True,
                bufsize=1,
                preexec_fn=_die_with_parent,
                start_new_session=True,  # Ctrl-C reaches the client, which stops the guest in order
            )
        except (OSError, GuestError) as exc:
            self._error = f"cannot start the guest: {exc}"
            listener.close()
            if fsd_proc:
                fsd_proc.kill()
                fsd_proc.wait()
            self._started.set()
            self._finished.set()
            return
        self._started.set()
        self._qemu.wait()
        fsd_proc.terminate()
        try:
            fsd_proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            fsd_proc.kill()
            fsd_proc.wait()
        self._finished.set()

    def send_line(self, line: str) -> None:
        self._stdin.write(line + "\n")
        self._stdin.flush()

    def read(self) -> bytes:
        first, self._first = self._first, b""
        return first or os.read(self._stdout.fileno(), 1 << 16)

    def alive(self) -> bool:
        return self._proc.poll() is None

    def last_words(self) -> str:
        """QEMU's or the console's last line (the agent's stderr and the kernel's messages go
        there), or the kernel's crash; virtiofsd's last line only when they said nothing."""
        return last_words(self._stderr) or last_line(self._fsd_stderr)

    def stop(self, quit_line: str) -> None:
        """The agent quits, the guest's init powers off, QEMU exits, the keeper stops virtiofsd."""
        try:
            if self._proc.poll() is None and quit_line:
                self.send_line(quit_line)
            if not self._finished.wait(10):
                raise TimeoutError
        except (OSError, ValueError, TimeoutError):
            self._proc.terminate()
            if not self._finished.wait(5):
                self._proc.kill()
                self._finished.wait()
        self._stderr.close()
        self._fsd_stderr.close()
