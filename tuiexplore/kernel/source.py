"""Finding the running kernel's own tcp_close source, and caching what was extracted.

Order: ``--kernel-src PATH`` (a tree or a ``linux-*.tar.*``), ``$TUIEXPLORE_KERNEL_SRC``,
``/lib/modules/$(uname -r)/build`` and ``source``, ``/usr/src/linux*`` trees, then a
Debian/Ubuntu ``linux-source-*`` tarball in ``/usr/src``. Only ``Makefile`` (for the version) and
``net/ipv4/tcp.c`` are read; a tarball is streamed, never unpacked. Extracts are cached per
source in the user's cache directory, so the slow path (an xz tarball: ~10 s) runs once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import re
import tarfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from tuiexplore.kernel.excerpt import Excerpt, bundled, extract, locate

ENV = "TUIEXPLORE_KERNEL_SRC"
TCP_C = "net/ipv4/tcp.c"
TARBALL = re.compile(r"linux(-source)?-[\w.+~-]*\.tar(\.(xz|gz|bz2|zst))?$")


class SourceError(RuntimeError):
    """A source given explicitly is unusable; the message says why."""


@dataclass(frozen=True)
class Found:
    path: str  # the tree or tarball
    how: str  # which rule found it ("--kernel-src", "$TUIEXPLORE_KERNEL_SRC", ...)


def candidates(
    kernel_src: str | None = None,
    env: Mapping[str, str] | None = None,
    release: str | None = None,
    lib_modules: str = "/lib/modules",
    usr_src: str = "/usr/src",
) -> list[Found]:
    env = os.environ if env is None else env
    release = release or platform.release()
    out: list[Found] = []
    if kernel_src:
        out.append(Found(kernel_src, "--kernel-src"))
    if env.get(ENV):
        out.append(Found(env[ENV], f"${ENV}"))
    for sub in ("build", "source"):
        out.append(Found(os.path.join(lib_modules, release, sub), f"{lib_modules}/$(uname -r)/{sub}"))
    try:
        names = sorted(os.listdir(usr_src), reverse=True)
    except OSError:
        names = []
    out += [
        Found(os.path.join(usr_src, n), f"{usr_src}/linux*")
        for n in names
        if n.startswith("linux") and os.path.isdir(os.path.join(usr_src, n))
    ]
    out += [Found(os.path.join(usr_src, n), f"{usr_src}/linux-source-* tarball") for n in names if TARBALL.match(n)]
    return out


def _version(makefile: str) -> str:
    nums = [re.search(rf"^{k}\s*=\s*(\S*)", makefile, re.M) for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL")]
    parts = [m[1] for m in nums if m and m[1]]
    return ".".join(parts)


def read_tree(path: str) -> tuple[str, str] | None:
    """(version, tcp.c text) from an unpacked tree, or None when it has no tcp.c."""
    tcp = Path(path, TCP_C)
    if not tcp.is_file():
        return None
    try:
        makefile = Path(path, "Makefile").read_text(errors="replace")
    except OSError:
        makefile = ""
    return _version(makefile), tcp.read_text(errors="replace")


def read_tarball(path: str) -> tuple[str, str] | None:
    """Stream the tarball once, keeping only the top Makefile and net/ipv4/tcp.c."""
    makefile = tcp = None
    with tarfile.open(path, "r|*") as tar:
        for member in tar:
            parts = member.name.split("/", 1)
            rel = parts[1] if len(parts) == 2 else ""
            f = tar.extractfile(member) if rel in ("Makefile", TCP_C) else None
            if f is None:  # not one of the two, or not a regular file (a directory, a device)
                continue
            if rel == "Makefile" and makefile is None:
                makefile = f.read().decode(errors="replace")
            elif rel == TCP_C:
                tcp = f.read().decode(errors="replace")
                break  # Makefile sorts before net/ in every kernel tarball
    return (_version(makefile or ""), tcp) if tcp is not None else None


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tuiexplore"


def _cache_file(path: str, env: Mapping[str, str] | None) -> Path:
    st = os.stat(path)
    key = hashlib.sha256(f"{os.path.abspath(path)}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_dir(env) / f"tcp_close-{key}.json"


def load(found: Found, env: Mapping[str, str] | None = None) -> Excerpt | None:
    """The excerpt from one candidate (cached), or None if it has no usable tcp.c."""
    path = found.path
    if not os.path.exists(path):
        return None
    is_tar = os.path.isfile(path)
    try:
        cached = _cache_file(path, env)
        if cached.is_file():
            d = json.loads(cached.read_text())
            lines, first = d["lines"], d["first_line"]
            hit = Excerpt(
                lines,
                first,
                d["version"],
                "",
                d["licence"],
                locate(lines, first),
                d.get("hint", ""),
                d["table"],
                d["table_first_line"],
            )
            return dataclasses.replace(hit, origin=_origin(found, is_tar, hit))
    except (OSError, ValueError, KeyError):
        cached = None
    try:
        got = read_tarball(path) if is_tar else read_tree(path)
    except (OSError, tarfile.TarError, EOFError) as exc:
        if found.how == "--kernel-src":
            raise SourceError(f"{path}: cannot read it ({exc})") from exc
        return None
    if got is None:
        return None
    version, text = got
    ex = extract(text, version, "")
    if ex is None:
        return None
    ex = dataclasses.replace(ex, origin=_origin(found, is_tar, ex))
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            data = {k: v for k, v in asdict(ex).items() if k != "branches"}
            cached.write_text(json.dumps(data))
        except OSError:
            pass  # no cache is no reason to fail
    return ex


def _origin(found: Found, is_tar: bool, ex: Excerpt) -> str:
    """Where the text came from, for the panel title (not cached: the same file may be found by
    another rule next time)."""
    kind = "tarball" if is_tar else "tree"
    return f"{kind} {found.path} ({found.how}): Linux {ex.version or '?'}, {TCP_C} {ex.first_line}-{ex.last_line}, GPL-2.0"


def discover(kernel_src: str | None = None, env: Mapping[str, str] | None = None, **where: str) -> Excerpt:
    """The first usable source in discovery order, else the bundled excerpt with its hint."""
    if kernel_src and not os.path.exists(kernel_src):
        raise SourceError(f"{kernel_src}: no such file or directory (give a kernel tree or a linux-*.tar.* file)")
    for found in candidates(kernel_src, env, **where):
        ex = load(found, env)
        if ex is not None:
            return ex
        if found.how == "--kernel-src":
            raise SourceError(f"{kernel_src}: no {TCP_C} with a tcp_close() in it")
    return bundled()
