"""PID 1 inside a guest: prepare the machine, run the lab agent on the virtio port, power off.

Started by the kernel (``init=PYTHON -- -m tuiexplore.guest.init``, or by the initramfs' switch_root)
on the host's root, shared read-only. Its settings come from the kernel command line, which the
kernel hands to init as environment variables: ``tuiagent`` (which agent: the lab's, or a
packetdrill script's), ``tuiopts`` (its argument, base64) and ``tuimods`` (a directory of .ko
files to load, e.g. virtio_console where it is a module).
Anything it prints goes to the serial console, which the host keeps as the lab's stderr.
"""

from __future__ import annotations

import base64
import ctypes
import os
import subprocess
import sys
import time

PORT_NAME = "tuiexplore.agent"  # the virtserialport's name= on the QEMU command line
POWER_OFF = 0x4321FEDC
SYS_FINIT_MODULE = 313  # x86_64
# The agents a guest runs on its port, by the name the host gives in ``tuiagent``.
AGENTS = {"lab": "tuiexplore.lab.agent", "packetdrill": "tuiexplore.packetdrill.agent"}
MOUNTS = [
    ("proc", "/proc", "proc"),
    ("sysfs", "/sys", "sysfs"),
    ("devtmpfs", "/dev", "devtmpfs"),
    ("tmpfs", "/tmp", "tmpfs"),
    ("tmpfs", "/run", "tmpfs"),
    ("tracefs", "/sys/kernel/tracing", "tracefs"),
]

_libc = ctypes.CDLL(None, use_errno=True)


def _say(text: str) -> None:
    print(f"guest init: {text}", file=sys.stderr, flush=True)


def _ours() -> list[str]:
    """What this guest runs from: the interpreter, its prefix and the checkout (shared read-only)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return [os.path.realpath(p) for p in (sys.executable, sys.prefix, root)]


def _hides_us(target: str) -> bool:
    return any(p == target or p.startswith(target + "/") for p in _ours())


def _mount_all() -> str:
    """Mount what the agent needs; return a writable scratch directory for it. A checkout under
    /tmp (as a CI clone may be) must stay visible, so a tmpfs never goes over it: the scratch
    space then goes on /dev (devtmpfs, writable) instead."""
    scratch = "/tmp"
    for src, target, fstype in MOUNTS:
        if fstype == "tmpfs" and _hides_us(target):
            if target == "/tmp":
                scratch = "/dev/shm"
                os.makedirs(scratch, exist_ok=True)
                _libc.mount(b"tmpfs", scratch.encode(), b"tmpfs", 0, None)
            continue
        if _libc.mount(src.encode(), target.encode(), fstype.encode(), 0, None) != 0:
            err = ctypes.get_errno()
            if err != 16:  # EBUSY: the kernel mounted it already (devtmpfs)
                _say(f"mount {target}: {os.strerror(err)}")
    return scratch


def _load_modules(directory: str) -> None:
    for name in sorted(os.listdir(directory)) if directory and os.path.isdir(directory) else []:
        fd = os.open(os.path.join(directory, name), os.O_RDONLY)
        try:
            if _libc.syscall(SYS_FINIT_MODULE, fd, b"", 0) != 0 and ctypes.get_errno() != 17:  # EEXIST
                _say(f"cannot load {name}: {os.strerror(ctypes.get_errno())}")
        finally:
            os.close(fd)


def _open_port(deadline_s: float = 10.0) -> int:
    """The port by its name (no udev here to make /dev/virtio-ports/NAME); it may appear late."""
    end = time.monotonic() + deadline_s
    base = "/sys/class/virtio-ports"
    while True:
        for dev in os.listdir(base) if os.path.isdir(base) else []:
            try:
                with open(os.path.join(base, dev, "name")) as f:
                    if f.read().strip() == PORT_NAME:
                        return os.open(f"/dev/{dev}", os.O_RDWR | os.O_NOCTTY)
            except OSError:
                pass
        if time.monotonic() > end:
            raise FileNotFoundError(f"no virtio port named {PORT_NAME}")
        time.sleep(0.02)


def main() -> None:
    try:
        scratch = _mount_all()
        _load_modules(os.environ.get("tuimods", ""))
        opts = base64.b64decode(os.environ.get("tuiopts", "")).decode() or "{}"
        module = AGENTS[os.environ.get("tuiagent", "lab")]
        port = _open_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("tui")} | {"TMPDIR": scratch}
        agent = subprocess.Popen([sys.executable, "-P", "-m", module, opts], stdin=port, stdout=port, env=env, cwd=scratch)
        os.close(port)
        # As PID 1 we inherit every orphan: reap them all until the agent itself is gone.
        while os.wait()[0] != agent.pid:
            pass
    except BaseException as exc:  # noqa: BLE001 - PID 1 must never exit: that panics the kernel
        _say(f"{type(exc).__name__}: {exc}")
    finally:
        os.sync()
        # Synchronous: `echo o > /proc/sysrq-trigger` races init's own exit.
        _libc.reboot(POWER_OFF)


if __name__ == "__main__":
    main()
