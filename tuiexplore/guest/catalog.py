"""Which guest kernels exist, where they come from, and what the cache holds for each.

A kernel in the cache is a directory ``$XDG_CACHE_HOME/tuiexplore/kernels/LABEL/`` with
``vmlinuz``, ``kernel.json`` (release, version, package), optionally ``initramfs.img`` (kernels
whose virtio/virtiofs drivers are modules) and ``src/`` (``Makefile`` + ``net/ipv4/tcp.c`` from
the ``linux-source`` package, the tree the kernel panel reads).
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from tuiexplore.kernel.source import cache_dir

BUILTIN = "modules.builtin"  # the kernel's own list of what needs no module, kept by `kernels get`
DEBIAN = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"


@dataclass(frozen=True)
class Origin:
    """Where ``kernels get LABEL`` looks: Debian suites whose cloud-amd64 kernel is that line."""

    label: str
    suites: tuple[tuple[str, str], ...]  # (archive URL, suite)

    def sources_list(self) -> str:
        return "".join(f"deb {url} {suite} main\n" for url, suite in self.suites)


ORIGINS = {
    o.label: o
    for o in (
        Origin("5.10", ((DEBIAN, "bullseye"), (SECURITY, "bullseye-security"))),
        Origin("6.1", ((DEBIAN, "bookworm"),)),
        Origin("6.12", ((DEBIAN, "trixie"), (SECURITY, "trixie-security"))),
        Origin("7.x", ((DEBIAN, "trixie-backports"),)),
    )
}


@dataclass(frozen=True)
class Kernel:
    label: str
    release: str  # uname -r of the guest, e.g. 6.1.0-57-cloud-amd64
    version: str  # upstream version from the package, e.g. 6.1.192
    package: str
    path: str  # the cache directory, or the directory of a vmlinuz given by path
    image: str = ""  # a vmlinuz given by path; else path/vmlinuz

    @property
    def vmlinuz(self) -> str:
        return self.image or os.path.join(self.path, "vmlinuz")

    @property
    def initramfs(self) -> str | None:
        p = os.path.join(self.path, "initramfs.img")
        return p if os.path.isfile(p) else None

    @property
    def modules(self) -> str:
        """The .ko files the guest's init loads after the root is mounted (virtio console)."""
        return os.path.join(self.path, "modules")

    def ships(self, module: str) -> bool | None:
        """Whether the guest has ``module``: loaded at boot (``modules``) or built in. None: not
        known (a kernel `kernels get` fetched before it kept ``modules.builtin``, or a bare vmlinuz)."""
        if any(p.name.split("-", 1)[-1] == f"{module}.ko" for p in Path(self.modules).glob("*.ko")):  # NN-name.ko
            return True
        try:
            builtin = Path(self.path, BUILTIN).read_text().split()
        except OSError:
            return None
        return module in {_module_name(line) for line in builtin}

    @property
    def fetched(self) -> bool:
        """Cached by `kernels get` (our layout), not a vmlinuz given by path."""
        return not self.image and os.path.isfile(os.path.join(self.path, "kernel.json"))

    @property
    def source(self) -> str | None:
        p = os.path.join(self.path, "src")
        return p if os.path.isfile(os.path.join(p, "net", "ipv4", "tcp.c")) else None

    def save(self) -> None:
        Path(self.path, "kernel.json").write_text(json.dumps(asdict(self), indent=1))


def kernels_dir(env: Mapping[str, str] | None = None) -> Path:
    return cache_dir(env) / "kernels"


def cached(env: Mapping[str, str] | None = None) -> list[Kernel]:
    out = []
    base = kernels_dir(env)
    for d in sorted(base.iterdir()) if base.is_dir() else []:
        try:
            k = Kernel(**json.loads((d / "kernel.json").read_text()))
        except (OSError, ValueError, TypeError):
            continue  # a half-finished download: `kernels get` redoes it
        if os.path.isfile(k.vmlinuz):
            out.append(Kernel(k.label, k.release, k.version, k.package, str(d)))
    return out


def find(name: str, env: Mapping[str, str] | None = None) -> Kernel | None:
    """A cached kernel by label ("6.1"), by release, or by version prefix ("6.1.192")."""
    ks = cached(env)
    for k in ks:
        if name in (k.label, k.release, k.version):
            return k
    return next((k for k in ks if k.version.startswith(name + ".") or k.release.startswith(name + ".")), None)


def from_vmlinuz(path: str) -> Kernel:
    """A kernel given as a path: its directory may hold our layout (initramfs, modules, src)."""
    d = os.path.dirname(os.path.abspath(path))
    meta = os.path.join(d, "kernel.json")
    if os.path.basename(path) == "vmlinuz" and os.path.isfile(meta):
        try:
            return Kernel(**{**json.loads(Path(meta).read_text()), "path": d})
        except (OSError, ValueError, TypeError):
            pass
    name = os.path.basename(path).removeprefix("vmlinuz-")
    return Kernel(name, name, name.split("-")[0], path, d, os.path.abspath(path))


def _module_name(path: str) -> str:
    """kernel/drivers/net/veth.ko -> veth, as modprobe names it (dashes are underscores)."""
    return os.path.basename(path).split(".ko")[0].replace("-", "_")


def host_release() -> str:
    return platform.release()
