"""The tiny initramfs for kernels whose virtio and virtiofs drivers are modules (5.10, 6.1).

It holds busybox-static, those modules in dependency order, and an /init that loads them,
mounts the host's root over virtiofs and hands over to the guest init (``tuiinit=`` on the
kernel command line). There is no depmod in a package: dependencies come from each module's
``depends=`` modinfo field, and ``modules.builtin`` says what needs no module at all.
"""

from __future__ import annotations

import gzip
import io
import lzma
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

BUSYBOX = ("/bin/busybox", "/usr/bin/busybox")

INIT = """#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
for m in /modules/*.ko; do /bin/busybox insmod "$m" || echo "initramfs: insmod $m failed"; done
/bin/busybox mount -t virtiofs -o ro root /newroot || { echo "initramfs: cannot mount the virtiofs root"; exit 1; }
/bin/busybox umount /proc
/bin/busybox umount /dev
exec /bin/busybox switch_root /newroot "$tuiinit" "$@"
"""


class InitramfsError(RuntimeError):
    pass


@dataclass(frozen=True)
class Module:
    name: str
    path: Path

    def data(self) -> bytes:
        raw = self.path.read_bytes()
        if self.path.suffix == ".xz":
            return lzma.decompress(raw)
        if self.path.suffix == ".gz":
            return gzip.decompress(raw)
        if self.path.suffix == ".zst":
            if shutil.which("zstd") is None:
                raise InitramfsError(f"{self.path.name} is zstd-compressed: install zstd")
            return subprocess.run(["zstd", "-dc", str(self.path)], capture_output=True, check=True).stdout
        return raw

    def depends(self) -> list[str]:
        data = self.data()
        at = data.find(b"\0depends=")
        if at < 0:
            return []
        end = data.index(b"\0", at + 1)
        return [d.replace("-", "_") for d in data[at + 9 : end].decode().split(",") if d]


def _norm(filename: str) -> str:
    return filename.split(".ko")[0].replace("-", "_")


class ModuleIndex:
    def __init__(self, moddir: Path) -> None:
        self.files = {_norm(p.name): p for p in moddir.rglob("*.ko*")}
        try:
            builtin = (moddir / "modules.builtin").read_text().split()
        except OSError:
            builtin = []
        self.builtin = {_norm(os.path.basename(line)) for line in builtin}

    def needed(self, names: tuple[str, ...], skip: set[str] | None = None) -> list[Module]:
        """The modules to load for ``names``, each after its dependencies; built-ins left out."""
        order: list[Module] = []
        done = set(skip or ())

        def visit(name: str) -> None:
            if name in done or name in self.builtin:
                return
            done.add(name)
            path = self.files.get(name)
            if path is None:
                raise InitramfsError(f"module {name} is neither built in nor shipped with this kernel")
            m = Module(name, path)
            for dep in m.depends():
                visit(dep)
            order.append(m)

        for n in names:
            visit(n)
        return order


def build(dest: Path, modules: list[Module]) -> None:
    busybox = next((b for b in BUSYBOX if os.path.isfile(b)), None)
    if busybox is None:
        raise InitramfsError("this kernel needs an initramfs, which needs busybox-static (apt-get install busybox-static)")
    files: list[tuple[str, int, bytes]] = [
        ("bin", stat.S_IFDIR | 0o755, b""),
        ("bin/busybox", stat.S_IFREG | 0o755, Path(busybox).read_bytes()),
        ("modules", stat.S_IFDIR | 0o755, b""),
        ("init", stat.S_IFREG | 0o755, INIT.encode()),
    ]
    files += [(f"modules/{i:02d}-{m.name}.ko", stat.S_IFREG | 0o644, m.data()) for i, m in enumerate(modules)]
    dest.write_bytes(gzip.compress(_cpio(files)))


def _cpio(files: list[tuple[str, int, bytes]]) -> bytes:
    """An uncompressed 'newc' archive, the format the kernel unpacks."""
    out = io.BytesIO()
    for ino, (name, mode, data) in enumerate([*files, ("TRAILER!!!", 0, b"")], start=1):
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        out.write(b"070701" + b"".join(b"%08X" % f for f in fields) + name.encode() + b"\0")
        out.write(b"\0" * (-out.tell() % 4))
        out.write(data)
        out.write(b"\0" * (-out.tell() % 4))
    return out.getvalue()
