"""``tuiexplore kernels get LABEL``: a Debian cloud kernel, unpacked into the cache without
installing anything.

apt runs with a private state (its own sources list, package lists and archive cache under the
cache directory), so the system's apt configuration is never read or changed and no root is
needed. Only vmlinuz and the few modules a guest needs are kept; the packages are deleted.
"""

from __future__ import annotations

import fcntl
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tuiexplore.guest import initramfs
from tuiexplore.guest.catalog import BUILTIN, ORIGINS, Kernel, Origin, kernels_dir
from tuiexplore.guest.initramfs import InitramfsError
from tuiexplore.kernel.receipt_source import SHOWN
from tuiexplore.kernel.source import TCP_C, cache_dir, tarball_files

META = "linux-image-cloud-amd64"
# From 7.x on, modules.builtin (what needs no module) is in linux-base-RELEASE.
WANTED = re.compile(r"^linux-(image|binary|modules|base)-(unsigned-)?\d[\w.+~-]*-cloud-amd64(-unsigned)?$")
# What a guest needs from its kernel: a PCI virtio transport, the virtiofs root, and the virtio
# console the agent talks over. Their dependencies come from each module's own modinfo.
ROOT_MODULES = ("virtio_pci", "virtiofs")
CONSOLE_MODULES = ("virtio_console",)
# What the lab itself needs, loaded at boot where it is a module: veth for the relay's wire
# (relay/link.py), tcp_diag (and inet_diag) for the sock_diag lookups of socket states and timers,
# bridge for the relay to bridge the sides no rule controls (without it every frame is the relay's
# copy, charged at the copy's size: window-reopen-close took another path on 6.12 and 7.x), tun for
# a packetdrill script's device (packetdrill/netdev.py). A line without one is still fetched: what
# needs it is said, then and before a boot (Guest.check_module).
LAB_MODULES = {
    "veth": "the relay's wire",
    "tcp_diag": "socket states and timers",
    "bridge": "the relay's bridge",
    "tun": "packetdrill scripts",
}
# What the kernel panel reads of a line's own source: tcp.c, and the files of the receipt and
# timer functions (kernel/receipt_source.py, kernel/timer_source.py).
PANEL_FILES = (TCP_C, *sorted({file for file, _ in SHOWN.values()}))


class FetchError(RuntimeError):
    """The kernel could not be fetched; the message is one line for the user."""


def get(label: str, say: Callable[[str], None], source: bool = True, env: Mapping[str, str] | None = None) -> Kernel:
    origin = ORIGINS.get(label)
    if origin is None:
        raise FetchError(f"unknown kernel line {label!r}; choose one of: {', '.join(ORIGINS)}")
    with line_lock(label, say, env):
        return _fetch(origin, label, say, source, env)


def _fetch(origin: Origin, label: str, say: Callable[[str], None], source: bool, env: Mapping[str, str] | None) -> Kernel:
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise FetchError(f"{tool} not found: 'kernels get' uses Debian's package tools")
    apt = Apt(origin, cache_dir(env) / "apt" / label)
    say(f"updating a private package list for {', '.join(s for _, s in origin.suites)}")
    apt.update()
    pkgs = apt.closure(META)
    image = next((p for p, v in pkgs.items() if p.startswith(("linux-image-", "linux-binary-")) and "cloud-amd64" in p), None)
    if image is None:
        raise FetchError(f"no cloud-amd64 kernel package found in {', '.join(s for _, s in origin.suites)}")
    version = pkgs[image].split("-")[0]
    if not (version.startswith(label.removesuffix("x")) if label.endswith("x") else version.startswith(label + ".")):
        raise FetchError(f"the suites offer Linux {version}, not {label}")
    dest = kernels_dir(env) / label
    with tempfile.TemporaryDirectory(prefix="tuiexplore-kernel-") as tmp:
        say(f"downloading {', '.join(sorted(pkgs))}")
        debs = apt.download(list(pkgs), tmp)
        tree = Path(tmp, "tree")
        for deb in debs:
            _run(["dpkg-deb", "-x", str(deb), str(tree)])
            deb.unlink()
        kernel = _install(tree, dest, label, version, image, say)
    if source:
        _source(apt, kernel, say)
    return kernel


@contextmanager
def line_lock(label: str, say: Callable[[str], None], env: Mapping[str, str] | None = None) -> Iterator[None]:
    """One `kernels get` of a line at a time. Two at once (two terminals, two `setup.sh test`)
    both deleted and rewrote the same directory and its private package list: one died on
    FileExistsError, and a guest booting from it meanwhile could read half a line. The second
    waits for the first, then fetches anew."""
    base = kernels_dir(env)
    base.mkdir(parents=True, exist_ok=True)
    with open(base / f".{label}.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"another 'kernels get {label}' is fetching into {base / label}: waiting for it to end")
            fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _install(tree: Path, dest: Path, label: str, version: str, image: str, say: Callable[[str], None]) -> Kernel:
    # Up to 6.12 the image is /boot/vmlinuz-RELEASE; from trixie-backports' 7.x on it is
    # /usr/lib/modules/RELEASE/vmlinuz, in a linux-binary-* package.
    found = [(p, p.name.removeprefix("vmlinuz-")) for p in sorted(tree.glob("boot/vmlinuz-*"))]
    found += [(p, p.parent.name) for d in ("lib", "usr/lib") for p in sorted(tree.glob(f"{d}/modules/*/vmlinuz"))]
    if not found:
        raise FetchError(f"{image} and its dependencies hold no vmlinuz")
    vmlinuz, release = found[0]
    mods = next((d for d in (tree / "lib/modules" / release, tree / "usr/lib/modules" / release) if d.is_dir()), None)
    if mods is None:
        raise FetchError(f"no modules directory for {release} in the packages")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(vmlinuz, dest / "vmlinuz")
    kernel = Kernel(label, release, version, image, str(dest))
    index = initramfs.ModuleIndex(mods)
    root = index.needed(ROOT_MODULES)
    if root:
        say(f"building an initramfs with {', '.join(m.name for m in root)} (not built into {release})")
        initramfs.build(dest / "initramfs.img", root)
    console = index.needed(CONSOLE_MODULES, skip={m.name for m in root})
    for name, needer in LAB_MODULES.items():
        try:
            console += index.needed((name,), skip={m.name for m in root + console})
        except InitramfsError:
            say(f"Linux {version} has no {name} module (neither built in nor shipped): {needer} cannot run in it")
    Path(kernel.modules).mkdir()
    for i, m in enumerate(console):
        Path(kernel.modules, f"{i:02d}-{m.name}.ko").write_bytes(m.data())
    if (mods / BUILTIN).is_file():  # what needs no module: Kernel.ships() reads it
        shutil.copy2(mods / BUILTIN, dest / BUILTIN)
    kernel.save()  # usable from here on, even if the optional source download fails
    say(f"Linux {version} ({release}) in {dest}")
    return kernel


def _source(apt: Apt, kernel: Kernel, say: Callable[[str], None]) -> None:
    """net/ipv4/tcp.c and the other PANEL_FILES from the matching linux-source package, for the
    kernel panel."""
    series = ".".join(kernel.version.split(".")[:2])
    pkg = f"linux-source-{series}"
    if not apt.exists(pkg):
        say(f"no {pkg} package in these suites: the kernel panel will show the bundled excerpt")
        return
    say(f"downloading {pkg} (the kernel panel's tcp.c; ~150 MB, only {len(PANEL_FILES)} files are kept)")
    with tempfile.TemporaryDirectory(prefix="tuiexplore-src-") as tmp:
        try:
            (deb,) = apt.download([pkg], tmp)
        except FetchError as exc:
            say(f"{pkg} unavailable ({exc}): the kernel panel will show the bundled excerpt")
            return
        _run(["dpkg-deb", "-x", str(deb), tmp])
        deb.unlink()
        tarball = next(Path(tmp, "usr/src").glob("linux-source-*.tar.*"), None)
        version, texts = tarball_files(str(tarball), PANEL_FILES) if tarball else ("", {})
    if TCP_C not in texts:
        say(f"{pkg} has no net/ipv4/tcp.c")
        return
    src = Path(kernel.path, "src")
    v = (version.split(".") + ["0", "0"])[:3]
    for file, text in texts.items():
        (src / file).parent.mkdir(parents=True, exist_ok=True)
        (src / file).write_text(text)
    (src / "Makefile").write_text(f"VERSION = {v[0]}\nPATCHLEVEL = {v[1]}\nSUBLEVEL = {v[2]}\n")
    say(f"{', '.join(Path(f).name for f in texts)} of Linux {version} in {src}")


class Apt:
    """apt-get/apt-cache with a state of their own under ``base``."""

    def __init__(self, origin: Origin, base: Path) -> None:
        self.base = base
        for d in ("lists/partial", "cache/archives/partial"):
            (base / d).mkdir(parents=True, exist_ok=True)
        (base / "sources.list").write_text(origin.sources_list())
        self.opts = [
            f"-oDir::Etc::sourcelist={base / 'sources.list'}",
            "-oDir::Etc::sourceparts=/nonexistent",
            f"-oDir::State::Lists={base / 'lists'}",
            f"-oDir::Cache={base / 'cache'}",
            "-oDir::State::status=/dev/null",  # as if nothing were installed: candidates are the suites'
            "-oAPT::Architecture=amd64",
            "-oDebug::NoLocking=1",
        ]

    def update(self) -> None:
        _run(["apt-get", *self.opts, "-qq", "update"])

    def show(self, pkg: str) -> dict[str, str]:
        out = subprocess.run(
            ["apt-cache", *self.opts, "show", "--no-all-versions", pkg], capture_output=True, text=True, check=False
        )
        fields: dict[str, str] = {}
        for line in out.stdout.split("\n\n")[0].splitlines():
            if ":" in line and not line.startswith(" "):
                k, v = line.split(":", 1)
                fields[k] = v.strip()
        return fields

    def exists(self, pkg: str) -> bool:
        return "Version" in self.show(pkg)

    def closure(self, pkg: str) -> dict[str, str]:
        """The kernel packages ``pkg`` pulls in (name -> version), following the first
        alternative of each dependency that is a kernel package."""
        seen: dict[str, str] = {}
        todo = [pkg]
        while todo:
            name = todo.pop()
            fields = self.show(name)
            if "Version" not in fields:
                continue
            if WANTED.match(name):
                seen[name] = fields["Version"]
            for group in fields.get("Depends", "").split(","):
                for alt in group.split("|"):
                    dep = alt.strip().split(" ")[0]
                    if dep.startswith("linux-") and (WANTED.match(dep) or dep.endswith("-cloud-amd64")):
                        if dep not in seen and dep not in todo:
                            todo.append(dep)
                        break
        return seen

    def download(self, pkgs: list[str], where: str) -> list[Path]:
        _run(["apt-get", *self.opts, "-qq", "download", *pkgs], cwd=where)
        return sorted(Path(where).glob("*.deb"))


def _run(cmd: list[str], cwd: str | None = None) -> None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, check=False)
    except OSError as exc:
        raise FetchError(f"{cmd[0]}: {exc.strerror}") from None
    if out.returncode:
        last = next((ln for ln in reversed(out.stderr.splitlines()) if ln.strip()), f"exit status {out.returncode}")
        raise FetchError(f"{' '.join(cmd[:1] + cmd[-2:])}: {last}")
